package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pushlua/pushlua/internal/txn"
)

func TestConformanceParseArchive(t *testing.T) {
	data := "comment\nline 2\n-- a.lua --\nx = 1\n-- empty --\n-- last --\nno newline"
	a := parseArchive([]byte(data))
	if a.Comment != "comment\nline 2\n" {
		t.Errorf("comment: got %q", a.Comment)
	}
	want := []archiveFile{{"a.lua", "x = 1\n", 3}, {"empty", "", 5}, {"last", "no newline\n", 6}}
	if len(a.Files) != len(want) {
		t.Fatalf("got %d files; want %d", len(a.Files), len(want))
	}
	for i, f := range a.Files {
		if f != want[i] {
			t.Errorf("file %d: got %+v; want %+v", i, f, want[i])
		}
	}
	if got := string(formatArchive(a)); got != data+"\n" {
		t.Errorf("format: got %q", got)
	}
}

func TestConformanceParseCaseErrors(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"unknown section", "-- expect_request --\nGET http://x/\n", "c.txtar:1: expect_request: unknown section"},
		{"section twice", "-- mock --\n-- mock --\n", "c.txtar:2: mock: section given twice"},
		{"mock status", "-- mock --\n# comment\nGET http://x/ fine\n", `c.txtar:3: mock: status "fine": expected a number 100-999 or refuse`},
		{"mock delay", "-- mock --\nGET http://x/ 200 delay soon\n", `c.txtar:2: mock: delay "soon"`},
		{"mock words", "-- mock --\nGET http://x/ 200 slowly\n", `c.txtar:2: mock: unknown word "slowly"`},
		{"request line", "-- expect_requests --\nPOST\n", `c.txtar:2: expect_requests: a request starts with METHOD URL, got "POST"`},
		{"header line", "-- expect_requests --\nPOST http://x/\nnot a header\n", `c.txtar:3: expect_requests: expected Header-Name: value`},
		{"body_json", "-- expect_requests --\nPOST http://x/\nbody_json {\"a\":\n", "c.txtar:2: expect_requests: body_json: unexpected EOF"},
		{"body_like", "-- expect_requests --\nPOST http://x/\nbody_like (\n", "c.txtar:2: expect_requests: body_like: error parsing regexp"},
		{"both", "-- expect_requests --\nGET http://x/\n-- no_requests --\n", "c.txtar: both expect_requests and no_requests"},
		{"now", "-- now --\nyesterday\n", `c.txtar:2: now: expected an RFC 3339 time`},
		{"store", "-- store.json --\n{\"a\": {\"mailboxes\": {}}}\n", `c.txtar:2: store.json: invalid JSON`},
		{"settings", "-- settings --\nmail_debug yes\n", `c.txtar:2: settings: expected key = value, got "mail_debug yes"`},
		{"checks in a case", "-- checks --\nallow_globals x\n", "c.txtar:1: checks: only a suite.txtar may set"},
		{"file path", "-- ../x.lua --\n", "c.txtar:1: ../x.lua: a file section must be a relative path"},
		{"error_log regexp", "-- error_log --\n/(/\n", "c.txtar:2: error_log: error parsing regexp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCase("c.txtar", "", []byte(tt.data), false)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v; want an error starting %q", err, tt.want)
			}
		})
	}
}

