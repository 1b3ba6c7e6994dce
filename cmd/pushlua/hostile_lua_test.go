package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// The hostile-Lua tests drive a real `pushlua serve` and `pushlua check`
// with the inputs of issue 9 items 1 and 2: each must leave the process
// up, fail the bad transaction with a clear log line, and run the next.

// nestedLine is a transaction whose MessageNew carries an extra field x of
// depth nested arrays.
func nestedLine(user string, depth int) string {
	return fmt.Sprintf(`{"user":%q,"events":[{"name":"MessageNew","mailbox":"INBOX","uid":1,"x":%s%s}]}`,
		user, strings.Repeat("[", depth), strings.Repeat("]", depth))
}

// noPanic fails the test when the process's log shows a Go panic.
func noPanic(t *testing.T, s *server) {
	t.Helper()
	if log := s.log(); strings.Contains(log, "panic") || strings.Contains(log, "goroutine ") {
		t.Errorf("the log shows a panic:\n%s", log)
	}
}

// Item 1: a POST of some 150 bytes with 37 nested arrays killed the
// default daemon.
func TestHostileNestedEvent(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dir, "--listen", "127.0.0.1:0")
	code, answer := s.post(t, nestedLine("a", 37)+"\n", "")
	if code != 400 || !strings.Contains(answer, `"field":"events[0].x"`) || !strings.Contains(answer, "nested more than 32 levels deep") {
		t.Errorf("37 levels: got %d %s; want 400 naming events[0].x", code, answer)
	}
	if code, _ := s.get(t, "/healthz"); code != 200 {
		t.Fatalf("healthz after the nested POST: %d\n%s", code, s.log())
	}
	// The deepest value the decoder accepts reaches the script; so does
	// the next ordinary transaction.
	if code, answer := s.post(t, nestedLine("deep32", 32)+"\n", ""); code != 202 {
		t.Errorf("32 levels: got %d %s; want 202", code, answer)
	}
	if code, answer := s.post(t, `{"user":"after","events":[{"name":"MessageNew","mailbox":"INBOX","uid":2}]}`+"\n", ""); code != 202 {
		t.Errorf("the next transaction: got %d %s; want 202", code, answer)
	}
	s.waitLog(t, regexp.MustCompile(`pushlua\(deep32\)<[^>]+>: Debug: Message data: Mailbox \[INBOX\], UID \[1\]`))
	s.waitLog(t, regexp.MustCompile(`pushlua\(after\)<[^>]+>: Debug: Message data: Mailbox \[INBOX\], UID \[2\]`))
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, s.log())
	}
	noPanic(t, s)
}

// handlersLua are the handlers of the hostile scripts: word names the
// version in the log, and an event in mailbox "Bad" reads an undeclared
// global.
func handlersLua(word string) string {
	return fmt.Sprintf(`function dovecot_lua_notify_begin_txn(user) return {name = user.username} end
function dovecot_lua_notify_event_message_new(ctx, e)
  if e.mailbox == "Bad" then dovecot.i_info(nope) end
  dovecot.i_info("%s got " .. ctx.name .. " " .. e.mailbox)
end
function dovecot_lua_notify_end_txn() end
`, word)
}

// Item 2: strict globals without script_init crashed `check` and `serve`,
// saving such a script over a running one killed the daemon, and an
// erroring __index on _G panicked at shutdown.
func TestHostileStrictGlobals(t *testing.T) {
	strict := "dovecot.restrict_global_variables(true)\n" + handlersLua("strict")
	raising := `setmetatable(_G, {__index = function(_, k) error("no global " .. k, 2) end})` + "\n" + handlersLua("raising")
	dir := writeFiles(t, map[string]string{
		"p.conf":      "plugin {\n  push_notification_driver = lua:file=s.lua\n}\n",
		"strict.conf": "plugin {\n  push_notification_driver = lua:file=strict.lua\n}\n",
		"s.lua":       handlersLua("plain"),
		"strict.lua":  strict,
	})
	if r := pushlua(t, dir, "", "check", "-c", "strict.conf"); r.code != 0 || !strings.Contains(r.stdout, "ok: lua (") {
		t.Fatalf("check of the strict script: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	post := func(user, mailbox string) {
		t.Helper()
		line := fmt.Sprintf(`{"user":%q,"events":[{"name":"MessageNew","mailbox":%q,"uid":1}]}`, user, mailbox)
		if code, answer := s.post(t, line+"\n", ""); code != 202 {
			t.Fatalf("post for %s: %d %s\n%s", user, code, answer, s.log())
		}
	}
	save := func(content string) {
		t.Helper()
		// An editor's save: a temporary file renamed over the script.
		tmp := filepath.Join(dir, "s.lua.tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "s.lua")); err != nil {
			t.Fatal(err)
		}
	}
	post("u1", "INBOX")
	s.waitLog(t, regexp.MustCompile(`pushlua\(u1\)<[^>]+>: Info: plain got u1 INBOX`))

	// The strict script saved over the running one: the reload builds it.
	save(strict)
	s.waitLog(t, regexp.MustCompile(`Info: reloaded s\.lua \(v1 → v2`))
	post("bad", "Bad")
	post("good", "INBOX")
	s.waitLog(t, regexp.MustCompile(`pushlua\(bad\)<[^>]+>: Error: lua: lua_pcall\(dovecot_lua_notify_event_message_new, 2, 0\) failed: attempt to write to read undeclared global variable nope`))
	s.waitLog(t, regexp.MustCompile(`pushlua\(good\)<[^>]+>: Info: strict got good INBOX`))

	// _G's __index raises, and there is no script_init or script_deinit:
	// the reload, its transactions and the shutdown after it.
	save(raising)
	s.waitLog(t, regexp.MustCompile(`Info: reloaded s\.lua \(v2 → v3`))
	post("bad2", "Bad")
	post("good2", "INBOX")
	s.waitLog(t, regexp.MustCompile(`pushlua\(bad2\)<[^>]+>: Error: lua: lua_pcall\(dovecot_lua_notify_event_message_new, 2, 0\) failed: \S*s\.lua:4: no global nope`))
	s.waitLog(t, regexp.MustCompile(`pushlua\(good2\)<[^>]+>: Info: raising got good2 INBOX`))
	if code, _ := s.get(t, "/healthz"); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, s.log())
	}
	s.waitLog(t, regexp.MustCompile(`pushlua: Info: stopped`))
	noPanic(t, s)

	// serve started on the strict script directly.
	s2 := startServe(t, dir, "-c", "strict.conf", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data2"))
	if code, answer := s2.post(t, `{"user":"direct","events":[{"name":"MessageNew","mailbox":"INBOX","uid":1}]}`+"\n", ""); code != 202 {
		t.Fatalf("post: %d %s", code, answer)
	}
	s2.waitLog(t, regexp.MustCompile(`pushlua\(direct\)<[^>]+>: Info: strict got direct INBOX`))
	if code := s2.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, s2.log())
	}
	noPanic(t, s2)
}
