package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
)

// post sends body to /v1/transactions with the given headers ("Host"
// sets the Host header).
func post(t *testing.T, srv *httptest.Server, body string, headers map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/transactions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, data}
}

func errorText(t *testing.T, body []byte) string {
	t.Helper()
	var e ErrorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		t.Fatalf("body %s; want {\"error\": ...} (%v)", body, err)
	}
	return e.Error
}

func TestContentType(t *testing.T) {
	tests := []struct {
		ct     string
		status int
	}{
		{"", 202},
		{"application/json", 202},
		{"application/json; charset=utf-8", 202},
		{"Application/JSON; charset=UTF-8", 202},
		{"application/x-ndjson", 202},
		{"application/jsonl", 202},
		{"text/plain", 415},
		{"text/plain; charset=utf-8", 415},
		{"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415},
		{"application/json; charset=iso-8859-1", 415},
		{"application/json-patch+json", 415},
		{"not a type", 415},
	}
	for _, tt := range tests {
		t.Run(tt.ct, func(t *testing.T) {
			q := &queue{}
			srv := newServer(t, Options{Submit: q.submit})
			res := post(t, srv, good1+"\n"+good2+"\n", map[string]string{"Content-Type": tt.ct})
			if res.status != tt.status {
				t.Fatalf("status %d; want %d (%s)", res.status, tt.status, res.body)
			}
			if tt.status == 202 {
				if got := q.ids(); !reflect.DeepEqual(got, []string{"t1", "t2"}) {
					t.Errorf("submitted %v; want [t1 t2]", got)
				}
				return
			}
			msg := errorText(t, res.body)
			for _, want := range []string{"application/json", "application/x-ndjson", "application/jsonl"} {
				if !strings.Contains(msg, want) && !strings.Contains(msg, "charset") {
					t.Errorf("error %q does not list %s", msg, want)
				}
			}
			if got := res.header.Get("Accept"); got != "application/json, application/x-ndjson, application/jsonl" {
				t.Errorf("Accept %q; want the accepted types", got)
			}
			if len(q.ids()) > 0 {
				t.Errorf("submitted %v; want nothing", q.ids())
			}
		})
	}
}

func TestInvalidUTF8(t *testing.T) {
	bad := `{"id":"b1","user":"alice@example.com","events":[{"name":"MessageNew","mailbox":"IN` + "\xff\xfe" + `BOX","uid":1}]}`
	body := good1 + "\n" + bad + "\n" + good2 + "\n"
	q := &queue{}
	srv := newServer(t, Options{Submit: q.submit})
	res := post(t, srv, body, map[string]string{"Content-Type": "application/x-ndjson"})
	if res.status != 400 {
		t.Fatalf("status %d; want 400 (%s)", res.status, res.body)
	}
	var got Result
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Fatal(err)
	}
	off := strings.Index(body, "\xff")
	want := fmt.Sprintf("invalid UTF-8 at line 2, byte offset %d", off)
	if len(got.Rejected) != 1 || got.Rejected[0].Line != 2 || got.Rejected[0].Error != want ||
		got.Rejected[0].Offset == nil || *got.Rejected[0].Offset != off {
		t.Errorf("rejected %s; want line 2, %q, offset %d", res.body, want, off)
	}
	// Nothing rejected runs; the good lines do.
	if ids := q.ids(); !reflect.DeepEqual(ids, []string{"t1", "t2"}) {
		t.Errorf("submitted %v; want [t1 t2]", ids)
	}

	// One pretty-printed object: the line of the bad byte is named.
	q = &queue{}
	srv = newServer(t, Options{Submit: q.submit})
	prettyBad := strings.Replace(pretty, `"lmtp"`, "\"lm\xc3tp\"", 1)
	res = post(t, srv, prettyBad, nil)
	if res.status != 400 {
		t.Fatalf("pretty: status %d; want 400 (%s)", res.status, res.body)
	}
	off = strings.Index(prettyBad, "\xc3")
	if want := fmt.Sprintf(`"error":"invalid UTF-8 at line 5, byte offset %d","offset":%d`, off, off); !strings.Contains(string(res.body), want) {
		t.Errorf("pretty: body %s; want %s", res.body, want)
	}
	if len(q.ids()) > 0 {
		t.Errorf("pretty: submitted %v", q.ids())
	}
}