func TestConformanceParseCase(t *testing.T) {
	data := `What the case is about.
-- config --
plugin {
  push_notification_driver = lua:file=push.lua
}
-- push.lua --
function dovecot_lua_notify_begin_txn() return {} end
-- settings --
push_url = https://push.example.com/x
-- mock --
PUT http://ox.example.com/notify 500
* https://push.example.com/* 200 delay 3s times 2 body {"ok": true}
* http://down.example.com/* refuse
-- now --
@1732611600
-- expect_requests --
# the first request
PUT http://ox.example.com:80/notify
Content-Type: application/json*
!Expect
body_json {"a": [1,
  2]}

POST https://push.example.com/*
body
-- error_log --
Info: plain text
/Error: .*refused/
`
	c, err := parseCase("c.txtar", "/cases", []byte(data), false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Config == nil || len(c.Files) != 1 || c.Files[0].Name != "push.lua" {
		t.Fatalf("config %v, files %v", c.Config, c.Files)
	}
	if len(c.Mock) != 3 || c.Mock[0].Status != 500 || c.Mock[1].Delay.String() != "3s" || c.Mock[1].Times != 2 || c.Mock[1].Body != `{"ok": true}` || !c.Mock[2].Refuse {
		t.Errorf("mock: %+v %+v %+v", c.Mock[0], c.Mock[1], c.Mock[2])
	}
	if !c.Mock[2].matchHost("down.example.com:80") || c.Mock[2].matchHost("down.example.com:443") || c.Mock[2].matchHost("up.example.com:80") {
		t.Error("refuse rule host matching")
	}
	if c.Now == nil || c.Now.Unix() != 1732611600 {
		t.Errorf("now: %v", c.Now)
	}
	if len(c.Expect) != 2 {
		t.Fatalf("got %d expected requests", len(c.Expect))
	}
	e := c.Expect[0]
	if e.Method != "PUT" || !e.URL.match("http://ox.example.com/notify") || len(e.Headers) != 2 || !e.Headers[1].Absent {
		t.Errorf("request 1: %+v", e)
	}
	if e.Body == nil || e.Body.Kind != "body_json" || compactJSON(e.Body.JSON) != `{"a":[1,2]}` {
		t.Errorf("body_json: %+v", e.Body)
	}
	if b := c.Expect[1].Body; b == nil || b.Kind != "body" || b.Text != "" {
		t.Errorf("empty body: %+v", b)
	}
	if len(c.ErrorLog) != 2 || c.ErrorLog[1].RE == nil || !c.ErrorLog[1].match("x: Error: connect refused") {
		t.Errorf("error_log: %+v", c.ErrorLog)
	}
}

func TestConformanceCompareRequests(t *testing.T) {
	parse := func(s string) []*expectedRequest {
		c, err := parseCase("c", "", []byte("-- expect_requests --\n"+s), false)
		if err != nil {
			t.Fatal(err)
		}
		return c.Expect
	}
	req := func(method, url, ct, body string) request {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		return request{Method: method, URL: url, Header: h, Body: []byte(body)}
	}
	exp := parse("PUT http://ox/*\nContent-Type: application/json*\nbody_json {\"user\": \"a\", \"uid\": 1}\n\nPOST http://b/\nbody x\n")
	tests := []struct {
		name string
		act  []request
		want string
	}{
		{"match", []request{req("PUT", "http://ox/n", "application/json; charset=utf-8", `{"uid":1,"user":"a"}`), req("POST", "http://b/", "", "x")}, ""},
		{"json field", []request{req("PUT", "http://ox/n", "application/json", `{"uid":2,"user":"a"}`), req("POST", "http://b/", "", "x")},
			"--- expected\n+++ actual\n@@ -1,7 +1,7 @@\n PUT http://ox/*\n Content-Type: application/json*\n body_json {\n-  \"uid\": 1,\n+  \"uid\": 2,\n   \"user\": \"a\"\n }\n"},
		{"header", []request{req("PUT", "http://ox/n", "text/plain", `{"uid":1,"user":"a"}`), req("POST", "http://b/", "", "x")},
			"-Content-Type: application/json*\n+Content-Type: text/plain\n"},
		{"missing", []request{req("PUT", "http://ox/n", "application/json", `{"uid":1,"user":"a"}`)},
			"expected 2 request(s), got 1\n"},
		{"extra", []request{req("PUT", "http://ox/n", "application/json", `{"uid":1,"user":"a"}`), req("POST", "http://b/", "", "x"), req("GET", "http://c/", "", "")},
			"+\n+GET http://c/"},
		{"method", []request{req("GET", "http://ox/n", "application/json", `{"uid":1,"user":"a"}`), req("POST", "http://b/", "", "x")},
			"-PUT http://ox/*\n+GET http://ox/n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := compareRequests(exp, tt.act)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("got\n%s\nwant it to contain\n%s", got, tt.want)
			}
		})
	}
	if got := compareRequests(nil, []request{req("GET", "http://c/", "", "")}); !strings.Contains(got, "expected 0 request(s), got 1") || !strings.Contains(got, "+GET http://c/") {
		t.Errorf("no_requests: got\n%s", got)
	}
}

