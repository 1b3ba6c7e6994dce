package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The conformance suite, run through the real binary: each deliberately
// broken script is caught with a message that points at its line.

const okTxn = `function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_end_txn(ctx, success) end
`

func TestConformanceSyntaxError(t *testing.T) {
	dir := writeFiles(t, map[string]string{"broken.lua": okTxn + "function dovecot_lua_notify_event_message_new(ctx, e)\n  local x = = e.uid\nend\n"})
	r := pushlua(t, dir, "", "conformance", "broken.lua")
	if r.code != 1 {
		t.Errorf("exit %d; want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"FAIL  broken.lua/load\n", "broken.lua:4: ", "unexpected symbol near =",
		"SKIP  broken.lua/script_init ... reload (34 tests): the script does not load\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !regexp.MustCompile(`\n0 passed, 1 failed, 34 skipped\n$`).MatchString(r.stdout) {
		t.Errorf("no summary line at the end:\n%s", r.stdout)
	}
}

func TestConformanceFlagsClearEmptyTables(t *testing.T) {
	dir := writeFiles(t, map[string]string{"flags.lua": okTxn + `function dovecot_lua_notify_event_flags_clear(ctx, event)
  -- assumes something was cleared: Dovecot also sends empty tables
  local flag = event.flags[1]
  dovecot.i_debug("cleared " .. string.sub(flag, 2))
end
`})
	r := pushlua(t, dir, "", "conformance", "flags.lua")
	if r.code != 1 {
		t.Errorf("exit %d; want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"FAIL  flags.lua/corpus/FlagsClear with empty tables\n",
		"flags.lua:6: bad argument #1",
		"in dovecot_lua_notify_event_flags_clear, transaction corpus-",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "FAIL  flags.lua/corpus/FlagsClear alone") {
		t.Errorf("FlagsClear with a flag failed:\n%s", r.stdout)
	}
}

func TestConformanceLeakedGlobal(t *testing.T) {
	dir := writeFiles(t, map[string]string{"leak.lua": okTxn + `function dovecot_lua_notify_event_message_new(ctx, event)
  last_subject = event.subject
  count = (count or 0) + 1
end
`})
	r := pushlua(t, dir, "", "conformance", "leak.lua")
	if r.code != 1 {
		t.Errorf("exit %d; want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	// count is read before it is written in a later transaction: a leak;
	// last_subject is written first every time: a warning.
	for _, want := range []string{
		"FAIL  leak.lua/globals\n",
		"warning: global last_subject (a string) is set at ", "leak.lua:4 in corpus/first delivery creates INBOX and still set after end_txn; every later transaction wrote it before reading it (make it local)\n",
		"global count (a number) is set at ", "leak.lua:5 in corpus/", "read before it is written at ", "Make them local",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "FAIL  leak.lua/corpus/") {
		t.Errorf("a leak is not a handler error:\n%s", r.stdout)
	}

	// Throwaway globals alone pass with a warning; --strict fails them.
	dir = writeFiles(t, map[string]string{"tmp.lua": okTxn + `function dovecot_lua_notify_event_message_new(ctx, event)
  reqbody = "uid=" .. event.uid
end
`})
	r = pushlua(t, dir, "", "conformance", "tmp.lua")
	if r.code != 0 || !strings.Contains(r.stdout, "ok    tmp.lua/globals\n      warning: global reqbody (a string)") {
		t.Errorf("exit %d; want 0 with a warning\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = pushlua(t, dir, "", "conformance", "--strict", "tmp.lua")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  tmp.lua/globals\n") || !strings.Contains(r.stdout, "[--strict]") {
		t.Errorf("--strict: exit %d; want 1 and a failed globals check\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// pushScript POSTs "uid=<uid>" for every new message to push_url.
const pushScript = `function dovecot_lua_notify_begin_txn(user)
  return { url = user:plugin_getenv("push_url"), uids = {} }
end
function dovecot_lua_notify_event_message_new(ctx, event)
  table.insert(ctx.uids, event.uid)
end
function dovecot_lua_notify_end_txn(ctx, success)
  for _, uid in ipairs(ctx.uids) do
    local req = dovecot.http.client({}):request({ url = ctx.url, method = "POST" })
    req:add_header("Content-Type", "application/x-www-form-urlencoded")
    req:set_payload("uid=" .. uid .. "&folder=INBOX")
    req:submit()
  end
end
`

const pushCase = `A new message is POSTed as a form.
-- settings --
push_url = https://push.example.com/notify
-- transactions.jsonl --
{"user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 7, "uid_validity": 42}]}
-- expect_requests --
POST https://push.example.com/notify
Content-Type: application/x-www-form-urlencoded
body uid=7&mailbox=INBOX
`

func TestConformanceWrongBody(t *testing.T) {
	dir := writeFiles(t, map[string]string{"push.lua": pushScript, "new_mail.txtar": pushCase})
	r := pushlua(t, dir, "", "conformance", "-o", "push_url=https://push.example.com/notify", "push.lua", "new_mail.txtar")
	if r.code != 1 {
		t.Errorf("exit %d; want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := `FAIL  push.lua/new_mail
      the requests differ (- expected, + actual):
      --- expected
      +++ actual
      @@ -1,3 +1,3 @@
       POST https://push.example.com/notify
       Content-Type: application/x-www-form-urlencoded
      -body uid=7&mailbox=INBOX
      +body uid=7&folder=INBOX
`
	if !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks\n%s\ngot:\n%s", want, r.stdout)
	}
	if !strings.HasSuffix(r.stdout, "\n35 passed, 1 failed\n") {
		t.Errorf("summary: got\n%s", r.stdout[max(0, len(r.stdout)-200):])
	}

	// Fixed, the case passes and so does everything else.
	if err := os.WriteFile(filepath.Join(dir, "new_mail.txtar"), []byte(strings.Replace(pushCase, "&mailbox=", "&folder=", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r = pushlua(t, dir, "", "conformance", "-o", "push_url=https://push.example.com/notify", "push.lua", "new_mail.txtar", "--run", "new_mail")
	if r.code != 0 || r.stdout != "=== push.lua (config: lua:file=push.lua, mail_debug = yes + -o push_url=https://push.example.com/notify)\nok    push.lua/new_mail\n1 passed, 0 failed\n" {
		t.Errorf("exit %d; stdout:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// The JUnit schema (testsuites/testsuite/testcase/failure/skipped), read
// independently of the writer.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    *int         `xml:"tests,attr"`
	Failures *int         `xml:"failures,attr"`
	Skipped  *int         `xml:"skipped,attr"`
	Errors   *int         `xml:"errors,attr"`
	Time     *string      `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     *string     `xml:"name,attr"`
	Tests    *int        `xml:"tests,attr"`
	Failures *int        `xml:"failures,attr"`
	Errors   *int        `xml:"errors,attr"`
	Skipped  *int        `xml:"skipped,attr"`
	Time     *string     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      *string `xml:"name,attr"`
	Classname *string `xml:"classname,attr"`
	Time      *string `xml:"time,attr"`
	Failure   []struct {
		Message *string `xml:"message,attr"`
		Text    string  `xml:",chardata"`
	} `xml:"failure"`
	Skipped []struct {
		Message string `xml:"message,attr"`
	} `xml:"skipped"`
	Unknown []xml.Name `xml:",any"`
}

func TestConformanceJUnit(t *testing.T) {
	dir := writeFiles(t, map[string]string{"push.lua": pushScript, "new_mail.txtar": pushCase})
	args := []string{"conformance", "--format", "junit", "-o", "push_url=https://push.example.com/notify", "push.lua", "new_mail.txtar", "--bundled"}
	if shared, _ := filepath.Abs("../../../shared"); shared != "" {
		args = append(args, "--shared", shared) // absent: those suites are skipped
	}
	r := pushlua(t, dir, "", args...)
	if r.code != 1 {
		t.Errorf("exit %d; want 1\n%s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<testsuites ") {
		t.Errorf("not an XML document:\n%.200s", r.stdout)
	}
	var doc junitSuites
	if err := xml.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("JUnit output does not parse: %v", err)
	}
	m := regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no summary on stderr:\n%s", r.stderr)
	}
	passed, _ := strconv.Atoi(m[1])
	failed, _ := strconv.Atoi(m[2])
	skipped, _ := strconv.Atoi(m[3])
	if doc.Tests == nil || doc.Failures == nil || doc.Skipped == nil || doc.Errors == nil || doc.Time == nil {
		t.Fatalf("testsuites lacks an attribute: %+v", doc)
	}
	if *doc.Tests != passed+failed+skipped || *doc.Failures != failed || *doc.Skipped != skipped || *doc.Errors != 0 {
		t.Errorf("testsuites tests=%d failures=%d skipped=%d; summary says %d passed, %d failed, %d skipped",
			*doc.Tests, *doc.Failures, *doc.Skipped, passed, failed, skipped)
	}
	if failed != 1 || len(doc.Suites) < 5 {
		t.Errorf("got %d failures in %d suites; want 1 in the script's suite plus the bundled ones", failed, len(doc.Suites))
	}
	var tests, failures, skips int
	for _, s := range doc.Suites {
		if s.Name == nil || s.Tests == nil || s.Failures == nil || s.Skipped == nil || s.Errors == nil || s.Time == nil {
			t.Fatalf("testsuite lacks an attribute: %+v", s)
		}
		var f, sk int
		for _, c := range s.Cases {
			if c.Name == nil || c.Classname == nil || c.Time == nil {
				t.Fatalf("%s: testcase lacks name, classname or time", *s.Name)
			}
			if _, err := strconv.ParseFloat(*c.Time, 64); err != nil {
				t.Errorf("%s/%s: time %q", *s.Name, *c.Name, *c.Time)
			}
			for _, u := range c.Unknown {
				if u.Local != "system-out" && u.Local != "system-err" {
					t.Errorf("%s/%s: unexpected element %s", *s.Name, *c.Name, u.Local)
				}
			}
			for _, fl := range c.Failure {
				if fl.Message == nil || fl.Text == "" {
					t.Errorf("%s/%s: failure without message or text", *s.Name, *c.Name)
				}
			}
			f += len(c.Failure)
			sk += len(c.Skipped)
		}
		if *s.Tests != len(s.Cases) || *s.Failures != f || *s.Skipped != sk {
			t.Errorf("testsuite %s: tests=%d failures=%d skipped=%d; it holds %d testcases, %d failures, %d skipped",
				*s.Name, *s.Tests, *s.Failures, *s.Skipped, len(s.Cases), f, sk)
		}
		tests, failures, skips = tests+len(s.Cases), failures+f, skips+sk
	}
	if tests != *doc.Tests || failures != *doc.Failures || skips != *doc.Skipped {
		t.Errorf("testcases: %d, %d failures, %d skipped; testsuites says %d, %d, %d", tests, failures, skips, *doc.Tests, *doc.Failures, *doc.Skipped)
	}
}

func TestConformanceTAP(t *testing.T) {
	dir := writeFiles(t, map[string]string{"push.lua": pushScript, "new_mail.txtar": pushCase})
	r := pushlua(t, dir, "", "conformance", "--format", "tap", "-o", "push_url=https://push.example.com/notify", "push.lua", "new_mail.txtar")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 1 || len(lines) < 3 || lines[0] != "TAP version 13" || lines[1] != "1..36" {
		t.Fatalf("exit %d; stdout:\n%s", r.code, r.stdout)
	}
	ok, notOK := 0, 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "ok "):
			ok++
		case strings.HasPrefix(l, "not ok "):
			notOK++
		}
	}
	if ok != 35 || notOK != 1 || !strings.Contains(r.stdout, "not ok 36 - push.lua/new_mail\n  ---\n  message: |-\n") {
		t.Errorf("got %d ok, %d not ok:\n%s", ok, notOK, r.stdout)
	}
}

// TestConformanceBundled runs the suites pushlua ships: they pass.
func TestConformanceBundled(t *testing.T) {
	dir := t.TempDir()
	args := []string{"conformance", "--bundled"}
	shared, _ := filepath.Abs("../../../shared")
	if _, err := os.Stat(filepath.Join(shared, "spec", "examples", "doc_example1.lua")); err == nil {
		args = append(args, "--shared", shared)
	} else {
		t.Logf("../shared is absent: the documentation example suites are skipped")
	}
	r := pushlua(t, dir, "", args...)
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(`\n\d+ passed, 0 failed(, \d+ skipped)?\n$`).MatchString(r.stdout) {
		t.Errorf("summary:\n%s", r.stdout)
	}
	for _, suite := range []string{"dlog", "ox", "doc_example1", "doc_example2", "forwarder"} {
		if !strings.Contains(r.stdout, "=== "+suite+" ") {
			t.Errorf("no suite %s:\n%s", suite, r.stdout)
		}
	}
}

func TestConformanceUsage(t *testing.T) {
	dir := t.TempDir()
	if r := pushlua(t, dir, "", "conformance"); r.code != 2 || !strings.Contains(r.stderr, "Usage: pushlua conformance") {
		t.Errorf("no arguments: exit %d\n%s", r.code, r.stderr)
	}
	if r := pushlua(t, dir, "", "conformance", "--format", "xml", "--bundled"); r.code != 2 {
		t.Errorf("--format xml: exit %d\n%s", r.code, r.stderr)
	}
	if r := pushlua(t, dir, "", "conformance", "nonexistent/"); r.code != 2 || !strings.Contains(r.stderr, "nonexistent") {
		t.Errorf("missing case dir: exit %d\n%s", r.code, r.stderr)
	}
	if r := pushlua(t, dir, "", "conformance", "-c", "a.conf", "b.lua"); r.code != 2 || !strings.Contains(r.stderr, "give one configuration") {
		t.Errorf("config and script: exit %d\n%s", r.code, r.stderr)
	}
	if r := pushlua(t, dir, "", "conformance", "--help"); r.code != 0 || !strings.Contains(r.stdout, "--bundled") {
		t.Errorf("--help: exit %d\n%s", r.code, r.stderr)
	}
}
