package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
)

const newMsg = `{"id": "t1", "user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "uid_validity": 5}]}`

// tracer logs every call with dovecot.i_info so tests can read the order.
const tracer = `
function dovecot_lua_notify_begin_txn(user)
  dovecot.i_info("begin " .. tostring(user))
  return {n = 0}
end
function dovecot_lua_notify_event_message_new(ctx, e)
  ctx.n = ctx.n + 1
  dovecot.i_info("new " .. e.mailbox .. " " .. e.uid)
end
function dovecot_lua_notify_end_txn(ctx, success)
  dovecot.i_info("end " .. tostring(success) .. " " .. ctx.n)
end
`

func TestDriverProtocol(t *testing.T) {
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": tracer})
	res := te.run(t, newMsg)
	want := []string{
		"Debug: lua: Found dovecot_lua_notify_event_message_new, handling MessageNew event",
		"Debug: lua: Calling dovecot_lua_notify_begin_txn(alice@example.com)",
		"Info: begin alice@example.com",
		"Debug: lua: Called dovecot_lua_notify_begin_txn",
		"Debug: lua: Calling dovecot_lua_notify_event_message_new(ctx, event[name=MessageNew,mailbox=INBOX,uid=1])",
		"Info: new INBOX 1",
		"Debug: lua: Called dovecot_lua_notify_event_message_new",
		"Debug: lua: Calling dovecot_lua_notify_end_txn",
		"Info: end true 1",
		"Debug: lua: Called dovecot_lua_notify_end_txn",
		"Debug: push-notification: Push notification transaction completed",
	}
	if got := te.Logs.Lines(); !containsInOrder(got, want) {
		t.Errorf("got log\n%s\nwant in order\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(te.Logs.String(), "pushlua(alice@example.com)<t1>: Info: begin alice@example.com") {
		t.Errorf("log lines are not in Dovecot's shape:\n%s", te.Logs)
	}
	if r := res[0]; r.Calls != 3 || r.Errors != 0 || r.Drivers != 1 {
		t.Errorf("result: got %+v", r)
	}
}

func TestRolledBack(t *testing.T) {
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": tracer})
	te.run(t, `{"user": "alice@example.com", "success": false, "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`)
	got := te.Logs.Lines()
	if !containsInOrder(got, []string{"Info: begin alice@example.com", "Info: end false 0"}) || hasLine(got, "Info: new") {
		t.Errorf("rolled back: got\n%s", strings.Join(got, "\n"))
	}
	if hasLine(got, "Debug: push-notification: Push notification transaction completed") {
		t.Errorf("a rollback must not log the completion line")
	}
}

func TestHandlerRules(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []string // in order
		absent []string // line prefixes that must not appear
	}{
		{"missing begin_txn", `function dovecot_lua_notify_event_message_new() dovecot.i_info("new") end
function dovecot_lua_notify_end_txn() dovecot.i_info("end") end`,
			[]string{"Error: lua: Missing function dovecot_lua_notify_begin_txn"},
			[]string{"Info: new", "Info: end"}},
		{"no event handlers", `function dovecot_lua_notify_begin_txn() dovecot.i_info("begin") end
function dovecot_lua_notify_end_txn() dovecot.i_info("end") end`,
			[]string{"Debug: lua: No event handlers found in script"},
			[]string{"Info: begin", "Info: end"}},
		{"unhandled events are skipped", strings.Replace(tracer, "event_message_new", "event_message_read", 1),
			[]string{"Info: begin alice@example.com", "Info: end true 0"},
			[]string{"Info: new"}},
		{"begin_txn raises", `function dovecot_lua_notify_begin_txn() error("no begin") end
function dovecot_lua_notify_event_message_new() dovecot.i_info("new") end
function dovecot_lua_notify_end_txn() dovecot.i_info("end") end`,
			[]string{"Error: lua: lua_pcall(dovecot_lua_notify_begin_txn, 1, 1) failed: script.lua:1: no begin",
				"Error: stack traceback:",
				"Warning: lua: driver skipped for this transaction because dovecot_lua_notify_begin_txn failed (Dovecot 2.3 would crash the mail process here)"},
			[]string{"Info: new", "Info: end"}},
		{"begin_txn returns a string", `function dovecot_lua_notify_begin_txn() return "c" end
function dovecot_lua_notify_event_message_new(ctx) dovecot.i_info("new " .. ctx) end
function dovecot_lua_notify_end_txn(ctx) dovecot.i_info("end " .. ctx) end`,
			[]string{"Info: new c", "Info: end c"}, nil},
		{"begin_txn returns nothing", `function dovecot_lua_notify_begin_txn() end
function dovecot_lua_notify_event_message_new(ctx, e) dovecot.i_info("new " .. type(ctx) .. " " .. select("#", ctx, e)) end
function dovecot_lua_notify_end_txn(ctx, ok) dovecot.i_info("end " .. type(ctx) .. " " .. type(ok)) end`,
			[]string{"Info: new nil 2", "Info: end nil boolean"}, nil},
		{"handler raises, the rest still runs", `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new(ctx, e)
  if e.uid == 1 then error("bad uid") end
  dovecot.i_info("new " .. e.uid)
end
function dovecot_lua_notify_end_txn() dovecot.i_info("end") end`,
			[]string{"Error: lua: lua_pcall(dovecot_lua_notify_event_message_new, 2, 0) failed: script.lua:3: bad uid",
				"Error: stack traceback:",
				"Info: new 2", "Info: end"}, nil},
		{"end_txn raises", `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new() end
function dovecot_lua_notify_end_txn() local x = nil; return x.y end`,
			[]string{"Error: lua: lua_pcall(dovecot_lua_notify_end_txn, 2, 0) failed: script.lua:3: attempt to index local 'x' (a nil value)"}, nil},
		{"end_txn missing", `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new() dovecot.i_info("new") end`,
			[]string{"Info: new", "Error: lua: Missing function dovecot_lua_notify_end_txn"}, nil},
		{"end_txn removed during the transaction", `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new() dovecot_lua_notify_end_txn = nil end
function dovecot_lua_notify_end_txn() end`,
			[]string{"Error: lua: Missing function dovecot_lua_notify_end_txn"}, nil},
		{"handler removed during the transaction", `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new() dovecot_lua_notify_event_message_new = 5 end
function dovecot_lua_notify_end_txn() end`,
			[]string{"Error: lua: 'dovecot_lua_notify_event_message_new' is not a function"}, nil},
	}
	two := `{"user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}, {"name": "MessageNew", "mailbox": "INBOX", "uid": 2}]}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": tt.script})
			te.run(t, two)
			got := te.Logs.Lines()
			if !containsInOrder(got, tt.want) {
				t.Errorf("got\n%s\nwant in order\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, a := range tt.absent {
				if hasLine(got, a) {
					t.Errorf("got a line starting %q in\n%s", a, strings.Join(got, "\n"))
				}
			}
		})
	}
}

// The "at least one handler" rule is checked at every transaction, so a
// handler defined at runtime is noticed.
func TestHandlerDefinedLater(t *testing.T) {
	script := `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_end_txn() end
function dovecot_lua_notify_event_message_read()
  dovecot.i_info("read")
  function dovecot_lua_notify_event_message_new() dovecot.i_info("new") end
end`
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": script}, func(o *Options) { o.Jobs = 1 })
	te.run(t, newMsg,
		`{"user": "alice@example.com", "events": [{"name": "MessageRead", "mailbox": "INBOX", "uid": 1}]}`,
		newMsg)
	got := te.Logs.Lines()
	n := 0
	for _, l := range got {
		if l == "Info: new" {
			n++
		}
	}
	if n != 1 || !containsInOrder(got, []string{"Info: read", "Info: new"}) {
		t.Errorf("got %d new calls; want 1 after read:\n%s", n, strings.Join(got, "\n"))
	}
}

func TestScriptInit(t *testing.T) {
	handlers := "\nfunction dovecot_lua_notify_begin_txn() dovecot.i_info('begin') end\nfunction dovecot_lua_notify_event_message_new() end\nfunction dovecot_lua_notify_end_txn() end\n"
	tests := []struct {
		name, script, want string
		ok                 bool
	}{
		{"returns 0", "function script_init() return 0 end", "", true},
		{"absent", "", "", true},
		{"returns 1", "function script_init() return 1 end", "Error: lua: Script init failed", false},
		{"returns a string", "function script_init() return 'x' end", "Error: lua: script_init() returned non-number", false},
		{"returns nothing", "function script_init() end", "Error: lua: script_init() returned non-number", false},
		{"raises", "function script_init()\n  error('init boom')\nend", "Error: lua: lua_pcall(script_init, 0, 1) failed: script.lua:2: init boom", false},
		{"chunk raises", "local x = nil\nx.y = 1", "Error: lua: lua_pcall(", false},
		{"syntax error", "function (", "Error: lua: lua_load(", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": tt.script + handlers})
			if got := len(te.Drivers()) == 1; got != tt.ok {
				t.Fatalf("driver initialised: got %v; want %v (errors %v)", got, tt.ok, te.InitErrors())
			}
			te.run(t, newMsg)
			lines := te.Logs.Lines()
			if tt.want != "" && !hasLine(lines, tt.want) {
				t.Errorf("got\n%s\nwant a line starting %q", strings.Join(lines, "\n"), tt.want)
			}
			if got := hasLine(lines, "Info: begin"); got != tt.ok {
				t.Errorf("begin_txn called: got %v; want %v", got, tt.ok)
			}
			if !tt.ok {
				var se *ScriptError
				if !errors.As(te.InitErrors()[0], &se) {
					t.Fatalf("got %T; want a *ScriptError", te.InitErrors()[0])
				}
				if strings.Contains(tt.want, "script.lua:2") && se.Line != 2 {
					t.Errorf("ScriptError line: got %d; want 2", se.Line)
				}
			}
		})
	}
	t.Run("chunk error names the file and line", func(t *testing.T) {
		te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": "\n\nlocal x = nil\nx.y = 1"})
		var se *ScriptError
		if !errors.As(te.InitErrors()[0], &se) || se.Line != 4 || !strings.HasPrefix(se.Message, "lua_pcall("+filepath.Join(te.Dir, "script.lua")+") failed: ") {
			t.Errorf("got %#v", te.InitErrors()[0])
		}
	})
	t.Run("missing file", func(t *testing.T) {
		te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf("")})
		if !hasLine(te.Logs.Lines(), "Error: lua: access(") || !strings.Contains(te.Logs.String(), "script.lua) failed: No such file or directory") {
			t.Errorf("got %s", te.Logs)
		}
	})
}

func TestDriverList(t *testing.T) {
	good := tracer
	tests := []struct {
		name    string
		plugin  string
		drivers int
		want    string
	}{
		{"unknown driver ends the list", "push_notification_driver = bogus:x=1\npush_notification_driver2 = lua:file=script.lua", 0,
			"Error: Unknown push notification driver: bogus"},
		{"failing init ends the list", "push_notification_driver = lua:file=script.lua\npush_notification_driver2 = lua:file=broken.lua\npush_notification_driver3 = lua:file=script.lua", 1,
			"Error: lua: lua_load("},
		{"a gap ends the list", "push_notification_driver = lua:file=script.lua\npush_notification_driver3 = lua:file=script.lua", 1, ""},
		{"names are case-insensitive, errors use the typed name", "push_notification_driver = LUA:file=nope.lua", 0, "Error: LUA: access("},
		{"legacy backend list", "push_notification_backend = lua:file=script.lua", 1, ""},
		{"script file setting wins over file=", "push_notification_lua_script_file = script.lua\npush_notification_driver = lua:file=broken.lua", 1, ""},
		{"no file at all", "push_notification_driver = lua", 0, "Error: lua: No file in config and no push_notification_lua_script_file set"},
		{"mail_lua fallback needs mail_user_created", "mail_lua_script = script.lua\npush_notification_driver = lua", 0,
			"Error: lua: No file in config and no push_notification_lua_script_file set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestEngine(t, map[string]string{
				"pushlua.conf": "plugin {\n" + tt.plugin + "\n}\n",
				"script.lua":   good, "broken.lua": "function (",
			})
			if got := len(te.Drivers()); got != tt.drivers {
				t.Errorf("drivers: got %d; want %d; log:\n%s", got, tt.drivers, te.Logs)
			}
			if tt.want != "" && !hasLine(te.Logs.Lines(), tt.want) {
				t.Errorf("got\n%s\nwant a line starting %q", te.Logs, tt.want)
			}
		})
	}
}

func TestMailLuaFallback(t *testing.T) {
	script := `function mail_user_created(user) dovecot.i_info("created " .. user.username) end
function mail_user_deinit(user) dovecot.i_info("deinit " .. user.username) end
function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_event_message_new(ctx, e) dovecot.event():log_info("via event") end
function dovecot_lua_notify_end_txn(ctx) dovecot.i_info("end") end`
	te := newTestEngine(t, map[string]string{
		"pushlua.conf": "mail_debug = yes\nplugin {\nmail_lua_script = script.lua\npush_notification_driver = lua\n}\n",
		"script.lua":   script,
	})
	te.run(t, newMsg)
	want := []string{"Info: created alice@example.com", "Debug: Calling dovecot_lua_notify_begin_txn(alice@example.com)",
		"Info: via event", "Info: end", "Info: deinit alice@example.com"}
	if got := te.Logs.Lines(); !containsInOrder(got, want) {
		t.Errorf("got\n%s\nwant in order\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMultipleDrivers(t *testing.T) {
	a := strings.ReplaceAll(tracer, `dovecot.i_info("`, `dovecot.i_info("A `)
	b := strings.ReplaceAll(tracer, `dovecot.i_info("`, `dovecot.i_info("B `)
	te := newTestEngine(t, map[string]string{
		"pushlua.conf": "plugin {\npush_notification_driver = lua:file=a.lua\npush_notification_driver2 = lua:file=b.lua\n}\n",
		"a.lua":        a, "b.lua": b,
	})
	te.run(t, `{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}, {"name": "MessageNew", "mailbox": "INBOX", "uid": 2}]}`)
	want := []string{"Info: A begin u", "Info: B begin u", "Info: A new INBOX 1", "Info: B new INBOX 1",
		"Info: A new INBOX 2", "Info: B new INBOX 2", "Info: A end true 2", "Info: B end true 2"}
	if got := te.Logs.Lines(); !containsInOrder(got, want) {
		t.Errorf("got\n%s\nwant in order\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestBudget(t *testing.T) {
	script := `local inits = 0
function script_init() inits = inits + 1; dovecot.i_info("init " .. inits); return 0 end
function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new(ctx, e)
  if e.uid == 1 then while true do end end
  if e.uid == 2 then while true do pcall(function() while true do end end) end end
  if e.uid == 3 then while true do pcall(error, "x") end end
  dovecot.i_info("fine " .. e.uid)
end
function dovecot_lua_notify_end_txn() dovecot.i_info("end") end`
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": script}, func(o *Options) {
		o.Jobs = 1
		o.Budget = Budget{Instructions: 200_000}
		o.PoisonAttempts = 1 // one run each (TestPoisonAttempts tests the retries)
	})
	mk := func(uid int) string {
		return fmt.Sprintf(`{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d}]}`, uid)
	}
	res := te.run(t, mk(1), mk(2), mk(3), mk(4))
	lines := te.Logs.Lines()
	n := 0
	for _, l := range lines {
		if strings.Contains(l, "pushlua: call exceeded its budget of 200000 instructions") && strings.HasPrefix(l, "Error: lua: lua_pcall(dovecot_lua_notify_event_message_new, 2, 0) failed: script.lua:") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("got %d budget errors; want 3:\n%s", n, strings.Join(lines, "\n"))
	}
	// Each broken state is discarded and the next transaction runs on a
	// fresh one (script_init again); the broken transaction's end_txn is skipped.
	if !containsInOrder(lines, []string{"Info: init 1", "Info: init 1", "Info: init 1", "Info: fine 4", "Info: end"}) {
		t.Errorf("got\n%s", strings.Join(lines, "\n"))
	}
	if res[0].Errors != 1 || res[3].Errors != 0 {
		t.Errorf("results: got %+v", res)
	}
}

func TestTimeBudget(t *testing.T) {
	script := `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new() while true do end end
