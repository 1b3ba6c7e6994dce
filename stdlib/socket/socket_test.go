package socket

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/httpx"
	"github.com/pushlua/pushlua/internal/luax"
)

// sockPrelude is loaded before each Lua test file of the socket modules.
const sockPrelude = `
function eq(got, want, what)
  if got ~= want then
    error((what or "value") .. ": got " .. tostring(got) .. " (" .. type(got) .. "); want " ..
      tostring(want) .. " (" .. type(want) .. ")", 2)
  end
end
-- fails(f, ...) returns the error f raises, failing if it does not raise.
function fails(f, ...)
  local ok, e = pcall(f, ...)
  if ok then error("call succeeded; want an error", 2) end
  return e
end
-- endswith(s, suffix)
function endswith(s, suffix)
  return type(s) == "string" and string.sub(s, -#suffix) == suffix
end
-- skip(reason) ends the test as skipped.
function skip(reason)
  error("SKIP: " .. reason, 0)
end
-- keys(t) returns the sorted keys of t joined with ",".
function keys(t)
  local k = {}
  for name in pairs(t) do k[#k + 1] = tostring(name) end
  table.sort(k)
  return table.concat(k, ",")
end
`

var sockTestFunc = regexp.MustCompile(`(?m)^function (test_\w+)\s*\(`)

// sockHTTPClient is the HTTP client of the socket tests, shared like the
// runtime's.
var sockHTTPClient = httpx.New(httpx.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond})

// sockEnv returns a host with a real HTTP client and a fixed clock.
func sockEnv(ctx context.Context) *luax.StaticHost {
	return &luax.StaticHost{
		Ctx:    ctx,
		Client: sockHTTPClient,
		Clock:  func() time.Time { return time.Unix(1700000000, 250000000) },
	}
}

// sockNewState returns a state with the standard libraries and the socket
// modules.
func sockNewState(env *luax.StaticHost) *lua.State {
	l := lua.NewState()
	lua.OpenLibraries(l)
	Open(l, env)
	return l
}

// sockCall calls the function below the nargs arguments with a traceback
// handler and returns the error message, if any.
func sockCall(l *lua.State, nargs, nresults int) (string, bool) {
	fn := l.Top() - nargs
	l.PushGoFunction(func(l *lua.State) int {
		msg, ok := lua.ToStringMeta(l, 1)
		if !ok {
			msg = "(error object is a " + lua.TypeNameOf(l, 1) + " value)"
		}
		lua.Traceback(l, l, msg, 1)
		return 1
	})
	l.Insert(fn)
	if err := l.ProtectedCall(nargs, nresults, fn); err != nil {
		msg, _ := l.ToString(-1)
		l.SetTop(fn - 1)
		return msg, false
	}
	l.Remove(fn)
	return "", true
}

// sockRunLuaFile runs each global function test_x of testdata/<file> as a
// subtest, in a fresh state, with the given string globals set.
func sockRunLuaFile(t *testing.T, file string, globals map[string]string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	names := sockTestFunc.FindAllStringSubmatch(string(src), -1)
	if len(names) == 0 {
		t.Fatalf("%s has no test_ functions", file)
	}
	for _, m := range names {
		t.Run(m[1], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			l := sockNewState(sockEnv(ctx))
			for k, v := range globals {
				l.PushString(v)
				l.SetGlobal(k)
			}
			if err := lua.DoString(l, sockPrelude); err != nil {
				t.Fatalf("prelude: %v", err)
			}
			if err := lua.LoadBuffer(l, string(src), "@"+file, "t"); err != nil {
				msg, _ := l.ToString(-1)
				t.Fatalf("load: %s", msg)
			}
			if msg, ok := sockCall(l, 0, 0); !ok {
				t.Fatalf("running %s: %s", file, msg)
			}
			l.Global(m[1])
			if msg, ok := sockCall(l, 0, 0); !ok {
				if reason, found := strings.CutPrefix(msg, "SKIP: "); found {
					t.Skip(strings.SplitN(reason, "\n", 2)[0])
				}
				t.Fatal(msg)
			}
		})
	}
}

// sockEval runs chunk in a fresh state and returns its results joined by
// tabs (tostring), or the error.
func sockEval(t *testing.T, env *luax.StaticHost, chunk string) (string, bool) {
	t.Helper()
	l := sockNewState(env)
	if err := lua.LoadBuffer(l, chunk, "=chunk", "t"); err != nil {
		msg, _ := l.ToString(-1)
		t.Fatalf("load %q: %s", chunk, msg)
	}
	if msg, ok := sockCall(l, 0, lua.MultipleReturns); !ok {
		return msg, false
	}
	var out []string
	for i, n := 1, l.Top(); i <= n; i++ {
		s, _ := lua.ToStringMeta(l, i)
		l.Pop(1)
		out = append(out, s)
	}
	return strings.Join(out, "\t"), true
}

