package txn

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// pretty is README's example transaction, pretty-printed over five lines.
const pretty = `{"user": {"username": "alice@example.com", "service": "lmtp"},
 "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "uid_validity": 1795978712,
             "subject": "Hi", "from_address": "bob@example.org"}],
 "status": {"INBOX": {"messages": 1, "unseen": 1, "uidnext": 2, "uidvalidity": 1795978712}},
 "metadata": {"/private/vendor/vendor.dovecot/http-notify": "user=11@3"}}
`

func TestSplit(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []Chunk // Data as strings below
	}{
		{"empty", " \n\t\n", nil},
		{"lines", "{\"a\":1}\n\n{\"b\":2}\n", []Chunk{{1, 0, []byte(`{"a":1}`)}, {3, 9, []byte(`{"b":2}`)}}},
		{"pretty", "\n" + pretty, []Chunk{{2, 1, []byte(strings.TrimSpace(pretty))}}},
		{"two pretty objects are lines", "{\n\"a\":1}\n{\n\"b\":2}\n",
			[]Chunk{{1, 0, []byte("{")}, {2, 2, []byte(`"a":1}`)}, {3, 9, []byte("{")}, {4, 11, []byte(`"b":2}`)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split([]byte(tt.input))
			if len(got) != len(tt.want) {
				t.Fatalf("Split: %d chunks %v; want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i].Line != tt.want[i].Line || got[i].Offset != tt.want[i].Offset || string(got[i].Data) != string(tt.want[i].Data) {
					t.Errorf("chunk %d = {%d %d %q}; want {%d %d %q}", i, got[i].Line, got[i].Offset, got[i].Data,
						tt.want[i].Line, tt.want[i].Offset, tt.want[i].Data)
				}
			}
		})
	}
}

func TestParseChunkInvalidUTF8(t *testing.T) {
	input := "{\"user\": \"a\",\n \"events\": [{\"name\": \"MailboxCreate\", \"mailbox\": \"X\xffY\"}]}\n"
	chunks := Split([]byte(input))
	if len(chunks) != 1 {
		t.Fatalf("Split: %d chunks; want the whole object", len(chunks))
	}
	_, err := ParseChunk(chunks[0], nil)
	var ue *UTF8Error
	if !errors.As(err, &ue) || ue.Line != 2 || ue.Offset != strings.IndexByte(input, 0xff) {
		t.Fatalf("ParseChunk error = %v; want invalid UTF-8 at line 2, byte offset %d", err, strings.IndexByte(input, 0xff))
	}
}

// readAll reads every transaction and line error of input.
func readAll(t *testing.T, input string) (users []string, errs []string) {
	t.Helper()
	rd := NewReader("in", strings.NewReader(input), nil)
	for {
		tx, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return users, errs
		}
		var le *LineError
		if errors.As(err, &le) {
			errs = append(errs, le.Error())
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, tx.User.Username+"@"+strconv.Itoa(tx.Line))
	}
}

func TestReaderInputs(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		wantUsers []string
		wantErrs  []string
	}{
		{"json lines", "{\"user\":\"a\",\"events\":[]}\n\n{\"user\":\"b\",\"events\":[]}\n", []string{"a@1", "b@3"}, nil},
		{"pretty-printed object", "\n" + pretty, []string{"alice@example.com@2"}, nil},
		{"pretty-printed without a final newline", strings.TrimSpace(pretty), []string{"alice@example.com@1"}, nil},
		{"broken object read line by line", "{\"user\":\"a\",\n\"events\":[]\n{\"user\":\"b\",\"events\":[]}\n", []string{"b@3"},
			[]string{"in:1: invalid JSON: unexpected end of JSON input", `in:2: invalid JSON: invalid character ':' after top-level value`}},
		{"invalid UTF-8", "{\"user\":\"a\",\"events\":[]}\n{\"user\":\"b\xfe\",\"events\":[]}\n", []string{"a@1"},
			[]string{"in:2: invalid UTF-8 at line 2, byte offset 35"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, errs := readAll(t, tt.input)
			if strings.Join(users, ",") != strings.Join(tt.wantUsers, ",") {
				t.Errorf("transactions %q; want %q", users, tt.wantUsers)
			}
			if strings.Join(errs, "\n") != strings.Join(tt.wantErrs, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(tt.wantErrs, "\n"))
			}
		})
	}
}
