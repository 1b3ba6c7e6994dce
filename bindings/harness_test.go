package bindings

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/internal/store"
)

// testEnv is a Lua state with the bindings open, a memory store and a log
// buffer, as the runtime would set them up for a transaction of
// alice@example.com.
type testEnv struct {
	L     *lua.State
	Env   *Env
	Host  *luax.StaticHost // Env.Host
	Store store.Store
	Logs  *bytes.Buffer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	var logs bytes.Buffer
	st := store.NewMemory()
	settings := map[string]string{
		"push_notification_driver": "lua:file=/etc/dovecot/push.lua",
		"custom_setting":           "hello",
	}
	host := &luax.StaticHost{
		DebugLines: true,
		Ctx:        context.Background(),
		Log:        slog.New(logx.NewText(&logs, nil)).With(logx.KeyUser, "alice@example.com", logx.KeyTxn, "t1"),
	}
	env := &Env{
		Host:      host,
		Script:    "/etc/dovecot/push.lua",
		LogPrefix: "lua: ",
		Store:     st,
		Getenv:    func(k string) (string, bool) { v, ok := settings[k]; return v, ok },
	}
	l := lua.NewState()
	lua.OpenLibraries(l)
	Open(l, env)
	te := &testEnv{L: l, Env: env, Host: host, Store: st, Logs: &logs}
	// test_logs() returns the log lines written so far and clears them.
	l.Register("test_logs", func(l *lua.State) int {
		s := strings.TrimSuffix(logs.String(), "\n")
		logs.Reset()
		var lines []string
		if s != "" {
			lines = strings.Split(s, "\n")
		}
		l.CreateTable(len(lines), 0)
		for i, line := range lines {
			l.PushString(line)
			l.RawSetInt(-2, i+1)
		}
		return 1
	})
	return te
}

// runLuaTests runs every global function named test_* defined by the Lua
// file as a subtest, each in a fresh state. setup, when not nil, prepares
// the state (for example pushes a user object into a global) first.
func runLuaTests(t *testing.T, file string, setup func(t *testing.T, te *testEnv)) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	names := luaTestNames(string(src))
	if len(names) == 0 {
		t.Fatalf("%s defines no test_* functions", file)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			te := newTestEnv(t)
			if setup != nil {
				setup(t, te)
			}
			lib, err := os.ReadFile(filepath.Join(filepath.Dir(file), "testlib.lua"))
			if err != nil {
				t.Fatal(err)
			}
			if err := lua.DoString(te.L, string(lib)); err != nil {
				t.Fatalf("testlib.lua: %v", err)
			}
			if err := lua.LoadBuffer(te.L, string(src), "@"+filepath.Base(file), "t"); err != nil {
				t.Fatalf("load: %v", err)
			}
			if err := te.L.ProtectedCall(0, 0, 0); err != nil {
				msg, _ := te.L.ToString(-1)
				t.Fatalf("chunk: %s", msg)
			}
			te.L.Global(name)
			if err := te.L.ProtectedCall(0, 0, 0); err != nil {
				msg, _ := te.L.ToString(-1)
				t.Fatalf("%s", msg)
			}
		})
	}
}

func luaTestNames(src string) []string {
	var names []string
	for _, line := range strings.Split(src, "\n") {
		if rest, ok := strings.CutPrefix(line, "function test_"); ok {
			if i := strings.Index(rest, "("); i > 0 {
				names = append(names, "test_"+rest[:i])
			}
		}
	}
	sort.Strings(names)
	return names
}
