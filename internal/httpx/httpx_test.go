package httpx

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestClient(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.RetryWaitMin == 0 {
		opts.RetryWaitMin = time.Millisecond
		opts.RetryWaitMax = 2 * time.Millisecond
	}
	c := New(opts)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// capture is a raw TCP server on 127.0.0.1 that records the bytes of each
// request (head and Content-Length or chunked body) and answers with reply.
type capture struct {
	ln   net.Listener
	reqs chan string
}

func newCapture(t *testing.T, reply string) *capture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{ln: ln, reqs: make(chan string, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				raw, err := readRawRequest(bufio.NewReader(conn))
				c.reqs <- raw
				if err != nil {
					return
				}
				io.WriteString(conn, reply)
			}()
		}
	}()
	return c
}

func (c *capture) url() string { return "http://" + c.ln.Addr().String() }

func (c *capture) next(t *testing.T) string {
	t.Helper()
	select {
	case r := <-c.reqs:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request captured")
		return ""
	}
}

// readRawRequest reads one request's bytes: the head and a Content-Length
// or chunked body.
func readRawRequest(br *bufio.Reader) (string, error) {
	var b strings.Builder
	length, chunked := 0, false
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if line == "\r\n" {
			break
		}
		name, value, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-length":
			length, _ = strconv.Atoi(value)
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(value), "chunked")
		}
	}
	if chunked {
		for {
			line, err := br.ReadString('\n')
			b.WriteString(line)
			if err != nil {
				return b.String(), err
			}
			n, err := strconv.ParseInt(strings.TrimRight(line, "\r\n"), 16, 64)
			if err != nil {
				return b.String(), err
			}
			chunk := make([]byte, n+2)
			if _, err := io.ReadFull(br, chunk); err != nil {
				return b.String(), err
			}
			b.Write(chunk)
			if n == 0 {
				return b.String(), nil
			}
		}
	}
	body := make([]byte, length)
	_, err := io.ReadFull(br, body)
	b.Write(body)
	return b.String(), err
}

const okReply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\nX-B: 1\r\nx-b: 2\r\n\r\nok"

func TestHTTPWireHeaders(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want string // with HOST for the listener's address
	}{
		{
			name: "luasocket post",
			req: Request{Method: "POST", URL: "/doc1/notify", Header: [][2]string{
				{"Connection", "close, TE"}, {"Content-Type", "application/x-www-form-urlencoded"},
				{"User-Agent", "LuaSocket 3.0.0"}, {"Host", "HOST"}, {"TE", "trailers"}, {"Content-Length", "3"},
			}, Body: []byte("a=b")},
			want: "POST /doc1/notify HTTP/1.1\r\nHost: HOST\r\nUser-Agent: LuaSocket 3.0.0\r\nContent-Length: 3\r\n" +
				"Connection: close, TE\r\nContent-Type: application/x-www-form-urlencoded\r\nTE: trailers\r\n\r\na=b",
		},
		{
			name: "no headers: no user-agent, no accept-encoding",
			req:  Request{URL: "/x?q=1"},
			want: "GET /x?q=1 HTTP/1.1\r\nHost: HOST\r\n\r\n",
		},
		{
			name: "exact names kept",
			req:  Request{Method: "PUT", URL: "/", Header: [][2]string{{"x-lower", "1"}, {"X-Upper", "2"}, {"x-lower", "3"}}, Body: []byte("{}")},
			want: "PUT / HTTP/1.1\r\nHost: HOST\r\nContent-Length: 2\r\nX-Upper: 2\r\nx-lower: 1\r\nx-lower: 3\r\n\r\n{}",
		},
		{
			name: "chunked",
			req:  Request{Method: "POST", URL: "/c", Body: []byte("hello"), Chunked: true, Header: [][2]string{{"Content-Length", "99"}}},
			want: "POST /c HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		},
		{
			name: "basic auth from userinfo",
			req:  Request{Method: "PUT", URL: "USERINFO/u", Body: []byte("x")},
			want: "PUT /u HTTP/1.1\r\nHost: HOST\r\nContent-Length: 1\r\nAuthorization: Basic bG9naW46cGFzcw==\r\n\r\nx",
		},
	}
	c := newTestClient(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCapture(t, okReply)
			host := srv.ln.Addr().String()
			req := tt.req
			if strings.HasPrefix(req.URL, "USERINFO") {
				req.URL = "http://login:pass@" + host + strings.TrimPrefix(req.URL, "USERINFO")
			} else {
				req.URL = srv.url() + req.URL
			}
			var hdr [][2]string
			for _, f := range req.Header {
				hdr = append(hdr, [2]string{f[0], strings.ReplaceAll(f[1], "HOST", host)})
			}
			req.Header = hdr
			resp, err := c.Do(context.Background(), &req)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := srv.next(t), strings.ReplaceAll(tt.want, "HOST", host); got != want {
				t.Errorf("wire:\n%q\nwant\n%q", got, want)
			}
			if resp.Status != 200 || resp.Reason != "OK" || resp.Proto != "HTTP/1.1" || string(resp.Body) != "ok" || resp.Attempts != 1 {
				t.Errorf("got %d %q %q body %q attempts %d; want 200 OK HTTP/1.1 ok 1", resp.Status, resp.Reason, resp.Proto, resp.Body, resp.Attempts)
			}
			if got := resp.Header.Values("X-B"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
				t.Errorf("X-B = %q; want [1 2]", got)
			}
		})
	}
}

func TestHTTPRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch r.URL.Path {
		case "/hang-then-ok":
			if n == 1 {
				<-r.Context().Done()
				return
			}
		case "/slow-body-then-ok":
			if n == 1 {
				w.Header().Set("Content-Length", "10")
				w.WriteHeader(200)
				w.Write([]byte("abc"))
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				return
			}
		case "/drop-then-ok":
			if n == 1 {
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
				return
			}
		case "/hang":
			<-r.Context().Done()
			return
		case "/500":
			http.Error(w, "boom", 500)
			return
		}
		io.WriteString(w, "done")
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name         string
		req          Request
		ctxTimeout   time.Duration
		wantStatus   int
		wantKind     error
		wantAttempts int
		wantCalls    int32
	}{
		{"retry after hanging server", Request{URL: "/hang-then-ok", Timeout: 100 * time.Millisecond, MaxAttempts: 2}, 0, 200, nil, 2, 2},
		{"retry after body timeout", Request{URL: "/slow-body-then-ok", Timeout: 100 * time.Millisecond, MaxAttempts: 3}, 0, 200, nil, 2, 2},
		{"retry after lost connection", Request{Method: "POST", URL: "/drop-then-ok", Body: []byte("x"), MaxAttempts: 2}, 0, 200, nil, 2, 2},
		{"lost connection without retry", Request{Method: "POST", URL: "/drop-then-ok", Header: [][2]string{{"Connection", "close"}}, MaxAttempts: 1}, 0, 0, ErrConnectionLost, 1, 1},
		{"timeout after all attempts", Request{URL: "/hang", Timeout: 50 * time.Millisecond, MaxAttempts: 3}, 0, 0, ErrTimeout, 3, 3},
		{"no retry on 500", Request{URL: "/500", Timeout: time.Second, MaxAttempts: 3}, 0, 500, nil, 1, 1},
		{"no retry on refused connect", Request{URL: "REFUSED", MaxAttempts: 3}, 0, 0, ErrConnectRefused, 1, 0},
		{"context deadline bounds retries", Request{URL: "/hang", Timeout: time.Hour, MaxAttempts: 5}, 100 * time.Millisecond, 0, ErrTimeout, 1, 1},
	}
	c := newTestClient(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls.Store(0)
			req := tt.req
			if req.URL == "REFUSED" {
				req.URL = closedURL
			} else {
				req.URL = srv.URL + req.URL
			}
			ctx := context.Background()
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			start := time.Now()
			resp, err := c.Do(ctx, &req)
			if tt.wantKind != nil {
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, tt.wantKind) {
					t.Fatalf("got %v, %v; want error %v", resp, err, tt.wantKind)
				}
				if e.Attempts != tt.wantAttempts {
					t.Errorf("attempts = %d; want %d", e.Attempts, tt.wantAttempts)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if resp.Status != tt.wantStatus || resp.Attempts != tt.wantAttempts {
					t.Errorf("got status %d attempts %d; want %d %d", resp.Status, resp.Attempts, tt.wantStatus, tt.wantAttempts)
				}
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("server saw %d calls; want %d", got, tt.wantCalls)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("took %v", el)
			}
			if tt.ctxTimeout > 0 && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
			}
		})
	}
}

