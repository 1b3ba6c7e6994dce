// Package dlq owns the dead-letter area: transactions that pushlua gave up
// on because their handlers crashed a worker or exceeded the budget too
// many times in a row (poison). Each is one JSON file in the area's
// directory, written atomically, so `pushlua dlq` can list, show, replay and
// drop them while `pushlua serve` runs: replaying one writes its line back
// as a closed segment of pushlua's write-ahead log (docs/spool.md), which
// serve picks up like any other.
package dlq

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Letter is one dead transaction.
type Letter struct {
	// ID is the transaction's id.
	ID string `json:"id"`
	// User is its mail user.
	User string `json:"user"`
	// Reason says why pushlua gave up (the last failure).
	Reason string `json:"reason"`
	// Attempts is how many times it was run.
	Attempts int `json:"attempts"`
	// Time is when it was given up.
	Time time.Time `json:"time"`
	// Source names where it was read (a spool or log segment and line).
	Source string `json:"source,omitempty"`
	// Line is the transaction exactly as it was read (kept as a string,
	// so its bytes survive unchanged, whether or not it is valid JSON).
	Line string `json:"line"`
}

// Area is a dead-letter directory.
type Area struct {
	dir string
}

// Open returns the area in dir, creating it (mode 0700) when missing.
func Open(dir string) (*Area, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	return &Area{dir: dir}, nil
}

// Dir returns the area's directory.
func (a *Area) Dir() string { return a.dir }

// ErrNotFound is returned for an id the area does not hold.
var ErrNotFound = errors.New("no such dead letter")

// fileName maps an id to a file name that cannot leave the directory.
func fileName(id string) string {
	return hex.EncodeToString([]byte(id)) + ".json"
}

// Put stores a letter, replacing one with the same id.
func (a *Area) Put(l Letter) error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	tmp, err := os.CreateTemp(a.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(a.dir, fileName(l.ID)))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("dlq: storing %s: %w", l.ID, err)
	}
	return nil
}

// Get returns the letter with the id.
func (a *Area) Get(id string) (Letter, error) {
	data, err := os.ReadFile(filepath.Join(a.dir, fileName(id)))
	if errors.Is(err, fs.ErrNotExist) {
		return Letter{}, fmt.Errorf("dlq: %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Letter{}, fmt.Errorf("dlq: %w", err)
	}
	var l Letter
	if err := json.Unmarshal(data, &l); err != nil {
		return Letter{}, fmt.Errorf("dlq: %s: %w", fileName(id), err)
	}
	return l, nil
}

// List returns every letter, oldest first.
func (a *Area) List() ([]Letter, error) {
	ents, err := os.ReadDir(a.dir)
	if err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	var out []Letter
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		raw, err := hex.DecodeString(strings.TrimSuffix(name, ".json"))
		if err != nil {
			continue
		}
		l, err := a.Get(string(raw))
		if errors.Is(err, ErrNotFound) {
			continue // dropped meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(x, y Letter) int { return x.Time.Compare(y.Time) })
	return out, nil
}

// Len returns how many letters the area holds.
func (a *Area) Len() int {
	ents, err := os.ReadDir(a.dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".json") {
			n++
		}
	}
	return n
}

// Drop removes the letter with the id.
func (a *Area) Drop(id string) error {
	err := os.Remove(filepath.Join(a.dir, fileName(id)))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dlq: %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	return nil
}

// Replay writes the letter's transaction into the log directory logDir as
// a closed segment of its own (docs/spool.md), where the running or next
// `pushlua serve` reads it, and then drops the letter.
func (a *Area) Replay(id, logDir string) error {
	l, err := a.Get(id)
	if err != nil {
		return err
	}
	line := []byte(l.Line)
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	stem := "pl-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().Unix(), 10) + "-" + hex.EncodeToString(b[:])
	tmp := filepath.Join(logDir, stem+".open")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("dlq: replaying %s: %w", id, err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(logDir, stem+".jsonl"))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("dlq: replaying %s: %w", id, err)
	}
	return a.Drop(id)
}
