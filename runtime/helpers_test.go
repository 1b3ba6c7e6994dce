package runtime

import (
	"context"
	"github.com/pushlua/pushlua/internal/testutil"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/txn"
)

// syncBuffer is the engine's log in tests.
type syncBuffer struct{ testutil.Buffer }

// Lines returns the log lines without the process/user prefix up to the
// level word: "Error: lua: ...".
func (b *syncBuffer) Lines() []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		if i := strings.Index(line, ">: "); i >= 0 {
			line = line[i+3:]
		} else if i := strings.Index(line, ": "); i >= 0 {
			line = line[i+2:]
		}
		out = append(out, scriptPathRE.ReplaceAllString(line, "$1"))
	}
	return out
}

// scriptPathRE matches a script's temp-dir path, shortened or not, so that
// tests can compare "script.lua:3: ..." messages.
var scriptPathRE = regexp.MustCompile(`(?:\.\.\.)?[^\s:<>()']*/([\w.-]+\.lua)`)

type testEngine struct {
	*Engine
	Dir   string
	Logs  *syncBuffer
	Store store.Store
}

type txnT = txn.Txn

func parseTxn(line string) (*txn.Txn, error) { return txn.Parse([]byte(line), nil) }

func memStore() store.Store { return store.NewMemory() }

func testLogger(w *syncBuffer) *slog.Logger { return slog.New(logx.NewText(w, nil)) }

// newTestEngine writes files (name → content) into a temp dir, parses
// "pushlua.conf" from it and starts an engine on a memory store.
func newTestEngine(t testing.TB, files map[string]string, opts ...func(*Options)) *testEngine {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := dconfig.Parse(filepath.Join(dir, "pushlua.conf"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	o := Options{Config: cfg, Store: store.NewMemory(), Logger: slog.New(logx.NewText(logs, nil)), Jobs: 2}
	for _, f := range opts {
		f(&o)
	}
	e, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return &testEngine{Engine: e, Dir: dir, Logs: logs, Store: o.Store}
}

// luaConf is a configuration with one lua driver running script.lua.
func luaConf(extra string) string {
	return "mail_debug = yes\n" + extra + "\nplugin {\n  push_notification_driver = lua:file=script.lua\n}\n"
}

// run submits the JSON Lines transactions and waits for all of them.
func (te *testEngine) run(t *testing.T, lines ...string) []Result {
	t.Helper()
	results := make([]Result, len(lines))
	var wg sync.WaitGroup
	for i, line := range lines {
		tx, err := txn.Parse([]byte(line), nil)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		wg.Add(1)
		if err := te.Submit(context.Background(), tx, func(r Result) { results[i] = r; wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	waitGroup(t, &wg)
	return results
}

func waitGroup(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("transactions did not finish")
	}
}

// containsInOrder reports whether want appears in lines as a subsequence
// of whole lines.
func containsInOrder(lines, want []string) bool {
	i := 0
	for _, l := range lines {
		if i < len(want) && l == want[i] {
			i++
		}
	}
	return i == len(want)
}

func hasLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
