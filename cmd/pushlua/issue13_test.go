package main

// What a careful user trips over (issue 13), with the real binary.

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pushluaTimeout runs the binary like pushlua, but kills it after 20 s, so
// that a command that should exit at once and does not (serve that
// starts instead of refusing) fails the test instead of hanging it.
func pushluaTimeout(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "HOME="+dir)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("pushlua %s did not exit within 20 s:\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	}
	return result{exitCode(t, err), out.String(), errb.String()}
}

const issue13Script = `function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_event_message_new(ctx, e) dovecot.i_info("new " .. e.uid) end
function dovecot_lua_notify_end_txn(ctx) end
`

// Typos are not silent: unknown and misplaced pushlua_* settings are
// errors with a hint, a misspelled driver setting keeps serve from
// starting, a driver argument no driver reads is named.
func TestConfigTypos(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"s.lua": issue13Script,
		"typos.conf": "pushlua_listn = 127.0.0.1:0\nmail_debug = yes\nplugin {\n" +
			"  push_notification_drivr = lua:file=s.lua\n  pushlua_drain_timeout = 5s\n}\n",
		"drivr.conf": "plugin {\n  push_notification_drivr = lua:file=s.lua\n}\n",
		"fle.conf":   "plugin {\n  push_notification_driver = lua:fle=s.lua\n}\n",
		"warn.conf":  "plugin {\n  push_notification_driver = lua:file=s.lua\n  mail_lua_scripts = s.lua\n}\n",
		"spool.conf": "plugin {\n  push_notification_driver = lua:file=s.lua\n}\nservice imap {\n  pushlua_spool = /tmp/x\n}\n",
	})
	r := pushlua(t, dir, "", "check", "-c", "typos.conf")
	for _, want := range []string{
		"pushlua check: typos.conf:1: unknown setting pushlua_listn (did you mean pushlua_listen?)\n",
		"pushlua check: typos.conf:5: pushlua_drain_timeout is misplaced: it goes at top level, outside plugin { }\n",
		"pushlua check: typos.conf:4: no push notification driver configured: push_notification_drivr is not a setting Dovecot reads; did you mean push_notification_driver?\n",
	} {
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("check typos.conf: exit %d; want 2 and %q in:\n%s", r.code, want, r.stderr)
		}
	}
	r = pushlua(t, dir, "", "check", "-c", "fle.conf")
	if want := `fle.conf:2: push_notification_driver = lua:fle=s.lua: the lua driver has no argument "fle" (it reads file) (did you mean file?)`; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("check fle.conf: exit %d; want 2 and %q in:\n%s", r.code, want, r.stderr)
	}
	r = pushlua(t, dir, "", "check", "-c", "spool.conf")
	if want := "spool.conf:5: pushlua_spool inside service imap { } is never read: it goes at top level"; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("check spool.conf: exit %d; want 2 and %q in:\n%s", r.code, want, r.stderr)
	}
	r = pushlua(t, dir, "", "check", "-c", "warn.conf")
	if want := "pushlua check: warning: warn.conf:3: mail_lua_scripts is not a setting Dovecot reads; did you mean mail_lua_script?"; r.code != 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("check warn.conf: exit %d; want 0 and %q in:\n%s", r.code, want, r.stderr)
	}

	// serve refuses to start: nothing would ever run what it accepted.
	r = pushluaTimeout(t, dir, "", "serve", "-c", "drivr.conf", "--listen", "127.0.0.1:0", "--data-dir", "data")
	if want := "pushlua serve: drivr.conf:2: no push notification driver configured: push_notification_drivr is not a setting Dovecot reads; did you mean push_notification_driver?"; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("serve drivr.conf: exit %d; want 2 and %q in:\n%s", r.code, want, r.stderr)
	}
	r = pushluaTimeout(t, dir, "", "serve", "-c", "typos.conf", "--data-dir", "data")
	if r.code != 2 || !strings.Contains(r.stderr, "typos.conf:1: unknown setting pushlua_listn") {
		t.Errorf("serve typos.conf: exit %d; want 2:\n%s", r.code, r.stderr)
	}
	r = pushluaTimeout(t, dir, "", "serve", "-c", "fle.conf", "--listen", "127.0.0.1:0", "--data-dir", "data")
	if r.code != 2 || !strings.Contains(r.stderr, `the lua driver has no argument "fle"`) {
		t.Errorf("serve fle.conf: exit %d; want 2:\n%s", r.code, r.stderr)
	}
	// run and -o too.
	r = pushlua(t, dir, "", "run", "-c", "warn.conf", "-o", "pushlua_handler_memry=1M")
	if want := "pushlua run: -o pushlua_handler_memry=1M: unknown setting pushlua_handler_memry (did you mean pushlua_handler_memory?)"; r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("run -o typo: exit %d; want 2 and %q in:\n%s", r.code, want, r.stderr)
	}
}

