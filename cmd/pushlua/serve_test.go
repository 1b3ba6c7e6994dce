package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is a running `pushlua serve` process.
type server struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
	addr string
	done chan struct{}
	code int
}

func startServe(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--data-dir", filepath.Join(dir, "data")}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.logs.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
		_ = cmd.Wait()
		s.code = cmd.ProcessState.ExitCode()
		close(s.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	m := s.waitLog(t, regexp.MustCompile(`listening on (\S+)`))
	s.addr = m[1]
	return s
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// waitLog waits until a log line matches re and returns the submatches.
func (s *server) waitLog(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(s.log()); m != nil {
			return m
		}
		select {
		case <-s.done:
			if m := re.FindStringSubmatch(s.log()); m != nil {
				return m
			}
			t.Fatalf("serve exited (%d) before logging %q:\n%s", s.code, re, s.log())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no log line %q within 20 s:\n%s", re, s.log())
	return nil
}

// waitReady polls /readyz until it answers 200; what says what the
// readiness waits for, in the failure.
func (s *server) waitReady(t *testing.T, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := s.get(t, "/readyz")
		if code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz %s: %d %q; want 200\n%s", what, code, body, s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *server) post(t *testing.T, body, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/v1/transactions", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *server) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop:\n%s", s.log())
	}
	return s.code
}

func TestServeDefault(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dir, "--listen", "127.0.0.1:0")
	if r := pushlua(t, dir, "", "send", "--url", s.addr, "--sample", "MessageNew", "--user", "carol@example.com"); r.code != 0 || !strings.HasPrefix(r.stdout, "202 Accepted") {
		t.Fatalf("send: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	s.waitLog(t, regexp.MustCompile(`pushlua\(carol@example.com\)<[^>]+>: Debug: Message data: Mailbox \[INBOX\], UID \[1\]`))
	if code, body := s.get(t, "/healthz"); code != 200 {
		t.Errorf("healthz: %d %s", code, body)
	}
	if code, body := s.get(t, "/readyz"); code != 200 {
		t.Errorf("readyz: %d %s", code, body)
	}
	_, metrics := s.get(t, "/metrics")
	for _, want := range []string{"pushlua_transactions_accepted_total 1", `pushlua_transactions_processed_total{result="ok"} 1`,
		`pushlua_handler_calls_total{function="dovecot_lua_notify_event_message_new",script="scripts/dlog.lua"} 1`, "pushlua_ready 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// A batch with a bad line: the good ones are accepted, the bad one named.
	code, body := s.post(t, `{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}
{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX"}]}
`, "")
	if code != 400 || !strings.Contains(body, `"line":1`) || !strings.Contains(body, `"field":"events[0].uid"`) {
		t.Errorf("mixed batch: %d %s", code, body)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, s.log())
	}
	if !strings.Contains(s.log(), "Debug: Called deinit push_notification plugin hook.") {
		t.Errorf("no script_deinit at shutdown:\n%s", s.log())
	}
}

func TestServeAuthAndLimits(t *testing.T) {
	dir := writeFiles(t, map[string]string{"p.conf": "pushlua_auth_token = s3cret\npushlua_max_body = 600\nplugin {\n  push_notification_driver = dlog\n}\n"})
	s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	line := `{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}` + "\n"
	if code, _ := s.post(t, line, ""); code != 401 {
		t.Errorf("without a token: %d; want 401", code)
	}
	if code, _ := s.post(t, line, "wrong"); code != 401 {
		t.Errorf("wrong token: %d; want 401", code)
	}
	if code, body := s.post(t, line, "s3cret"); code != 202 {
		t.Errorf("with the token: %d %s", code, body)
	}
	if code, _ := s.post(t, strings.Repeat(line, 10), "s3cret"); code != 413 {
		t.Errorf("over pushlua_max_body: %d; want 413", code)
	}
	if r := pushlua(t, dir, "", "send", "-c", "p.conf", "--url", s.addr, "--sample", "FlagsSet"); r.code != 0 {
		t.Errorf("send with the config's token: %d %s %s", r.code, r.stdout, r.stderr)
	}
	s.stop(t, syscall.SIGINT)

	// Not loopback and no token: refuse to start.
	r := pushlua(t, dir, "", "serve", "--listen", "0.0.0.0:0", "--data-dir", filepath.Join(dir, "d2"))
	if r.code != 2 || !strings.Contains(r.stderr, "refusing to listen on 0.0.0.0:0 without pushlua_auth_token") {
		t.Errorf("non-loopback without token: exit %d %q", r.code, r.stderr)
	}
}

func TestServeUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "pushlua.sock")
	s := startServe(t, dir, "--listen", "unix:"+sock)
	if s.addr != "unix:"+sock {
		t.Fatalf("listening on %q", s.addr)
	}
	if r := pushlua(t, dir, "", "send", "--url", s.addr, "--sample", "MailboxCreate", "--user", "dave"); r.code != 0 {
		t.Fatalf("send over the socket: %d %s %s", r.code, r.stdout, r.stderr)
	}
	s.waitLog(t, regexp.MustCompile(`pushlua\(dave\)<[^>]+>: Debug: MailboxCreate: Mailbox was created`))
	s.stop(t, syscall.SIGTERM)
}

