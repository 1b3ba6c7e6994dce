package bindings

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/dovecoturl"
	"github.com/pushlua/pushlua/internal/httpx"
	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/internal/testutil"
)

// httpTestServer is the HTTP server of the Lua tests, on 127.0.0.1. It
// counts the requests per path (test_hits(path) in Lua).
type httpTestServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newHTTPTestServer(t *testing.T) *httpTestServer {
	t.Helper()
	s := &httpTestServer{hits: map[string]int{}}
	mux := http.NewServeMux()
	// /ok: 200 with a body and a header given twice.
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Test"] = []string{"one", "two"}
		io.WriteString(w, "hello")
	})
	// /echo: the request line and body as the payload, every request header
	// as X-Echo-<name>.
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		for k, v := range r.Header {
			w.Header()["X-Echo-"+k] = v
		}
		w.Header().Set("X-Echo-Host", r.Host)
		fmt.Fprintf(w, "%s %s\n%s", r.Method, r.RequestURI, body)
	})
	// /status/<code>: that status, with an empty reason phrase for 299.
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
		io.WriteString(w, "status body")
	})
	// /hang: never answers (until the client gives up).
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	// /close: closes the connection without an answer.
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	// /redirect/<n>: n redirects (absolute Locations) to /echo.
	mux.HandleFunc("/redirect/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		target := "http://" + r.Host + "/echo"
		if n > 1 {
			target = "http://" + r.Host + "/redirect/" + strconv.Itoa(n-1)
		}
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusFound)
	})
	// /see-other: 303 to /echo.
	mux.HandleFunc("/see-other", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+r.Host+"/echo", http.StatusSeeOther)
	})
	// /relative: a redirect with a relative Location.
	mux.HandleFunc("/relative", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/echo")
		w.WriteHeader(http.StatusMovedPermanently)
	})
	// /userinfo: a redirect to a URL with userinfo.
	mux.HandleFunc("/userinfo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://u:p@"+r.Host+"/echo")
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	// /not-modified: 304 with a Location, which is no redirect.
	mux.HandleFunc("/not-modified", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://"+r.Host+"/echo")
		w.WriteHeader(http.StatusNotModified)
	})
	// /once-408: 408 on the first request, 200 afterwards.
	mux.HandleFunc("/once-408", func(w http.ResponseWriter, r *http.Request) {
		if s.count(r.URL.Path) == 1 {
			w.WriteHeader(http.StatusRequestTimeout)
			return
		}
		io.WriteString(w, "second")
	})
	// /busy: 503 with Retry-After: 0 on the first request, 200 afterwards.
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
		if s.count(r.URL.Path) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready")
	})
	// /later: a redirect or 503 (?busy) with a Retry-After of an hour.
	mux.HandleFunc("/later", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		if r.URL.RawQuery == "busy" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Location", "http://"+r.Host+"/echo")
		w.WriteHeader(http.StatusFound)
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *httpTestServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// refusedURL returns an http URL of a 127.0.0.1 port nobody listens on.
func refusedURL(t *testing.T) (string, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/", addr
}

func newTestHTTPClient() *httpx.Client {
	return httpx.New(httpx.Options{RetryWaitMin: -1})
}

// TestHTTPLua runs testdata/http_test.lua against a test server. Globals:
// base_url (the server), refused_url and refused_addr (a closed port);
// test_hits(path) returns the number of requests the server got for path.
// Each test has its own server and client.
func TestHTTPLua(t *testing.T) {
	runLuaTests(t, "testdata/http_test.lua", func(t *testing.T, te *testEnv) {
		srv := newHTTPTestServer(t)
		dovecotTestSetup(t, te)
		te.Host.Client = newTestHTTPClient()
		refused, refusedAddr := refusedURL(t)
		te.L.PushString(srv.URL)
		te.L.SetGlobal("base_url")
		te.L.PushString(refused)
		te.L.SetGlobal("refused_url")
		te.L.PushString(refusedAddr)
		te.L.SetGlobal("refused_addr")
		// test_match(s, re) reports whether s matches the Go regexp re
		// (go-lua has no Lua patterns).
		te.L.Register("test_match", func(l *lua.State) int {
			s, ok := l.ToString(1)
			re, _ := l.ToString(2)
			l.PushBoolean(ok && regexp.MustCompile(re).MatchString(s))
			return 1
		})
		te.L.Register("test_hits", func(l *lua.State) int {
			path, _ := l.ToString(1)
			l.PushInteger(srv.count(path))
			return 1
		})
	})
}

// TestHTTPSettingsLua runs the client settings tests under both
// configuration syntaxes.
func TestHTTPSettingsLua(t *testing.T) {
	for _, c := range []struct {
		file       string
		settings24 bool
	}{{"testdata/http_settings_test.lua", false}, {"testdata/http_settings24_test.lua", true}} {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			runLuaTests(t, c.file, func(t *testing.T, te *testEnv) {
				srv := newHTTPTestServer(t)
				dovecotTestSetup(t, te)
				te.Host.Client = newTestHTTPClient()
				te.Env.Settings24 = c.settings24
				te.L.PushString(srv.URL)
				te.L.SetGlobal("base_url")
				te.L.Register("test_hits", func(l *lua.State) int {
					path, _ := l.ToString(1)
					l.PushInteger(srv.count(path))
					return 1
				})
			})
		})
	}
}

