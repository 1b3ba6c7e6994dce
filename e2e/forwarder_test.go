package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/pushlua/pushlua/internal/testutil"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/txn"
	pushrt "github.com/pushlua/pushlua/runtime"
	"github.com/pushlua/pushlua/scripts"
)

const metadataKey = "/private/vendor/vendor.dovecot/http-notify"

// floatNumber matches a JSON number printed the Lua 5.4 float way ("1.0");
// the forwarder must print whole numbers as integers.
var floatNumber = regexp.MustCompile(`[:\[,]-?[0-9]+\.0[,}\]]`)

// roundTripInput is a user's session as JSON Lines transactions: every
// kind of event, the fields Dovecot sends, extra fields, odd strings. Each
// committed transaction names the status of exactly the mailboxes its
// events leave existing and the METADATA key, so that what the forwarder
// reads back from pushlua's store is the input again.
// (In Dovecot a Lua state serves one mail user session: the forwarder
// builds the user object once per username and session id.)
var roundTripInput = []string{
	`{"user": {"username": "alice@example.com", "service": "lmtp", "session_id": "s1", "home": "/home/alice", "uid": 1000, "gid": 1000, "session_create_time": 1764000000},
	  "events": [{"name": "MailboxCreate", "mailbox": "INBOX"}],
	  "status": {"INBOX": {"uidvalidity": 1795978712, "uidnext": 1, "highest_modseq": 1, "permanent_flags": 31, "flags": 31, "permanent_keywords": true, "allow_new_keywords": true, "have_guids": true, "have_save_guids": true}},
	  "metadata": {"/private/vendor/vendor.dovecot/http-notify": null}}`,
	`{"user": {"username": "alice@example.com", "service": "lmtp", "session_id": "s1:1", "home": "/home/alice", "uid": 1000, "gid": 1000, "session_create_time": 1764000001},
	  "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "uid_validity": 1795978712, "date": 1709641800, "tz": -480,
	              "from": "=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.org>", "to": "\"Test \\\"Quoted\\\" User\" <alice@example.com>, other@example.com",
	              "subject": "Grüße “World” and\n \"quotes\" \\ backslash\ttab \u0001\u001f\u007f ✓ 😀", "snippet": "Hello there, this is the body ✓ ü.",
	              "message_id": "<abc123@example.org>", "from_address": "joerg@example.org", "from_display_name": "Jörg Müller",
	              "to_address": "alice@example.com", "to_display_name": "Test \"Quoted\" User", "flags": [], "keywords": ["$Label1", "$Foo"],
	              "subject_raw": "=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "x_count": 3, "x_flag": true, "x_list": [1, 2.5, "three"], "x_obj": {"a": {"b": ["c"]}}}],
	  "status": {"INBOX": {"messages": 1, "recent": 1, "unseen": 1, "uidvalidity": 1795978712, "uidnext": 2, "first_unseen_seq": 1, "first_recent_uid": 1,
	                       "highest_modseq": 9007199254740992, "highest_pvt_modseq": 4294967296, "permanent_flags": 31, "flags": 31,
	                       "keywords": ["$Label1", "$Foo"], "permanent_keywords": true, "allow_new_keywords": true, "nonpermanent_modseqs": true,
	                       "no_modseq_tracking": true, "have_guids": true, "have_save_guids": true, "have_only_guid128": true}},
	  "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=11@3"}}`,
	`{"user": {"username": "alice@example.com", "service": "lmtp", "session_id": "s2"},
	  "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 2, "uid_validity": 1795978712, "date": 0, "tz": 0,
	              "from": "", "to": "", "from_address": "", "from_display_name": "", "to_address": "", "to_display_name": "", "flags": [], "keywords": [], "snippet": "body"}],
	  "status": {"INBOX": {"messages": 2, "recent": 2, "unseen": 2, "highest_modseq": 5, "uidvalidity": 1795978712, "uidnext": 3}},
	  "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=11@3"}}`,
	`{"user": {"username": "alice@example.com", "service": "imap", "session_id": "s3-flags", "admin": true, "anonymous": true, "autocreated": true, "nonexistent": true, "fuzzy_search": true, "dsyncing": true, "session_restored": true},
	  "events": [{"name": "FlagsClear", "mailbox": "INBOX", "uid": 1, "uid_validity": 1795978712, "flags": [], "flags_old": ["\\Recent"], "keywords": [], "keywords_old": []},
	             {"name": "FlagsSet", "mailbox": "INBOX", "uid": 1, "uid_validity": 1795978712, "flags": ["\\Seen"], "keywords": []},
	             {"name": "MessageRead", "mailbox": "INBOX", "uid": 1, "uid_validity": 1795978712},
	             {"name": "FlagsClear", "mailbox": "INBOX", "uid": 2, "uid_validity": 1795978712, "flags": ["\\Seen", "\\Answered"], "flags_old": ["\\Answered", "\\Flagged", "\\Seen", "\\Recent"], "keywords": ["$Custom"], "keywords_old": ["$Custom", "$Other"]},
	             {"name": "FlagsSet", "mailbox": "INBOX", "uid": 2, "uid_validity": 1795978712, "flags": ["\\Deleted", "\\Draft"], "keywords": ["$New"]},
	             {"name": "MessageTrash", "mailbox": "INBOX", "uid": 2, "uid_validity": 1795978712}],
	  "status": {"INBOX": {"messages": 2, "unseen": 1, "highest_modseq": 5, "uidvalidity": 1795978712, "uidnext": 3, "keywords": ["$Label1", "$Foo", "$New"]}},
	  "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=11@3"}}`,
	// rolled back: nothing is forwarded
	`{"user": {"username": "alice@example.com", "service": "imap", "session_id": "s3"}, "success": false,
	  "events": [{"name": "MessageAppend", "mailbox": "INBOX", "uid": 9}]}`,
	`{"user": {"username": "alice@example.com", "service": "imap", "session_id": "s3"},
	  "events": [{"name": "MessageExpunge", "mailbox": "INBOX", "uid": 2, "uid_validity": 1795978712}],
	  "status": {"INBOX": {"messages": 1, "highest_modseq": 5, "uidvalidity": 1795978712, "uidnext": 3}},
	  "metadata": {"/private/vendor/vendor.dovecot/http-notify": null}}`,
	`{"user": {"username": "alice@example.com", "service": "imap", "session_id": "s3"},
	  "events": [{"name": "MailboxCreate", "mailbox": "Projects/Übersicht"}],
	  "status": {"Projects/Übersicht": {"highest_modseq": 5, "uidvalidity": 1795978800, "uidnext": 1}},
	  "metadata": {"/private/vendor/vendor.dovecot/http-notify": null}}`,
	`{"user": {"username": "alice@example.com", "service": "imap", "session_id": "s3"},
	  "events": [{"name": "MailboxRename", "mailbox": "Projects/Archiv-Ä", "mailbox_old": "Projects/Übersicht"}],
	  "status": {"Projects/Archiv-Ä": {"highest_modseq": 5, "uidvalidity": 1795978800, "uidnext": 1}},
	  "metadata": {"/private/vendor/vendor.dovecot/http-notify": null}}`,
	`{"user": {"username": "alice@example.com", "service": "imap", "session_id": "s3"},
	  "events": [{"name": "MailboxSubscribe", "mailbox": "Projects/Archiv-Ä"}],
	  "status": {"Projects/Archiv-Ä": {"highest_modseq": 5, "uidvalidity": 1795978800, "uidnext": 1}},
	  "metadata": {"/private/vendor/vendor.dovecot/http-notify": null}}`,
	`{"user": {"username": "alice@example.com", "service": "imap", "session_id": "s3"},
	  "events": [{"name": "MessageAppend", "mailbox": "Projects/Archiv-Ä", "uid": 1, "uid_validity": 1795978800, "date": 1732955400, "tz": 120,
	              "from": "Appender <appender@example.org>", "to": "", "subject": "", "from_address": "appender@example.org", "from_display_name": "Appender",
	              "to_address": "", "to_display_name": "", "flags": ["\\Seen", "\\Flagged"], "keywords": ["$AppendKw"]}],
	  "status": {"Projects/Archiv-Ä": {"messages": 1, "highest_modseq": 5, "uidvalidity": 1795978800, "uidnext": 2}},
	  "metadata": {"/private/vendor/vendor.dovecot/http-notify": null}}`,
	// a mailbox deleted in the transaction has no status
	`{"user": {"username": "alice@example.com", "service": "imap", "session_id": "s3"},
	  "events": [{"name": "MailboxDelete", "mailbox": "Projects/Archiv-Ä"}],
	  "metadata": {"/private/vendor/vendor.dovecot/http-notify": null}}`,
	// a mailbox that does not exist has no status either
	`{"user": {"username": "alice@example.com", "service": "imap", "session_id": "s3"},
	  "events": [{"name": "MailboxUnsubscribe", "mailbox": "Gone"}],
	  "metadata": {"/private/vendor/vendor.dovecot/http-notify": null}}`,
	// no events: begin_txn and end_txn still ran, so it is forwarded
	`{"user": {"username": "bob@example.com", "service": "imap", "session_id": "b1"},
	  "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=22@5"}}`,
}