function dovecot_lua_notify_end_txn() end`
	te := newTestEngine(t, map[string]string{
		"pushlua.conf": luaConf("pushlua_handler_timeout = 1s\npushlua_handler_instructions = 100000000000"),
		"script.lua":   script,
	})
	te.run(t, newMsg)
	if !strings.Contains(te.Logs.String(), "pushlua: call exceeded its time budget of 1s") {
		t.Errorf("got %s", te.Logs)
	}
}

func TestSandbox(t *testing.T) {
	script := `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new()
  print("hello", 1, nil)
  local ok, err = pcall(os.exit, 3)
  dovecot.i_info("exit: " .. tostring(ok) .. " " .. err)
  ok, err = pcall(os.execute, "true")
  dovecot.i_info("execute: " .. tostring(ok) .. " " .. err)
end
function dovecot_lua_notify_end_txn() end`
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": script})
	te.run(t, newMsg)
	want := []string{"Info: hello\t1\tnil",
		"Info: exit: false os.exit is not allowed in pushlua (a script cannot end the engine)",
		"Info: execute: false os.execute is not allowed in pushlua (set pushlua_allow_exec = yes to allow it)"}
	if got := te.Logs.Lines(); !containsInOrder(got, want) {
		t.Errorf("got\n%s\nwant in order\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPerUserOrder(t *testing.T) {
	script := `local sink = require("pushlua_test_sink")
