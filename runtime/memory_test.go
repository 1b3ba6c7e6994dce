package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/dconfig"
)

// TestMemoryBudget: a handler that asks the library for more than
// pushlua_handler_memory fails with an error naming the function and the
// budget, a pcall cannot swallow it, the state is discarded and the next
// transaction runs on a fresh one.
func TestMemoryBudget(t *testing.T) {
	script := `local inits = 0
function script_init() inits = inits + 1; dovecot.i_info("init " .. inits); return 0 end
function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new(ctx, e)
  if e.uid == 1 then local s = string.rep("x", 2^40) end
  if e.uid == 2 then while true do pcall(string.rep, "x", 2^21) end end
  if e.uid == 3 then
    local t = {}
    for i = 1, 1000 do t[i] = pcall(string.rep, "x", 2^16) end
    dovecot.i_info("swallowed")
  end
  dovecot.i_info("fine " .. e.uid .. " " .. #string.rep("y", 2^19))
end
function dovecot_lua_notify_end_txn() dovecot.i_info("end") end`
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf("pushlua_handler_memory = 1M"), "script.lua": script}, func(o *Options) {
		o.Jobs = 1
	})
	mk := func(uid int) string {
		return fmt.Sprintf(`{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d}]}`, uid)
	}
	res := te.run(t, mk(1), mk(2), mk(3), mk(4))
	lines := te.Logs.Lines()
	for _, want := range []string{
		"Error: lua: lua_pcall(dovecot_lua_notify_event_message_new, 2, 0) failed: script.lua:5: pushlua: call exceeded its memory budget of 1 MiB (pushlua_handler_memory): 'rep' needs 1099511627776 bytes, 0 already used",
		"Error: lua: lua_pcall(dovecot_lua_notify_event_message_new, 2, 0) failed: script.lua:6: pushlua: call exceeded its memory budget of 1 MiB (pushlua_handler_memory): 'rep' needs 2097152 bytes, 0 already used",
		// The 17th string of 64 KiB does not fit: the loop's pcall catches
		// the error, the next instruction ends the call.
		"Error: lua: lua_pcall(dovecot_lua_notify_event_message_new, 2, 0) failed: script.lua:9: pushlua: call exceeded its memory budget of 1 MiB (pushlua_handler_memory): 'rep' needs 65536 bytes, 1048576 already used",
	} {
		if !hasLine(lines, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if hasLine(lines, "Info: swallowed") || hasLine(lines, "Info: fine 1") {
		t.Errorf("a handler went on after its budget tripped")
	}
	// Each broken state is discarded and the next transaction runs on a
	// fresh one (script_init again), with the whole budget again.
	if !containsInOrder(lines, []string{"Info: init 1", "Info: init 1", "Info: init 1", "Info: fine 4 524288", "Info: end"}) {
		t.Errorf("got\n%s", strings.Join(lines, "\n"))
	}
	if res[0].Errors != 1 || res[1].Errors != 1 || res[2].Errors != 1 || res[3].Errors != 0 {
		t.Errorf("results: got %+v", res)
	}
}

func TestMemorySetting(t *testing.T) {
	for _, c := range []struct {
		value string
		want  int64
		err   string
	}{
		{"65536", 65536, ""},
		{"64M", 64 << 20, ""},
		{"64 MiB", 64 << 20, ""},
		{"2g", 2 << 30, ""},
		{"1 kb", 1024, ""},
		{"10B", 10, ""},
		{"0", 0, `pushlua_handler_memory: expected a positive size, got "0"`},
		{"lots", 0, `pushlua_handler_memory: invalid size "lots": expected a number of bytes with an optional unit (B, K, M, G, T)`},
		{"3 parsecs", 0, `pushlua_handler_memory: invalid size "3 parsecs": unknown unit "parsecs" (use B, K, M, G or T)`},
		{"99999999999T", 0, `pushlua_handler_memory: invalid size "99999999999T": too large`},
	} {
		t.Run(c.value, func(t *testing.T) {
			cfg := parseConf(t, "pushlua_handler_memory = "+c.value+"\n")
			b, _, err := engineSettings(cfg, Budget{})
			switch {
			case c.err != "" && (err == nil || err.Error() != c.err):
				t.Errorf("got %v; want %q", err, c.err)
			case c.err == "" && (err != nil || b.Memory != c.want):
				t.Errorf("got %d, %v; want %d", b.Memory, err, c.want)
			}
		})
	}
	// Options.Budget wins over the setting; without either, the default.
	b, _, err := engineSettings(parseConf(t, "pushlua_handler_memory = 1M\n"), Budget{Memory: 5000})
	if err != nil || b.Memory != 5000 {
		t.Errorf("Options.Budget.Memory: got %d, %v; want 5000", b.Memory, err)
	}
	b, _, _ = engineSettings(parseConf(t, ""), Budget{})
	if got := b.withDefaults().Memory; got != 64<<20 {
		t.Errorf("default: got %d; want %d", got, 64<<20)
	}
}

// TestCheckTime: the library's time check (luax.Host.Check) ends the call
// on the time budget or the context as the hook does, and trips the state
// so that a pcall cannot go on.
func TestCheckTime(t *testing.T) {
	st, err := newState(context.Background(), &scriptSpec{Path: "x.lua", Source: []byte("x = 1"), Budget: DefaultBudget},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	st.arm(context.Background())
	if err := st.Check(); err != nil || st.tripped != "" {
		t.Fatalf("within the budget: got %v, tripped %q", err, st.tripped)
	}
	st.deadline = time.Now().Add(-time.Second)
	if err := st.Check(); err == nil || err.Error() != "pushlua: call exceeded its time budget of 5s" || st.tripped != err.Error() {
		t.Errorf("past the deadline: got %v, tripped %q", err, st.tripped)
	}
	st.disarm()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st.arm(ctx)
	if err := st.Check(); err == nil || err.Error() != "pushlua: call canceled: context canceled" {
		t.Errorf("canceled: got %v", err)
	}
	st.disarm()
}

// parseConf parses a configuration given as text.
func parseConf(t *testing.T, text string) *dconfig.Config {
	t.Helper()
	cfg, err := dconfig.ParseReader("pushlua.conf", strings.NewReader(text), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