// sockTestServer serves the routes the Lua HTTP tests use.
func sockTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var names []string
		for name := range r.Header {
			names = append(names, name)
		}
		sort.Strings(names)
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s\n", r.Method, r.RequestURI)
		fmt.Fprintf(&b, "Host: %s\n", r.Host)
		if len(r.TransferEncoding) > 0 {
			fmt.Fprintf(&b, "Transfer-Encoding: %s\n", strings.Join(r.TransferEncoding, ", "))
		}
		for _, name := range names {
			fmt.Fprintf(&b, "%s: %s\n", name, strings.Join(r.Header[name], ", "))
		}
		fmt.Fprintf(&b, "\n%s", body)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, b.String())
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
		io.WriteString(w, "status "+r.PathValue("code"))
	})
	mux.HandleFunc("/redirect/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		code := 302
		if c := r.URL.Query().Get("code"); c != "" {
			code, _ = strconv.Atoi(c)
		}
		if n == 0 {
			io.WriteString(w, "done "+r.Method)
			return
		}
		w.Header().Set("Location", fmt.Sprintf("/redirect/%d?code=%d", n-1, code))
		w.WriteHeader(code)
		io.WriteString(w, "moved")
	})
	mux.HandleFunc("/relative", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "echo?from=relative")
		w.WriteHeader(301)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		io.WriteString(w, "late")
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Dup"] = []string{"a", "b"}
		w.Header()["X-Mixed-Case"] = []string{"v"}
		w.Header().Set("Content-Type", "text/x-test")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 5000))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Trailer")
		io.WriteString(w, "part1,")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part2")
		w.Header().Set("X-Trailer", "end")
	})
	mux.HandleFunc("/drop", func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestSocketLua(t *testing.T) {
	sockRunLuaFile(t, "socket_test.lua", nil)
}

func TestSocketURLLua(t *testing.T) {
	sockRunLuaFile(t, "socket_url_test.lua", nil)
}

func TestLTN12Lua(t *testing.T) {
	sockRunLuaFile(t, "ltn12_test.lua", nil)
}

func TestSocketMimeLua(t *testing.T) {
	sockRunLuaFile(t, "socket_mime_test.lua", nil)
}

func TestSocketHTTPLua(t *testing.T) {
	srv := sockTestServer(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	sockRunLuaFile(t, "socket_http_test.lua", map[string]string{
		"TEST_URL":   srv.URL,
		"TEST_HOST":  strings.TrimPrefix(srv.URL, "http://"),
		"CLOSED_URL": closedURL,
	})
}

// sockCapture is a raw TCP server on 127.0.0.1 that records each request's
// head and body and answers 200.
type sockCapture struct {
	ln   net.Listener
	reqs chan sockRawRequest
}

type sockRawRequest struct {
	line    string
	headers [][2]string // wire order, exact names
	body    string      // after de-chunking
	chunked bool
}

func newSockCapture(t *testing.T) *sockCapture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &sockCapture{ln: ln, reqs: make(chan sockRawRequest, 64)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go c.serve(conn)
		}
	}()
	return c
}

func (c *sockCapture) serve(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	var req sockRawRequest
	line, err := br.ReadString('\n')
	if err != nil {
		return
	}
	req.line = strings.TrimRight(line, "\r\n")
	length := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		req.headers = append(req.headers, [2]string{name, value})
		switch strings.ToLower(name) {
		case "content-length":
			length, _ = strconv.Atoi(value)
		case "transfer-encoding":
			req.chunked = strings.Contains(strings.ToLower(value), "chunked")
		}
	}
	if req.chunked {
		var body strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			n, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(line, ";", 2)[0]), 16, 64)
			if err != nil {
				return
			}
			if n == 0 {
				for { // trailers
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				break
			}
			chunk := make([]byte, n+2)
			if _, err := io.ReadFull(br, chunk); err != nil {
				return
			}
			body.Write(chunk[:n])
		}
		req.body = body.String()
	} else {
		body := make([]byte, length)
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		req.body = string(body)
	}
	c.reqs <- req
	io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
}

func (c *sockCapture) url() string { return "http://" + c.ln.Addr().String() }

func (c *sockCapture) next(t *testing.T) sockRawRequest {
	t.Helper()
	select {
	case r := <-c.reqs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no request captured")
		return sockRawRequest{}
	}
}

// sortedHeaders returns the header fields as sorted "Name: value" lines.
func sortedHeaders(h [][2]string) []string {
	var out []string
	for _, f := range h {
		out = append(out, f[0]+": "+f[1])
	}
	sort.Strings(out)
	return out
}
