package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/pushlua/pushlua/internal/testutil"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// recordedSteps groups the recorded transactions of testdata/traces/
// recorder.jsonl by scenario step.
func recordedSteps(t *testing.T) (map[string][]*recordedTxn, []string) {
	t.Helper()
	f, err := os.Open("testdata/traces/recorder.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	steps := map[string][]*recordedTxn{}
	var order []string
	byKey := map[string]*recordedTxn{}
	step := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m["marker"] == "step" {
			step = m["step"].(string)
			order = append(order, step)
			continue
		}
		call, _ := m["call"].(string)
		if !strings.HasPrefix(call, "dovecot_lua_notify_") {
			continue
		}
		key := fmt.Sprintf("%v#%v", m["state"], m["txn"])
		switch call {
		case "dovecot_lua_notify_begin_txn":
			tx := &recordedTxn{key: key, begin: m}
			byKey[key] = tx
			steps[step] = append(steps[step], tx)
		case "dovecot_lua_notify_end_txn":
			byKey[key].end = m
		default:
			byKey[key].events = append(byKey[key].events, m)
		}
	}
	return steps, order
}

var uidvalidityRE = regexp.MustCompile(`UIDVALIDITY \[\d+\]`)

// dovecotDlogSteps reads the dlog lines Dovecot logged per step, without
// the per-session init/deinit/cleanup lines, with the interleaved begins of
// a MOVE put in sequence (pushlua's transactions do not interleave).
func dovecotDlogSteps(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile("testdata/traces/dlog.log")
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string][]string{}
	step := ""
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.Index(line, "pushref-marker: phase=dlog step="); i >= 0 {
			step = strings.Fields(line[i+len("pushref-marker: phase=dlog step="):])[0]
			steps[step] = []string{}
			continue
		}
		i := strings.Index(line, ": Debug: ")
		if i < 0 {
			continue
		}
		msg := line[i+len(": Debug: "):]
		if j := strings.Index(msg, "push-notification: "); j >= 0 {
			msg = msg[j:]
		}
		if strings.HasPrefix(msg, "Module loaded: ") || strings.HasPrefix(msg, "Called init ") || strings.HasPrefix(msg, "Called deinit ") || strings.HasPrefix(msg, "Called cleanup ") {
			continue
		}
		steps[step] = append(steps[step], uidvalidityRE.ReplaceAllString(msg, "UIDVALIDITY [N]"))
	}
	for name, lines := range steps {
		steps[name] = sequenceTxns(lines)
	}
	return steps
}

// sequenceTxns moves a begin_txn that comes while another transaction is
// open to just after that transaction's end (and its completion line).
func sequenceTxns(lines []string) []string {
	const begin, end, done = "Called begin_txn push_notification plugin hook.", "Called end_txn push_notification plugin hook.", "push-notification: Push notification transaction completed"
	var out []string
	open, deferred := false, 0
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case l == begin && open:
			deferred++
			continue
		case l == begin:
			open = true
		}
		out = append(out, l)
		if l == end {
			if i+1 < len(lines) && lines[i+1] == done {
				out = append(out, done)
				i++
			}
			open = false
			if deferred > 0 {
				deferred--
				out = append(out, begin)
				open = true
			}
		}
	}
	return out
}