function dovecot_lua_notify_begin_txn(user) return user.username end
function dovecot_lua_notify_event_message_new(u, e) sink.record({user = u, uid = e.uid}) end
function dovecot_lua_notify_end_txn() end`
	var mu sync.Mutex
	var records []map[string]any
	te := newTestEngine(t, map[string]string{"pushlua.conf": "plugin {\npush_notification_driver = lua:file=script.lua\n}\n", "script.lua": script},
		func(o *Options) {
			o.Jobs, o.QueueSize = 4, 8
			o.Preload = append(o.Preload, sinkModule(&mu, &records))
		})
	var lines []string
	for uid := 1; uid <= 200; uid++ {
		for u := range 5 {
			lines = append(lines, fmt.Sprintf(`{"user": "user%d", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d}]}`, u, uid))
		}
	}
	res := te.run(t, lines...)
	last := map[any]float64{}
	for _, r := range records {
		if r["uid"].(float64) != last[r["user"]]+1 {
			t.Fatalf("user %v: uid %v after %v", r["user"], r["uid"], last[r["user"]])
		}
		last[r["user"]] = r["uid"].(float64)
	}
	if len(records) != 1000 {
		t.Errorf("got %d records; want 1000", len(records))
	}
	for _, r := range res {
		if r.Calls != 3 {
			t.Fatalf("got %+v", r)
		}
	}
}

// A user whose handler blocks holds one worker; the other users'
// transactions still run.
func TestSlowUserDoesNotStallOthers(t *testing.T) {
	script := `function dovecot_lua_notify_begin_txn(user) return user.username end