func TestConformanceCompareLog(t *testing.T) {
	pats := func(lines ...string) []*logPattern {
		var out []*logPattern
		for _, l := range lines {
			p, err := parseLogPattern(l)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}
	log := []string{"a: Debug: one", "a: Info: two", "a: Error: three"}
	if d := compareLog(pats("one", "/Error: t.*e$/"), log); d != "" {
		t.Errorf("in order: got\n%s", d)
	}
	if d := compareLog(pats("three", "one"), log); d != " a: Debug: one\n a: Info: two\n a: Error: three\n-one" {
		t.Errorf("out of order: got\n%s", d)
	}
	if d := compareLog(pats("one", "four", "three"), log); d != " a: Debug: one\n a: Info: two\n-four\n a: Error: three" {
		t.Errorf("missing: got\n%s", d)
	}
}

func TestConformanceUnifiedDiff(t *testing.T) {
	if d := unifiedDiff("a", "b", []string{"x"}, []string{"x"}); d != "" {
		t.Errorf("equal: %q", d)
	}
	want := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}
	got := append([]string(nil), want...)
	got[1], got[8] = "two", "nine"
	d := unifiedDiff("want", "got", want, got)
	exp := "--- want\n+++ got\n@@ -1,10 +1,10 @@\n 1\n-2\n+two\n 3\n 4\n 5\n 6\n 7\n 8\n-9\n+nine\n 10"
	if d != exp {
		t.Errorf("got\n%s\nwant\n%s", d, exp)
	}
	long := make([]string, 30)
	for i := range long {
		long[i] = string(rune('a' + i%26))
	}
	changed := append([]string(nil), long...)
	changed[2], changed[25] = "X", "Y"
	if d := unifiedDiff("w", "g", long, changed); strings.Count(d, "@@ -") != 2 || !strings.Contains(d, "@@ -1,6 +1,6 @@") || !strings.Contains(d, "@@ -23,7 +23,7 @@") {
		t.Errorf("two hunks: got\n%s", d)
	}
	if d := unifiedDiff("w", "g", []string{"a"}, nil); d != "--- w\n+++ g\n@@ -1 +0,0 @@\n-a" {
		t.Errorf("deleted: got %q", d)
	}
}

// The corpus covers what the issue asks for.
func TestConformanceCorpus(t *testing.T) {
	items, err := loadCorpus()
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]bool{}
	var rollbacks, emptyFlagsClear, noSubject, snippet200, folded, huge, rename int
	for _, it := range items {
		if it.Desc == "" {
			t.Errorf("%s: no description", it.Name)
		}
		for _, tx := range it.Txns {
			if !tx.Success {
				rollbacks++
			}
			for _, e := range tx.Events {
				events[e.Info.Name] = true
				switch {
				case e.Info.Name == "FlagsClear" && e.Flags == 0 && e.FlagsOld == 0 && len(e.Keywords) == 0 && len(e.KeywordsOld) == 0:
					emptyFlagsClear++
				case e.Info.Name == "MessageNew" && e.Subject == nil && e.MessageID == nil:
					noSubject++
				case e.Snippet != nil && len([]rune(*e.Snippet)) == 200:
					snippet200++
				case strings.Contains(e.From, "\n "):
					folded++
				case e.UIDValidity == 4294967295:
					huge++
				case e.Info.Name == "MailboxRename" && e.MailboxOld != "":
					rename++
				}
			}
		}
	}
	for _, ev := range txn.Events {
		if !events[ev.Name] {
			t.Errorf("no %s in the corpus", ev.Name)
		}
	}
	for name, n := range map[string]int{"rollback": rollbacks, "empty FlagsClear": emptyFlagsClear, "MessageNew without subject": noSubject,
		"200-character snippet": snippet200, "folded header": folded, "huge uid": huge, "rename": rename} {
		if n == 0 {
			t.Errorf("no %s in the corpus", name)
		}
	}
	for _, it := range items {
		if strings.HasPrefix(it.Name, "MOVE") && len(it.Txns) != 2 {
			t.Errorf("MOVE: %d transactions; want 2", len(it.Txns))
		}
	}
}

func TestConformanceReloadDetected(t *testing.T) {
	dir := t.TempDir()
	script := writeFile(t, dir, "reload.lua", `-- remembers in a file that it was loaded
local marker = "`+filepath.Join(dir, "loaded")+`"
local loads = 1
local f = io.open(marker, "r")
if f then
  loads = 2
  f:close()
end
f = io.open(marker, "w")
f:close()
function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_end_txn(ctx, success) end
function dovecot_lua_notify_event_mailbox_create(ctx, event)
  dovecot.i_info("load " .. loads .. ": " .. event.mailbox)
end
`)
	rep, err := Run(context.Background(), Options{Script: script, RunRegexp: "/reload$"})
	if err != nil {
		t.Fatal(err)
	}
	got := find(t, rep, "reload")
	if got.Status != Fail || !strings.Contains(got.Message, "-pushlua(alice@example.com)<corpus-1>: Info: load 1: INBOX\n+pushlua(alice@example.com)<corpus-1>: Info: load 2: INBOX") {
		t.Errorf("got %s:\n%s", got.Status, got.Message)
	}
}