// TestDlogGolden runs the recorded scenario through the bundled dlog
// driver and compares its lines with what Dovecot's dlog logged for the
// same steps (testdata/traces/dlog.log).
func TestDlogGolden(t *testing.T) {
	want := dovecotDlogSteps(t)
	txns, order := recordedSteps(t)
	te := newTestEngine(t, map[string]string{
		"pushlua.conf": "mail_debug = yes\nplugin {\n  push_notification_driver = dlog\n}\n",
	}, func(o *Options) { o.Jobs = 1 })
	if !strings.Contains(te.Logs.String(), "Debug: Called init push_notification plugin hook.") {
		t.Errorf("no init line:\n%s", te.Logs)
	}
	compared := 0
	for _, step := range order {
		w, ok := want[step]
		if !ok {
			continue // the dlog phase stopped before this step
		}
		before := len(te.Logs.Lines())
		for _, r := range txns[step] {
			te.run(t, string(r.input()))
		}
		var got []string
		for _, l := range te.Logs.Lines()[before:] {
			got = append(got, uidvalidityRE.ReplaceAllString(strings.TrimPrefix(l, "Debug: "), "UIDVALIDITY [N]"))
		}
		if strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("step %s:\ngot\n%s\nwant (Dovecot)\n%s", step, strings.Join(got, "\n"), strings.Join(w, "\n"))
		}
		compared++
	}
	if compared < 25 {
		t.Errorf("compared %d steps; the dlog trace has 26", compared)
	}
	if err := te.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := te.Logs.Lines()
	if n := len(lines); n < 2 || lines[n-2] != "Debug: Called deinit push_notification plugin hook." || lines[n-1] != "Debug: Called cleanup push_notification plugin hook." {
		t.Errorf("no deinit/cleanup at shutdown: %q", lines[max(0, len(lines)-3):])
	}
}