func TestServeHotReload(t *testing.T) {
	script := func(word string) string {
		return fmt.Sprintf(`function dovecot_lua_notify_begin_txn(user) return user end
function dovecot_lua_notify_event_message_new(user, e) dovecot.i_info("%s " .. user.username) end
function dovecot_lua_notify_end_txn() end
`, word)
	}
	dir := writeFiles(t, map[string]string{
		"p.conf": "plugin {\n  push_notification_driver = lua:file=s.lua\n}\n", "s.lua": script("hello"),
	})
	s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	send := func(user string) {
		t.Helper()
		if r := pushlua(t, dir, "", "send", "--url", s.addr, "--sample", "MessageNew", "--user", user); r.code != 0 {
			t.Fatalf("send: %d %s %s", r.code, r.stdout, r.stderr)
		}
	}
	send("u1")
	s.waitLog(t, regexp.MustCompile(`Info: hello u1`))
	// An editor's save: a temporary file renamed over the script.
	os.WriteFile(filepath.Join(dir, "s.lua.tmp"), []byte(script("bonjour")), 0o644)
	os.Rename(filepath.Join(dir, "s.lua.tmp"), filepath.Join(dir, "s.lua"))
	s.waitLog(t, regexp.MustCompile(`Info: reloaded s\.lua \(v1 → v2, [0-9a-f]+\) in \d+ ms`))
	send("u2")
	s.waitLog(t, regexp.MustCompile(`Info: bonjour u2`))
	// A broken save: the old version keeps serving, readyz and metrics say so.
	os.WriteFile(filepath.Join(dir, "s.lua"), []byte("function dovecot_lua_notify_begin_txn(\n"), 0o644)
	s.waitLog(t, regexp.MustCompile(`Error: reload: .*s\.lua:2: .*; v2 keeps serving`))
	if code, body := s.get(t, "/readyz"); code != 503 || !strings.Contains(body, "the last reload failed") {
		t.Errorf("readyz after a failed reload: %d %s", code, body)
	}
	if _, m := s.get(t, "/metrics"); !strings.Contains(m, `pushlua_reloads_total{result="failed"} 1`) {
		t.Errorf("metrics do not count the failed reload")
	}
	send("u3")
	s.waitLog(t, regexp.MustCompile(`Info: bonjour u3`))
	os.WriteFile(filepath.Join(dir, "s.lua"), []byte(script("hallo")), 0o644)
	s.waitLog(t, regexp.MustCompile(`reloaded s\.lua \(v2 → v3`))
	if code, _ := s.get(t, "/readyz"); code != 200 {
		t.Errorf("readyz after recovery: %d", code)
	}
	// SIGHUP reloads too; nothing changed here.
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitLog(t, regexp.MustCompile(`reload: nothing changed`))
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}
