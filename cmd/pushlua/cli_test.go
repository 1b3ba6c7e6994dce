package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The CLI is tested end to end: the real binary in a real process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pushlua-cli")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "pushlua")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building pushlua: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// pushlua runs the binary with a private data dir in dir.
func pushlua(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "HOME="+dir)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return result{exitCode(t, err), out.String(), errb.String()}
}

// exitCode is the exit status of a finished command (cmd.Run's error); an
// error other than a non-zero exit ends the test.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestQuickStart(t *testing.T) {
	examples, _ := filepath.Abs("../../examples")
	dir := t.TempDir()
	r := pushlua(t, dir, "", "run", "-c", filepath.Join(examples, "pushlua.conf"), filepath.Join(examples, "transactions.jsonl"))
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"pushlua(alice@example.com)<ex-2>: Info: new mail for alice@example.com: Plain hello from sender1@example.org (INBOX, uid 1, 1 unseen)\n",
		"pushlua(bob@example.com)<ex-3>: Info: new mail for bob@example.com: (no subject) from carol@example.net (INBOX, uid 7, 3 unseen) [push not enabled]\n",
		"pushlua(alice@example.com)<ex-4>: Info: alice@example.com read uid 1 in INBOX\n",
		`pushlua(alice@example.com)<ex-2>: Info: payload {"user":"11@3","folder":"INBOX","uid":1,"subject":"Plain hello","unseen":1}` + "\n",
		"pushlua: 5 transactions, 7 events, 13 handler calls, 0 errors, 0 rejected lines\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "pushlua", "pushlua.db")); err != nil {
		t.Errorf("the store is not under $XDG_STATE_HOME/pushlua: %v", err)
	}
}

const script = `function dovecot_lua_notify_begin_txn(user) return user end
function dovecot_lua_notify_event_message_new(user, e)
  local v = user:metadata_get("/private/vendor/vendor.dovecot/http-notify")
  dovecot.i_info("new " .. e.uid .. " gate=" .. tostring(v))
end
function dovecot_lua_notify_end_txn() end
`

func TestRunRejectsBadLines(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.conf": "plugin {\npush_notification_driver = lua:file=s.lua\n}\n", "s.lua": script,
		"in.jsonl": `{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}
{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX"}]}
{bad json
{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 4}]}
`,
	})
	r := pushlua(t, dir, "", "run", "-c", "p.conf", "in.jsonl")
	if r.code != 1 {
		t.Errorf("exit %d; want 1", r.code)
	}
	for _, want := range []string{
		"pushlua: Error: rejected: in.jsonl:2: field events[0].uid: missing (required for MessageNew)\n",
		"pushlua: Error: rejected: in.jsonl:3: invalid JSON",
		"Info: new 1 gate=nil\n", "Info: new 4 gate=nil\n",
		"pushlua: 2 transactions, 2 events, 6 handler calls, 0 errors, 2 rejected lines\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestRunStdinAndOverrides(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.conf": "plugin {\npush_notification_driver = lua:file=missing.lua\n}\n", "s.lua": script,
	})
	line := `{"id": "x1", "user": "bob", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 9}]}` + "\n"
	r := pushlua(t, dir, line, "run", "-c", "p.conf", "-o", "push_notification_driver=lua:file=s.lua", "-o", "mail_debug=yes", "-")
	if r.code != 0 || !strings.Contains(r.stderr, "pushlua(bob)<x1>: Info: new 9 gate=nil\n") ||
		!strings.Contains(r.stderr, "pushlua(bob)<x1>: Debug: lua: Calling dovecot_lua_notify_begin_txn(bob)\n") {
		t.Errorf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	r = pushlua(t, dir, line, "run", "-c", "p.conf", "-o", "push_notification_driver=lua:file=s.lua", "--log-format", "json")
	var rec map[string]any
	first := strings.SplitN(r.stderr, "\n", 2)[0]
	if err := json.Unmarshal([]byte(first), &rec); err != nil || rec["user"] != "bob" || rec["txn"] != "x1" || rec["msg"] != "new 9 gate=nil" {
		t.Errorf("json log: got %q (%v)", first, err)
	}
}