func TestHTTPErrorKinds(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 2000))
	}))
	defer big.Close()
	c := newTestClient(t, Options{MaxBody: 1000})
	tests := []struct {
		name string
		req  Request
		want []error
	}{
		{"refused", Request{URL: closedURL}, []error{ErrConnectRefused, ErrConnectFailed}},
		{"host not found", Request{URL: "http://no-such-host.invalid/"}, []error{ErrHostNotFound, ErrConnectFailed}},
		{"body too large", Request{URL: big.URL}, []error{ErrBodyTooLarge}},
		{"bad scheme", Request{URL: "ftp://127.0.0.1/"}, []error{ErrInvalidRequest}},
		{"bad header", Request{URL: big.URL, Header: [][2]string{{"X-A", "a\r\nX-B: b"}}}, []error{ErrInvalidRequest}},
		{"bad header name", Request{URL: big.URL, Header: [][2]string{{"X A", "a"}}}, []error{ErrInvalidRequest}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := c.Do(ctx, &tt.req)
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("got %v; want %v", err, w)
				}
			}
		})
	}
}

// settled checks err against want, the error a case expects (nil: none),
// and reports whether the case ends there: it failed as wanted, or it
// failed although it should not (the test is stopped then).
func settled(t *testing.T, err, want error) bool {
	t.Helper()
	if want != nil {
		if !errors.Is(err, want) {
			t.Fatalf("got %v; want %v", err, want)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

func TestHTTPRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if n > 0 {
			http.Redirect(w, r, "/r/"+strconv.Itoa(n-1), http.StatusFound)
			return
		}
		io.WriteString(w, "end")
	}))
	defer srv.Close()
	c := newTestClient(t, Options{})
	tests := []struct {
		name         string
		path         string
		maxRedirects int
		wantStatus   int
		wantErr      error
	}{
		{"not followed", "/r/1", 0, 302, nil},
		{"followed", "/r/2", 2, 200, nil},
		{"too many", "/r/3", 2, 0, ErrTooManyRedirects},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Do(context.Background(), &Request{URL: srv.URL + tt.path, MaxRedirects: tt.maxRedirects, MaxAttempts: 3})
			if settled(t, err, tt.wantErr) {
				return
			}
			if resp.Status != tt.wantStatus || resp.Attempts != 1 {
				t.Errorf("got %d (attempts %d); want %d (1)", resp.Status, resp.Attempts, tt.wantStatus)
			}
		})
	}
}

func TestHTTPSAndProxy(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(tlsSrv.Certificate())

	var proxied atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Store(r.RequestURI)
		io.WriteString(w, "via proxy")
	}))
	defer proxy.Close()

	c := newTestClient(t, Options{TLSConfig: &tls.Config{RootCAs: pool}})
	t.Run("https speaks HTTP/1.1", func(t *testing.T) {
		resp, err := c.Do(context.Background(), &Request{URL: tlsSrv.URL, Header: [][2]string{{"Connection", "close, TE"}, {"TE", "trailers"}}})
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != "HTTP/1.1" {
			t.Errorf("server saw %q; want HTTP/1.1", resp.Body)
		}
	})
	t.Run("proxy", func(t *testing.T) {
		resp, err := c.Do(context.Background(), &Request{URL: "http://example.invalid/p?q=1", Proxy: proxy.URL})
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != "via proxy" || proxied.Load() != "http://example.invalid/p?q=1" {
			t.Errorf("got %q, request URI %v", resp.Body, proxied.Load())
		}
	})
}

func TestHTTPChunkedResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-T")
		io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		io.WriteString(w, "b")
		w.Header().Set("X-T", "v")
	}))
	defer srv.Close()
	resp, err := newTestClient(t, Options{}).Do(context.Background(), &Request{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != "ab" || resp.Header.Get("Transfer-Encoding") != "chunked" || resp.Trailer.Get("X-T") != "v" {
		t.Errorf("got body %q, Transfer-Encoding %q, trailer %q; want ab, chunked, v",
			resp.Body, resp.Header.Get("Transfer-Encoding"), resp.Trailer.Get("X-T"))
	}
}

// TestRequestRetryPolicy: a request's CheckRetry is asked once per
// attempt (after the body was read, or with the failure as an *Error), its
// Backoff gives the wait, its PrepareRetry changes the next attempt, and an
// error of CheckRetry ends Do with ErrRetryPolicy wrapping it.
func TestRequestRetryPolicy(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %q", r.Method, r.URL.Path, body))
		mu.Unlock()
		switch r.URL.Path {
		case "/moved":
			w.Header().Set("Location", "/target")
			w.WriteHeader(http.StatusSeeOther)
			io.WriteString(w, "moved body")
		case "/drop":
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		default:
			io.WriteString(w, "target body")
		}
	}))
	defer srv.Close()
	c := newTestClient(t, Options{})

	t.Run("follow by PrepareRetry", func(t *testing.T) {
		var asked []string
		var waited time.Duration
		r := &Request{Method: "POST", URL: srv.URL + "/moved", Body: []byte("payload")}
		r.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			if err != nil {
				t.Fatalf("CheckRetry got error %v", err)
			}
			asked = append(asked, resp.Status)
			return resp.StatusCode == http.StatusSeeOther, nil
		}
		r.Backoff = func(_, _ time.Duration, n int, resp *http.Response) time.Duration {
			waited = 10 * time.Millisecond
			return waited
		}
		r.PrepareRetry = func(r *Request) error {
			r.Method, r.URL, r.Body = "GET", srv.URL+"/target", nil
			return nil
		}
		start := time.Now()
		resp, err := c.Do(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || string(resp.Body) != "target body" || resp.Attempts != 2 {
			t.Errorf("got %d %q after %d attempts; want 200 \"target body\" after 2", resp.Status, resp.Body, resp.Attempts)
		}
		if want := []string{"303 See Other", "200 OK"}; strings.Join(asked, ",") != strings.Join(want, ",") {
			t.Errorf("CheckRetry asked for %q; want %q", asked, want)
		}
		mu.Lock()
		got := strings.Join(seen, ",")
		mu.Unlock()
		if want := `POST /moved "payload",GET /target ""`; got != want {
			t.Errorf("server saw %q; want %q", got, want)
		}
		if d := time.Since(start); d < waited {
			t.Errorf("took %v; want at least the backoff %v", d, waited)
		}
	})

	t.Run("failure as *Error", func(t *testing.T) {
		var kinds []error
		r := &Request{URL: srv.URL + "/drop", Header: [][2]string{{"Connection", "close"}}}
		r.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			var e *Error
			if resp != nil || !errors.As(err, &e) {
				t.Fatalf("CheckRetry got %v, %v; want nil and an *Error", resp, err)
			}
			kinds = append(kinds, e.Kind)
			return len(kinds) < 3, nil
		}
		_, err := c.Do(context.Background(), r)
		if !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("got %v; want %v", err, ErrConnectionLost)
		}
		if len(kinds) != 3 || kinds[2] != ErrConnectionLost {
			t.Errorf("CheckRetry saw %v; want 3 × %v", kinds, ErrConnectionLost)
		}
	})

	t.Run("policy error", func(t *testing.T) {
		refused := errors.New("no, thanks")
		r := &Request{URL: srv.URL + "/moved"}
		r.CheckRetry = func(context.Context, *http.Response, error) (bool, error) { return false, refused }
		_, err := c.Do(context.Background(), r)
		var e *Error
		if !errors.As(err, &e) || e.Kind != ErrRetryPolicy || !errors.Is(err, refused) {
			t.Fatalf("got %v; want an *Error of Kind %v wrapping %v", err, ErrRetryPolicy, refused)
		}
	})

	t.Run("invalid next request", func(t *testing.T) {
		r := &Request{URL: srv.URL + "/moved"}
		r.CheckRetry = func(context.Context, *http.Response, error) (bool, error) { return true, nil }
		r.PrepareRetry = func(r *Request) error { r.URL = "ftp://x/"; return nil }
		_, err := c.Do(context.Background(), r)
		if !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("got %v; want %v", err, ErrInvalidRequest)
		}
	})
}

