package main

import (
	"encoding/json"
	"fmt"
	"github.com/pushlua/pushlua/internal/testutil"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sharedDir is ../shared beside the repository: Dovecot's documentation
// examples are Dovecot's code, read from there and never copied.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("../../../shared")
	if _, err := os.Stat(filepath.Join(dir, "spec", "examples", "doc_example1.lua")); err != nil {
		t.Skipf("../shared/spec/examples is absent (%v): the documentation examples are read from there, never copied", err)
	}
	return dir
}

func headerSet(h [][2]string) string {
	var out []string
	for _, kv := range h {
		v := kv[1]
		switch kv[0] {
		case "Host":
			v = "127.0.0.1:PORT"
		}
		out = append(out, kv[0]+": "+v)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestDocExample1 runs Dovecot's documentation example 1 verbatim under
// `pushlua run` and compares its requests with the ones the same script
// sent from a real Dovecot 2.3.19 (../shared/spec/traces/doc1-requests.jsonl):
// method, path, header set and body.
func TestDocExample1(t *testing.T) {
	shared := sharedDir(t)
	data, err := os.ReadFile(filepath.Join(shared, "spec", "traces", "doc1-requests.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var want []testutil.Request
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r struct {
			Marker  any
			Method  string
			Path    string
			Headers [][2]string
			Body    string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Marker == nil {
			want = append(want, testutil.Request{Method: r.Method, Target: r.Path, Headers: r.Headers, Body: r.Body})
		}
	}
	if len(want) < 5 {
		t.Fatalf("got %d recorded requests", len(want))
	}
	// The deliveries behind the recorded requests: the event fields the
	// script reads, taken from each recorded body.
	var input strings.Builder
	for i, w := range want {
		q, err := url.ParseQuery(w.Body)
		if err != nil {
			t.Fatal(err)
		}
		ev := map[string]any{"name": "MessageNew", "mailbox": "INBOX", "uid": i + 1,
			"from": q.Get("from"), "to": q.Get("to"), "snippet": q.Get("snippet")}
		if s := q.Get("subject"); s != "" {
			ev["subject"] = s
		}
		line, _ := json.Marshal(map[string]any{"user": q.Get("user"), "events": []any{ev}})
		input.Write(line)
		input.WriteByte('\n')
	}
	srv := testutil.NewCaptureServer(t, 200, 0)
	dir := writeFiles(t, map[string]string{"p.conf": fmt.Sprintf(
		"plugin {\n  push_notification_driver = lua:file=%s\n  push_lua_url = http://%s/doc1/notify\n}\n",
		filepath.Join(shared, "spec", "examples", "doc_example1.lua"), srv.Addr())})
	r := pushlua(t, dir, input.String(), "run", "-c", "p.conf", "-j", "1")
	if r.code != 0 || strings.Contains(r.stderr, "Error:") {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	got := srv.Requests()
	if len(got) != len(want) {
		t.Fatalf("got %d requests; want %d", len(got), len(want))
	}
	// Transactions of different users may run in any order; match by body.
	byBody := map[string]testutil.Request{}
	for _, g := range got {
		byBody[g.Body] = g
	}
	for _, w := range want {
		g, ok := byBody[w.Body]
		if !ok {
			t.Errorf("no request with body %q", w.Body)
			continue
		}
		if g.Method != w.Method || g.Target != w.Target {
			t.Errorf("got %s %s; want %s %s", g.Method, g.Target, w.Method, w.Target)
		}
		if gs, ws := headerSet(g.Headers), headerSet(w.Headers); gs != ws {
			t.Errorf("header set:\ngot\n%s\nwant\n%s", gs, ws)
		}
	}

	// 204 is a remote error for this script (c/100 ~= 2), a refused
	// connection is reported with LuaSocket's text.
	srv204 := testutil.NewCaptureServer(t, 204, 0)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := ln.Addr().String()
	ln.Close()
	for _, tt := range []struct{ addr, want string }{
		{srv204.Addr(), "Error: lua-push: Remote error 204 handling push notication"},
		{refused, "Error: lua-push: connection refused"},
	} {
		dir := writeFiles(t, map[string]string{"p.conf": fmt.Sprintf(
			"plugin {\n  push_notification_driver = lua:file=%s\n  push_lua_url = http://%s/doc1/notify\n}\n",
			filepath.Join(shared, "spec", "examples", "doc_example1.lua"), tt.addr)})
		r := pushlua(t, dir, `{"user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`, "run", "-c", "p.conf")
		if !strings.Contains(r.stderr, tt.want) {
			t.Errorf("want %q in:\n%s", tt.want, r.stderr)
		}
	}
}

// TestDocExample2 runs documentation example 2 verbatim: one POST per
// message and one per mailbox status, as FINDINGS §6 recorded them (numbers
// print as 1 where Dovecot on Lua 5.4 prints 1.0), the log lines, and the
// script's own crash when the endpoint is down.
func TestDocExample2(t *testing.T) {
	shared := sharedDir(t)
	srv := testutil.NewCaptureServer(t, 200, 0)
	conf := func(addr string) string {
		return fmt.Sprintf("mail_debug = yes\nplugin {\n  push_notification_driver = lua:file=%s\n  push_lua_url = http://%s/doc2/notify\n}\n",
			filepath.Join(shared, "spec", "examples", "doc_example2.lua"), addr)
	}
	txn := `{"user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "from": "Sender One <sender1@example.org>", "subject": "Plain hello"}], "status": {"INBOX": {"messages": 1, "recent": 1, "unseen": 1, "uidnext": 2, "uidvalidity": 1795978712}}}`
	dir := writeFiles(t, map[string]string{"p.conf": conf(srv.Addr())})
	r := pushlua(t, dir, txn, "run", "-c", "p.conf")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	got := srv.Requests()
	if len(got) != 2 {
		t.Fatalf("got %d requests; want 2:\n%s", len(got), r.stderr)
	}
	wantBodies := []string{
		"mailbox=INBOX&from=Sender%20One%20%3csender1%40example%2eorg%3e&subject=Plain%20hello",
		"mailbox=INBOX&recent=1&unseen=1&messages=1",
	}
	for i, g := range got {
		if g.Method != "POST" || g.Target != "/doc2/notify" || g.Body != wantBodies[i] {
			t.Errorf("request %d: got %s %s %q; want POST /doc2/notify %q", i, g.Method, g.Target, g.Body, wantBodies[i])
		}
		wantHeaders := fmt.Sprintf("Connection: close, TE\nContent-Length: %d\nContent-Type: application/x-www-form-url.escaped\nHost: 127.0.0.1:PORT\nTE: trailers\nUser-Agent: LuaSocket 3.0.0", len(wantBodies[i]))
		if hs := headerSet(g.Headers); hs != wantHeaders {
			t.Errorf("request %d headers:\ngot\n%s\nwant\n%s", i, hs, wantHeaders)
		}
	}
	for _, want := range []string{"Info: lua: Mail notify status 200", "Info: lua: Mailbox notify status 200",
		"Debug: lua: http://" + srv.Addr() + "/doc2/notify - sending mailbox=INBOX&recent=1&unseen=1&messages=1"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("want %q in:\n%s", want, r.stderr)
		}
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := ln.Addr().String()
	ln.Close()
	dir = writeFiles(t, map[string]string{"p.conf": conf(down)})
	r = pushlua(t, dir, txn, "run", "-c", "p.conf")
	if want := "doc_example2.lua:40: bad argument #2 to 'add_int' (number expected, got string)"; !strings.Contains(r.stderr, "Error: lua: lua_pcall(dovecot_lua_notify_end_txn, 2, 0) failed: ") || !strings.Contains(r.stderr, want) {
		t.Errorf("want the script's own failure %q in:\n%s", want, r.stderr)
	}
}
