package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// secret is the password in every URL of these tests: it must never be
// printed, whatever the surface.
const secret = "SECRETPASS"

func noSecret(t *testing.T, where, text string) {
	t.Helper()
	if strings.Contains(text, secret) {
		t.Errorf("%s holds the password:\n%s", where, text)
	}
}

// A reload that fails on the OX driver's URL reports the error on /readyz
// (no auth), in the log and on stderr of check/run/serve, all with the
// URL's password masked; /metrics never carries it.
func TestHostileSecretsReload(t *testing.T) {
	conf := func(url string) string {
		return "mail_debug = yes\npushlua_reload_debounce = 20ms\nplugin {\n  push_notification_driver = ox:url=" + url + "\n}\n"
	}
	good := "http://login:" + secret + "@127.0.0.1:9/notify"
	bad := "htp://login:" + secret + "@127.0.0.1:9/notify"
	dir := writeFiles(t, map[string]string{"p.conf": conf(good)})
	s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	s.waitLog(t, regexp.MustCompile(`Using URL http://login:xxxxx@127\.0\.0\.1:9/notify`))
	if code, body := s.get(t, "/readyz"); code != 200 {
		t.Fatalf("readyz before the reload: %d %s", code, body)
	}

	if err := os.WriteFile(filepath.Join(dir, "p.conf"), []byte(conf(bad)), 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, regexp.MustCompile(`Error: reload: .*Failed to parse OX REST URL htp://login:xxxxx@127\.0\.0\.1:9/notify: Not an HTTP URL; v1 keeps serving`))
	code, body := s.get(t, "/readyz")
	if code != 503 || !strings.Contains(body, "the last reload failed") || !strings.Contains(body, "htp://login:xxxxx@127.0.0.1:9/notify") {
		t.Errorf("readyz after the failed reload: %d %q; want 503 naming the masked URL", code, body)
	}
	noSecret(t, "/readyz", body)
	_, metrics := s.get(t, "/metrics")
	if !strings.Contains(metrics, `pushlua_reloads_total{result="failed"}`) {
		t.Errorf("metrics do not count the failed reload:\n%s", metrics)
	}
	noSecret(t, "/metrics", metrics)
	s.stop(t, syscall.SIGTERM)
	noSecret(t, "the serve log", s.log())

	// The same configuration from the start: check, run and serve fail,
	// saying why without the password, in both log formats.
	for _, format := range []string{"text", "json"} {
		r := pushlua(t, dir, "", "check", "-c", "p.conf", "--log-format", format)
		if r.code != 1 || !strings.Contains(r.stderr, "Failed to parse OX REST URL htp://login:xxxxx@127.0.0.1:9/notify") {
			t.Errorf("check (%s): exit %d, stderr %q; want 1 and the masked URL", format, r.code, r.stderr)
		}
		noSecret(t, "check's output ("+format+")", r.stdout+r.stderr)
		r = pushlua(t, dir, "", "run", "-c", "p.conf", "--log-format", format)
		if !strings.Contains(r.stderr, "htp://login:xxxxx@") {
			t.Errorf("run (%s): stderr %q; want the masked URL", format, r.stderr)
		}
		noSecret(t, "run's output ("+format+")", r.stdout+r.stderr)
		// serve starts without the driver.
		s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0", "--log-format", format)
		s.addr = regexp.MustCompile(`^[0-9.:]+`).FindString(s.addr) // in JSON the match runs on
		if code, body := s.get(t, "/readyz"); code != 503 {
			t.Errorf("readyz of serve without its driver: %d %q; want 503", code, body)
		}
		s.stop(t, syscall.SIGTERM)
		if !strings.Contains(s.log(), "htp://login:xxxxx@") {
			t.Errorf("serve (%s) does not say which URL failed:\n%s", format, s.log())
		}
		noSecret(t, "serve's log at startup ("+format+")", s.log())
	}
}

