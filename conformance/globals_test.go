package conformance

import (
	"context"
	"strings"
	"testing"
)

// TestGlobalsReadFirst: the globals check fails on a global that a later
// transaction reads before writing (its value carried one transaction's
// data into the next), and only warns about a throwaway global that every
// transaction writes before reading; Strict makes that a failure too.
// Scripts from the wild use throwaway globals (reqbody, code, r) and used
// to fail the check for them.
func TestGlobalsReadFirst(t *testing.T) {
	const txn = `function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_end_txn(ctx, success) end
`
	tests := []struct {
		name, handler string
		strict        bool
		status        Status
		want          string // in the message (fail) or a warning (pass)
	}{
		{"throwaway globals warn", `function dovecot_lua_notify_event_message_new(ctx, event)
  reqbody = "uid=" .. event.uid
  code = #reqbody
  dovecot.i_debug(reqbody .. " " .. code)
end
`, false, Pass, "global code (a number) is set at "},
		{"throwaway globals fail with strict", `function dovecot_lua_notify_event_message_new(ctx, event)
  reqbody = "uid=" .. event.uid
end
`, true, Fail, "every later transaction wrote it before reading it (make it local) [--strict]"},
		{"a counter carried over fails", `function dovecot_lua_notify_event_message_new(ctx, event)
  seen = (seen or 0) + 1
end
`, false, Fail, "read before it is written at "},
		{"rawget of a parked global is a read", `function dovecot_lua_notify_event_message_new(ctx, event)
  if rawget(_G, "cache") == nil then cache = {} end
  cache[event.uid] = true
end
`, false, Fail, "global cache (a table) is set at "},
		{"pairs(_G) still sees parked globals", `function dovecot_lua_notify_event_message_new(ctx, event)
  local n = 0
  for k in pairs(_G) do if k == "last" then n = n + 1 end end
  if last ~= nil and n ~= 1 then error("pairs(_G) missed a global") end
  last = event.uid
end
`, false, Fail, "global last (a number) is set at "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := writeFile(t, t.TempDir(), "g.lua", txn+tt.handler)
			rep, err := Run(context.Background(), Options{Script: script, Strict: tt.strict})
			if err != nil {
				t.Fatal(err)
			}
			g := find(t, rep, "globals")
			if g.Status != tt.status {
				t.Fatalf("globals: got %s %q %q; want %s", g.Status, g.Message, g.Warnings, tt.status)
			}
			text := g.Message
			if tt.status == Pass {
				text = strings.Join(g.Warnings, "\n")
			}
			if !strings.Contains(text, tt.want) {
				t.Errorf("got %q; want it to contain %q", text, tt.want)
			}
			// A script's own errors would show in the corpus.
			for _, s := range rep.Suites {
				for _, x := range s.Tests {
					if strings.HasPrefix(x.Name, "corpus/") && x.Status == Fail {
						t.Errorf("%s failed: %s", x.Name, x.Message)
					}
				}
			}
		})
	}
}
