package runtime

import (
	"strings"
	"testing"
)

// TestConfig24Forms: a script of the kind Dovecot 2.4's documentation
// shows, under a 2.4-style block written with the full setting name
// (push_notification_driver = lua, which used to be "unknown push
// notification driver: chat"): script_init has no `return 0` (2.4 ignores
// its value), user:plugin_getenv finds the block's own setting and the
// top-level one, and dovecot.http.client fails on a key 2.4 does not know.
// The same script under a 2.3-style configuration fails its script_init,
// as in 2.3.
func TestConfig24Forms(t *testing.T) {
	script := `local settings
function script_init(s) settings = s end
function dovecot_lua_notify_begin_txn(user)
  dovecot.i_info("endpoint " .. tostring(user:plugin_getenv("chat_endpoint")) ..
    ", top " .. tostring(user:plugin_getenv("chat_top")) ..
    ", driver " .. tostring(user:plugin_getenv("push_notification_driver")) ..
    ", token " .. tostring(settings and settings.token))
  local ok, err = pcall(dovecot.http.client, {request_timeout_msecs = 100})
  dovecot.i_info("2.3 name: " .. tostring(err))
  dovecot.http.client({request_timeout = "1s", request_max_attempts = 2})
  return {}
end
function dovecot_lua_notify_event_message_new() end
function dovecot_lua_notify_end_txn() end
`
	te := newTestEngine(t, map[string]string{
		"pushlua.conf": `chat_top = global
push_notification chat {
  push_notification_driver = lua
  lua_file = push.lua
  chat_endpoint = https://chat.example.com/hook
  lua_settings {
    token = s3cret
  }
}
`,
		"push.lua": script,
	})
	if errs := te.InitErrors(); len(errs) > 0 || len(te.Drivers()) != 1 {
		t.Fatalf("init errors %v, %d drivers:\n%s", errs, len(te.Drivers()), te.Logs)
	}
	res := te.run(t, `{"user": "alice", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`)
	lines := te.Logs.Lines()
	for _, want := range []string{
		"Info: endpoint https://chat.example.com/hook, top global, driver lua, token s3cret",
		"Info: 2.3 name: Invalid HTTP client setting: request_timeout_msecs is unknown setting",
	} {
		if !hasLine(lines, want) {
			t.Errorf("no line %q in\n%s", want, strings.Join(lines, "\n"))
		}
	}
	if res[0].Errors != 0 {
		t.Errorf("%d errors:\n%s", res[0].Errors, strings.Join(lines, "\n"))
	}

	// 2.3's rules under a 2.3-style configuration: script_init must
	// return 0.
	te23 := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": script})
	if len(te23.Drivers()) != 0 || !hasLine(te23.Logs.Lines(), "Error: lua: script_init() returned non-number") {
		t.Errorf("2.3-style config: got %d drivers, log\n%s", len(te23.Drivers()), te23.Logs)
	}
}