// TestKeepAliveReuse checks that requests of as many concurrent callers as
// MaxIdleConnsPerHost reuse their connections: after the first round, no
// request dials again, and a 204's empty body is read as one.
func TestKeepAliveReuse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	const callers, rounds = 8, 20
	var dials atomic.Int32
	var d net.Dialer
	c := newTestClient(t, Options{MaxIdleConnsPerHost: callers, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}})
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for range callers {
			wg.Go(func() {
				resp, err := c.Do(context.Background(), &Request{Method: "PUT", URL: srv.URL, Body: []byte(`{}`), Timeout: 5 * time.Second})
				switch {
				case err != nil:
					errs <- err
				case resp.Status != http.StatusNoContent || resp.Body == nil || len(resp.Body) != 0:
					errs <- fmt.Errorf("got status %d, body %q (nil: %v); want 204 and an empty body", resp.Status, resp.Body, resp.Body == nil)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	if n := dials.Load(); n > callers {
		t.Errorf("got %d dials for %d requests of %d callers; want at most %d", n, callers*rounds, callers, callers)
	}
}

// TestReadAll checks the body reader against io.ReadAll(io.LimitReader):
// the Content-Length only sizes the buffer.
func TestReadAll(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		size, limit int64
	}{
		{"empty, length known", "", 0, 17},
		{"empty, length unknown", "", -1, 17},
		{"length known", "hello", 5, 17},
		{"length unknown", "hello", -1, 17},
		{"longer than claimed", "hello world", 5, 17},
		{"shorter than claimed", "hi", 100000, 17},
		{"at the limit", strings.Repeat("x", 17), 17, 17},
		{"over the limit", strings.Repeat("x", 40), -1, 17},
		{"over the limit, length known", strings.Repeat("x", 40), 40, 17},
		{"beyond the first buffer", strings.Repeat("y", 3000), -1, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, _ := io.ReadAll(io.LimitReader(strings.NewReader(tt.body), tt.limit))
			if tt.size == 0 {
				want = []byte{} // a Content-Length of 0: net/http's body is http.NoBody
			}
			got, err := readAll(smallReads{strings.NewReader(tt.body)}, tt.size, tt.limit)
			if err != nil || string(got) != string(want) || got == nil {
				t.Errorf("got %q, %v (nil: %v); want %q", got, err, got == nil, want)
			}
		})
	}
}

// smallReads reads at most 3 bytes at a time, as a slow connection does.
type smallReads struct{ r io.Reader }

func (r smallReads) Read(p []byte) (int, error) { return r.r.Read(p[:min(len(p), 3)]) }