// TestHTTPOpener checks that openHTTP leaves the stack as it found it and
// sets dovecot.http as a raw field.
func TestHTTPOpener(t *testing.T) {
	l := lua.NewState()
	lua.OpenLibraries(l)
	env := &Env{}
	openDovecot(l, env)
	openHTTP(l, env)
	if got := l.Top(); got != 0 {
		t.Fatalf("stack has %d values after openHTTP; want 0", got)
	}
	l.Global("dovecot")
	l.PushString("http")
	l.RawGet(-2)
	if !l.IsTable(-1) {
		t.Fatalf("rawget(dovecot, 'http') is a %s; want a table", lua.TypeNameOf(l, -1))
	}
}

// runLua runs src in a fresh state with the bindings, the HTTP client of
// the tests and base_addr set, and returns the state.
func runLua(t *testing.T, addr, src string) *testEnv {
	t.Helper()
	te := newTestEnv(t)
	te.Host.Client = newTestHTTPClient()
	te.L.PushString(addr)
	te.L.SetGlobal("base_addr")
	if err := lua.DoString(te.L, src); err != nil {
		msg, _ := te.L.ToString(-1)
		t.Fatalf("lua: %v: %s", err, msg)
	}
	return te
}

var httpDateRE = regexp.MustCompile(`^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$`)

// splitRaw splits a raw request into its request line, header lines and
// body.
func splitRaw(t *testing.T, raw string) (string, []string, string) {
	t.Helper()
	head, body, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		t.Fatalf("no end of header in %q", raw)
	}
	lines := strings.Split(head, "\r\n")
	return lines[0], lines[1:], body
}