func TestDefaultHosts(t *testing.T) {
	tcp := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8787}
	tests := []struct {
		listen string
		addr   net.Addr
		extra  []string
		want   []string
	}{
		{"127.0.0.1:8787", tcp, nil, []string{"127.0.0.1:8787", "localhost:8787", "127.0.0.1:8787", "[::1]:8787"}},
		{"localhost:0", tcp, []string{"push.example.com"}, []string{"localhost:8787", "localhost:8787", "127.0.0.1:8787", "[::1]:8787", "push.example.com"}},
		{"0.0.0.0:8787", tcp, nil, []string{"localhost:8787", "127.0.0.1:8787", "[::1]:8787"}},
		{":8787", tcp, nil, []string{"localhost:8787", "127.0.0.1:8787", "[::1]:8787"}},
		{"unix:/run/p.sock", &net.UnixAddr{Name: "/run/p.sock", Net: "unix"}, []string{"x"}, nil},
	}
	for _, tt := range tests {
		if got := DefaultHosts(tt.listen, tt.addr, tt.extra); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("DefaultHosts(%q): got %q; want %q", tt.listen, got, tt.want)
		}
	}
}

func TestHostCheck(t *testing.T) {
	q := &queue{}
	h := &hostsHandler{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr()
	port := fmt.Sprint(addr.(*net.TCPAddr).Port)
	tests := []struct {
		name    string
		allowed []string
		host    string
		status  int
	}{
		{"listen address", DefaultHosts("127.0.0.1:0", addr, nil), "127.0.0.1:" + port, 202},
		{"localhost", DefaultHosts("127.0.0.1:0", addr, nil), "localhost:" + port, 202},
		{"localhost, upper case, trailing dot", DefaultHosts("127.0.0.1:0", addr, nil), "LocalHost.:" + port, 202},
		{"ipv6 loopback", DefaultHosts("127.0.0.1:0", addr, nil), "[::1]:" + port, 202},
		{"foreign name", DefaultHosts("127.0.0.1:0", addr, nil), "evil.example:" + port, 421},
		{"foreign name, no port", DefaultHosts("127.0.0.1:0", addr, nil), "evil.example", 421},
		{"localhost, other port", DefaultHosts("127.0.0.1:0", addr, nil), "localhost:1", 421},
		{"own address, other port", DefaultHosts("127.0.0.1:0", addr, nil), "127.0.0.1:1", 421},
		{"allowed name, any port", DefaultHosts("127.0.0.1:0", addr, []string{"push.example.com"}), "push.example.com:443", 202},
		{"allowed name, no port", DefaultHosts("127.0.0.1:0", addr, []string{"push.example.com"}), "push.example.com", 202},
		{"allowed name:port", DefaultHosts("127.0.0.1:0", addr, []string{"push.example.com:9000"}), "push.example.com:9000", 202},
		{"allowed name, other port", DefaultHosts("127.0.0.1:0", addr, []string{"push.example.com:9000"}), "push.example.com:9001", 421},
		{"any host", DefaultHosts("127.0.0.1:0", addr, []string{"*"}), "evil.example:" + port, 202},
		{"wildcard listener: the arrival address", DefaultHosts("0.0.0.0:0", addr, nil), "127.0.0.1:" + port, 202},
		{"wildcard listener: not its name", DefaultHosts("0.0.0.0:0", addr, nil), "0.0.0.0:" + port, 421},
		{"no check", nil, "evil.example:" + port, 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q.mu.Lock()
			q.txns = nil
			q.mu.Unlock()
			h.set(New(Options{Submit: q.submit, AllowedHosts: tt.allowed}))
			res := post(t, srv, good1, map[string]string{"Host": tt.host})
			if res.status != tt.status {
				t.Fatalf("Host %q: status %d; want %d (%s)", tt.host, res.status, tt.status, res.body)
			}
			if tt.status == 421 {
				if msg := errorText(t, res.body); !strings.Contains(msg, "pushlua_allowed_hosts") {
					t.Errorf("error %q; want it to name pushlua_allowed_hosts", msg)
				}
				if len(q.ids()) > 0 {
					t.Errorf("submitted %v; want nothing", q.ids())
				}
			}
		})
	}
	// Every path is checked, not only /v1/.
	h.set(New(Options{Submit: q.submit, AllowedHosts: DefaultHosts("127.0.0.1:0", addr, nil)}))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/healthz", nil)
	req.Host = "evil.example:" + port
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 421 {
		t.Errorf("GET /healthz with a foreign Host: %d; want 421", resp.StatusCode)
	}
}