// Errors of dovecot.http and socket.http reach the script, and the log,
// with the URL's password masked; so do a script's own error messages.
func TestHostileSecretsScriptHTTP(t *testing.T) {
	script := `local http = require "socket.http"
local urls = {
  "http://login:SECRETPASS@127.0.0.1:1/refused",
  "http://login:SECRETPASS@127.0.0.1:1/%zz",
  "http://login:SECRETPASS@127.0.0.1:bad/",
  "htp://login:SECRETPASS@127.0.0.1:1/",
}
local function seen(s)
  -- the log masks passwords too: say here whether the script saw it
  return string.find(tostring(s), "SECRETPASS", 1, true) and "LEAKED" or "masked"
end
function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_event_message_new(ctx, e)
  local client = dovecot.http.client({request_timeout_msecs = 2000})
  for i, u in ipairs(urls) do
    local ok, b, c = pcall(http.request, u)
    dovecot.i_info(string.format("socket.http %d: %s %s %s", i, seen(b), seen(c), tostring(c or b)))
    local ok, req = pcall(client.request, client, {url = u, method = "GET"})
    if ok then
      local resp = req:submit()
      dovecot.i_info(string.format("dovecot.http %d: %s %s", i, seen(resp:reason()), resp:reason()))
    else
      dovecot.i_info(string.format("dovecot.http %d: %s %s", i, seen(req), req))
    end
  end
  error("giving up on http://login:SECRETPASS@127.0.0.1:1/?token=SECRETPASS")
end
function dovecot_lua_notify_end_txn(ctx, success) end
`
	dir := writeFiles(t, map[string]string{
		"p.conf": "plugin {\n  push_notification_driver = lua:file=s.lua\n}\n", "s.lua": script,
		"in.jsonl": `{"user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "uid_validity": 5}]}` + "\n",
	})
	r := pushlua(t, dir, "", "run", "-c", "p.conf", "in.jsonl")
	noSecret(t, "run's output", r.stdout+r.stderr)
	if strings.Contains(r.stderr, "LEAKED") {
		t.Errorf("an HTTP error handed the password to the script:\n%s", r.stderr)
	}
	for _, want := range []string{
		"socket.http 1: masked", "dovecot.http 1: masked", "socket.http 2: masked",
		"dovecot.http 2: masked Failed to parse url http://login:xxxxx@127.0.0.1:1/%zz",
		"dovecot.http 3: masked Failed to parse url http://login:xxxxx@127.0.0.1:bad/",
		"dovecot.http 4: masked Failed to parse url htp://login:xxxxx@127.0.0.1:1/",
		"giving up on http://login:xxxxx@127.0.0.1:1/?token=xxxxx",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the log lacks %q:\n%s", want, r.stderr)
		}
	}
}

// A conformance report, in every format, masks the password of the
// configuration it tests and of the errors of the script.
func TestHostileSecretsConformance(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.conf": "plugin {\n  push_notification_driver = lua:file=s.lua\n  my_url = http://login:" + secret + "@127.0.0.1:1/notify\n}\n",
		"s.lua": `function dovecot_lua_notify_begin_txn(user)
  error("cannot reach " .. user:plugin_getenv("my_url"))
end
function dovecot_lua_notify_event_message_new(ctx, e) end
function dovecot_lua_notify_end_txn(ctx, success) end
`,
	})
	for _, format := range []string{"text", "json", "junit", "tap"} {
		r := pushlua(t, dir, "", "conformance", "-c", "p.conf", "--format", format)
		if r.code != 1 || !strings.Contains(r.stdout, "cannot reach http://login:xxxxx@127.0.0.1:1/notify") {
			t.Errorf("conformance --format %s: exit %d; want 1 and the masked URL in\n%s\n%s", format, r.code, r.stdout, r.stderr)
		}
		noSecret(t, "the conformance report ("+format+")", r.stdout+r.stderr)
	}
}