// Exit codes: 0 ok, 1 transactions failed or rejected (or a test, a
// check), 2 usage or configuration; the same for every command.
func TestExitCodes(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"s.lua":    issue13Script,
		"bad.lua":  strings.Replace(issue13Script, `dovecot.i_info("new " .. e.uid)`, `error("boom")`, 1),
		"ok.conf":  "plugin {\n  push_notification_driver = lua:file=s.lua\n}\n",
		"bad.conf": "plugin {\n  push_notification_driver = lua:file=bad.lua\n}\n",
		"in.jsonl": `{"user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "uid_validity": 1}]}` + "\n",
	})
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"run ok", []string{"run", "-c", "ok.conf", "in.jsonl"}, 0},
		{"run with a failing handler", []string{"run", "-c", "bad.conf", "in.jsonl"}, 1},
		{"run with a rejected line", []string{"run", "-c", "ok.conf", "-"}, 1},
		{"run without -c", []string{"run", "in.jsonl"}, 2},
		{"check without -c", []string{"check"}, 2},
		{"check ok", []string{"check", "-c", "ok.conf"}, 0},
		{"check, missing config", []string{"check", "-c", "missing.conf"}, 2},
		{"serve, missing config", []string{"serve", "-c", "missing.conf", "--listen", "127.0.0.1:0"}, 2},
		{"run, missing config", []string{"run", "-c", "missing.conf"}, 2},
		{"conformance, missing config", []string{"conformance", "-c", "missing.conf"}, 2},
		{"conformance, missing script", []string{"conformance", "missing.lua"}, 2},
		{"metadata, missing config", []string{"metadata", "get", "-c", "missing.conf", "-u", "a", "/private/x"}, 2},
		{"metadata without -u", []string{"metadata", "get", "/private/x"}, 2},
		{"send, missing config", []string{"send", "-c", "missing.conf", "in.jsonl"}, 2},
		{"store, missing config", []string{"store", "check", "-c", "missing.conf"}, 2},
		{"dlq, missing config", []string{"dlq", "list", "-c", "missing.conf"}, 2},
		{"unknown flag", []string{"run", "--frobnicate"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdin := ""
			if tt.name == "run with a rejected line" {
				stdin = "{not json}\n"
			}
			r := pushluaTimeout(t, dir, stdin, append(tt.args, "--data-dir", "data")...)
			if r.code != tt.want {
				t.Errorf("pushlua %s: exit %d; want %d\n%s%s", strings.Join(tt.args, " "), r.code, tt.want, r.stdout, r.stderr)
			}
		})
	}
}

// pushlua run reads what send accepts: README's pretty-printed example.
func TestRunPrettyPrintedTransaction(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"s.lua":   issue13Script,
		"ok.conf": "plugin {\n  push_notification_driver = lua:file=s.lua\n}\n",
		"txn.json": `{"user": {"username": "alice@example.com", "service": "lmtp"},
 "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "uid_validity": 1795978712,
             "subject": "Hi", "from_address": "bob@example.org"}],
 "status": {"INBOX": {"messages": 1, "unseen": 1, "uidnext": 2, "uidvalidity": 1795978712}},
 "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=11@3"}}
`,
	})
	r := pushlua(t, dir, "", "run", "-c", "ok.conf", "--data-dir", "data", "txn.json")
	if r.code != 0 || !strings.Contains(r.stderr, "Info: new 1\n") || !strings.Contains(r.stderr, "pushlua: 1 transactions, 1 events, 3 handler calls, 0 errors, 0 rejected lines") {
		t.Errorf("exit %d; want 0 and one transaction:\n%s", r.code, r.stderr)
	}
}

