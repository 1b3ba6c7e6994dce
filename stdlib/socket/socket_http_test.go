package socket

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/httpx"
)

// TestSocketHTTPDoesNotBlockOthers runs a slow request in one state and
// fast ones in others at the same time: the fast ones finish first.
func TestSocketHTTPDoesNotBlockOthers(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	slowDone := make(chan string, 1)
	go func() {
		got, _ := sockEval(t, sockEnv(ctx), `return require("socket.http").request("`+srv.URL+`/slow")`)
		slowDone <- got
	}()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, ok := sockEval(t, sockEnv(ctx), `local b, c = require("socket.http").request("`+srv.URL+`/fast") return b, c`)
			if !ok || got != "ok\t200" {
				t.Errorf("fast request %d: got %q", i, got)
			}
		}()
	}
	wg.Wait()
	select {
	case got := <-slowDone:
		t.Fatalf("slow request finished before the fast ones: %q", got)
	default:
	}
	release <- struct{}{}
	if got := <-slowDone; !strings.HasPrefix(got, "ok") {
		t.Errorf("slow request: got %q", got)
	}
}

// TestSocketHTTPHandlerDeadline: the context of the handler call bounds the
// request whatever http.TIMEOUT says.
func TestSocketHTTPHandlerDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	got, ok := sockEval(t, sockEnv(ctx), `return require("socket.http").request("`+srv.URL+`/")`)
	if !ok || got != "nil\ttimeout" {
		t.Errorf("got %q (ok %v); want nil, timeout", got, ok)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
}

func TestSocketSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if got, ok := sockEval(t, sockEnv(ctx), `require("socket").sleep(30) return "woke"`); !ok || got != "woke" {
		t.Errorf("got %q (ok %v)", got, ok)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("sleep ignored the context: %v", el)
	}
}

func TestSocketHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto+" "+r.Header.Get("Connection")+" "+r.Header.Get("Te"))
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	env := sockEnv(context.Background())
	env.Client = httpx.New(httpx.Options{TLSConfig: &tls.Config{RootCAs: pool}})
	got, ok := sockEval(t, env, `local b, c = require("socket.http").request("`+srv.URL+`/") return b, c`)
	if want := "HTTP/1.1 close, TE trailers\t200"; !ok || got != want {
		t.Errorf("got %q (ok %v); want %q", got, ok, want)
	}
}

// TestSocketURLAgainstLuaSocket compares url.parse, url.build, url.absolute
// and url.escape with real LuaSocket 3.1.0 on many inputs.
func TestSocketURLAgainstLuaSocket(t *testing.T) {
	lua54 := sockRealLua(t)
	inputs := []string{
		"http://www.example.com/", "https://u:p@h:8443/a/b/c;p?q=1#f", "http://[::1]:80/x", "http://[v6]", "ftp://h",
		"//h/p", "/p;a;b?c?d#e#f", "p", "", "a:b:c", "1http://x", "http://u@h@i/p", "http://h:1:2/", "http://u:a:b@h/",
		"http://h/../a/./b/../../c", "x/y/../../../z", "/a//b/./c/..", "http://a/b/c/./../../g", "mailto:x@y",
		"http:", "http:/x", "http:///x", "http://h:/x", "?q", "#f", ";p", "http://h/%41%zz", "a-b+c.d:rest",
		"http://user:@h/", "http://:p@h/",
	}
	bases := []string{"http://a/b/c/d;p?q", "http://a", "https://u:p@a:1/x/y/", "/relative/base", "http://a/b/c/"}
	rels := []string{"g", "../g", "../../../../g", "//g/h", "/g/./h/../i", "?y", "#s", ";x", "", "g/", ".", "..", "g:h",
		"./", "../..", "a/b/../../..", "//g", "http:g", "./g/.", "g?y/./x", "g#s/../x"}
	var chunk strings.Builder
	chunk.WriteString(`local url = require("socket.url")
local out = {}
local function show(p)
  if not p then return "nil" end
  local r = {}
  for _, k in ipairs{"scheme","authority","userinfo","user","password","host","port","path","params","query","fragment"} do
    if p[k] then r[#r + 1] = k .. "=" .. p[k] end
  end
  return table.concat(r, " ")
end
`)
	for _, in := range inputs {
		q := sockLuaQuote(in)
		chunk.WriteString("out[#out+1] = 'parse ' .. " + q + " .. ' -> ' .. show(url.parse(" + q + "))\n")
		chunk.WriteString("out[#out+1] = 'build ' .. " + q + " .. ' -> ' .. (url.parse(" + q + ") and url.build(url.parse(" + q + ")) or 'nil')\n")
		chunk.WriteString("out[#out+1] = 'escape ' .. " + q + " .. ' -> ' .. url.escape(" + q + ") .. ' ' .. url.unescape(" + q + ")\n")
		chunk.WriteString("do local p = url.parse_path(" + q + "); out[#out+1] = 'path ' .. " + q + " .. ' -> ' .. table.concat(p, '|') .. ' ' .. tostring(p.is_absolute) .. tostring(p.is_directory) .. ' ' .. url.build_path(p) .. ' ' .. url.build_path(p, true) end\n")
	}
	for _, b := range append(bases, inputs[:10]...) {
		for _, r := range rels {
			chunk.WriteString("out[#out+1] = 'absolute ' .. " + sockLuaQuote(b) + " .. ' ' .. " + sockLuaQuote(r) +
				" .. ' -> ' .. url.absolute(" + sockLuaQuote(b) + ", " + sockLuaQuote(r) + ")\n")
		}
	}
	body := chunk.String()
	cmd := exec.Command(lua54, "-e", body+"io.write(table.concat(out, '\\n'))\n")
	wantOut, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lua5.4: %v\n%s", err, wantOut)
	}
	got, ok := sockEval(t, sockEnv(context.Background()), body+"return table.concat(out, '\\n')\n")
	if !ok {
		t.Fatal(got)
	}
	wantLines := strings.Split(string(wantOut), "\n")
	gotLines := strings.Split(got, "\n")
	if len(wantLines) != len(gotLines) {
		t.Fatalf("got %d lines; want %d", len(gotLines), len(wantLines))
	}
	for i := range wantLines {
		if gotLines[i] != wantLines[i] {
			t.Errorf("got  %s\nwant %s", gotLines[i], wantLines[i])
		}
	}
}