// checkHeaderSet compares the header lines of a request with want as sets
// (net/http decides the order, see http.go); a Date line is checked for
// the IMF-fixdate form and compared as "Date: *".
func checkHeaderSet(t *testing.T, got, want []string) {
	t.Helper()
	norm := func(lines []string) []string {
		out := make([]string, 0, len(lines))
		for _, l := range lines {
			if strings.HasPrefix(l, "Date: ") {
				if l != "Date: *" && !httpDateRE.MatchString(l) {
					t.Errorf("bad Date header %q", l)
				}
				l = "Date: *"
			}
			out = append(out, l)
		}
		slices.Sort(out)
		return out
	}
	g, w := norm(got), norm(want)
	if !slices.Equal(g, w) {
		t.Errorf("header lines:\n%s\nwant (in any order):\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
}

// TestHTTPWire checks the bytes of requests against the wire examples of
// spec §5.6 and §8.5: the same request line, header fields and body;
// only the order of the fields is net/http's (Host first).
func TestHTTPWire(t *testing.T) {
	tests := []struct {
		name     string
		lua      string
		line     string
		header   []string
		body     string
		wantResp string
	}{{
		// spec §5.6: the [verified] wire format of a Lua request.
		name: "spec example",
		lua: `
			local c = dovecot.http.client({user_agent = "probe-agent/1.0"})
			local req = c:request({url = "http://u:p@" .. base_addr .. "/lua/path?q=1", method = "POST"})
			req:add_header("X-Hdr", "v1")
			req:add_header("Content-Type", "application/json")
			req:set_payload('{"a":1}')
			local resp = req:submit()
			assert(resp:status() == 200, resp:reason())
			assert(resp:payload() == "ok")`,
		line: "POST /lua/path?q=1 HTTP/1.1",
		header: []string{
			"Host: " + "ADDR",
			"Date: *",
			"Authorization: Basic dTpw",
			"User-Agent: probe-agent/1.0",
			"Expect: 100-continue",
			"Content-Length: 7",
			"Connection: Keep-Alive",
			"X-Hdr: v1",
			"Content-Type: application/json",
		},
		body: `{"a":1}`,
	}, {
		// spec §8.5: no User-Agent, no Expect without a payload set by
		// set_payload; PUT gets a Content-Length.
		name: "no user agent",
		lua: `
			local req = dovecot.http.client({}):request({url = "http://oxu:oxp@" .. base_addr .. "/push/path?x=1", method = "PUT"})
			req:add_header("Content-Type", "application/json; charset=utf-8")
			assert(req:submit():status() == 200)`,
		line: "PUT /push/path?x=1 HTTP/1.1",
		header: []string{
			"Host: ADDR",
			"Date: *",
			"Authorization: Basic b3h1Om94cA==",
			"Content-Length: 0",
			"Connection: Keep-Alive",
			"Content-Type: application/json; charset=utf-8",
		},
	}, {
		// GET: no Content-Length; "user@" and "user:@" credentials.
		name: "get without password",
		lua: `
			local c = dovecot.http.client({})
			assert(c:request({url = "http://user@" .. base_addr}):submit():status() == 200)`,
		line:   "GET / HTTP/1.1",
		header: []string{"Host: ADDR", "Date: *", "Connection: Keep-Alive"},
	}, {
		name: "empty password",
		lua: `
			local c = dovecot.http.client({})
			assert(c:request({url = "http://user:@" .. base_addr .. "/a/./b/../c%2fd?x=%41"}):submit():status() == 200)`,
		line:   "GET /a/c/d?x=%41 HTTP/1.1",
		header: []string{"Host: ADDR", "Date: *", "Authorization: Basic dXNlcjo=", "Connection: Keep-Alive"},
	}, {
		// An empty payload: no Expect; lib-http would also send
		// "Content-Length: 0" with GET, net/http does not.
		name: "empty payload",
		lua: `
			local req = dovecot.http.client({}):request({url = "http://" .. base_addr .. "/e"})
			req:set_payload("")
			assert(req:submit():status() == 200)`,
		line:   "GET /e HTTP/1.1",
		header: []string{"Host: ADDR", "Date: *", "Connection: Keep-Alive"},
	}, {
		// No Content-Length for a bodyless method other than POST and PUT.
		name: "delete",
		lua: `
			local c = dovecot.http.client({})
			assert(c:request({url = "http://" .. base_addr .. "/d", method = "DELETE"}):submit():status() == 200)`,
		line:   "DELETE /d HTTP/1.1",
		header: []string{"Host: ADDR", "Date: *", "Connection: Keep-Alive"},
	}, {
		// Explicit headers replace the implicit ones for good, even when
		// removed; a repeated name keeps its first spelling.
		name: "explicit headers",
		lua: `
			local c = dovecot.http.client({user_agent = "ua"})
			local req = c:request({url = "http://a:b@" .. base_addr .. "/x", method = "POST"})
			req:add_header("user-agent", "mine")
			req:add_header("x-one", "1")
			req:add_header("X-ONE", "2")
			req:add_header("Authorization", "Bearer t")
			req:add_header("Date", "whenever")
			req:remove_header("date")
			req:add_header("Connection", "close")
			req:add_header("Expect", "nothing")
			req:set_payload("ab\0cd")
			assert(req:submit():status() == 200)`,
		line: "POST /x HTTP/1.1",
		header: []string{
			"Host: ADDR",
			"User-Agent: mine",
			"Content-Length: 2",
			"x-one: 2",
			"Authorization: Bearer t",
			"Connection: close",
			"Expect: nothing",
		},
		body: "ab",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The server answers "200 OK" with the body "ok".
			srv := testutil.NewCaptureServer(t, http.StatusOK, 0)
			addr := srv.Addr()
			runLua(t, addr, tt.lua)
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests captured; want 1", len(reqs))
			}
			line, header, body := splitRaw(t, reqs[0].Raw)
			if line != tt.line {
				t.Errorf("request line %q; want %q", line, tt.line)
			}
			if len(header) == 0 || header[0] != "Host: "+addr {
				t.Errorf("first header line %q; want %q", header, "Host: "+addr)
			}
			want := slices.Clone(tt.header)
			for i, h := range want {
				want[i] = strings.ReplaceAll(h, "ADDR", addr)
			}
			checkHeaderSet(t, header, want)
			if body != tt.body {
				t.Errorf("body %q; want %q", body, tt.body)
			}
		})
	}
}

