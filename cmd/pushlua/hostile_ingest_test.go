package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The hostile-ingest tests drive a real `pushlua serve` the way a hostile
// or broken client would (issue 9 items 5, 6, 8).

const hostileToken = "s3cret"

// laneScript hangs in every MessageNew of user "slow" on an HTTP endpoint
// that does not answer (hang_url), as a script whose push endpoint is
// down; everyone else's transactions log "done USER UID".
const laneScript = `local http = require("socket.http")
http.TIMEOUT = 600
function dovecot_lua_notify_begin_txn(user)
  return {name = user.username, url = user:plugin_getenv("hang_url")}
end
function dovecot_lua_notify_event_message_new(ctx, e)
  if ctx.name == "slow" then http.request(ctx.url) end
  dovecot.i_info("done " .. ctx.name .. " " .. e.uid)
end
function dovecot_lua_notify_end_txn() end
`

func newMsgLine(user string, uid int) string {
	return fmt.Sprintf(`{"user": %q, "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d, "uid_validity": 7}]}`, user, uid) + "\n"
}

// hpost posts body to serve's /v1/transactions with the token and the
// given headers ("Host" sets the Host header).
func (s *server) hpost(t *testing.T, body string, headers map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/v1/transactions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+hostileToken)
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// metric reads one sample of serve's /metrics ("name" or "name{labels}").
func (s *server) metric(t *testing.T, name string) float64 {
	t.Helper()
	_, text := s.get(t, "/metrics")
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", name, line)
			}
			return f
		}
	}
	t.Fatalf("no metric %s in:\n%s", name, text)
	return 0
}

// poll waits until cond holds; the deadline is generous: it catches a
// hang, it does not measure speed.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 60 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawConn opens a connection to serve and writes a request head and the
// start of a body.
func rawConn(t *testing.T, addr, head, partial string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head+"\r\n"+partial); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(60 * time.Second)) // a hang, not a speed
	return c, bufio.NewReader(c)
}

// answeredAndClosed reads the response on a raw connection and checks that
// serve then closed it (EOF or reset), rather than waiting for the body.
func answeredAndClosed(t *testing.T, br *bufio.Reader) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte()
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("%s: serve kept the connection open, waiting for the body", resp.Status)
	}
	if err == nil {
		t.Fatalf("%s: more bytes after the response", resp.Status)
	}
	return resp
}

func postHead(addr string, lines ...string) string {
	return "POST /v1/transactions HTTP/1.1\r\nHost: " + addr + "\r\n" + strings.Join(lines, "\r\n") + "\r\n"
}

