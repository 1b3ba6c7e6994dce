package socket

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	lua "github.com/Shopify/go-lua"
)

const (
	// ../shared beside the repository (the package directory is stdlib/socket/).
	sockDocExample1 = "../../../shared/spec/examples/doc_example1.lua"
	sockDoc1Trace   = "../../../shared/spec/traces/doc1-requests.jsonl"
)

// sockTraceRequest is one request recorded from real Dovecot.
type sockTraceRequest struct {
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"`
}

// sockFirstTraceRequest returns the first request of a trace file.
func sockFirstTraceRequest(t *testing.T, path string) sockTraceRequest {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("shared spec not available (%v)", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r sockTraceRequest
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Method != "" {
			return r
		}
	}
	t.Fatalf("%s has no request", path)
	return sockTraceRequest{}
}

// TestSocketHTTPDocExample1Wire runs Dovecot's documentation example 1
// verbatim for the message of the first recorded request and compares what
// reaches the wire with what real Dovecot + LuaSocket sent: same request
// line, same header set (names as written, values), same body bytes.
func TestSocketHTTPDocExample1Wire(t *testing.T) {
	want := sockFirstTraceRequest(t, sockDoc1Trace)
	script, err := os.ReadFile(sockDocExample1)
	if err != nil {
		t.Skipf("shared spec not available (%v)", err)
	}
	// The message fields are in the recorded body.
	fields := map[string]string{}
	for _, kv := range strings.Split(want.Body, "&") {
		k, v, _ := strings.Cut(kv, "=")
		fields[k] = urlUnescape(v)
	}

	capture := newSockCapture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l := sockNewState(sockEnv(ctx))
	l.PushString(capture.url() + want.Path)
	l.SetGlobal("PUSH_URL")
	l.PushString(fields["user"])
	l.SetGlobal("USERNAME")
	for _, k := range []string{"from", "to", "subject", "snippet"} {
		l.PushString(fields[k])
		l.SetGlobal("MSG_" + strings.ToUpper(k))
	}
	fakes := `
errors = {}
dovecot = {i_error = function(s) errors[#errors + 1] = s end}
user = {username = USERNAME, plugin_getenv = function(self, name)
  assert(name == "push_lua_url")
  return PUSH_URL
end}
`
	if err := lua.DoString(l, fakes); err != nil {
		t.Fatal(err)
	}
	if err := lua.LoadBuffer(l, string(script), "@doc_example1.lua", "t"); err != nil {
		msg, _ := l.ToString(-1)
		t.Fatal(msg)
	}
	if msg, ok := sockCall(l, 0, 0); !ok {
		t.Fatal(msg)
	}
	run := `
local ctx = dovecot_lua_notify_begin_txn(user)
dovecot_lua_notify_event_message_new(ctx, {from = MSG_FROM, to = MSG_TO, subject = MSG_SUBJECT, snippet = MSG_SNIPPET})
dovecot_lua_notify_end_txn(ctx, true)
assert(#errors == 0, errors[1])
`
	if err := lua.LoadBuffer(l, run, "=run", "t"); err != nil {
		t.Fatal(err)
	}
	if msg, ok := sockCall(l, 0, 0); !ok {
		t.Fatal(msg)
	}

	got := capture.next(t)
	if wantLine := want.Method + " " + want.Path + " HTTP/1.1"; got.line != wantLine {
		t.Errorf("request line %q; want %q", got.line, wantLine)
	}
	if got.body != want.Body {
		t.Errorf("body:\n%q\nwant\n%q", got.body, want.Body)
	}
	wantHeaders := slices.Clone(want.Headers)
	for i, h := range wantHeaders {
		if h[0] == "Host" {
			wantHeaders[i][1] = capture.ln.Addr().String()
		}
	}
	if g, w := sortedHeaders(got.headers), sortedHeaders(wantHeaders); !slices.Equal(g, w) {
		t.Errorf("headers:\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
}

// sockWireCases are requests made both by real LuaSocket and by pushlua;
// URL is the capture server's URL.
var sockWireCases = []struct {
	name, chunk string
}{
	{"get string form", `http.request(URL .. "/a/b?x=1&y")`},
	{"post string form", `http.request(URL .. "/post", "a=1&b=" .. url.escape("x.y-z"))`},
	{"table form with source and length", `
local body = "mailbox=INBOX&recent=1"
http.request{method = "POST", url = URL .. "/t", source = ltn12.source.string(body),
  headers = {["content-type"] = "application/x-www-form-url.escaped", ["content-length"] = tostring(#body)}}`},
	{"chunked source", `http.request{method = "PUT", url = URL .. "/c", source = ltn12.source.table({"one,", "two"})}`},
	{"custom headers keep LuaSocket's names", `
http.request{url = URL .. "/h", headers = {["X-Custom"] = "1", ["content-md5"] = "m", ETag = "e",
  ["www-authenticate"] = "w", ["User-Agent"] = "ua"}}`},
	{"basic auth and port", `http.request("http://u%31:p%32w@" .. string.sub(URL, 8) .. "/auth")`},
	{"useragent and head", `http.USERAGENT = "Test/2"; http.request{url = URL .. "/head", method = "HEAD"}`},
	{"delete", `http.request{url = URL .. "/d", method = "DELETE"}`},
	{"proxy field", `http.request{url = "http://example.invalid:81/p;x?q=1", proxy = URL}`},
	{"PROXY variable with credentials", `http.PROXY = "http://pu:pp@" .. string.sub(URL, 8); http.request("http://example.invalid:8080/")`},
}

// TestSocketHTTPWireMatchesLuaSocket sends the same requests with real
// LuaSocket 3.1.0 (lua5.4) and with pushlua and compares the request line,
// the header set (exact names) and the body.
func TestSocketHTTPWireMatchesLuaSocket(t *testing.T) {
	lua54 := sockRealLua(t)
	for _, tc := range sockWireCases {
		t.Run(tc.name, func(t *testing.T) {
			prologue := `local http = require("socket.http"); local url = require("socket.url"); local ltn12 = require("ltn12")` + "\n"

			real := newSockCapture(t)
			cmd := exec.Command(lua54, "-")
			cmd.Stdin = strings.NewReader("URL = " + sockLuaQuote(real.url()) + "\n" + prologue + tc.chunk)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("lua5.4: %v\n%s", err, out)
			}
			want := real.next(t)

			ours := newSockCapture(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			l := sockNewState(sockEnv(ctx))
			l.PushString(ours.url())
			l.SetGlobal("URL")
			if err := lua.LoadBuffer(l, prologue+tc.chunk, "=case", "t"); err != nil {
				msg, _ := l.ToString(-1)
				t.Fatal(msg)
			}
			if msg, ok := sockCall(l, 0, 0); !ok {
				t.Fatal(msg)
			}
			got := ours.next(t)

			if got.line != want.line {
				t.Errorf("request line %q; want %q", got.line, want.line)
			}
			if got.body != want.body || got.chunked != want.chunked {
				t.Errorf("body %q (chunked %v); want %q (chunked %v)", got.body, got.chunked, want.body, want.chunked)
			}
			norm := func(h [][2]string, host string) []string {
				var out [][2]string
				for _, f := range h {
					if f[0] == "Host" {
						f[1] = strings.Replace(f[1], host, "HOST", 1)
					}
					out = append(out, f)
				}
				return sortedHeaders(out)
			}
			g := norm(got.headers, ours.ln.Addr().String())
			w := norm(want.headers, real.ln.Addr().String())
			if !slices.Equal(g, w) {
				t.Errorf("headers:\n%s\nwant (LuaSocket)\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
			}
		})
	}
}