// TestHTTPTimeoutRetries checks spec §8.6's timeout case with Lua: a server
// that accepts and never answers, request_timeout_msecs=100 and
// max_attempts=2 give 9008 after two connections about 100 ms apart.
func TestHTTPTimeoutRetries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var accepted []time.Time
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, time.Now())
			mu.Unlock()
			go func() {
				io.Copy(io.Discard, conn) // never answers
				conn.Close()
			}()
		}
	}()
	start := time.Now()
	te := runLua(t, ln.Addr().String(), `
		local c = dovecot.http.client({request_timeout_msecs = 100, max_attempts = 2})
		local resp = c:request({url = "http://" .. base_addr .. "/", method = "PUT"}):submit()
		assert(resp:status() == 9008, "status " .. resp:status())
		reason = resp:reason()
		assert(resp:payload() == "")
		assert(resp:header("Content-Length") == "")`)
	elapsed := time.Since(start)
	te.L.Global("reason")
	reason, _ := te.L.ToString(-1)
	reasonRE := regexp.MustCompile(`^Request timed out \(Request queued 0\.\d{3} secs ago, 1 times retried, 2 send attempts in 0\.\d{3} secs, \d\.\d{3} in last attempt, \d\.\d{3} in http ioloop, 0\.000 in other ioloops, connected \d\.\d{3} secs ago\)$`)
	if !reasonRE.MatchString(reason) {
		t.Errorf("reason %q; want a match of %s", reason, reasonRE)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(accepted) != 2 {
		t.Fatalf("%d connections; want 2", len(accepted))
	}
	if gap := accepted[1].Sub(accepted[0]); gap < 90*time.Millisecond || gap > time.Second {
		t.Errorf("attempts %v apart; want about 100ms", gap)
	}
	if elapsed < 190*time.Millisecond {
		t.Errorf("submit took %v; want at least 2 × 100ms", elapsed)
	}
}

// TestHTTPContext checks that the current call's context bounds submit().
func TestHTTPContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	submitBounded(t, func(h *luax.StaticHost) { h.Ctx = ctx }, `
		local resp = dovecot.http.client({max_attempts = 5}):request({url = base_url .. "/hang"}):submit()
		assert(resp:status() == 9008, "status " .. resp:status() .. " " .. resp:reason())`,
		2*time.Second, "about 100ms")
}

// submitBounded runs src, which submits to /hang of a test server
// (base_url), with a host that setup bounds, and checks that it took less
// than limit (want says how long it should) and that /hang got one
// request.
func submitBounded(t *testing.T, setup func(*luax.StaticHost), src string, limit time.Duration, want string) {
	t.Helper()
	srv := newHTTPTestServer(t)
	te := newTestEnv(t)
	te.Host.Client = newTestHTTPClient()
	setup(te.Host)
	te.L.PushString(srv.URL)
	te.L.SetGlobal("base_url")
	start := time.Now()
	if err := lua.DoString(te.L, src); err != nil {
		msg, _ := te.L.ToString(-1)
		t.Fatal(msg)
	}
	if d := time.Since(start); d > limit {
		t.Errorf("submit took %v; want %s", d, want)
	}
	if n := srv.count("/hang"); n != 1 {
		t.Errorf("%d attempts; want 1", n)
	}
}

