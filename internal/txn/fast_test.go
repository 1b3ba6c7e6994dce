package txn

import (
	"bufio"
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/pushlua/pushlua/internal/benchwork"
)

// fastSeeds are lines of every shape the format has.
var fastSeeds = []string{
	`{"user": "alice"}`,
	`{"id": "", "user": {"username": "a", "home": null, "uid": 5, "gid": 0, "session_create_time": 17, "admin": true, "anonymous": false, "autocreated": true, "nonexistent": false, "fuzzy_search": true, "dsyncing": false, "session_restored": true, "service": "imap", "session_id": "s"}, "success": false, "events": []}`,
	`{"id": "x1", "user": {"username": "alice@example.com", "service": "lmtp"}, "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "date": 1732611600, "tz": -60, "from": "A <a@b>", "to": "c@d", "subject": "Grüße \u00fc \"q\"", "snippet": null, "message_id": "<m@x>", "from_address": "a@b", "from_display_name": "A", "to_address": "c@d", "to_display_name": "", "flags": ["\\Seen", "\\recent"], "keywords": ["$Label1"], "x-extra": {"a": [1, 2.5, "s", null, true]}, "nothing": null}], "status": {"INBOX": {"messages": 1, "recent": 1, "unseen": 1, "uidvalidity": 1795978712, "uidnext": 2, "highest_modseq": 9007199254740992, "keywords": [], "have_guids": true}}, "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=11@3", "/shared/x": null}}`,
	`{"user": "u", "events": [{"name": "flagsclear", "mailbox": "Sent", "uid": 4, "uid_validity": 7, "flags": ["\\Flagged"], "flags_old": [], "keywords": [], "keywords_old": ["k"]}, {"name": "MailboxRename", "mailbox": "New", "mailbox_old": "Old", "uid": 3}, {"mailbox": "Trash", "name": "MessageExpunge", "uid": 2}]}`,
	`{"user": "u", "events": [{"name": "MailboxCreate", "mailbox": "X", "date": "not a date here"}]}`,
	`{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]}`,
	`{"user": "u", "user": "v"}`,
	`{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1.5}]}`,
	`{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1e400}]}`,
	`{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 01}]}`,
	`{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "subject": "\xff\xfe"}]}`,
	`{"user": "u", "metadata": {"/bad": "x"}}`,
	`{"user": "u"} x`,
	`{"user": "u"}` + "\x00",
	`null`,
	` {"user" : "u" , "events" : [ ] } `,
	`{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "e": "a\\"b", "f": {"\"": "}"}}]}`,
	`{"user": "u\u0040x", "events": [{"name": "MessageNew", "mailbox": "IN\u0042OX", "uid": -0, "from": "S \u003cs@x\u003e \ud83d\ude00 \ud83d \u00e9\t\/\b\f\r\n\\", "subject": "\uDFFF\u12aB", "x\u0079": "\u0000"}], "metadata": {"/private/k\u00e9y": "v"}}`,
	`{"user": {"username": "a\"b", "service": "l\u006dtp"}, "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 123456789012345, "from": "S \u003cs@x\u003e \u00e9\t\/\b\f\r\n\\", "subject": "\u12aB\u0000", "snippet": "\uzzzz"}]}`,
}

// parseFast accepts a line only when the validating decoder accepts it
// with the same result.
func FuzzFastDecode(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	var buf bytes.Buffer
	_ = benchwork.Generate(&buf, 5, 3, benchwork.Every, 1)
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := parseFast(data, &IDs{prefix: "f"})
		slow, err := parseSlow(data, &IDs{prefix: "f"})
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("fast accepted what slow rejects (%v):\n%q", err, data)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast and slow differ for %q:\nfast %+v\nslow %+v", data, fast, slow)
		}
	})
}

// The fast decoder takes the lines pushlua really gets: the forwarder's,
// with snapshots, and the README's.
func TestFastTakesCommonLines(t *testing.T) {
	var buf bytes.Buffer
	if err := benchwork.Generate(&buf, 50, 10, benchwork.Every, 2); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if _, ok := parseFast(sc.Bytes(), nil); !ok {
			t.Fatalf("fast decoder gave up on %s", sc.Bytes())
		}
	}
	for i, s := range fastSeeds[:5] {
		if _, ok := parseFast([]byte(s), nil); !ok {
			t.Errorf("seed %d: fast decoder gave up on %s", i, s)
		}
	}
	// Errors are always the validating decoder's.
	_, err := Parse([]byte(`{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1.5}]}`), nil)
	if err == nil || !strings.Contains(err.Error(), "field events[0].uid: expected an integer") {
		t.Errorf("error: got %v", err)
	}
}

func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	if err := benchwork.Generate(&buf, 100, 10, benchwork.Every, 1); err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	for _, dec := range []struct {
		name string
		f    func([]byte, *IDs) (*Txn, error)
	}{{"fast", Parse}, {"slow", parseSlow}} {
		b.Run(dec.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := range b.N {
				if _, err := dec.f(lines[i%len(lines)], nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