// hostsHandler lets one server (one port) serve several handlers in turn.
type hostsHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *hostsHandler) set(h http.Handler) {
	s.mu.Lock()
	s.h = h
	s.mu.Unlock()
}

func (s *hostsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

func TestCrossOrigin(t *testing.T) {
	q := &queue{}
	srv := newServer(t, Options{Submit: q.submit})
	host := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"no origin", nil, 202},
		{"same origin", map[string]string{"Origin": "http://" + host}, 202},
		{"same origin, fetch metadata", map[string]string{"Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"}, 202},
		{"typed by the user", map[string]string{"Sec-Fetch-Site": "none"}, 202},
		{"foreign site", map[string]string{"Origin": "http://evil.example"}, 403},
		{"other port on this host", map[string]string{"Origin": "http://127.0.0.1:3000"}, 403},
		{"https of this host", map[string]string{"Origin": "https://" + host + "0"}, 403},
		{"opaque origin", map[string]string{"Origin": "null"}, 403},
		{"file page", map[string]string{"Origin": "file://"}, 403},
		{"cross-site fetch without origin", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site fetch", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q.mu.Lock()
			q.txns = nil
			q.mu.Unlock()
			res := post(t, srv, good1, tt.headers)
			if res.status != tt.status {
				t.Fatalf("status %d; want %d (%s)", res.status, tt.status, res.body)
			}
			if tt.status == 403 && len(q.ids()) > 0 {
				t.Errorf("submitted %v; want nothing", q.ids())
			}
		})
	}
}

// rawRequest writes a request's head (and the first part of its body) on
// a new connection and returns the connection and its reader.
func rawRequest(t *testing.T, srv *httptest.Server, head string, partial string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head+"\r\n"+partial); err != nil {
		t.Fatal(err)
	}
	// Generous: the assertions are on what arrives, not when.
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	return c, bufio.NewReader(c)
}

// readClosed reads a response and then expects the server to close the
// connection (EOF, not our own read deadline).
func readClosed(t *testing.T, c net.Conn, br *bufio.Reader) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := br.ReadByte(); err != io.EOF {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server kept the connection open (waiting for the body)")
		}
		if err == nil {
			t.Fatalf("more data after the response")
		}
		// A reset is a close too.
	}
	return resp
}

func head(addr string, extra ...string) string {
	return "POST /v1/transactions HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n" + strings.Join(extra, "")
}