function dovecot_lua_notify_event_message_new(u, e)
  if u == "slow" then local x = 0; for i = 1, 1e12 do x = x + i end end
  dovecot.i_info("done " .. u)
end
function dovecot_lua_notify_end_txn() end`
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf("pushlua_handler_timeout = 3s"), "script.lua": script},
		func(o *Options) { o.Jobs = 2; o.Budget.Instructions = 1 << 62 })
	slow, _ := txn.Parse([]byte(`{"user": "slow", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`), nil)
	slowDone := make(chan struct{})
	if err := te.Submit(context.Background(), slow, func(Result) { close(slowDone) }); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for u := range 20 {
		lines = append(lines, fmt.Sprintf(`{"user": "fast%d", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`, u))
	}
	te.run(t, lines...) // returns while the slow one still runs
	select {
	case <-slowDone:
		t.Fatal("the slow transaction finished first; the test proves nothing")
	default:
	}
	if n := strings.Count(te.Logs.String(), "Info: done fast"); n != 20 {
		t.Errorf("got %d fast transactions done; want 20", n)
	}
}

func TestDeinitOnClose(t *testing.T) {
	script := tracer + "\nfunction script_deinit() dovecot.i_info('deinit') end"
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": script}, func(o *Options) { o.Jobs = 3 })
	te.run(t, newMsg)
	if err := te.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	built := strings.Count(te.Logs.String(), "Debug: lua: Calling script_init")
	if n := strings.Count(te.Logs.String(), "Info: deinit"); n != built || n == 0 {
		t.Errorf("script_deinit ran %d times; want once per state that was built (%d):\n%s", n, built, te.Logs)
	}
	if err := te.Submit(context.Background(), &txn.Txn{User: txn.User{Username: "x"}}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: got %v; want ErrClosed", err)
	}
}

func TestSubmitCanceled(t *testing.T) {
	script := `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new() end
function dovecot_lua_notify_end_txn() end`
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": script}, func(o *Options) { o.Jobs = 1; o.QueueSize = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var wg sync.WaitGroup
	tx, _ := txn.Parse([]byte(newMsg), nil)
	// Fill the queue until Submit has to wait; with a canceled context it
	// returns instead of blocking forever.
	var err error
	for range 10 {
		wg.Add(1)
		if err = te.Submit(ctx, tx, func(Result) { wg.Done() }); err != nil {
			wg.Done()
			break
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v; want context.Canceled once the queue is full", err)
	}
	waitGroup(t, &wg)
}

func TestErrorValuesAndSyntaxHints(t *testing.T) {
	script := `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new(ctx, e)
  if e.uid == 1 then error({code = 1}) end
  if e.uid == 2 then error(setmetatable({}, {__tostring = function() return "custom error" end})) end
  local ok, err = pcall(error, {code = 7})
  dovecot.i_info("caught " .. err.code)
end
function dovecot_lua_notify_end_txn() end`
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": script})
	te.run(t, `{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}, {"name": "MessageNew", "mailbox": "INBOX", "uid": 2}, {"name": "MessageNew", "mailbox": "INBOX", "uid": 3}]}`)
	for _, want := range []string{
		"Error: lua: lua_pcall(dovecot_lua_notify_event_message_new, 2, 0) failed: (error object is a table value)",
		"Error: lua: lua_pcall(dovecot_lua_notify_event_message_new, 2, 0) failed: custom error",
		"Info: caught 7",
	} {
		if !hasLine(te.Logs.Lines(), want) {
			t.Errorf("no line %q in\n%s", want, te.Logs)
		}
	}
	te2 := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": "local x = 7 // 2\n"})
	var se *ScriptError
	if !errors.As(te2.InitErrors()[0], &se) || !strings.Contains(se.Message, "//") || !strings.Contains(se.Message, "math.floor") {
		t.Errorf("no Lua 5.3 hint: %v", te2.InitErrors())
	}
}

func TestCloseDrainTimeout(t *testing.T) {
	script := `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new() while true do end end