func TestDlogArguments(t *testing.T) {
	te := newTestEngine(t, map[string]string{
		"pushlua.conf": "plugin {\n  push_notification_driver = dlog:foo=bar baz details\n}\n",
	}, func(o *Options) { o.Jobs = 1 })
	te.run(t, `{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 3, "uid_validity": 7, "date": 1709641800, "tz": 120,
		"from": "J <j@example.org>", "to": "a@example.com", "subject": "Grüße", "subject_raw": "=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "snippet": "hi"},
		{"name": "FlagsClear", "mailbox": "INBOX", "uid": 3, "flags": [], "flags_old": ["\\Recent"], "keywords": [], "keywords_old": []}]}`)
	want := []string{
		"Debug: Called init push_notification plugin hook.",
		"Debug: Config string for dlog push_notification driver: foo=bar baz details",
		"Debug: Called begin_txn push_notification plugin hook.",
		"Debug: Called process_msg push_notification plugin hook.",
		"Debug: Message data: Mailbox [INBOX], UID [3], UIDVALIDITY [7]",
		"Debug: MessageNew: Date [2024-03-05T14:30:00+02:00]",
		"Debug: MessageNew: From [J <j@example.org>]",
		"Debug: MessageNew: Snippet [hi]",
		"Debug: MessageNew: Subject [=?utf-8?q?Gr=C3=BC=C3=9Fe?=]",
		"Debug: MessageNew: To [a@example.com]",
		"Debug: Called end_txn push_notification plugin hook.",
	}
	if got := te.Logs.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func headerNames(h [][2]string) []string {
	var names []string
	for _, kv := range h {
		names = append(names, kv[0])
	}
	sort.Strings(names)
	return names
}

func header(h [][2]string, name string) string {
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

type oxRecorded struct {
	step    string
	method  string
	path    string
	headers [][2]string
	body    string
}

func readOXRequests(t *testing.T) []oxRecorded {
	t.Helper()
	data, err := os.ReadFile("testdata/traces/ox-requests.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out []oxRecorded
	step := ""
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m struct {
			Marker  *struct{ Step string }
			Method  string
			Path    string
			Headers [][2]string
			Body    string
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m.Marker != nil {
			step = m.Marker.Step
			continue
		}
		out = append(out, oxRecorded{step, m.Method, m.Path, m.Headers, m.Body})
	}
	return out
}

// oxTxn rebuilds the delivery behind a recorded OX request: the MessageNew
// event with the raw headers and the INBOX unseen count it reported.
func oxTxn(t *testing.T, body string) string {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	ev := map[string]any{"name": "MessageNew", "mailbox": b["folder"], "uid": b["imap-uid"], "uid_validity": b["imap-uidvalidity"]}
	if v, ok := b["from"]; ok {
		ev["from"] = v
	}
	if v, ok := b["subject"]; ok {
		ev["subject"] = "decoded " + v.(string) // what Lua gets; OX must send subject_raw
		ev["subject_raw"] = v
	}
	if v, ok := b["snippet"]; ok {
		ev["snippet"] = v
	}
	tx := map[string]any{"user": map[string]any{"username": "alice@example.com", "service": "lmtp"},
		"events": []any{ev},
		"status": map[string]any{"INBOX": map[string]any{"unseen": b["unseen"], "uidvalidity": b["imap-uidvalidity"]}}}
	out, _ := json.Marshal(tx)
	return string(out)
}

// TestOXGolden replays the recorded OX deliveries: the gate, then each
// request with Dovecot's method, path, header set and body byte for byte.
func TestOXGolden(t *testing.T) {
	srv := testutil.NewCaptureServer(t, 200, 0)
	url := strings.Replace(srv.URL(), "http://", "http://login:pass@", 1) + "/preliminary/http-notify/v1/notify"
	te := newTestEngine(t, map[string]string{
		"pushlua.conf": "mail_debug = yes\nplugin {\n  push_notification_driver = ox:url=" + url + "\n}\n",
	}, func(o *Options) { o.Jobs = 1 })
	recorded := readOXRequests(t)
	if len(recorded) != 4 {
		t.Fatalf("got %d recorded requests; want 4", len(recorded))
	}
	// O01: no METADATA, no request.
	te.run(t, oxTxn(t, recorded[0].body))
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("sent %d requests without the METADATA gate", n)
	}
	if !hasLine(te.Logs.Lines(), "Debug: push-notification-ox: Skipped because not active (/private/vendor/vendor.dovecot/pvt/server/vendor/vendor.dovecot/http-notify METADATA not set)") {
		t.Errorf("no skip line:\n%s", te.Logs)
	}
	// O02: the user enables it.
	v := "user=11@3"
	if err := te.Store.SetAttribute(context.Background(), "alice@example.com", "INBOX", "/private/vendor/vendor.dovecot/pvt/server/vendor/vendor.dovecot/http-notify", v); err != nil {
		t.Fatal(err)
	}
	for i, rec := range recorded {
		te.run(t, oxTxn(t, rec.body))
		reqs := srv.Requests()
		if len(reqs) != i+1 {
			t.Fatalf("step %s: got %d requests; want %d", rec.step, len(reqs), i+1)
		}
		got := reqs[i]
		if got.Method != rec.method || got.Target != rec.path {
			t.Errorf("step %s: got %s %s; want %s %s", rec.step, got.Method, got.Target, rec.method, rec.path)
		}
		if g, w := headerNames(got.Headers), headerNames(rec.headers); strings.Join(g, ",") != strings.Join(w, ",") {
			t.Errorf("step %s: header set: got %v; want %v", rec.step, g, w)
		}
		for _, name := range []string{"Authorization", "Content-Length", "Connection", "Content-Type"} {
			if g, w := header(got.Headers, name), header(rec.headers, name); g != w {
				t.Errorf("step %s: %s: got %q; want %q", rec.step, name, g, w)
			}
		}
		if _, err := time.Parse(http.TimeFormat, header(got.Headers, "Date")); err != nil {
			t.Errorf("step %s: Date %q: %v", rec.step, header(got.Headers, "Date"), err)
		}
		if got.Body != rec.body {
			t.Errorf("step %s: body\n got %s\nwant %s", rec.step, got.Body, rec.body)
		}
	}
	lines := te.Logs.Lines()
	for _, want := range []string{
		"Debug: push-notification-ox: Using URL " + strings.Replace(url, "login:pass@", "login:xxxxx@", 1),
		"Debug: push-notification-ox: Using cache lifetime: 60",
		"Debug: push-notification-ox: User (11@3)",
		"Debug: push-notification-ox: Handling MessageNew event",
		"Debug: push-notification-ox: Got status of mailbox 'INBOX': (unseen: 2)",
		"Debug: push-notification-ox: Sending notification: " + recorded[0].body,
		"Debug: push-notification-ox: Notification sent successfully: 200 OK",
	} {
		if !hasLine(lines, want) {
			t.Errorf("no line %q in\n%s", want, strings.Join(lines, "\n"))
		}
	}
	if strings.Contains(te.Logs.String(), "pass@") {
		t.Errorf("the URL password is in the log")
	}
}

func TestOXFailures(t *testing.T) {
	const newMail = `{"user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "uid_validity": 9, "from": "a@b", "subject": "s", "snippet": "x"}], "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=11@3"}}`
	refused, _ := net.Listen("tcp", "127.0.0.1:0")
	refusedURL := "http://" + refused.Addr().String() + "/n"
	refused.Close()
	tests := []struct {
		name     string
		status   int
		delay    time.Duration
		args     string
		url      string
		want     string
		attempts int
	}{
		{"500 is not retried", 500, 0, "", "", "Error: push-notification-ox: Error when sending notification: 500 Internal Server Error", 1},
		{"404", 404, 0, "", "", "Error: push-notification-ox: Error when sending notification: 404 Not Found", 1},
		{"204", 204, 0, "", "", "Debug: push-notification-ox: Notification sent successfully: 204 No Content", 1},
		{"refused is not retried", 0, 0, "", refusedURL, "Error: push-notification-ox: Error when sending notification: connect(" + strings.TrimPrefix(refusedURL[:strings.LastIndex(refusedURL, "/")], "http://") + ") failed: Connection refused", 0},
		{"timeouts are retried", 200, 2 * time.Second, " timeout_msecs=200 max_retries=2", "", "Error: push-notification-ox: Error when sending notification: Request timed out", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testutil.NewCaptureServer(t, tt.status, tt.delay)
			url := tt.url
			if url == "" {
				url = srv.URL() + "/n"
			}
			te := newTestEngine(t, map[string]string{
				"pushlua.conf": "mail_debug = yes\nplugin {\n  push_notification_driver = ox:url=" + url + tt.args + "\n}\n",
			})
			te.run(t, newMail)
			if !hasLine(te.Logs.Lines(), tt.want) {
				t.Errorf("no line starting %q in\n%s", tt.want, te.Logs)
			}
			if n := len(srv.Requests()); n != tt.attempts {
				t.Errorf("got %d attempts; want %d", n, tt.attempts)
			}
		})
	}
}

func TestOXGate(t *testing.T) {
	srv := testutil.NewCaptureServer(t, 200, 0)
	tests := []struct {
		name, txn, want string
		sent            bool
	}{
		{"other mailbox", `{"user": "u", "events": [{"name": "MessageNew", "mailbox": "Trash", "uid": 1}], "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=1"}}`,
			"Debug: push-notification-ox: Skipped because Trash is not a watched mailbox", false},
		{"no user= in the value", `{"user": "u2", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}], "metadata": {"/private/vendor/vendor.dovecot/http-notify": "foo=bar"}}`,
			"Error: push-notification-ox: No user provided in config", false},
		{"last user= wins, escapes", `{"user": "u3", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}], "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=a\tfoo=bar\tuser=b\u0001tc"}}`,
			"Debug: push-notification-ox: User (b\tc)", true},
		{"not a new message", `{"user": "u4", "events": [{"name": "MessageAppend", "mailbox": "INBOX", "uid": 1}], "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=1"}}`,
			"Debug: push-notification-ox: Handling MessageNew event", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestEngine(t, map[string]string{
				"pushlua.conf": "mail_debug = yes\nplugin {\n  push_notification_driver = ox:url=" + srv.URL() + "/n user_from_metadata\n}\n",
			})
			before := len(srv.Requests())
			te.run(t, tt.txn)
			if !hasLine(te.Logs.Lines(), tt.want) {
				t.Errorf("no line %q in\n%s", tt.want, te.Logs)
			}
			if sent := len(srv.Requests()) > before; sent != tt.sent {
				t.Errorf("sent: got %v; want %v", sent, tt.sent)
			}
		})
	}
	if reqs := srv.Requests(); len(reqs) > 0 && !strings.HasPrefix(reqs[0].Body, `{"user":"b\tc",`) {
		t.Errorf("user_from_metadata: body %s", reqs[0].Body)
	}
}

