package runtime

import (
	"strings"
	"sync/atomic"
	"testing"

	lua "github.com/Shopify/go-lua"
)

// A transaction whose handler exceeds the budget runs again, in place,
// up to PoisonAttempts times; then the engine gives up on it (Dead) and
// the user's next transaction runs. A run that recovers on a later
// attempt is an ordinary result.
func TestPoisonAttempts(t *testing.T) {
	var calls atomic.Int64
	script := `local attempt = require("attempt")
function dovecot_lua_notify_begin_txn(user) return user.username end
function dovecot_lua_notify_event_message_new(u, e)
  local n = attempt()
  dovecot.i_info("run " .. e.uid .. " attempt " .. n)
  if e.uid == 1 then while true do end end          -- always poisoned
  if e.uid == 2 and n < 5 then while true do end end -- poisoned once (attempts 4, then 5)
end
function dovecot_lua_notify_end_txn() end
`
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": script}, func(o *Options) {
		o.Jobs = 1
		o.Budget = Budget{Instructions: 100_000}
		o.PoisonAttempts = 3
		o.Preload = []lua.RegistryFunction{{Name: "attempt", Function: func(l *lua.State) int {
			l.PushGoFunction(func(l *lua.State) int {
				l.PushInteger(int(calls.Add(1)))
				return 1
			})
			return 1
		}}}
	})
	msg := func(uid string) string {
		return `{"id": "p` + uid + `", "user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": ` + uid + `}]}`
	}
	res := te.run(t, msg("1"), msg("2"), msg("3"))
	if r := res[0]; !r.Dead || r.Attempts != 3 || r.Poison == "" {
		t.Errorf("always poisoned: Dead %v, Attempts %d, Poison %q; want true, 3, the budget error", r.Dead, r.Attempts, r.Poison)
	}
	if r := res[1]; r.Dead || r.Attempts != 2 || r.Poison != "" {
		t.Errorf("poisoned once: Dead %v, Attempts %d, Poison %q; want false, 2, \"\"", r.Dead, r.Attempts, r.Poison)
	}
	if r := res[2]; r.Dead || r.Attempts != 1 || r.Errors != 0 {
		t.Errorf("ordinary: %+v", r)
	}
	logs := te.Logs.String()
	for _, want := range []string{
		"Warning: running the transaction again (attempt 2 of 3): ",
		"Error: giving up on the transaction after 3 attempts: ",
		"Info: run 3 attempt 6",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	// A handler error that is not a budget or a crash is not retried.
	te2 := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": `
function dovecot_lua_notify_begin_txn(user) return 1 end
function dovecot_lua_notify_event_message_new(u, e) error("plain failure") end
function dovecot_lua_notify_end_txn() end`})
	if r := te2.run(t, msg("9"))[0]; r.Attempts != 1 || r.Poison != "" || r.Errors != 1 {
		t.Errorf("plain error: %+v; want one attempt, no poison, one error", r)
	}
}