// TestForwarderRoundTrip runs the forwarder in pushlua's own engine (which
// implements Dovecot's Lua API, dovecot.http included) over transactions
// and checks that each committed one comes back unchanged in the POST
// body, under Dovecot 2.3's and 2.4's configuration syntax.
func TestForwarderRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
	}{
		{"2.3", `plugin {
  push_notification_driver = lua:file=forward.lua
  pushlua_url = @URL@
  pushlua_token = s3cret
  pushlua_timeout_msecs = 5000
  pushlua_status = all
}
`},
		{"2.4", `push_notification pushlua {
  driver = lua
  lua_file = forward.lua
  lua_settings {
    url = @URL@
    token = s3cret
    timeout_msecs = 5000
    max_attempts = 2
    status = all
  }
}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := startReceiver(t, "s3cret")
			eng, logs := newForwarderEngine(t, strings.ReplaceAll(tc.conf, "@URL@", recv.URL))
			var want []*txn.Txn
			for i, line := range roundTripInput {
				in, err := txn.Parse([]byte(line), nil)
				if err != nil {
					t.Fatalf("input %d: %v", i, err)
				}
				runTxn(t, eng, in)
				if in.Success {
					want = append(want, in)
				}
			}
			posts := recv.waitPosts(len(want), 5*time.Second)
			if len(posts) != len(want) {
				t.Fatalf("%d POSTs, want %d (one per committed transaction)\nlog:\n%s", len(posts), len(want), logs)
			}
			for i, p := range posts {
				checkPost(t, p, "s3cret")
				if p.Err != nil {
					continue
				}
				if floatNumber.Match(p.Body) {
					t.Errorf("POST %d prints a whole number as a float: %s", i, p.Body)
				}
				if d := diffTxn(want[i], p.Txn); d != "" {
					t.Errorf("POST %d does not round-trip: %s\nbody: %s", i, d, p.Body)
				}
			}
			if s := logs.String(); strings.Contains(s, "Error") {
				t.Errorf("errors logged:\n%s", s)
			}
		})
	}
}

// TestForwarderFailures: a non-2xx answer, an unreachable pushlua and a
// missing URL are logged as "pushlua forward: ..." and never raised.
func TestForwarderFailures(t *testing.T) {
	recv := startReceiver(t, "")
	recv.setStatus(500)
	line := `{"user": "alice@example.com", "events": [{"name": "MailboxCreate", "mailbox": "INBOX"}]}`
	in, err := txn.Parse([]byte(line), nil)
	if err != nil {
		t.Fatal(err)
	}

	eng, logs := newForwarderEngine(t, "plugin {\n  push_notification_driver = lua:file=forward.lua\n  pushlua_url = "+recv.URL+"\n}\n")
	runTxn(t, eng, in)
	if n := len(recv.Posts()); n != 1 {
		t.Fatalf("%d POSTs, want 1", n)
	}
	checkPost(t, recv.Posts()[0], "")
	wantLine(t, logs, "Error: pushlua forward: POST "+recv.URL+" failed: 500 Internal Server Error")

	// A port nothing listens on (the receiver's, once closed).
	deadURL := "http://" + freeAddr(t) + TransactionsPath
	eng, logs = newForwarderEngine(t, "plugin {\n  push_notification_driver = lua:file=forward.lua\n  pushlua_url = "+
		strings.Replace(deadURL, "http://", "http://user:pw@", 1)+"\n  pushlua_timeout_msecs = 500\n}\n")
	runTxn(t, eng, in)
	wantLine(t, logs, "Error: pushlua forward: POST "+deadURL+" failed: 900")
	if strings.Contains(logs.String(), "pw@") {
		t.Errorf("the URL's password is logged:\n%s", logs)
	}

	eng, logs = newForwarderEngine(t, "plugin {\n  push_notification_driver = lua:file=forward.lua\n}\n")
	runTxn(t, eng, in)
	runTxn(t, eng, in)
	wantLine(t, logs, "Error: pushlua forward: neither pushlua_spool nor pushlua_url is set")
	if n := strings.Count(logs.String(), "nor pushlua_url is set"); n != 1 {
		t.Errorf("missing URL logged %d times, want once per state:\n%s", n, logs)
	}
	for _, l := range []*syncBuffer{logs} {
		if strings.Contains(l.String(), "lua_pcall") {
			t.Errorf("the forwarder raised:\n%s", l)
		}
	}
}

// TestForwarderLua54 runs the forwarder in the reference Lua 5.4 (the
// interpreter Dovecot 2.3 on Debian links) against a mock of Dovecot's API
// that pushes every number as a float: whole numbers must still be printed
// as integers, control characters escaped, other bytes passed through.
func TestForwarderLua54(t *testing.T) {
	lua, script := lua54Forwarder(t)
	for _, tc := range []struct {
		mode, url, auth, settings string
	}{
		{"23", "http://127.0.0.1:1/v1/transactions", "Bearer t0k",
			"connect_timeout_msecs=1500,max_attempts=1,request_absolute_timeout_msecs=1500,request_timeout_msecs=1500"},
		{"24", "http://127.0.0.1:2/v1/transactions", "Bearer t24",
			"connect_timeout=350ms,request_absolute_timeout=700ms,request_max_attempts=2,request_timeout=350ms"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			cmd := exec.Command(lua, "testdata/mock_dovecot.lua", script, tc.mode)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("lua5.4: %v\n%s", err, stderr.String())
			}
			if !strings.HasSuffix(stdout.String(), "DONE\n") {
				t.Fatalf("the mock did not finish:\n%s\n%s", stdout.String(), stderr.String())
			}
			var bodies [][]byte
			sc := bufio.NewScanner(&stdout)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				line := sc.Text()
				if !strings.HasPrefix(line, "REQUEST ") {
					continue
				}
				want := "REQUEST POST " + tc.url + " application/json " + tc.auth + " " + tc.settings
				if line != want {
					t.Errorf("request line\n %s\nwant\n %s", line, want)
				}
				if !sc.Scan() {
					t.Fatal("request without a body")
				}
				bodies = append(bodies, append([]byte(nil), sc.Bytes()...))
			}
			if len(bodies) != 4 {
				t.Fatalf("%d requests, want 4 (the rolled-back transaction is not sent):\n%s", len(bodies), stdout.String())
			}
			var got []*txn.Txn
			for i, b := range bodies {
				if floatNumber.Match(b) {
					t.Errorf("request %d prints a whole number as a float: %s", i, b)
				}
				x, err := txn.Parse(b, nil)
				if err != nil {
					t.Fatalf("request %d: pushlua rejects it: %v\n%s", i, err, b)
				}
				got = append(got, x)
			}
			if !bytes.Contains(bodies[0], []byte(`raw:`+"\xff\xfe"+`"`)) {
				t.Errorf("bytes >= 0x80 not passed through: %q", bodies[0])
			}
			if !bytes.Contains(bodies[0], []byte(`\\ \u0000\u0001\u001f\u007f raw`)) {
				t.Errorf("control characters not escaped as \\u00XX: %q", bodies[0])
			}
			m := got[0]
			u := m.User
			if u.Username != "alice@example.com" || u.Service != "lmtp" || u.SessionID != `sess"1` || !u.HasHome ||
				u.Home != "/home/alice" || u.UID != 1000 || u.GID != 1000 || u.SessionCreateTime != 1764000000 {
				t.Errorf("user = %+v", u)
			}
			e := m.Events[0]
			if e.Name() != "MessageNew" || e.UID != 2 || e.UIDValidity != 1795978712 || e.Date != 1709641800 || e.TZ != -480 ||
				*e.Subject != "Grüße “World”\n\t\"q\" \\ \x00\x01\x1f\x7f raw:\ufffd\ufffd" || e.FromDisplayName != "Jörg" ||
				e.To != `"Q \"x\"" <a@b>, c@d` || *e.MessageID != "<id@x>" || !reflect.DeepEqual(e.Keywords, []string{"$Label1"}) {
				t.Errorf("MessageNew = %+v", e)
			}
			if st := m.Status["INBOX"]; st.HighestModseq != 1<<53 || st.UIDNext != 3 || !reflect.DeepEqual(st.Keywords, []string{"$Label1", "$Foo"}) || !st.HaveGUIDs {
				t.Errorf("INBOX status = %+v", st)
			}
			if v, ok := m.Metadata[metadataKey]; !ok || v != nil {
				t.Errorf("metadata = %v, want the key with null", m.Metadata)
			}
			if v := got[1].Metadata[metadataKey]; v == nil || *v != "user=11@3" {
				t.Errorf("metadata of request 1 = %v", got[1].Metadata)
			}
			if names := eventNames(got[1]); names != "FlagsClear FlagsSet MessageRead" {
				t.Errorf("request 1 events %s", names)
			}
			if got[2].Status != nil || got[3].Status != nil {
				t.Errorf("status of a missing or deleted mailbox: %v %v", got[2].Status, got[3].Status)
			}
			// pushlua_status yes (2.3 here): the status of MessageNew's
			// mailbox only; all (2.4 here): of every mailbox touched.
			if _, ok := got[1].Status["INBOX"]; ok != (tc.mode == "24") {
				t.Errorf("mode %s: status of the flag changes' mailbox: %v", tc.mode, got[1].Status)
			}
			prefix := strings.TrimSuffix(got[0].ID, "-h1")
			if !regexp.MustCompile(`^\d+-\d+-[0-9a-f]{8}$`).MatchString(prefix) {
				t.Errorf("id %q, want <pid>-<start ticks>-<rand>-h1", got[0].ID)
			}
			for i, x := range got {
				if want := fmt.Sprintf("%s-h%d", prefix, i+1); x.ID != want {
					t.Errorf("request %d: id %q, want %q", i, x.ID, want)
				}
			}
			mock, _ := os.ReadFile("testdata/mock_dovecot.lua")
			explodes := 1 + bytes.Count(mock[:bytes.Index(mock, []byte(`error("submit exploded")`))], []byte("\n"))
			wantErrs := []string{
				"ERROR pushlua forward: POST " + tc.url + " failed: 500 Mock reason",
				fmt.Sprintf("ERROR pushlua forward: testdata/mock_dovecot.lua:%d: submit exploded", explodes),
			}
			if gotErrs := strings.Split(strings.TrimSpace(stderr.String()), "\n"); !reflect.DeepEqual(gotErrs, wantErrs) {
				t.Errorf("errors logged:\n%s\nwant:\n%s", strings.Join(gotErrs, "\n"), strings.Join(wantErrs, "\n"))
			}
		})
	}
}