// A library function that fails is named as Lua names it (issue 13, 7).
func TestRunErrorNamesRequest(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"s.lua": `local http = require "socket.http"
function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_event_message_new(ctx, e)
  http.request(nil, "x")
end
function dovecot_lua_notify_end_txn(ctx) end
`,
		"ok.conf":  "plugin {\n  push_notification_driver = lua:file=s.lua\n}\n",
		"in.jsonl": `{"user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "uid_validity": 1}]}` + "\n",
	})
	r := pushlua(t, dir, "", "run", "-c", "ok.conf", "--data-dir", "data", "in.jsonl")
	for _, want := range []string{
		"s.lua:4: bad argument #1 to 'request' (table expected, got nil)\n",
		"Error: \t[C]: in function 'socket.http.request'\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "'?'") || strings.Contains(r.stderr, "[Go]") {
		t.Errorf("an unnamed function in:\n%s", r.stderr)
	}
	if r.code != 1 {
		t.Errorf("exit %d; want 1 (a handler failed)", r.code)
	}
}

// pushlua metadata works while serve holds the store, through serve's
// /v1/metadata (with serve's token); pushlua run says who holds it.
func TestMetadataWhileServing(t *testing.T) {
	const gate = "/private/vendor/vendor.dovecot/http-notify"
	dir := writeFiles(t, map[string]string{
		"s.lua":  issue13Script,
		"p.conf": "pushlua_auth_token = s3cret\nplugin {\n  push_notification_driver = lua:file=s.lua\n}\n",
	})
	s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	md := func(args ...string) result {
		t.Helper()
		return pushluaTimeout(t, dir, "", append([]string{"metadata"}, append(args, "-c", "p.conf", "--data-dir", "data", "--url", s.addr)...)...)
	}
	if r := md("set", "-u", "alice@example.com", "-s", "", gate, "user=11@3"); r.code != 0 {
		t.Fatalf("set while serving: exit %d\n%s", r.code, r.stderr)
	}
	if r := md("get", "-u", "alice@example.com", gate); r.code != 0 || r.stdout != "user=11@3\n" {
		t.Errorf("get while serving: exit %d %q\n%s", r.code, r.stdout, r.stderr)
	}
	if r := md("list", "-u", "alice@example.com"); r.code != 0 || r.stdout != gate+"=user=11@3\n" {
		t.Errorf("list while serving: exit %d %q\n%s", r.code, r.stdout, r.stderr)
	}
	if r := md("set", "-u", "alice@example.com", "-s", "INBOX", "/private/comment", "hi"); r.code != 0 {
		t.Errorf("set a mailbox attribute: exit %d\n%s", r.code, r.stderr)
	}
	// The endpoint needs the token, as /v1/transactions does.
	r := pushluaTimeout(t, dir, "", "metadata", "get", "--data-dir", "data", "--url", s.addr, "--token", "wrong", "-u", "alice@example.com", gate)
	if r.code != 1 || !strings.Contains(r.stderr, "answered 401") || !strings.Contains(r.stderr, "holds the store") {
		t.Errorf("wrong token: exit %d; want 1 and 401:\n%s", r.code, r.stderr)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/v1/metadata?user=alice@example.com&key="+gate, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/metadata without a token: %v %v; want 401", resp, err)
	} else {
		resp.Body.Close()
	}
	// run on the held data dir names the holder and what to do.
	r = pushluaTimeout(t, dir, "", "run", "-c", "p.conf", "--data-dir", "data", "-")
	if r.code != 1 || !regexp.MustCompile(`pid \d+ \(\S*pushlua serve .*-c p\.conf.*\) holds data/pushlua\.db; pushlua run needs the store to itself: give it another --data-dir`).MatchString(r.stderr) {
		t.Errorf("run on the served data dir: exit %d; want 1 naming serve:\n%s", r.code, r.stderr)
	}
	if r := md("unset", "-u", "alice@example.com", gate); r.code != 0 {
		t.Errorf("unset while serving: exit %d\n%s", r.code, r.stderr)
	}
	s.stop(t, syscall.SIGTERM)
	// What went through serve is in the store.
	r = pushlua(t, dir, "", "metadata", "get", "--data-dir", "data", "-u", "alice@example.com", gate)
	if r.code != 0 || r.stdout != "" {
		t.Errorf("get after serve stopped: exit %d %q; want the unset key\n%s", r.code, r.stdout, r.stderr)
	}
	r = pushlua(t, dir, "", "metadata", "get", "--data-dir", "data", "-u", "alice@example.com", "-s", "INBOX", "/private/comment")
	if r.code != 0 || r.stdout != "hi\n" {
		t.Errorf("mailbox attribute after serve stopped: exit %d %q\n%s", r.code, r.stdout, r.stderr)
	}
}