// timeoutError is a net.Error that timed out.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestHTTPFailureReasons checks how httpx's errors map to lib-http's
// internal statuses and reasons, for the failures the test servers cannot
// produce on 127.0.0.1.
func TestHTTPFailureReasons(t *testing.T) {
	remote := &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 8080}
	remote6 := &net.TCPAddr{IP: net.ParseIP("::1"), Port: 80}
	u, err := dovecoturl.Parse("http://nx.invalid:8080/x", 0)
	if err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		parent    context.Context
		err       error
		status    int
		reason    string // a Go regexp
		temporary bool
	}{
		{"host not found", nil, &httpx.Error{Kind: httpx.ErrHostNotFound, Err: &net.OpError{Op: "dial",
			Err: &net.DNSError{Err: "no such host", Name: "nx.invalid", IsNotFound: true}}},
			9002, `^Failed to lookup host nx\.invalid: Name or service not known$`, false},
		{"dns failure", nil, &httpx.Error{Kind: httpx.ErrHostNotFound, Err: &net.DNSError{Err: "server misbehaving", Name: "nx.invalid"}},
			9002, `^Failed to lookup host nx\.invalid: Server misbehaving$`, false},
		{"connect timeout", nil, &httpx.Error{Kind: httpx.ErrTimeout, Err: &net.OpError{Op: "dial", Addr: remote, Err: timeoutError{}}},
			9003, `^connect\(10\.0\.0\.1:8080\) failed: Connection timed out in \d+\.\d{3} secs$`, false},
		{"no route", nil, &httpx.Error{Kind: httpx.ErrConnectFailed, Err: &net.OpError{Op: "dial", Addr: remote6,
			Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}},
			9003, `^connect\(\[::1\]:80\) failed: No route to host$`, false},
		{"refused without address", nil, &httpx.Error{Kind: httpx.ErrConnectRefused, Err: syscall.ECONNREFUSED},
			9003, `^connect\(nx\.invalid:8080\) failed: Connection refused$`, false},
		{"reset", nil, &httpx.Error{Kind: httpx.ErrConnectionLost, Err: &net.OpError{Op: "read", Addr: remote,
			Err: os.NewSyscallError("read", syscall.ECONNRESET)}},
			9005, `^Connection lost: read\(10\.0\.0\.1:8080\) failed: Connection reset by peer \(Request queued \d+\.\d{3} secs ago, 1 send attempts in \d+\.\d{3} secs, .*0\.000 in other ioloops, connected \d+\.\d{3} secs ago\)$`, true},
		{"broken pipe", nil, &httpx.Error{Kind: httpx.ErrConnectionLost, Err: os.NewSyscallError("write", syscall.EPIPE)},
			9005, `^Connection lost: Remote disconnected \(Request queued `, true},
		{"eof", nil, &httpx.Error{Kind: httpx.ErrConnectionLost, Err: io.EOF},
			9005, `^Connection lost: read\(nx\.invalid:8080\) failed: EOF \(Request queued `, true},
		{"timeout", nil, &httpx.Error{Kind: httpx.ErrTimeout, Err: timeoutError{}},
			9008, `^Request timed out \(Request queued .*, connected \d+\.\d{3} secs ago\)$`, true},
		{"bad response", nil, &httpx.Error{Kind: httpx.ErrBadResponse, Err: errors.New(`malformed HTTP response "x"`)},
			9007, `^Invalid HTTP response: malformed HTTP response "x"$`, false},
		{"body too large", nil, &httpx.Error{Kind: httpx.ErrBodyTooLarge, Err: errors.New("response body too large")},
			9006, `^Response payload read error: response body too large$`, false},
		{"invalid request", nil, &httpx.Error{Kind: httpx.ErrInvalidRequest, Err: errors.New(`invalid header name "a b"`)},
			9000, `^Aborted: invalid header name "a b"$`, false},
		{"canceled", canceled, &httpx.Error{Kind: httpx.ErrCanceled, Err: context.Canceled},
			9000, `^Aborted$`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := tt.parent
			if parent == nil {
				parent = context.Background()
			}
			now := time.Now()
			x := &httpExchange{set: &httpSettings{}, url: u, queued: now, firstSent: now, lastSent: now, sends: 1}
			status, reason, temporary := x.failure(parent, parent, tt.err)
			if status != tt.status {
				t.Errorf("status %d; want %d", status, tt.status)
			}
			if !regexp.MustCompile(tt.reason).MatchString(reason) {
				t.Errorf("reason %q; want a match of %s", reason, tt.reason)
			}
			if temporary != tt.temporary {
				t.Errorf("temporary %v; want %v", temporary, tt.temporary)
			}
		})
	}
}