// Requests refused as a whole are answered at once, without waiting for
// the body (the client announces one and never sends it), and their
// connection is closed. Small bodies matter too: Go's server would read
// up to 256 KiB of an unread body before closing.
func TestRefusedBeforeBody(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		extra  string // header lines
		length string // Content-Length; "" sends the body chunked
		status int
	}{
		{"unauthenticated", Options{AuthToken: "s3cret"}, "", "1048576", 401},
		{"unauthenticated, small body", Options{AuthToken: "s3cret"}, "", "100", 401},
		{"unauthenticated, chunked", Options{AuthToken: "s3cret"}, "Transfer-Encoding: chunked\r\n", "", 401},
		{"wrong token", Options{AuthToken: "s3cret"}, "Authorization: Bearer nope\r\n", "100", 401},
		{"text/plain", Options{}, "Content-Type: text/plain\r\n", "100", 415},
		{"foreign origin", Options{}, "Origin: http://evil.example\r\n", "100", 403},
		{"foreign host", Options{AllowedHosts: []string{}}, "", "100", 421},
		{"too large", Options{MaxBodyBytes: 1000}, "", "1001", 413},
		{"past the in-flight bound", Options{MaxBodyBytes: 1000}, "", "1000", 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &queue{}
			tt.opts.Submit = q.submit
			h := New(tt.opts)
			if tt.status == 503 {
				// Others hold all but 999 bytes of the bound.
				b := h.(*handler).inflight
				b.acquire(b.max - 999)
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			hd := "POST /v1/transactions HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\n"
			if !strings.Contains(tt.extra, "Content-Type") {
				hd += "Content-Type: application/json\r\n"
			}
			hd += tt.extra
			if tt.length != "" {
				hd += "Content-Length: " + tt.length + "\r\n"
			}
			if tt.name == "foreign host" {
				hd = strings.Replace(hd, "Host: "+srv.Listener.Addr().String(), "Host: evil.example:8787", 1)
			}
			c, br := rawRequest(t, srv, hd, "{\"user\":")
			resp := readClosed(t, c, br)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d; want %d", resp.StatusCode, tt.status)
			}
			if !resp.Close {
				t.Errorf("no Connection: close")
			}
			if tt.status == 503 && resp.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			if len(q.ids()) > 0 {
				t.Errorf("submitted %v", q.ids())
			}
		})
	}
}

// A body that does not arrive within BodyTimeout is answered 408 and its
// connection closed; a body that arrived in time is not cut by the
// deadline while the request waits for the queue.
func TestBodyTimeout(t *testing.T) {
	q := &queue{}
	srv := newServer(t, Options{Submit: q.submit, BodyTimeout: 50 * time.Millisecond})
	c, br := rawRequest(t, srv, head(srv.Listener.Addr().String(), "Content-Length: 100\r\n"), `{"user":`)
	resp := readClosed(t, c, br)
	if resp.StatusCode != 408 {
		t.Fatalf("slow body: status %d; want 408", resp.StatusCode)
	}
	if len(q.ids()) > 0 {
		t.Errorf("submitted %v", q.ids())
	}

	// Submit takes longer than the body timeout: the request still
	// succeeds, and the connection is kept for the next one.
	slow := func(ctx context.Context, t *txn.Txn) error {
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		return q.submit(ctx, t)
	}
	srv2 := newServer(t, Options{Submit: slow, BodyTimeout: 50 * time.Millisecond})
	for i := range 2 {
		res := post(t, srv2, good1, nil)
		if res.status != 202 {
			t.Fatalf("request %d: status %d; want 202 (%s)", i+1, res.status, res.body)
		}
	}
	if n := len(q.ids()); n != 2 {
		t.Errorf("submitted %d; want 2", n)
	}
}