// newForwarderEngine starts a pushlua engine on a memory store with conf
// as pushlua.conf next to the forwarder as forward.lua.
func newForwarderEngine(t *testing.T, conf string) (*pushrt.Engine, *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "forward.lua"), scripts.Forwarder(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pushlua.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := dconfig.Parse(filepath.Join(dir, "pushlua.conf"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	eng, err := pushrt.New(context.Background(), pushrt.Options{Config: cfg, Store: store.NewMemory(),
		Logger: slog.New(logx.NewText(logs, nil)), Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	if errs := eng.InitErrors(); len(errs) > 0 || len(eng.Drivers()) != 1 {
		t.Fatalf("forwarder did not load: %v\n%s", errs, logs)
	}
	return eng, logs
}

// runTxn runs one transaction and waits for it.
func runTxn(t *testing.T, eng *pushrt.Engine, x *txn.Txn) {
	t.Helper()
	done := make(chan struct{})
	if err := eng.Submit(context.Background(), x, func(pushrt.Result) { close(done) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("transaction did not finish")
	}
}

func wantLine(t *testing.T, logs *syncBuffer, substr string) {
	t.Helper()
	if !strings.Contains(logs.String(), substr) {
		t.Errorf("log has no %q:\n%s", substr, logs)
	}
}

// diffTxn compares the parts of two transactions the forwarder carries,
// treating nil and empty lists alike; "" when they agree.
func diffTxn(want, got *txn.Txn) string {
	norm := func(x *txn.Txn) txn.Txn {
		c := *x
		c.ID, c.Input, c.Line = "", "", 0
		c.Events = append([]txn.Event(nil), x.Events...)
		for i := range c.Events {
			e := &c.Events[i]
			if len(e.Keywords) == 0 {
				e.Keywords = nil
			}
			if len(e.KeywordsOld) == 0 {
				e.KeywordsOld = nil
			}
			if len(e.Extra) == 0 {
				e.Extra = nil
			}
		}
		if len(c.Events) == 0 {
			c.Events = nil
		}
		if len(x.Status) == 0 {
			c.Status = nil
		} else {
			c.Status = map[string]store.Status{}
			for k, v := range x.Status {
				if len(v.Keywords) == 0 {
					v.Keywords = nil
				}
				c.Status[k] = v
			}
		}
		return c
	}
	w, g := norm(want), norm(got)
	if reflect.DeepEqual(w, g) {
		return ""
	}
	wj, _ := json.Marshal(w)
	gj, _ := json.Marshal(g)
	return "\n got: " + string(gj) + "\nwant: " + string(wj)
}

func eventNames(x *txn.Txn) string {
	var names []string
	for i := range x.Events {
		names = append(names, x.Events[i].Name())
	}
	return strings.Join(names, " ")
}

// syncBuffer collects logs of concurrent writers.
type syncBuffer = testutil.Buffer

// spoolLine is one line of a spool file.
type spoolLine struct {
	file   string // the file's name
	offset int64  // where the line starts
	txn    *txn.Txn
}

// readSpool reads every pl- file in dir: the lines of each (parsed; a
// line pushlua rejects fails the test), the names of the .open and the
// closed ones, and the file the process markers name.
func readSpool(t *testing.T, dir string) (lines []spoolLine, open, closed, markers []string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, ".pl-"):
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			markers = append(markers, strings.TrimSuffix(string(b), "\n"))
			continue
		case !strings.HasPrefix(name, "pl-"):
			t.Errorf("unexpected file %s in the spool", name)
			continue
		case strings.HasSuffix(name, ".open"):
			open = append(open, name)
		case strings.HasSuffix(name, ".jsonl"):
			closed = append(closed, name)
		}
		if e.Type()&os.ModeSymlink != 0 {
			continue // the test's /dev/full
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var off int64
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				t.Errorf("%s: a partial last line at %d: %q", name, off, data)
				break
			}
			x, err := txn.Parse(data[:i], nil)
			if err != nil {
				t.Errorf("%s:%d: pushlua rejects the line: %v\n%s", name, off, err, data[:i])
			} else {
				lines = append(lines, spoolLine{file: name, offset: off, txn: x})
			}
			off += int64(i + 1)
			data = data[i+1:]
		}
	}
	return lines, open, closed, markers
}

// TestForwarderSpoolLua54 runs the forwarder's spool mode in the reference
// Lua 5.4 as several Lua states of one process (testdata/spool_mock.lua):
// the states append to one file per process, found through the process's
// marker; every line is whole, parses, and has the id <file>-<offset>;
// rotation closes full files; a failed write closes the file and falls back
// to HTTP; a missing directory is logged once per process.
func TestForwarderSpoolLua54(t *testing.T) {
	lua, script := lua54Forwarder(t)
	idOf := regexp.MustCompile(`^pl-(\d+-\d+-[0-9a-f]{8})\.(open|jsonl)$`)
	for _, tc := range []struct {
		scenario   string
		missingDir bool
		txns       int // transactions in the spool
		check      func(t *testing.T, out string, lines []spoolLine, open, closed, markers []string)
	}{
		{scenario: "states", txns: 14, check: func(t *testing.T, out string, lines []spoolLine, open, closed, markers []string) {
			if len(open) != 1 || len(closed) != 0 {
				t.Errorf("files: open %v, closed %v; want one open file for the process", open, closed)
			}
			if strings.Contains(out, "POST") || strings.Contains(out, "ERROR") {
				t.Errorf("output:\n%s", out)
			}
		}},
		{scenario: "rotate", txns: 14, check: func(t *testing.T, out string, lines []spoolLine, open, closed, markers []string) {
			if len(open) != 1 || len(closed) < 4 {
				t.Errorf("files: open %v, closed %v; want rotation at 1300 bytes", open, closed)
			}
			// A file is full once it reached the size (the line that
			// crossed it is its last), and a closed file never changes.
			for _, l := range lines {
				if l.offset >= 1300 {
					t.Errorf("%s: a line at %d, past pushlua_spool_max_bytes", l.file, l.offset)
				}
			}
			if strings.Contains(out, "POST") || strings.Contains(out, "ERROR") || strings.Contains(out, "CHANGED") {
				t.Errorf("output:\n%s", out)
			}
		}},
		{scenario: "full", txns: 1, check: func(t *testing.T, out string, lines []spoolLine, open, closed, markers []string) {
			if len(closed) != 1 || !strings.HasSuffix(closed[0], "-1700000000-0000abcd.jsonl") {
				t.Errorf("closed files %v, want the one whose write failed (the mock's /dev/full)", closed)
			}
			if n := strings.Count(out, "ERROR pushlua forward: cannot use the spool directory "); n != 1 ||
				!strings.Contains(out, "No space left on device; POSTing to pushlua_url instead (logged once per process)") {
				t.Errorf("want one error naming ENOSPC and the fallback:\n%s", out)
			}
			posts := regexp.MustCompile(`(?m)^POST \{"id":"(\d+-\d+-[0-9a-f]{8})-h(\d)",`).FindAllStringSubmatch(out, -1)
			if len(posts) != 2 || posts[0][1] != posts[1][1] || posts[0][2] != "1" || posts[1][2] != "2" {
				t.Errorf("want two POSTs of one state with ids <prefix>-h1, -h2:\n%s", out)
			}
			if len(lines) == 1 && lines[0].txn.User.Username != "bob@example.com" {
				t.Errorf("the next state's transaction: %+v", lines[0].txn.User)
			}
		}},
		{scenario: "nodir", missingDir: true, check: func(t *testing.T, out string, lines []spoolLine, open, closed, markers []string) {
			if n := strings.Count(out, "ERROR"); n != 1 || !strings.Contains(out, "No such file or directory; POSTing to pushlua_url instead") {
				t.Errorf("want one error for three Lua states of the process:\n%s", out)
			}
			ids := regexp.MustCompile(`(?m)^POST \{"id":"([^"]+)"`).FindAllStringSubmatch(out, -1)
			if len(ids) != 3 || ids[0][1] == ids[1][1] || ids[1][1] == ids[2][1] || ids[0][1] == ids[2][1] {
				t.Errorf("want three POSTs with distinct ids:\n%s", out)
			}
		}},
		{scenario: "nourl", missingDir: true, check: func(t *testing.T, out string, lines []spoolLine, open, closed, markers []string) {
			if n := strings.Count(out, "ERROR"); n != 1 || !strings.Contains(out, "transactions are lost (no pushlua_url)") ||
				strings.Contains(out, "POST") {
				t.Errorf("want one error and no POST:\n%s", out)
			}
		}},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			if !tc.missingDir {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(lua, "testdata/spool_mock.lua", script, tc.scenario, dir)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil || !strings.HasSuffix(stdout.String(), "DONE\n") {
				t.Fatalf("lua5.4: %v\n%s\n%s", err, stdout.String(), stderr.String())
			}
			var lines []spoolLine
			var open, closed, markers []string
			if !tc.missingDir {
				lines, open, closed, markers = readSpool(t, dir)
				if len(markers) != 1 || len(open) != 1 || markers[0]+".open" != open[0] {
					t.Errorf("markers %v, open files %v: want one marker naming the open file", markers, open)
				}
			}
			if len(lines) != tc.txns {
				t.Errorf("%d lines in the spool, want %d", len(lines), tc.txns)
			}
			seen := map[string]bool{}
			for _, l := range lines {
				m := idOf.FindStringSubmatch(l.file)
				if want := fmt.Sprintf("%s-%d", m[1], l.offset); l.txn.ID != want {
					t.Errorf("%s:%d: id %q, want %q", l.file, l.offset, l.txn.ID, want)
				}
				if sid := l.txn.User.SessionID; seen[sid] {
					t.Errorf("transaction %s twice", sid)
				} else {
					seen[sid] = true
				}
				if len(l.txn.Events) != 1 || l.txn.Status["INBOX"].UIDValidity != 7 || l.txn.Metadata[metadataKey] == nil {
					t.Errorf("%s:%d: %+v", l.file, l.offset, l.txn)
				}
			}
			tc.check(t, stdout.String(), lines, open, closed, markers)
		})
	}
}

