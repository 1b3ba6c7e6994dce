package runtime

import (
	"strings"
	"testing"
)

// A library function that fails is named as C Lua names it, in the
// message and in the traceback, not '?' and "[Go]: in ?" (issue 13, 7).
func TestErrorNamesLibraryFunctions(t *testing.T) {
	script := `local http = require "socket.http"
function dovecot_lua_notify_begin_txn() return {} end
local function post(ctx)
  http.request(nil, "x")
end
function dovecot_lua_notify_event_message_new(ctx, e)
  post(ctx)
end
function dovecot_lua_notify_end_txn() end`
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": script})
	te.run(t, newMsg)
	got := te.Logs.Lines()
	want := []string{
		"Error: lua: lua_pcall(dovecot_lua_notify_event_message_new, 2, 0) failed: script.lua:4: bad argument #1 to 'request' (table expected, got nil)",
		"Error: stack traceback:",
		"Error: \t[C]: in function 'socket.http.request'",
		"Error: \tscript.lua:4: in function 'post'",
		"Error: \tscript.lua:7: in function <script.lua:6>",
	}
	if !containsInOrder(got, want) {
		t.Errorf("got\n%s\nwant in order\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, l := range got {
		if strings.Contains(l, "'?'") || strings.Contains(l, "in ?") || strings.Contains(l, "[Go]") {
			t.Errorf("unnamed function in %q", l)
		}
	}
}