// The in-flight bound: a request whose Content-Length does not fit next
// to the bodies being read is refused with 503 and Retry-After; once they
// are done, it fits again, and every byte is given back.
func TestInflightBound(t *testing.T) {
	q := &queue{}
	h := New(Options{Submit: q.submit, MaxBodyBytes: 1000, MaxInflightBytes: 1500})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	body := good1 + strings.Repeat(" ", 1000-len(good1))
	// Hold 1000 bytes: the head and half of the body.
	held, heldBR := rawRequest(t, srv, head(addr, "Content-Length: 1000\r\n"), body[:500])
	waitFor(t, "the first body reserved", func() bool { return h.(*handler).inflight.inUse() == 1000 })

	res := post(t, srv, good2+strings.Repeat(" ", 600-len(good2)), nil)
	if res.status != 503 || res.header.Get("Retry-After") != "1" || !strings.Contains(errorText(t, res.body), "pushlua_max_inflight_bytes") {
		t.Errorf("600 bytes next to 1000 of 1500: %d %q %s; want 503, Retry-After 1", res.status, res.header.Get("Retry-After"), res.body)
	}
	chunked := do(t, srv, "POST", "/v1/transactions", "", unsized{strings.NewReader(good2 + strings.Repeat(" ", 600))})
	if chunked.status != 503 {
		t.Errorf("chunked body past the bound: %d; want 503 (%s)", chunked.status, chunked.body)
	}
	if res := post(t, srv, good2, nil); res.status != 202 {
		t.Errorf("a small body that fits: %d; want 202 (%s)", res.status, res.body)
	}

	io.WriteString(held, body[500:])
	resp, err := http.ReadResponse(heldBR, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Errorf("the held request: %d; want 202", resp.StatusCode)
	}
	waitFor(t, "every byte given back", func() bool { return h.(*handler).inflight.inUse() == 0 })
	if res := post(t, srv, good2+strings.Repeat(" ", 600-len(good2)), nil); res.status != 202 {
		t.Errorf("600 bytes alone: %d; want 202 (%s)", res.status, res.body)
	}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A user whose lane is full is answered 429 for its lines; the other
// users' lines of the same batch are queued; the user's later lines are
// not submitted, so its order holds.
func TestUserQueueFull(t *testing.T) {
	var mu sync.Mutex
	var submitted []string
	calls := map[string]int{}
	submit := func(_ context.Context, t *txn.Txn) error {
		mu.Lock()
		defer mu.Unlock()
		calls[t.User.Username]++
		if t.User.Username == "slow" {
			return UserQueueFull(fmt.Errorf("lane of %q is full", t.User.Username))
		}
		submitted = append(submitted, t.ID)
		return nil
	}
	srv := newServer(t, Options{Submit: submit})
	body := `{"id":"s1","user":"slow"}
{"id":"f1","user":"fast"}
{"id":"s2","user":"slow"}
{"id":"f2","user":"fast"}
`
	res := post(t, srv, body, nil)
	if res.status != 429 || res.header.Get("Retry-After") != "1" {
		t.Fatalf("status %d, Retry-After %q; want 429, 1 (%s)", res.status, res.header.Get("Retry-After"), res.body)
	}
	var got Result
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Fatal(err)
	}
	want := Result{
		Accepted: []AcceptedLine{{Line: 2, ID: "f1"}, {Line: 4, ID: "f2"}},
		Rejected: []RejectedLine{{Line: 1, Error: `not queued: lane of "slow" is full`}, {Line: 3, Error: `not queued: lane of "slow" is full`}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v; want %+v", got, want)
	}
	if calls["slow"] != 1 || !reflect.DeepEqual(submitted, []string{"f1", "f2"}) {
		t.Errorf("submit calls %v, submitted %v; want slow once, [f1 f2]", calls, submitted)
	}
	if !errors.Is(UserQueueFull(errShutdown), errShutdown) || !errors.Is(UserQueueFull(errShutdown), ErrUserQueueFull) {
		t.Errorf("UserQueueFull does not wrap")
	}
}

// A queue that stays full past QueueWait answers 503 with Retry-After, and
// no later line is submitted.
func TestQueueWait(t *testing.T) {
	calls := 0
	var mu sync.Mutex
	submit := func(ctx context.Context, _ *txn.Txn) error {
		mu.Lock()
		calls++
		mu.Unlock()
		<-ctx.Done() // full
		return ctx.Err()
	}
	srv := newServer(t, Options{Submit: submit, QueueWait: 20 * time.Millisecond, RetryAfter: 1500 * time.Millisecond})
	res := post(t, srv, good1+"\n"+good2+"\n", nil)
	if res.status != 503 || res.header.Get("Retry-After") != "2" {
		t.Fatalf("status %d, Retry-After %q; want 503, 2 (%s)", res.status, res.header.Get("Retry-After"), res.body)
	}
	if !strings.Contains(string(res.body), "the queue is full (waited 20ms)") {
		t.Errorf("body %s; want the queue named", res.body)
	}
	if calls != 1 {
		t.Errorf("%d submit calls; want 1", calls)
	}
}
