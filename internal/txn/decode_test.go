package txn

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestParseFull(t *testing.T) {
	line := `{"id": "t-1",
 "user": {"username": "alice@example.com", "service": "lmtp", "session_id": "s1", "home": "/home/alice", "uid": 1000, "gid": 1000, "session_create_time": 1795978712, "admin": true},
 "success": true,
 "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "uid_validity": 1795978712, "date": 1732611600, "tz": 60,
             "from": "Sender <s@example.org>", "to": "Alice <alice@example.com>", "subject": "Hi", "snippet": "Hello", "message_id": "<m@x>",
             "from_address": "s@example.org", "from_display_name": "Sender", "to_address": "alice@example.com", "to_display_name": "Alice",
             "flags": ["\\Seen", "\\Answered"], "keywords": ["$Label1"], "subject_raw": "=?utf-8?q?Hi?=", "nested": {"a": [1, "x"]}, "gone": null},
            {"name": "flagsclear", "mailbox": "INBOX", "uid": 1, "flags_old": ["\\Recent"]},
            {"name": "MailboxRename", "mailbox": "B", "mailbox_old": "A"}],
 "status": {"INBOX": {"messages": 1, "recent": 1, "unseen": 1, "uidnext": 2, "uidvalidity": 1795978712, "have_guids": true, "keywords": ["$Label1"]}},
 "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=11@3", "/shared/x": null}}`
	tx, err := Parse([]byte(line), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tx.ID != "t-1" || !tx.Success || tx.User.Username != "alice@example.com" || tx.User.UID != 1000 ||
		!tx.User.HasHome || tx.User.Home != "/home/alice" || !tx.User.Admin || tx.User.SessionCreateTime != 1795978712 {
		t.Errorf("txn/user fields: got %+v", tx)
	}
	if len(tx.Events) != 3 {
		t.Fatalf("got %d events; want 3", len(tx.Events))
	}
	e := tx.Events[0]
	if e.Name() != "MessageNew" || e.UID != 1 || e.UIDValidity != 1795978712 || e.Date != 1732611600 || e.TZ != 60 ||
		*e.Subject != "Hi" || *e.Snippet != "Hello" || *e.MessageID != "<m@x>" || e.FromDisplayName != "Sender" {
		t.Errorf("MessageNew fields: got %+v", e)
	}
	if got, want := FlagList(e.Flags), []string{`\Answered`, `\Seen`}; !reflect.DeepEqual(got, want) {
		t.Errorf("flags in Dovecot's order: got %v; want %v", got, want)
	}
	wantExtra := map[string]any{"subject_raw": "=?utf-8?q?Hi?=", "nested": map[string]any{"a": []any{1.0, "x"}}}
	if !reflect.DeepEqual(e.Extra, wantExtra) {
		t.Errorf("extra: got %#v; want %#v", e.Extra, wantExtra)
	}
	fc := tx.Events[1]
	if fc.Name() != "FlagsClear" || fc.UIDValidity != 1795978712 || FlagList(fc.FlagsOld)[0] != `\Recent` {
		t.Errorf("FlagsClear (name case-folded, uid_validity from status): got %+v", fc)
	}
	if r := tx.Events[2]; r.MailboxOld != "A" || r.Mailbox != "B" || r.IsMessage() {
		t.Errorf("MailboxRename: got %+v", r)
	}
	if st := tx.Status["INBOX"]; st.Messages != 1 || st.UIDNext != 2 || !st.HaveGUIDs || st.Keywords[0] != "$Label1" {
		t.Errorf("status: got %+v", st)
	}
	if v := tx.Metadata["/private/vendor/vendor.dovecot/http-notify"]; v == nil || *v != "user=11@3" {
		t.Errorf("metadata: got %v", v)
	}
	if v, ok := tx.Metadata["/shared/x"]; !ok || v != nil {
		t.Errorf("metadata null unsets: got %v, %v", v, ok)
	}
}

func TestParseDefaults(t *testing.T) {
	tx, err := Parse([]byte(`{"user": "bob", "events": [{"name": "MessageAppend", "mailbox": "INBOX", "uid": 2}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tx.User.Username != "bob" || !tx.Success || tx.ID == "" || tx.User.HasHome {
		t.Errorf("got %+v", tx)
	}
	e := tx.Events[0]
	if e.Subject != nil || e.Snippet != nil || e.MessageID != nil || e.From != "" || e.Date != 0 {
		t.Errorf("absent fields: got %+v", e)
	}
	tx2, _ := Parse([]byte(`{"user": "bob", "success": false}`), nil)
	if tx2.Success || tx2.ID == tx.ID {
		t.Errorf("rolled back txn: got %+v (ids %q %q)", tx2, tx.ID, tx2.ID)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		line string
		want string
	}{
		{`{"user": "a"`, "invalid JSON"},
		{`[1]`, "invalid JSON"},
		{`null`, "expected a JSON object, got null"},
		{`{}`, "field user: missing"},
		{`{"user": ""}`, "field user.username: missing or empty"},
		{`{"user": 5}`, "field user: expected an object, got a number"},
		{`{"user": {"username": "a", "shoe": 1}}`, "field user.shoe: unknown field"},
		{`{"user": {"username": "a", "uid": -1}}`, "field user.uid: expected an integer from 0 to 4294967295, got -1"},
		{`{"user": "a", "colour": 1}`, "field colour: unknown field"},
		{`{"user": "a", "success": "yes"}`, "field success: expected true or false, got a string"},
		{`{"user": "a", "events": {}}`, "field events: expected an array, got an object"},
		{`{"user": "a", "events": [{"mailbox": "INBOX"}]}`, "field events[0].name: missing"},
		{`{"user": "a", "events": [{"name": "MessageFly", "mailbox": "INBOX"}]}`, `field events[0].name: unknown event "MessageFly"`},
		{`{"user": "a", "events": [{"name": "MessageNew", "uid": 1}]}`, "field events[0].mailbox: missing"},
		{`{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX"}]}`, "field events[0].uid: missing (required for MessageNew)"},
		{`{"user": "a", "events": [{"name": "MessageRead", "mailbox": "INBOX", "uid": "7"}]}`, "field events[0].uid: expected a number, got a string"},
		{`{"user": "a", "events": [{"name": "MessageRead", "mailbox": "INBOX", "uid": 1.5}]}`, "field events[0].uid: expected an integer"},
		{`{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "subject": 3}]}`, "field events[0].subject: expected a string, got a number"},
		{`{"user": "a", "events": [{"name": "FlagsSet", "mailbox": "INBOX", "uid": 1, "flags": ["$Junk"]}]}`, `field events[0].flags[0]: unknown system flag "$Junk"`},
		{`{"user": "a", "events": [{"name": "FlagsSet", "mailbox": "INBOX", "uid": 1, "keywords": [1]}]}`, "field events[0].keywords[0]: expected a string, got a number"},
		{`{"user": "a", "events": [{"name": "MailboxRename", "mailbox": "B"}]}`, "field events[0].mailbox_old: missing (required for MailboxRename)"},
		{`{"user": "a", "status": {"INBOX": {"messages": "1"}}}`, "field status.INBOX.messages: expected a number, got a string"},
		{`{"user": "a", "status": {"INBOX": {"bogus": 1}}}`, "field status.INBOX.bogus: unknown status field"},
		{`{"user": "a", "metadata": {"/vendor/x": "1"}}`, "field metadata./vendor/x: Invalid key prefix, must be /private/ or /shared/"},
		{`{"user": "a", "metadata": {"/private/x": 1}}`, "field metadata./private/x: expected a string, got a number"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := Parse([]byte(tt.line), nil)
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("got %v; want a *LineError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q; want it to contain %q", err.Error(), tt.want)
			}
		})
	}
}

func TestReader(t *testing.T) {
	in := `{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}

{"user": "b", "events": [{"name": "MessageNew", "mailbox": "INBOX"}]}
not json
{"user": "c"}`
	rd := NewReader("in.jsonl", strings.NewReader(in), nil)
	var got []string
	for {
		tx, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			got = append(got, err.Error())
			continue
		}
		got = append(got, tx.User.Username+"@"+tx.Input+":"+string(rune('0'+tx.Line)))
	}
	want := []string{
		"a@in.jsonl:1",
		"in.jsonl:3: field events[0].uid: missing (required for MessageNew)",
		"in.jsonl:4: invalid JSON: invalid character 'o' in literal null (expecting 'u')",
		"c@in.jsonl:5",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q;\nwant %q", got, want)
	}
}

func TestReaderLongLine(t *testing.T) {
	long := `{"user": "` + strings.Repeat("x", MaxLine) + `"}` + "\n" + `{"user": "ok"}` + "\n"
	rd := NewReader("big", strings.NewReader(long), nil)
	if _, err := rd.Next(); err == nil || !strings.Contains(err.Error(), "big:1: line longer than") {
		t.Fatalf("got %v; want a line-too-long error", err)
	}
	tx, err := rd.Next()
	if err != nil || tx.User.Username != "ok" || tx.Line != 2 {
		t.Fatalf("got %+v, %v; want user ok on line 2", tx, err)
	}
}

func TestHandlerNames(t *testing.T) {
	want := map[string]string{
		"MessageNew":         "dovecot_lua_notify_event_message_new",
		"FlagsClear":         "dovecot_lua_notify_event_flags_clear",
		"MailboxUnsubscribe": "dovecot_lua_notify_event_mailbox_unsubscribe",
	}
	for ev, fn := range want {
		info, ok := LookupEvent(ev)
		if !ok || info.Handler != fn {
			t.Errorf("%s: got %q; want %q", ev, info.Handler, fn)
		}
	}
	if len(Events) != 12 {
		t.Errorf("got %d events; want 12", len(Events))
	}
}

func TestSnapshot(t *testing.T) {
	tx, err := Parse([]byte(`{"user": "a", "events": [
		{"name": "MailboxCreate", "mailbox": "New"},
		{"name": "MessageExpunge", "mailbox": "Old", "uid": 1},
		{"name": "MailboxDelete", "mailbox": "Old"},
		{"name": "MailboxRename", "mailbox": "B", "mailbox_old": "A"},
		{"name": "MailboxSubscribe", "mailbox": "Ghost"}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := tx.Snapshot()
	if !reflect.DeepEqual(s.Ensure, []string{"New"}) || !reflect.DeepEqual(s.Deletes, []string{"Old"}) || s.Renames["A"] != "B" {
		t.Errorf("got %+v", s)
	}
	tx.Success = false
	if !tx.Snapshot().Empty() {
		t.Errorf("a rolled-back transaction changes no mailbox")
	}
}

func TestIDsAssigned(t *testing.T) {
	ids := NewIDs()
	given, err := Parse([]byte(`{"id": "1234-1700000000-0a0b0c0d-1", "user": "a"}`), ids)
	if err != nil {
		t.Fatal(err)
	}
	assigned, err := Parse([]byte(`{"user": "a"}`), ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{given.ID, false},
		{assigned.ID, true},
		{NewIDs().Next(), false},
		{strings.SplitN(assigned.ID, "-", 2)[0] + "-", false},
		{strings.SplitN(assigned.ID, "-", 2)[0] + "-x", false},
	} {
		if got := ids.Assigned(tc.id); got != tc.want {
			t.Errorf("Assigned(%q): got %v; want %v", tc.id, got, tc.want)
		}
	}
}

func TestParseNesting(t *testing.T) {
	line := func(x string) string {
		return `{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "x": ` + x + `}]}`
	}
	arrays := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	objects := func(n int) string { return strings.Repeat(`{"k":`, n) + "1" + strings.Repeat("}", n) }
	tests := []struct {
		name      string
		x         string
		wantField string // "" when the line is accepted
	}{
		{"MaxNesting arrays", arrays(MaxNesting), ""},
		{"MaxNesting objects", objects(MaxNesting), ""},
		{"MaxNesting+1 arrays", arrays(MaxNesting + 1), "events[0].x"},
		{"37 arrays (the 157-byte crash)", arrays(37), "events[0].x"},
		{"MaxNesting+1 objects", objects(MaxNesting + 1), "events[0].x"},
		{"mixed, deep inside a wide value", `[1, {"a": [2, 3]}, ` + arrays(MaxNesting) + `]`, "events[0].x"},
		{"brackets in strings do not count", `"` + strings.Repeat("[{", 100) + `"`, ""},
		{"escaped quotes do not end a string", `["\"` + strings.Repeat("[", 100) + `\\", "\\\""]`, ""},
		{"siblings do not add up", "[" + strings.Repeat(`[`+arrays(MaxNesting-2)+`],`, 5) + "[]]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := Parse([]byte(line(tt.x)), nil)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("got %v; want the line accepted", err)
				}
				if _, ok := tx.Events[0].Extra["x"]; !ok {
					t.Errorf("extra field x missing: %#v", tx.Events[0].Extra)
				}
				return
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("got %v; want a *LineError", err)
			}
			if want := "arrays and objects nested more than 32 levels deep"; le.Field != tt.wantField || le.Err.Error() != want {
				t.Errorf("got field %q, %q; want %q, %q", le.Field, le.Err, tt.wantField, want)
			}
		})
	}
}