// Dovecot's documentation example 1, run unchanged with its own case
// directory, passes (issue 13, 6).
func TestConformanceScriptWithItsCases(t *testing.T) {
	shared := sharedDir(t)
	cases, _ := filepath.Abs("../../conformance/testdata/doc_example1")
	dir := t.TempDir()
	r := pushlua(t, dir, "", "conformance", "--shared", shared, filepath.Join(shared, "spec", "examples", "doc_example1.lua"), cases)
	if r.code != 0 || !strings.Contains(r.stdout, "(config of "+filepath.ToSlash(cases)+"/suite.txtar)") ||
		!strings.Contains(r.stdout, "/corpus/* (28 of 28 scenarios)") || !strings.HasSuffix(r.stdout, " passed, 0 failed\n") {
		t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A reload to a configuration whose driver setting is misspelled fails:
// the running version keeps serving (it would otherwise swap in a version
// without drivers and accept transactions into nowhere), /readyz says why,
// and restoring the file brings readiness back.
func TestReloadTypoKeepsServing(t *testing.T) {
	good := "plugin {\n  push_notification_driver = dlog\n}\n"
	dir := writeFiles(t, map[string]string{"p.conf": good})
	s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	conf := filepath.Join(dir, "p.conf")
	if err := os.WriteFile(conf, []byte(strings.Replace(good, "driver", "drivr", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, regexp.MustCompile(`reload: .*p\.conf:2: no push notification driver configured: push_notification_drivr is not a setting Dovecot reads`))
	if code, body := s.get(t, "/readyz"); code != 503 || !strings.Contains(body, "the last reload failed") {
		t.Errorf("readyz after the failed reload: %d %q; want 503", code, body)
	}
	if r := pushlua(t, dir, "", "send", "--url", s.addr, "--sample", "MessageNew", "--user", "carol@example.com"); r.code != 0 {
		t.Fatalf("send: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	s.waitLog(t, regexp.MustCompile(`pushlua\(carol@example.com\)<[^>]+>: Debug: Message data: Mailbox \[INBOX\], UID \[1\]`))
	if err := os.WriteFile(conf, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitReady(t, "after restoring the file")
}

// send reads what run reads: two files of one pretty-printed transaction
// each make two transactions.
func TestSendPrettyPrintedFiles(t *testing.T) {
	pretty := func(user string) string {
		return "{\"user\": \"" + user + "\",\n \"events\": [{\"name\": \"MessageNew\", \"mailbox\": \"INBOX\",\n   \"uid\": 1, \"uid_validity\": 1}]}\n"
	}
	dir := writeFiles(t, map[string]string{"a.json": pretty("a@example.com"), "b.json": pretty("b@example.com")})
	s := startServe(t, dir, "--listen", "127.0.0.1:0")
	r := pushlua(t, dir, "", "send", "--url", s.addr, "a.json", "b.json")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "202 Accepted") || strings.Count(r.stdout, `"id"`) != 2 {
		t.Fatalf("send: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	s.waitLog(t, regexp.MustCompile(`pushlua\(b@example.com\)<[^>]+>: Debug: Message data: Mailbox \[INBOX\], UID \[1\]`))
}
