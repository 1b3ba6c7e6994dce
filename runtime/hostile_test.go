package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/txn"
)

// Scripts that make the global table (or the registry) hostile: a strict
// _G, or an __index that raises. pushlua's own lookups of optional globals
// (script_init, script_deinit, the handlers) are raw, so none of them may
// raise outside a protected call and end the process.
func TestHostileGlobals(t *testing.T) {
	const handlers = `
function dovecot_lua_notify_begin_txn(user) return {user = user.username} end
function dovecot_lua_notify_event_message_new(ctx, e)
  if e.mailbox == "Bad" then return undeclared_name end
  dovecot.i_info("new " .. ctx.user .. " " .. e.mailbox)
end
function dovecot_lua_notify_end_txn(ctx, ok) end
`
	tests := []struct {
		name   string
		script string
		// wantBad is the error logged for the event in mailbox "Bad", ""
		// when reading an undeclared global is no error.
		wantBad string
		// wantClose is a line Close logs (script_deinit), "" for none.
		wantClose string
	}{
		{
			name:    "strict globals, no script_init or script_deinit",
			script:  "dovecot.restrict_global_variables(true)\n" + handlers,
			wantBad: "attempt to write to read undeclared global variable undeclared_name",
		},
		{
			name:    "_G.__index raises, no script_init or script_deinit",
			script:  `setmetatable(_G, {__index = function(_, k) error("no global " .. k, 2) end})` + "\n" + handlers,
			wantBad: "script.lua:5: no global undeclared_name",
		},
		{
			name: "strict globals with script_init and script_deinit",
			script: "dovecot.restrict_global_variables(true)\n" + handlers + `
function script_init() dovecot.i_info("init") return 0 end
function script_deinit() dovecot.i_info("deinit") end
`,
			wantBad:   "attempt to write to read undeclared global variable undeclared_name",
			wantClose: "Info: deinit",
		},
		{
			name: "the registry raises on any missing key",
			script: `local reg = debug.getregistry()
setmetatable(reg, {__index = function(_, k) error("registry " .. tostring(k)) end,
                   __newindex = function(_, k) error("registry write " .. tostring(k)) end})
` + handlers,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": tt.script})
			if errs := te.InitErrors(); len(errs) > 0 {
				t.Fatalf("init errors: %v", errs)
			}
			res := te.run(t,
				`{"user": "a", "events": [{"name": "MessageNew", "mailbox": "Bad", "uid": 1}]}`,
			)
			wantErrors := 0
			if tt.wantBad != "" {
				wantErrors = 1
			}
			if res[0].Errors != wantErrors {
				t.Errorf("the bad event: got %d errors; want %d\n%s", res[0].Errors, wantErrors, te.Logs.String())
			}
			res = te.run(t, `{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 2}]}`)
			if res[0].Errors != 0 {
				t.Errorf("the next transaction: got %d errors; want 0\n%s", res[0].Errors, te.Logs.String())
			}
			if err := te.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			lines := te.Logs.Lines()
			if !hasLine(lines, "Info: new a INBOX") {
				t.Errorf("the next transaction's handler did not run:\n%s", te.Logs.String())
			}
			bad := "Error: lua: lua_pcall(dovecot_lua_notify_event_message_new, 2, 0) failed: "
			found := false
			for _, l := range lines {
				if strings.HasPrefix(l, bad) && strings.Contains(l, tt.wantBad) {
					found = true
				}
			}
			if !found && tt.wantBad != "" {
				t.Errorf("no line %q...%q:\n%s", bad, tt.wantBad, te.Logs.String())
			}
			if tt.wantClose != "" && !hasLine(lines, tt.wantClose) {
				t.Errorf("no %q at Close:\n%s", tt.wantClose, te.Logs.String())
			}
		})
	}
}

