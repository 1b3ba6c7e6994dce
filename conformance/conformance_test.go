package conformance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBundled runs the suites pushlua ships: every test of every suite is
// a subtest.
func TestConformanceBundled(t *testing.T) {
	rep, err := Run(context.Background(), Options{Bundled: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Suites {
		t.Run(s.Name, func(t *testing.T) {
			for _, tt := range s.Tests {
				t.Run(tt.Name, func(t *testing.T) {
					for _, w := range tt.Warnings {
						t.Log("warning: " + w)
					}
					switch tt.Status {
					case Fail:
						t.Error(tt.Message)
					case Skip:
						t.Skip(tt.Message)
					}
				})
			}
		})
	}
	var b strings.Builder
	_ = rep.WriteText(&b)
	t.Log("\n" + b.String())
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// find returns the test named name (suite/test).
func find(t *testing.T, rep *Report, name string) *Test {
	t.Helper()
	for _, s := range rep.Suites {
		for _, tt := range s.Tests {
			if s.Name+"/"+tt.Name == name || tt.Name == name {
				return tt
			}
		}
	}
	var b strings.Builder
	_ = rep.WriteText(&b)
	t.Fatalf("no test %q in\n%s", name, b.String())
	return nil
}

func TestConformanceBrokenScripts(t *testing.T) {
	const good = `function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_end_txn(ctx, success) end
`
	tests := []struct {
		name, script, test string
		want               []string
	}{
		{"syntax error", "function dovecot_lua_notify_begin_txn(user)\n  return {}\nend\nlocal x = = 1\n", "load",
			[]string{"broken.lua:4:", "unexpected symbol"}},
		{"FlagsClear with empty tables", good + `function dovecot_lua_notify_event_flags_clear(ctx, event)
  local first = event.flags[1]
  dovecot.i_debug("cleared " .. first:sub(2))
end
`, "corpus/FlagsClear with empty tables", []string{"broken.lua:5: attempt to index", "in dovecot_lua_notify_event_flags_clear"}},
		{"leaked global", good + `function dovecot_lua_notify_event_message_new(ctx, event)
  if last_uid == event.uid then dovecot.i_debug("again") end
  last_uid = event.uid
end
`, "globals", []string{"global last_uid (a number) is set at ", "broken.lua:5 in corpus/first delivery creates INBOX", "read before it is written at ", "broken.lua:4 in corpus/"}},
		{"endless loop", good + `function dovecot_lua_notify_event_mailbox_create(ctx, event)
  while true do end
end
`, "budget", []string{"dovecot_lua_notify_event_mailbox_create exceeded the suite's budget", "broken.lua:3", "in corpus/first delivery creates INBOX"}},
		{"write outside tmp", good + `function dovecot_lua_notify_event_message_new(ctx, event)
  local f = io.open("/var/log/pushlua-conformance-test.log", "a")
  if f then f:write("x") f:close() end
end
`, "writes", []string{`io.open("/var/log/pushlua-conformance-test.log")`, "broken.lua:4"}},
		{"no handlers", good, "handlers", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			script := writeFile(t, dir, "broken.lua", tt.script)
			rep, err := Run(context.Background(), Options{Script: script})
			if err != nil {
				t.Fatal(err)
			}
			got := find(t, rep, tt.test)
			if tt.want == nil {
				if got.Status != Pass || len(got.Warnings) == 0 || !strings.Contains(got.Warnings[0], "Dovecot would never call begin_txn/end_txn") {
					t.Errorf("got %s %q %q; want a pass with a warning", got.Status, got.Message, got.Warnings)
				}
				return
			}
			if got.Status != Fail {
				t.Fatalf("%s: got %s; want fail", tt.test, got.Status)
			}
			for _, w := range tt.want {
				if !strings.Contains(got.Message, w) {
					t.Errorf("%s: message lacks %q:\n%s", tt.test, w, got.Message)
				}
			}
			if rep.OK() {
				t.Error("report OK")
			}
		})
	}
}