// A user name cannot forge a log line under another user's prefix: control
// characters are escaped in the prefix, and in the message, in text logs;
// JSON logs stay one valid record per line.
func TestHostileLogForgery(t *testing.T) {
	forged := "mallory\npushlua(alice@example.com)<x>: Info: forged"
	txns := func() string {
		enc := func(v any) string { b, _ := json.Marshal(v); return string(b) }
		return `{"user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "uid_validity": 5}]}` + "\n" +
			`{"user": ` + enc(forged) + `, "events": [{"name": "MessageNew", "mailbox": ` + enc("INBOX\r\x1b[2Kpushlua(alice@example.com): Info: x") + `, "uid": 2, "uid_validity": 5}]}` + "\n" +
			`{"user": "jörg+tag@exämple.org", "events": [{"name": "MessageNew", "mailbox": "Entwürfe", "uid": 3, "uid_validity": 5}]}` + "\n"
	}
	var accepted struct {
		Accepted []struct {
			Line int
			ID   string
		}
	}
	post := func(s *server) {
		t.Helper()
		code, body := s.post(t, txns(), "")
		if code != 202 {
			t.Fatalf("post: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &accepted); err != nil || len(accepted.Accepted) != 3 {
			t.Fatalf("answer %s: %v", body, err)
		}
	}

	t.Run("text", func(t *testing.T) {
		dir := t.TempDir()
		s := startServe(t, dir, "--listen", "127.0.0.1:0")
		post(s)
		alice, mallory := accepted.Accepted[0].ID, accepted.Accepted[1].ID
		for _, id := range []string{alice, mallory, accepted.Accepted[2].ID} {
			s.waitLog(t, regexp.MustCompile(`<`+regexp.QuoteMeta(id)+`>: Debug: Called end_txn push_notification plugin hook\.`))
		}
		s.stop(t, syscall.SIGTERM)
		log := s.log()
		for _, line := range strings.Split(log, "\n") {
			if strings.HasPrefix(line, "pushlua(alice@example.com)") && !strings.HasPrefix(line, "pushlua(alice@example.com)<"+alice+">: ") {
				t.Errorf("a line under alice's prefix that alice's transaction did not write: %q", line)
			}
			if strings.ContainsAny(line, "\r\x1b") {
				t.Errorf("a control character in %q", line)
			}
		}
		for _, want := range []string{
			`pushlua(mallory\npushlua(alice@example.com)<x>: Info: forged)<` + mallory + `>: Debug: Called begin_txn push_notification plugin hook.`,
			`Message data: Mailbox [INBOX\r\x1b[2Kpushlua(alice@example.com): Info: x], UID [2], UIDVALIDITY [5]`,
			"pushlua(jörg+tag@exämple.org)<" + accepted.Accepted[2].ID + ">: Debug: Message data: Mailbox [Entwürfe], UID [3]",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("the log lacks %q:\n%s", want, log)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		dir := t.TempDir()
		s := startServe(t, dir, "--listen", "127.0.0.1:0", "--log-format", "json")
		s.addr = regexp.MustCompile(`^[0-9.:]+`).FindString(s.addr) // the match runs on to the JSON's end
		post(s)
		mallory := accepted.Accepted[1].ID
		s.waitLog(t, regexp.MustCompile(`"msg":"Called end_txn push_notification plugin hook\.".*"txn":"`+regexp.QuoteMeta(mallory)+`"|"txn":"`+regexp.QuoteMeta(mallory)+`".*"msg":"Called end_txn`))
		s.stop(t, syscall.SIGTERM)
		users := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSuffix(s.log(), "\n"), "\n") {
			var rec map[string]any
			d := json.NewDecoder(bytes.NewReader([]byte(line)))
			if err := d.Decode(&rec); err != nil || d.More() {
				t.Errorf("not one JSON record: %q (%v)", line, err)
				continue
			}
			if u, ok := rec["user"].(string); ok {
				users[u] = true
			}
		}
		if !users[forged] || !users["alice@example.com"] {
			t.Errorf("got users %v; want alice's and mallory's as given", users)
		}
	})
}
