package conformance

import (
	"fmt"
	"strings"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
)

// corpusItem is one scenario of the generated corpus: the transactions of
// one IMAP command or LMTP delivery.
type corpusItem struct {
	Name string
	Desc string
	Txns []*txn.Txn
	Raw  []string // the JSON lines, for messages (pushlua run replays them)
}

// corpusNow is the scripts' clock while the corpus runs: fixed, so that two
// loads of a script behave alike.
var corpusNow = time.Date(2026, 11, 29, 18, 56, 21, 0, time.UTC)

// loadCorpus reads corpus.txtar.
func loadCorpus() ([]corpusItem, error) {
	data, err := embedded.ReadFile("corpus.txtar")
	if err != nil {
		return nil, err
	}
	a := parseArchive(data)
	var items []corpusItem
	for _, f := range a.Files {
		it := corpusItem{Name: f.Name}
		for i, line := range strings.Split(strings.TrimSuffix(f.Data, "\n"), "\n") {
			n := f.Line + 1 + i
			if strings.TrimSpace(line) == "" {
				continue
			}
			if strings.HasPrefix(line, "#") {
				if it.Desc == "" {
					it.Desc = strings.TrimSpace(line[1:])
				}
				continue
			}
			t, err := txn.Parse([]byte(line), nil)
			if err != nil {
				return nil, fmt.Errorf("corpus.txtar:%d: %w", n, err)
			}
			it.Txns = append(it.Txns, t)
			it.Raw = append(it.Raw, line)
		}
		items = append(items, it)
	}
	return items, nil
}