// TestHTTPCallDeadline: the host's Deadline (what is left of the handler's time
// budget) bounds submit() whatever the client's timeouts say: the response
// is 9008, lib-http's absolute timeout, after one attempt.
func TestHTTPCallDeadline(t *testing.T) {
	submitBounded(t, func(h *luax.StaticHost) { h.Until = time.Now().Add(150 * time.Millisecond) }, `
		local resp = dovecot.http.client({max_attempts = 5, request_timeout_msecs = 60000}):request({url = base_url .. "/hang"}):submit()
		assert(resp:status() == 9008, "status " .. resp:status() .. " " .. resp:reason())
		assert(resp:reason():find("Absolute request timeout expired (Request queued ", 1, true) == 1, resp:reason())`,
		5*time.Second, "about 150ms")
}

// TestHTTPPayloadCharged: resp:payload() charges the body it copies into
// Lua to the call's memory budget (the host's Mem).
func TestHTTPPayloadCharged(t *testing.T) {
	srv := newHTTPTestServer(t)
	te := newTestEnv(t)
	te.Host.Client = newTestHTTPClient()
	var refused []string
	te.Host.Budget = &luax.MemBudget{Limit: 3, OnExceed: func(msg string) { refused = append(refused, msg) }}
	te.L.PushString(srv.URL)
	te.L.SetGlobal("base_url")
	err := lua.DoString(te.L, `local resp = dovecot.http.client({}):request({url = base_url .. "/ok"}):submit()
		return resp:payload()`)
	if err == nil {
		t.Fatal("payload() of 5 bytes with a 3-byte budget succeeded")
	}
	want := []string{"pushlua: call exceeded its memory budget of 3 bytes (pushlua_handler_memory): 'payload' needs 5 bytes, 0 already used"}
	if !slices.Equal(refused, want) {
		t.Errorf("refused %q; want %q", refused, want)
	}
}

// TestHTTPExpectationFailed: a 417 to a request sent with "Expect:
// 100-continue" is retried without Expect while max_attempts allows, as
// lib-http does; otherwise the 417 is the answer.
func TestHTTPExpectationFailed(t *testing.T) {
	var mu sync.Mutex
	var expects []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		expects = append(expects, r.Header.Get("Expect"))
		mu.Unlock()
		if r.Header.Get("Expect") != "" {
			w.WriteHeader(http.StatusExpectationFailed)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Write(body)
	}))
	defer srv.Close()
	tests := []struct {
		settings string
		status   int
		payload  string
		expects  []string
	}{
		{"{max_attempts = 2}", 200, "data", []string{"100-continue", ""}},
		{"{}", 417, "", []string{"100-continue"}},
	}
	for _, tt := range tests {
		t.Run(tt.settings, func(t *testing.T) {
			mu.Lock()
			expects = nil
			mu.Unlock()
			te := runLua(t, srv.URL[len("http://"):], `
				local req = dovecot.http.client(`+tt.settings+`):request({url = "http://" .. base_addr .. "/", method = "POST"})
				req:set_payload("data")
				local resp = req:submit()
				status, payload = resp:status(), resp:payload()`)
			te.L.Global("status")
			status, _ := te.L.ToInteger(-1)
			te.L.Global("payload")
			payload, _ := te.L.ToString(-1)
			if status != tt.status || payload != tt.payload {
				t.Errorf("got %d %q; want %d %q", status, payload, tt.status, tt.payload)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(expects, tt.expects) {
				t.Errorf("the server saw Expect %q; want %q", expects, tt.expects)
			}
		})
	}
}