func TestConformanceFormats(t *testing.T) {
	rep := &Report{Suites: []*Suite{{Name: "s", Tests: []*Test{
		{Name: "a", Status: Pass},
		{Name: "b # odd", Status: Fail, Message: "line 1\nline 2", File: "b.txtar"},
		{Name: "c", Status: Skip, Message: "why"},
	}}}}
	var b strings.Builder
	if err := rep.WriteReport(&b, "tap"); err != nil {
		t.Fatal(err)
	}
	want := "TAP version 13\n1..3\nok 1 - s/a\nnot ok 2 - s/b \\# odd\n  ---\n  message: |-\n    line 1\n    line 2\n  severity: fail\n  file: \"b.txtar\"\n  ...\nok 3 - s/c # SKIP why\n# 1 passed, 1 failed, 1 skipped\n"
	if b.String() != want {
		t.Errorf("tap: got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := rep.WriteReport(&b, "text"); err != nil {
		t.Fatal(err)
	}
	if want := "=== s\nok    s/a\nFAIL  s/b # odd\n      line 1\n      line 2\nSKIP  s/c: why\n1 passed, 1 failed, 1 skipped\n"; b.String() != want {
		t.Errorf("text: got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := rep.WriteReport(&b, "json"); err != nil {
		t.Fatal(err)
	}
	var j jsonReport
	if err := json.Unmarshal([]byte(b.String()), &j); err != nil || j.Passed != 1 || j.Failed != 1 || j.Skipped != 1 || j.Suites[0].Tests[1].Message != "line 1\nline 2" {
		t.Errorf("json: %v %+v", err, j)
	}
	b.Reset()
	rep.Suites[0].Tests[1].Message = "odd \x01 bytes \xff and ]]> in a diff"
	rep.Suites[0].Tests[1].Log = "log \x02 line"
	if err := rep.WriteReport(&b, "junit"); err != nil {
		t.Fatal(err)
	}
	var x struct {
		Suites []struct {
			Cases []struct {
				Failure *struct {
					Text string `xml:",chardata"`
				} `xml:"failure"`
				Out string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(b.String()), &x); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, b.String())
	}
	if c := x.Suites[0].Cases[1]; c.Failure == nil || c.Failure.Text != "odd \uFFFD bytes \uFFFD and ]]> in a diff" || c.Out != "log \uFFFD line" {
		t.Errorf("junit texts: %+v", c)
	}
	if err := rep.WriteReport(&b, "yaml"); err == nil {
		t.Error("yaml: no error")
	}
}

func TestConformanceOptionErrors(t *testing.T) {
	for _, o := range []Options{{}, {Config: "a.conf", Script: "a.lua"}, {Bundled: true, RunRegexp: "("}} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if _, err := Run(context.Background(), Options{Cases: []string{filepath.Join(t.TempDir(), "absent")}}); !os.IsNotExist(err) {
		t.Errorf("absent case: got %v", err)
	}
}

// formatArchive is the inverse of parseArchive.
func formatArchive(a *archive) []byte {
	var b bytes.Buffer
	b.WriteString(a.Comment)
	for _, f := range a.Files {
		b.WriteString("-- " + f.Name + " --\n")
		b.WriteString(f.Data)
	}
	return b.Bytes()
}

// A case fails on a driver that does not initialise, on no driver at all,
// and on a handler error, unless error_log expects it.
func TestConformanceCaseErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) { writeFile(t, dir, name, content) }
	write("init.txtar", "-- config --\nplugin {\n  push_notification_driver = ox\n}\n-- transactions.jsonl --\n{\"user\": \"a\"}\n")
	write("init_expected.txtar", "-- config --\nplugin {\n  push_notification_driver = ox\n}\n-- error_log --\nError: ox: Driver requires the url parameter\n")
	write("none.txtar", "-- config --\nplugin {\n}\n-- no_requests --\n")
	write("handler.txtar", "-- config --\nplugin {\n  push_notification_driver = lua:file=s.lua\n}\n-- s.lua --\n"+
		"function dovecot_lua_notify_begin_txn() return {} end\nfunction dovecot_lua_notify_end_txn() error(\"boom\") end\n"+
		"function dovecot_lua_notify_event_mailbox_create() end\n-- transactions.jsonl --\n{\"user\": \"a\", \"events\": [{\"name\": \"MailboxCreate\", \"mailbox\": \"X\"}]}\n")
	rep, err := Run(context.Background(), Options{Cases: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, s := range rep.Suites {
		for _, tt := range s.Tests {
			base := filepath.Base(tt.Name)
			switch base {
			case "init_expected":
				if tt.Status != Pass {
					t.Errorf("%s: %s\n%s", base, tt.Status, tt.Message)
				}
			case "init", "none", "handler":
				seen++
				want := map[string]string{"init": "Error: ox: Driver requires the url parameter", "none": "no push notification driver configured",
					"handler": "s.lua:2: boom"}[base]
				if tt.Status != Fail || !strings.Contains(tt.Message, want) {
					t.Errorf("%s: got %s; want a failure with %q:\n%s", base, tt.Status, want, tt.Message)
				}
			}
		}
	}
	if seen != 3 {
		t.Errorf("saw %d of the 3 failing cases", seen)
	}
}