func TestMetadata(t *testing.T) {
	dir := writeFiles(t, map[string]string{"p.conf": "plugin {\npush_notification_driver = lua:file=s.lua\n}\n", "s.lua": script})
	key := "/private/vendor/vendor.dovecot/http-notify"
	if r := pushlua(t, dir, "", "metadata", "set", "-u", "alice", "-s", "", key, "user=11@3"); r.code != 0 {
		t.Fatalf("set: exit %d: %s", r.code, r.stderr)
	}
	if r := pushlua(t, dir, "", "metadata", "get", "-u", "alice", key); r.code != 0 || r.stdout != "user=11@3\n" {
		t.Errorf("get: got %q (exit %d, %s)", r.stdout, r.code, r.stderr)
	}
	if r := pushlua(t, dir, "", "metadata", "set", "-u", "alice", "-s", "INBOX", "/shared/comment", "hi"); r.code != 0 {
		t.Fatalf("set on INBOX: exit %d: %s", r.code, r.stderr)
	}
	if r := pushlua(t, dir, "", "metadata", "list", "-u", "alice", "-s", "INBOX"); !strings.Contains(r.stdout, "/private/vendor/vendor.dovecot/pvt/server/vendor/vendor.dovecot/http-notify=user=11@3\n") ||
		!strings.Contains(r.stdout, "/shared/comment=hi\n") {
		t.Errorf("list -s INBOX: got %q", r.stdout)
	}
	if r := pushlua(t, dir, "", "metadata", "list", "-u", "alice"); r.stdout != key+"=user=11@3\n" {
		t.Errorf("list (server): got %q", r.stdout)
	}
	line := `{"user": "alice", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`
	if r := pushlua(t, dir, line, "run", "-c", "p.conf"); !strings.Contains(r.stderr, "Info: new 1 gate=user=11@3\n") {
		t.Errorf("a script does not see the metadata:\n%s", r.stderr)
	}
	if r := pushlua(t, dir, "", "metadata", "unset", "-u", "alice", key); r.code != 0 {
		t.Fatalf("unset: %s", r.stderr)
	}
	if r := pushlua(t, dir, "", "metadata", "get", "-u", "alice", key); r.stdout != "" {
		t.Errorf("get after unset: got %q", r.stdout)
	}
	if r := pushlua(t, dir, "", "metadata", "set", "-u", "alice", "/vendor/x", "1"); r.code != 1 ||
		!strings.Contains(r.stderr, "Invalid key prefix, must be /private/ or /shared/") {
		t.Errorf("bad key: exit %d %q", r.code, r.stderr)
	}
	if r := pushlua(t, dir, "", "metadata", "get", key); r.code != 2 || !strings.Contains(r.stderr, "-u USER is required") {
		t.Errorf("no user: exit %d %q", r.code, r.stderr)
	}
}

func TestCheck(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"good.conf":   "plugin {\npush_notification_driver = lua:file=s.lua\n}\n",
		"bad.conf":    "plugin {\npush_notification_driver = lua:file=bad.lua\n}\n",
		"init.conf":   "plugin {\npush_notification_driver = lua:file=init.lua\n}\n",
		"none.conf":   "mail_debug = no\n",
		"syntax.conf": "plugin {\npush_notification_driver = lua:file=s.lua\n",
		"s.lua":       script,
		"bad.lua":     "function dovecot_lua_notify_begin_txn()\n  return {\nend\n",
		"init.lua":    "function script_init()\n  error('no config')\nend\n",
	})
	if r := pushlua(t, dir, "", "check", "-c", "good.conf"); r.code != 0 || !strings.Contains(r.stdout, "\nok: lua (") ||
		!strings.HasPrefix(r.stdout, "config: Dovecot 2.3 plugin settings (push_notification_driver), read from ") {
		t.Errorf("good: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	// Exit 1: a script fails; 2: the configuration itself is wrong.
	tests := []struct {
		conf, want string
		code       int
	}{
		{"bad.conf", "bad.lua:3: lua_load(", 1},
		{"init.conf", "init.lua:2: lua_pcall(script_init, 0, 1) failed: ", 1},
		{"none.conf", "no push notification driver configured", 2},
		{"syntax.conf", "syntax.conf:1:", 2},
	}
	for _, tt := range tests {
		r := pushlua(t, dir, "", "check", "-c", tt.conf)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: exit %d; want %d and %q in:\n%s", tt.conf, r.code, tt.code, tt.want, r.stderr)
		}
	}
}

func TestCheck24AndBundled(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.conf": "push_notification ox {\n  push_notification_ox_url = http://127.0.0.1:1/n\n}\npush_notification logger {\n  driver = dlog\n}\n",
	})
	r := pushlua(t, dir, "", "check", "-c", "p.conf")
	if r.code != 0 || !strings.Contains(r.stdout, "config: Dovecot 2.4 push_notification blocks, read from ") ||
		!strings.Contains(r.stdout, "ok: ox (bundled scripts/ox.lua)") || !strings.Contains(r.stdout, "ok: dlog (bundled scripts/dlog.lua)") {
		t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	if r := pushlua(t, dir, "", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "pushlua ") || !strings.Contains(r.stdout, "go-lua v0.0.0-") {
		t.Errorf("version: %q", r.stdout)
	}
	if r := pushlua(t, dir, "", "forwarder"); r.code != 0 || !strings.Contains(r.stdout, "function dovecot_lua_notify_end_txn") {
		t.Errorf("forwarder: exit %d, %d bytes", r.code, len(r.stdout))
	}
	if r := pushlua(t, dir, "", "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d %q", r.code, r.stderr)
	}
	if r := pushlua(t, dir, "", "run"); r.code != 2 || !strings.Contains(r.stderr, "no configuration: give -c CONFIG") {
		t.Errorf("run without -c: exit %d %q", r.code, r.stderr)
	}
}