func TestHostileIngest(t *testing.T) {
	hang := make(chan struct{})
	var entered atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Add(1)
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(hang) })

	conf := fmt.Sprintf(`pushlua_auth_token = %s
pushlua_user_queue_size = 4
pushlua_handler_timeout = 10min
pushlua_body_timeout = 300ms
pushlua_allowed_hosts = push.internal
plugin {
  push_notification_driver = lua:file=s.lua
  hang_url = %s/hang
}
`, hostileToken, hs.URL)
	dir := writeFiles(t, map[string]string{"p.conf": conf, "s.lua": laneScript})
	s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	port := s.addr[strings.LastIndexByte(s.addr, ':')+1:]

	// --- item 5: a slow user fills its own lane; the others flow.
	var batch strings.Builder
	for uid := 1; uid <= 4; uid++ {
		batch.WriteString(newMsgLine("slow", uid))
	}
	if code, _, body := s.hpost(t, batch.String(), nil); code != 202 {
		t.Fatalf("four slow transactions: %d %s", code, body)
	}
	poll(t, "the first slow transaction hangs on its endpoint", func() bool { return entered.Load() == 1 })
	// Nothing has finished, and the gauge already counts the lane.
	poll(t, "pushlua_queue_depth 4", func() bool { return s.metric(t, "pushlua_queue_depth") == 4 })

	code, h, body := s.hpost(t, newMsgLine("slow", 5), map[string]string{"Content-Type": "application/x-ndjson"})
	if code != 429 || h.Get("Retry-After") == "" || !strings.Contains(body, `the user's queue is full: \"slow\" has 4 transactions waiting or running`) {
		t.Errorf("fifth slow transaction: %d Retry-After %q %s; want 429 with Retry-After naming the lane", code, h.Get("Retry-After"), body)
	}
	// A batch of slow and fast lines: the fast ones are queued.
	code, h, body = s.hpost(t, newMsgLine("slow", 6)+newMsgLine("fast-a", 1)+newMsgLine("slow", 7)+newMsgLine("fast-b", 1), nil)
	if code != 429 || h.Get("Retry-After") == "" || !strings.Contains(body, `"accepted":[{"line":2,`) || !strings.Contains(body, `},{"line":4,`) {
		t.Errorf("mixed batch: %d %s; want 429 with lines 2 and 4 accepted", code, body)
	}
	for i := range 20 {
		if code, _, body := s.hpost(t, newMsgLine(fmt.Sprintf("fast%d", i), 1), nil); code != 202 {
			t.Fatalf("fast%d: %d %s", i, code, body)
		}
	}
	poll(t, "22 fast transactions processed", func() bool {
		return s.metric(t, `pushlua_transactions_processed_total{result="ok"}`) == 22
	})
	for _, u := range []string{"fast-a", "fast-b", "fast0", "fast19"} {
		if !strings.Contains(s.log(), "Info: done "+u+" 1\n") {
			t.Errorf("no %q in the log", "done "+u+" 1")
		}
	}
	if strings.Contains(s.log(), "done slow") || entered.Load() != 1 {
		t.Fatalf("a slow transaction finished (or a second one started); the test proves nothing:\n%s", s.log())
	}
	if d := s.metric(t, "pushlua_queue_depth"); d != 4 {
		t.Errorf("pushlua_queue_depth %v while the slow lane is blocked; want 4", d)
	}

	// --- pushlua send and the Dovecot forwarder still get in.
	if r := pushlua(t, dir, "", "send", "--url", "localhost:"+port, "--token", hostileToken, "--sample", "MessageNew", "--user", "sender"); r.code != 0 {
		t.Errorf("pushlua send: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	fwd := pushlua(t, dir, "", "forwarder")
	os.WriteFile(filepath.Join(dir, "forward.lua"), []byte(fwd.stdout), 0o644)
	os.WriteFile(filepath.Join(dir, "fwd.conf"), []byte(fmt.Sprintf(`plugin {
  push_notification_driver = lua:file=forward.lua
  pushlua_url = http://%s/v1/transactions
  pushlua_token = %s
}
`, s.addr, hostileToken)), 0o644)
	if r := pushlua(t, dir, newMsgLine("forwarded", 3), "run", "-c", "fwd.conf", "--data-dir", filepath.Join(dir, "fwd-data")); r.code != 0 || strings.Contains(r.stderr, "pushlua forward:") {
		t.Errorf("the forwarder: exit %d\n%s", r.code, r.stderr)
	}
	// The request exactly as Dovecot 2.3's dovecot.http sends the
	// forwarder's POST (spec: "wire format of a Lua request"): the URL's
	// host:port as Host, Expect: 100-continue.
	dovecotBody := newMsgLine("dovecot", 4)
	c, br := rawConn(t, s.addr, "POST /v1/transactions HTTP/1.1\r\nHost: "+s.addr+"\r\nDate: Sun, 29 Nov 2026 18:43:51 GMT\r\n"+
		"User-Agent: dovecot-lua\r\nExpect: 100-continue\r\nContent-Length: "+strconv.Itoa(len(dovecotBody))+"\r\n"+
		"Connection: Keep-Alive\r\nContent-Type: application/json\r\nAuthorization: Bearer "+hostileToken+"\r\n", "")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 100 {
		t.Fatalf("Dovecot's request: %v %v; want 100 Continue", resp, err)
	}
	io.WriteString(c, dovecotBody)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 202 {
		t.Errorf("Dovecot's request: %v %v; want 202", resp, err)
	}
	s.waitLog(t, regexp.MustCompile(`Info: done sender 1\n`))
	s.waitLog(t, regexp.MustCompile(`Info: done forwarded 3\n`))
	s.waitLog(t, regexp.MustCompile(`Info: done dovecot 4\n`))

	// --- item 8: cross-site requests and bad input; nothing of it runs.
	accepted := s.metric(t, "pushlua_transactions_accepted_total")
	hostile := []struct {
		name    string
		body    string
		headers map[string]string
		status  int
		want    string
	}{
		{"text/plain", newMsgLine("csrf-text", 1), map[string]string{"Content-Type": "text/plain"}, 415,
			`use application/json, application/x-ndjson, application/jsonl`},
		{"form", newMsgLine("csrf-form", 1), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported content type"},
		{"foreign origin", newMsgLine("csrf-origin", 1), map[string]string{"Origin": "http://evil.example"}, 403, "foreign origin"},
		{"cross-site fetch", newMsgLine("csrf-fetch", 1), map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "cross-origin"},
		{"DNS rebinding", newMsgLine("csrf-host", 1), map[string]string{"Host": "evil.example:" + port}, 421, `host \"evil.example:` + port + `\" is not served here`},
		{"invalid UTF-8", newMsgLine("csrf-utf8", 1) + strings.Replace(newMsgLine("csrf-utf8", 2), "INBOX", "IN\xffBOX", 1), nil, 400, ""},
	}
	for _, tt := range hostile {
		code, _, body := s.hpost(t, tt.body, tt.headers)
		if code != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s; want %d with %q", tt.name, code, body, tt.status, tt.want)
		}
		if tt.name == "invalid UTF-8" {
			off := strings.IndexByte(tt.body, 0xff)
			if want := fmt.Sprintf(`{"line":2,"field":"","error":"invalid UTF-8 at line 2, byte offset %d","offset":%d}`, off, off); !strings.Contains(body, want) {
				t.Errorf("invalid UTF-8: %s; want %s", body, want)
			}
		}
	}
	// The allowed name is served.
	if code, _, body := s.hpost(t, newMsgLine("alias", 1), map[string]string{"Host": "push.internal:" + port, "Content-Type": "application/json"}); code != 202 {
		t.Errorf("Host push.internal (pushlua_allowed_hosts): %d %s", code, body)
	}
	s.waitLog(t, regexp.MustCompile(`Info: done alias 1\n`))
	// Only the good line of the UTF-8 batch and the alias were accepted.
	if got := s.metric(t, "pushlua_transactions_accepted_total"); got != accepted+2 {
		t.Errorf("accepted %v → %v; want +2 (the valid line of the UTF-8 batch and the alias)", accepted, got)
	}
	for _, u := range []string{"csrf-text", "csrf-form", "csrf-origin", "csrf-fetch", "csrf-host"} {
		if strings.Contains(s.log(), "done "+u) {
			t.Errorf("%s ran", u)
		}
	}
	if strings.Contains(s.log(), "done csrf-utf8 2") {
		t.Errorf("the invalid UTF-8 line ran")
	}

	// --- item 6: slow bodies are cut; unauthenticated ones are not read.
	var wg sync.WaitGroup
	statuses := make([]int, 50)
	for i := range statuses {
		_, br := rawConn(t, s.addr, postHead(s.addr, "Authorization: Bearer "+hostileToken, "Content-Length: 1000"), `{"user": "slowloris`)
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if _, err := br.ReadByte(); err != nil && !isTimeout(err) {
				statuses[i] = resp.StatusCode // answered, then closed
			}
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 408 {
			t.Errorf("slow body %d: %d; want 408 and the connection closed", i, st)
			break
		}
	}
	for _, tt := range []struct{ name, head string }{
		{"no token", postHead(s.addr, "Content-Type: application/json", "Content-Length: 1000000")},
		{"wrong token", postHead(s.addr, "Authorization: Bearer nope", "Content-Length: 1000")},
		{"no token, chunked", postHead(s.addr, "Transfer-Encoding: chunked")},
	} {
		_, br := rawConn(t, s.addr, tt.head, "")
		if resp := answeredAndClosed(t, br); resp.StatusCode != 401 {
			t.Errorf("%s: %d; want 401 before the body", tt.name, resp.StatusCode)
		}
	}
	if strings.Contains(s.log(), "slowloris") {
		t.Errorf("a slow body was parsed")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// vmHWM is a process's peak resident set size in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// 40 concurrent POSTs of 8 MB: only what fits in
// pushlua_max_inflight_bytes is read; the others are answered 503 with
// Retry-After before their body is read, and serve's peak RSS stays
// bounded.
func TestHostileIngestMemory(t *testing.T) {
	const (
		posts    = 40
		size     = 8_000_000
		inflight = 24 << 20 // room for 3 bodies of 8 MB
		fit      = inflight / size
	)
	conf := fmt.Sprintf(`pushlua_auth_token = %s
pushlua_max_inflight_bytes = %d
pushlua_user_queue_size = 16
plugin {
  push_notification_driver = lua:file=s.lua
}
`, hostileToken, inflight)
	dir := writeFiles(t, map[string]string{"p.conf": conf, "s.lua": `function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_event_message_new(ctx, e) end
function dovecot_lua_notify_end_txn() end
`})
	s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	pid := s.cmd.Process.Pid
	before := vmHWM(t, pid)

	// Real transactions of 1 KB, all of one user, 8 MB of them.
	var body bytes.Buffer
	subject := strings.Repeat("x", 900)
	for uid := 1; body.Len() < size; uid++ {
		fmt.Fprintf(&body, `{"user": "bulk@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d, "uid_validity": 7, "subject": %q}]}`+"\n", uid, subject)
	}
	data := body.Bytes()[:size]
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	data = append(data, bytes.Repeat([]byte(" "), size-len(data))...)

	type conn struct {
		c    net.Conn
		resp chan *http.Response
	}
	conns := make([]conn, posts)
	var answered atomic.Int32
	for i := range conns {
		c, br := rawConn(t, s.addr, postHead(s.addr, "Authorization: Bearer "+hostileToken, "Content-Type: application/x-ndjson", fmt.Sprintf("Content-Length: %d", size)), "")
		conns[i] = conn{c, make(chan *http.Response, 1)}
		go func() {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				close(conns[i].resp)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 503 {
				// Refused before the body: serve closes the connection.
				if _, err := br.ReadByte(); err == nil || isTimeout(err) {
					resp.StatusCode = -503
				}
			}
			answered.Add(1)
			conns[i].resp <- resp
		}()
	}
	poll(t, "every request past the bound answered", func() bool { return answered.Load() == posts-fit })
	refused := 0
	var waiting []conn
	for _, c := range conns {
		select {
		case resp, ok := <-c.resp:
			if !ok {
				t.Fatal("a connection failed without a response")
			}
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !resp.Close {
				t.Errorf("refused post: %d Retry-After %q close %v; want 503, Retry-After, closed before the body", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
			}
			refused++
		default:
			waiting = append(waiting, c)
		}
	}
	if refused != posts-fit || len(waiting) != fit {
		t.Fatalf("%d refused, %d waiting for their body; want %d and %d", refused, len(waiting), posts-fit, fit)
	}
	// The admitted ones send their 8 MB and get an answer.
	for _, c := range waiting {
		go c.c.Write(data)
	}
	for _, c := range waiting {
		resp, ok := <-c.resp
		if !ok || (resp.StatusCode != 202 && resp.StatusCode != 429) {
			t.Errorf("admitted post: %v; want 202 or 429 (the user's lane)", resp)
		}
	}
	peak := vmHWM(t, pid)
	t.Logf("serve VmHWM: %d MiB at start, %d MiB after %d × %d-byte posts (%d admitted)", before>>20, peak>>20, posts, size, fit)
	// Generous: 40 bodies held at once would be 320 MB by themselves.
	if peak > 200<<20 {
		t.Errorf("serve's peak RSS %d MiB; want under 200 MiB", peak>>20)
	}
	if code, body := s.get(t, "/healthz"); code != 200 {
		t.Errorf("healthz after the flood: %d %s", code, body)
	}
}

// The new settings are checked at start, naming the key.
func TestHostileIngestSettings(t *testing.T) {
	for _, tt := range []struct{ setting, want string }{
		{"pushlua_max_inflight_bytes = 1000", "pushlua_max_inflight_bytes: 1000 is less than pushlua_max_body (10485760)"},
		{"pushlua_max_inflight_bytes = lots", `pushlua_max_inflight_bytes: expected a positive number of bytes, got "lots"`},
		{"pushlua_body_timeout = 0", `pushlua_body_timeout: must be more than 0, got "0"`},
		{"pushlua_body_timeout = soon", "pushlua_body_timeout: "},
		{"pushlua_user_queue_size = 0", `pushlua_user_queue_size: expected a positive integer, got "0"`},
	} {
		dir := writeFiles(t, map[string]string{"p.conf": tt.setting + "\nplugin {\n  push_notification_driver = dlog\n}\n"})
		r := pushlua(t, dir, "", "serve", "-c", "p.conf", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"))
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: exit %d %q; want 2 and %q", tt.setting, r.code, r.stderr, tt.want)
		}
	}
}