// A reload to a script that makes _G strict and has no script_init builds
// the new version; transactions run on it.
func TestReloadToStrictScript(t *testing.T) {
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": `
function dovecot_lua_notify_begin_txn(user) return user end
function dovecot_lua_notify_event_message_new(user, e) dovecot.i_info("v1 " .. user.username) end
function dovecot_lua_notify_end_txn() end
`})
	te.run(t, `{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`)
	strict := `dovecot.restrict_global_variables(true)
function dovecot_lua_notify_begin_txn(user) return user end
function dovecot_lua_notify_event_message_new(user, e) dovecot.i_info("v2 " .. user.username) end
function dovecot_lua_notify_end_txn() end
`
	if err := os.WriteFile(filepath.Join(te.Dir, "script.lua"), []byte(strict), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := te.Reload(context.Background()); err != nil {
		t.Fatalf("reload: %v\n%s", err, te.Logs.String())
	}
	if got := te.Version().N; got != 2 {
		t.Errorf("version after the reload: got %d; want 2", got)
	}
	te.run(t, `{"user": "b", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`)
	if err := te.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lines := te.Logs.Lines(); !containsInOrder(lines, []string{"Info: v1 a", "Info: v2 b"}) {
		t.Errorf("want v1 then v2 handlers:\n%s", te.Logs.String())
	}
}

// nested returns a value of depth arrays, one inside the other.
func nested(depth int) any {
	var v any = "core"
	for range depth {
		v = []any{v}
	}
	return v
}

// An event value that cannot be pushed fails that call only; one within
// the bound is pushed whole, however small the Lua stack was (40 levels
// overflowed go-lua's initial stack before the stack was checked).
func TestPushNestedExtra(t *testing.T) {
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": `
function dovecot_lua_notify_begin_txn(user) return user end
function dovecot_lua_notify_event_message_new(user, e)
  local d, v = 0, e.x
  while type(v) == "table" do d, v = d + 1, v[1] end
  dovecot.i_info(user.username .. " depth " .. d .. " " .. tostring(v))
end
function dovecot_lua_notify_end_txn() end
`}, func(o *Options) { o.Jobs = 1 })
	mk := func(user string, depth int) *txn.Txn {
		tx, err := txn.Parse([]byte(`{"user": "`+user+`", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		// Built in Go, past the decoder's bound: what a caller of the Go
		// API could hand in.
		tx.Events[0].Extra = map[string]any{"x": nested(depth)}
		return tx
	}
	var got []Result
	for _, tx := range []*txn.Txn{mk("deep", 100), mk("forty", 40), mk("max", 64)} {
		done := make(chan Result, 1)
		if err := te.Submit(context.Background(), tx, func(r Result) { done <- r }); err != nil {
			t.Fatal(err)
		}
		got = append(got, <-done)
	}
	if got[0].Errors != 1 || got[1].Errors != 0 || got[2].Errors != 0 {
		t.Errorf("errors: got %d, %d, %d; want 1, 0, 0\n%s", got[0].Errors, got[1].Errors, got[2].Errors, te.Logs.String())
	}
	lines := te.Logs.Lines()
	if want := "Error: lua: lua_pcall(dovecot_lua_notify_event_message_new, 2, 0) failed: value nested deeper than 64 levels"; !hasLine(lines, want) {
		t.Errorf("no line %q:\n%s", want, te.Logs.String())
	}
	for _, want := range []string{"Info: forty depth 40 core", "Info: max depth 64 core"} {
		if !hasLine(lines, want) {
			t.Errorf("no line %q:\n%s", want, te.Logs.String())
		}
	}
}

// A Go panic while a transaction runs (here from the Inspect hook) fails
// that transaction with an Error line naming its user and id; the worker
// goes on with the next transaction, on a fresh state.
func TestPanicFailsOneTransaction(t *testing.T) {
	var calls atomic.Int32
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": `
local n = 0
function dovecot_lua_notify_begin_txn(user) n = n + 1 return user end
function dovecot_lua_notify_event_message_new(user, e) dovecot.i_info(user.username .. " call " .. n) end
function dovecot_lua_notify_end_txn() end
`}, func(o *Options) {
		o.Jobs = 1
		o.PoisonAttempts = 1 // no second run (TestPoisonAttempts)
		o.Inspect = func(string, *lua.State) {
			if calls.Add(1) == 1 {
				panic("inspect exploded")
			}
		}
	})
	res := te.run(t, `{"id": "t1", "user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`)
	if res[0].Errors != 1 {
		t.Errorf("the panicking transaction: got %d errors; want 1", res[0].Errors)
	}
	res = te.run(t, `{"id": "t2", "user": "b", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`)
	if res[0].Errors != 0 {
		t.Errorf("the next transaction: got %d errors; want 0", res[0].Errors)
	}
	log := te.Logs.String()
	if want := "pushlua(a)<t1>: Error: transaction failed: internal error: inspect exploded"; !strings.Contains(log, want) {
		t.Errorf("no line %q:\n%s", want, log)
	}
	// The state was discarded: the next transaction's script counts from 1.
	if want := "pushlua(b)<t2>: Info: b call 1"; !strings.Contains(log, want) {
		t.Errorf("no line %q:\n%s", want, log)
	}
}

// A panic in a transaction's done callback is logged; the worker goes on.
func TestPanicInDoneCallback(t *testing.T) {
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": `
function dovecot_lua_notify_begin_txn(user) return user end
function dovecot_lua_notify_event_message_new(user, e) dovecot.i_info("ran " .. user.username) end
function dovecot_lua_notify_end_txn() end
`}, func(o *Options) { o.Jobs = 1 })
	submit := func(line string, done func(Result)) {
		t.Helper()
		tx, err := txn.Parse([]byte(line), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := te.Submit(context.Background(), tx, done); err != nil {
			t.Fatal(err)
		}
	}
	submit(`{"id": "t1", "user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`, func(Result) { panic("done exploded") })
	second := make(chan Result, 1)
	submit(`{"id": "t2", "user": "b", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`, func(r Result) { second <- r })
	if r := <-second; r.Errors != 0 {
		t.Errorf("the next transaction: got %d errors; want 0", r.Errors)
	}
	log := te.Logs.String()
	if want := "pushlua(a)<t1>: Error: transaction done callback failed: internal error: done exploded"; !strings.Contains(log, want) {
		t.Errorf("no line %q:\n%s", want, log)
	}
	if want := "pushlua(b)<t2>: Info: ran b"; !strings.Contains(log, want) {
		t.Errorf("no line %q:\n%s", want, log)
	}
}