func TestOXInitErrors(t *testing.T) {
	tests := []struct{ value, want string }{
		{"ox", "Error: ox: Driver requires the url parameter"},
		{"ox:url=ftp://x/y", "Error: ox: Failed to parse OX REST URL ftp://x/y: "},
		{"ox:url=http://x/y cache_lifetime=5 parsecs", "Error: ox: Failed to parse OX cache_lifetime 5: "},
		{"OX:url=http://x/y cache_lifetime=fast", "Error: OX: Failed to parse OX cache_lifetime fast: Invalid time interval: fast"},
	}
	for _, tt := range tests {
		te := newTestEngine(t, map[string]string{"pushlua.conf": "plugin {\n  push_notification_driver = " + tt.value + "\n}\n"})
		if len(te.Drivers()) != 0 || !hasLine(te.Logs.Lines(), tt.want) {
			t.Errorf("%s: got\n%s\nwant a line starting %q", tt.value, te.Logs, tt.want)
		}
	}
}

// Dovecot 2.4's named blocks select the same drivers.
func TestConfig24(t *testing.T) {
	srv := testutil.NewCaptureServer(t, 204, 0)
	script := `local endpoint
function script_init(settings) endpoint = settings.endpoint; return 1 end
function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new() dovecot.i_info("lua via " .. endpoint) end
function dovecot_lua_notify_end_txn() end`
	te := newTestEngine(t, map[string]string{
		"pushlua.conf": `mail_debug = yes
push_notification dlog {
}
push_notification mylua {
  driver = lua
  lua_file = push.lua
  lua_settings {
    endpoint = https://push.example.com
  }
}
push_notification ox {
  push_notification_ox_url = ` + srv.URL() + `/n
  push_notification_ox_user_from_metadata = yes
  push_notification_ox_cache_ttl = 1500ms
}
`,
		"push.lua": script,
	})
	if got := len(te.Drivers()); got != 3 {
		t.Fatalf("got %d drivers; want 3:\n%s", got, te.Logs)
	}
	if te.Syntax() != "Dovecot 2.4 push_notification blocks" {
		t.Errorf("syntax: got %q", te.Syntax())
	}
	te.run(t, `{"user": "alice", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "uid_validity": 3}], "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=ox7"}}`)
	lines := te.Logs.Lines()
	for _, want := range []string{
		"Debug: Called begin_txn push_notification plugin hook.",
		"Info: lua via https://push.example.com",
		"Debug: push-notification-ox: Using cache lifetime: 2",
		"Debug: push-notification-ox: Notification sent successfully: 204 No Content",
	} {
		if !hasLine(lines, want) {
			t.Errorf("no line %q in\n%s", want, strings.Join(lines, "\n"))
		}
	}
	if reqs := srv.Requests(); len(reqs) != 1 || !strings.HasPrefix(reqs[0].Body, `{"user":"ox7",`) {
		t.Errorf("ox request: got %+v", reqs)
	}

	tests := []struct{ conf, want string }{
		{"push_notification fancy {\n}\n", "Error: Unable to identify push notification driver 'fancy': Name does not match any registered drivers"},
		{"push_notification ox {\n}\n", "Error: ox: push_notification_ox_url is missing or empty"},
		{"push_notification x {\n driver = lua\n}\n", "Error: lua: lua_file setting is empty"},
		{"push_notification ox {\n push_notification_ox_url = http://x/\n push_notification_ox_cache_ttl = 0\n}\n", "Error: ox: push_notification_ox_cache_ttl must not be 0"},
	}
	for _, tt := range tests {
		te := newTestEngine(t, map[string]string{"pushlua.conf": tt.conf})
		if len(te.Drivers()) != 0 || !hasLine(te.Logs.Lines(), tt.want) {
			t.Errorf("%q: got\n%s\nwant %q", tt.conf, te.Logs, tt.want)
		}
	}
}