// TestForwarderStatusModes runs the forwarder in pushlua's engine under
// each pushlua_status: yes sends the status of MessageNew's mailbox only
// and the METADATA as Dovecot's ox driver would see it (a value is kept for
// metadata_cache_secs per session, an unset key is read again); no sends
// neither; all sends both, fresh, for every transaction.
func TestForwarderStatusModes(t *testing.T) {
	input := []string{
		// session s1: a delivery, then a flag change after the METADATA changed
		`{"user": {"username": "alice@example.com", "service": "lmtp", "session_id": "s1"},
		  "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}, {"name": "MessageNew", "mailbox": "Work", "uid": 1}],
		  "status": {"INBOX": {"messages": 1, "unseen": 1, "uidvalidity": 7, "uidnext": 2}, "Work": {"uidvalidity": 8}},
		  "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=1"}}`,
		`{"user": {"username": "alice@example.com", "service": "lmtp", "session_id": "s1"},
		  "events": [{"name": "FlagsSet", "mailbox": "INBOX", "uid": 1, "flags": ["\\Seen"]}],
		  "status": {"INBOX": {"messages": 1, "uidvalidity": 7, "uidnext": 2}},
		  "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=2"}}`,
		// session s2 reads it afresh
		`{"user": {"username": "alice@example.com", "service": "imap", "session_id": "s2"},
		  "events": [{"name": "MailboxCreate", "mailbox": "Work2"}],
		  "status": {"Work2": {"uidvalidity": 9}}}`,
		// session s3: unset is not kept
		`{"user": {"username": "alice@example.com", "service": "imap", "session_id": "s3"},
		  "events": [{"name": "MailboxCreate", "mailbox": "Work3"}],
		  "metadata": {"/private/vendor/vendor.dovecot/http-notify": null}}`,
		`{"user": {"username": "alice@example.com", "service": "imap", "session_id": "s3"},
		  "events": [{"name": "MailboxSubscribe", "mailbox": "Work3"}],
		  "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=3"}}`,
	}
	for _, tc := range []struct {
		mode   string
		status []string // the mailboxes with a status, per transaction
		md     []string // the METADATA sent ("-": none, "null": unset)
	}{
		{"yes", []string{"INBOX Work", "", "", "", ""}, []string{"user=1", "user=1", "user=2", "null", "user=3"}},
		{"all", []string{"INBOX Work", "INBOX", "Work2", "Work3", "Work3"}, []string{"user=1", "user=2", "user=2", "null", "user=3"}},
		{"no", []string{"", "", "", "", ""}, []string{"-", "-", "-", "-", "-"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			recv := startReceiver(t, "")
			eng, logs := newForwarderEngine(t, "plugin {\n  push_notification_driver = lua:file=forward.lua\n  pushlua_url = "+
				recv.URL+"\n  pushlua_status = "+tc.mode+"\n}\n")
			for i, line := range input {
				in, err := txn.Parse([]byte(line), nil)
				if err != nil {
					t.Fatalf("input %d: %v", i, err)
				}
				runTxn(t, eng, in)
			}
			posts := recv.waitPosts(len(input), 5*time.Second)
			if len(posts) != len(input) {
				t.Fatalf("%d POSTs, want %d\n%s", len(posts), len(input), logs)
			}
			for i, p := range posts {
				checkPost(t, p, "")
				if p.Err != nil {
					continue
				}
				var boxes []string
				for box := range p.Txn.Status {
					boxes = append(boxes, box)
				}
				sort.Strings(boxes)
				md := "-"
				if v, ok := p.Txn.Metadata[metadataKey]; ok && v == nil {
					md = "null"
				} else if ok {
					md = *v
				}
				if got := strings.Join(boxes, " "); got != tc.status[i] || md != tc.md[i] {
					t.Errorf("transaction %d: status of %q, metadata %s; want %q, %s\n%s", i, got, md, tc.status[i], tc.md[i], p.Body)
				}
			}
			if s := logs.String(); strings.Contains(s, "Error") {
				t.Errorf("errors logged:\n%s", s)
			}
		})
	}
}