function dovecot_lua_notify_end_txn() end`
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf("pushlua_handler_timeout = 1m\npushlua_handler_instructions = 100000000000000"), "script.lua": script},
		func(o *Options) { o.Jobs = 1 })
	var wg sync.WaitGroup
	var mu sync.Mutex
	dropped := 0
	for i := range 5 {
		wg.Add(1)
		tx, _ := txn.Parse([]byte(fmt.Sprintf(`{"user": "u%d", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`, i)), nil)
		if err := te.Submit(context.Background(), tx, func(r Result) {
			mu.Lock()
			if r.Dropped {
				dropped++
			}
			mu.Unlock()
			wg.Done()
		}); err != nil {
			t.Fatal(err)
		}
	}
	checkFor(t, func() bool { return strings.Contains(te.Logs.String(), "Calling dovecot_lua_notify_event_message_new") })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := te.Close(ctx)
	// The running one was canceled: it did not finish either (a log
	// that holds it runs it again), so all 5 count as not processed.
	if err == nil || !strings.Contains(err.Error(), "drain timeout: 5 accepted transactions were not processed") {
		t.Errorf("got %v", err)
	}
	waitGroup(t, &wg)
	if dropped != 5 || !strings.Contains(te.Logs.String(), "pushlua: call canceled: context canceled") {
		t.Errorf("dropped %d; want 5; log:\n%s", dropped, te.Logs)
	}
}

func TestAllowExec(t *testing.T) {
	script := `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new()
  local ok, a, b, c = pcall(os.execute, "exit 3")
  dovecot.i_info("execute: " .. tostring(ok) .. " " .. tostring(a) .. " " .. tostring(b) .. " " .. tostring(c))
end
function dovecot_lua_notify_end_txn() end`
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf("pushlua_allow_exec = yes"), "script.lua": script})
	te.run(t, newMsg)
	if !hasLine(te.Logs.Lines(), "Info: execute: true nil exit 3") {
		t.Errorf("pushlua_allow_exec = yes does not allow os.execute:\n%s", te.Logs)
	}
}

// A missing script keeps Dovecot's message and is fs.ErrNotExist to Go.
func TestReadScriptMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.lua")
	_, err := readScript(path)
	if got, want := err.Error(), "access("+path+") failed: No such file or directory"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false; want true", err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		t.Errorf("errors.As(%v, *fs.PathError) = true; want false (the message names the path)", err)
	}
}