// lua54Forwarder returns the lua5.4 interpreter and the forwarder written
// to a file; without lua5.4 the test is skipped (failed in CI, which
// installs it).
func lua54Forwarder(t *testing.T) (lua, script string) {
	t.Helper()
	lua, err := exec.LookPath("lua5.4")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("lua5.4 is not installed (.ci/run installs it)")
		}
		t.Skip("lua5.4 is not installed; apt-get install lua5.4 to run this test")
	}
	script = filepath.Join(t.TempDir(), "forward.lua")
	if err := os.WriteFile(script, scripts.Forwarder(), 0o644); err != nil {
		t.Fatal(err)
	}
	return lua, script
}

// TestForwarderCompilesOnlyWhatAStateRuns: Dovecot compiles the forwarder
// for every Lua state, two per LMTP delivery (the recipient and the raw
// user, which never has a transaction). A state without a transaction
// never reads the transaction code from the file; one with three POSTs
// reads the main and the cold part once each; an error in a part names
// the line of this file.
func TestForwarderCompilesOnlyWhatAStateRuns(t *testing.T) {
	lua, script := lua54Forwarder(t)
	const harness = `
local script, txns = arg[1], tonumber(arg[2])
local reads, errors = 0, {}
local open = io.open
io.open = function(p, m) if p == script then reads = reads + 1 end return open(p, m) end
dovecot = { i_error = function(m) errors[#errors + 1] = m end, storage = {} }
assert(loadfile(script))()
assert(script_init() == 0)
local user = { username = "u", plugin_getenv = function(_, k)
  if k == "pushlua_url" then return "http://127.0.0.1:1/" end
  if k == "pushlua_status" then return "no" end
  return "" end }
for i = 1, txns do
  local ctx = dovecot_lua_notify_begin_txn(user)
  dovecot_lua_notify_event_flags_set(ctx, { name = "FlagsSet", mailbox = "INBOX", uid = i })
  dovecot_lua_notify_end_txn(ctx, true)
end
script_deinit()
print(reads, errors[1] or "")
`
	// An edited file (a line added on top) moves the parts from where
	// part() seeks: it finds them, and the lines are still right.
	shipped := scripts.Forwarder()
	edited := filepath.Join(t.TempDir(), "forward.lua")
	if err := os.WriteFile(edited, append([]byte("-- edited here\n"), shipped...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		script string
		txns   int
		reads  string
	}{{script, 0, "0"}, {script, 3, "2"}, {edited, 3, "2"}} {
		out, err := exec.Command(lua, "-e", harness, "-", tc.script, strconv.Itoa(tc.txns)).CombinedOutput()
		if err != nil {
			t.Fatalf("lua5.4: %v\n%s", err, out)
		}
		reads, msg, _ := strings.Cut(strings.TrimSpace(string(out)), "\t")
		if reads != tc.reads {
			t.Errorf("%s, %d transactions: the script file was read %s times, want %s", tc.script, tc.txns, reads, tc.reads)
		}
		// The mock has no dovecot.http: the POST fails in the cold part,
		// and its error names the file's line that uses it.
		if tc.txns == 0 {
			continue
		}
		m := regexp.MustCompile(`forward\.lua:(\d+): `).FindStringSubmatch(msg)
		if m == nil {
			t.Fatalf("the error does not name the script's file and line: %q", msg)
		}
		n, _ := strconv.Atoi(m[1])
		src, err := os.ReadFile(tc.script)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(src), "\n")
		if n < 1 || n > len(lines) || !strings.Contains(lines[n-1], "dovecot.http") {
			t.Errorf("the error names line %d, which does not use dovecot.http: %q", n, msg)
		}
	}
}
