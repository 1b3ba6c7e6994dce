package dictproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/store"
)

func TestParseURI(t *testing.T) {
	for _, tt := range []struct {
		uri, base string
		want      Target
		ok        bool
		err       string
	}{
		{"proxy:/run/chatmail-metadata/metadata.socket:metadata", "", Target{"/run/chatmail-metadata/metadata.socket", "metadata"}, true, ""},
		{"proxy::metadata", "", Target{"/run/dovecot/dict", "metadata"}, true, ""},
		{"proxy::metadata", "/var/run/dovecot", Target{"/var/run/dovecot/dict", "metadata"}, true, ""},
		{"proxy:dict-async:attr", "/run/dovecot", Target{"/run/dovecot/dict-async", "attr"}, true, ""},
		{"proxy:idle_msecs=100:warn_slow_msecs=5:/s:n", "", Target{"/s", "n"}, true, ""},
		{"file:%h/Maildir/dovecot-attributes", "", Target{}, false, ""},
		{"proxy:nocolon", "", Target{}, true, "mail_attribute_dict: Invalid URI: nocolon"},
	} {
		got, ok, err := ParseURI(tt.uri, tt.base)
		if (err == nil) != (tt.err == "") || err != nil && err.Error() != tt.err {
			t.Errorf("ParseURI(%q): error %v; want %q", tt.uri, err, tt.err)
			continue
		}
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseURI(%q) = %+v, %v; want %+v, %v", tt.uri, got, ok, tt.want, tt.ok)
		}
	}
}

// dictServer is a dict server on a UNIX socket that records each
// connection's lines and answers each commit with reply (none when reply
// is "").
type dictServer struct {
	path  string
	reply string
	mu    sync.Mutex
	conns [][]string
}

func newDictServer(t *testing.T, reply string) *dictServer {
	t.Helper()
	s := &dictServer{path: filepath.Join(t.TempDir(), "dict.sock"), reply: reply}
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(t, c)
		}
	}()
	return s
}

func (s *dictServer) serve(t *testing.T, c net.Conn) {
	defer c.Close()
	s.mu.Lock()
	i := len(s.conns)
	s.conns = append(s.conns, nil)
	s.mu.Unlock()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		line := sc.Text()
		s.mu.Lock()
		s.conns[i] = append(s.conns[i], line)
		s.mu.Unlock()
		if strings.HasPrefix(line, "C") {
			if s.reply == "" {
				continue // never answers; the client's close ends the loop
			}
			c.Write([]byte(s.reply + "\n"))
		}
	}
}

func (s *dictServer) lines() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.conns...)
}

func TestStoreForwardsWrites(t *testing.T) {
	srv := newDictServer(t, "O1")
	mem := store.NewMemory()
	st := &Store{Store: mem, Client: &Client{Target: Target{Socket: srv.path, Name: "metadata"}}}
	ctx := context.Background()
	if err := st.SetAttribute(ctx, "alice@example.org", "INBOX", "/private/messagenew", ""); err != nil {
		t.Fatal(err)
	}
	if err := st.SetAttribute(ctx, "alice@example.org", "INBOX", "/private/devicetoken", "tok\twith\ttabs"); err != nil {
		t.Fatal(err)
	}
	if err := st.UnsetAttribute(ctx, "alice@example.org", "Sent", "/shared/x"); err != nil {
		t.Fatal(err)
	}
	inbox, sent := MailboxGUID("alice@example.org", "INBOX"), MailboxGUID("alice@example.org", "Sent")
	want := [][]string{
		{"H3\t2\t0\t\tmetadata", "B1\talice@example.org", "S1\tpriv/" + inbox + "/messagenew\t", "C1"},
		{"H3\t2\t0\t\tmetadata", "B2\talice@example.org", "S2\tpriv/" + inbox + "/devicetoken\ttok\x01twith\x01ttabs", "C2"},
		{"H3\t2\t0\t\tmetadata", "B3\talice@example.org", "U3\tshared/" + sent + "/x", "C3"},
	}
	got := srv.lines()
	if len(got) != len(want) {
		t.Fatalf("got %d connections %q; want %d", len(got), got, len(want))
	}
	for i := range want {
		if strings.Join(got[i], "\n") != strings.Join(want[i], "\n") {
			t.Errorf("connection %d: got %q; want %q", i, got[i], want[i])
		}
	}
	if v, ok, _ := mem.GetAttribute(ctx, "alice@example.org", "INBOX", "/private/devicetoken"); !ok || v != "tok\twith\ttabs" {
		t.Errorf("the store holds %q, %v; want the value", v, ok)
	}
	if len(inbox) != 32 || inbox == sent || inbox != MailboxGUID("alice@example.org", "INBOX") {
		t.Errorf("stand-in GUIDs %s, %s: want 32 hex digits, stable per mailbox", inbox, sent)
	}
}

func TestStoreRefusedWrite(t *testing.T) {
	srv := newDictServer(t, "F1\tno\x01tway")
	mem := store.NewMemory()
	var logs bytes.Buffer
	st := &Store{Store: mem, Client: &Client{Target: Target{Socket: srv.path, Name: "m"}}, Logger: slog.New(logx.NewText(&logs, nil))}
	err := st.SetAttribute(context.Background(), "bob", "INBOX", "/private/messagenew", "")
	if !errors.Is(err, ErrInternal) {
		t.Fatalf("got %v; want ErrInternal", err)
	}
	if _, ok, _ := mem.GetAttribute(context.Background(), "bob", "INBOX", "/private/messagenew"); ok {
		t.Error("a write the dict refused was kept")
	}
	if want := "pushlua(bob): Error: Mailbox INBOX: Failed to commit attribute transaction (/private/messagenew): dict-server returned failure: no\tway\n"; logs.String() != want {
		t.Errorf("log %q; want %q", logs.String(), want)
	}
	if err := st.SetAttribute(context.Background(), "bob", "INBOX", "noprefix", ""); !errors.Is(err, store.ErrBadKey) {
		t.Errorf("bad key: got %v", err)
	}
}

// TestCommitBounded: a dict server that never answers holds a write no
// longer than the caller's deadline.
func TestCommitBounded(t *testing.T) {
	srv := newDictServer(t, "")
	c := &Client{Target: Target{Socket: srv.path, Name: "m"}}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Commit(ctx, "u", Op{Key: "priv/x/y"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v; want the deadline", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	// No server at all.
	c = &Client{Target: Target{Socket: filepath.Join(t.TempDir(), "none"), Name: "m"}}
	if err := c.Commit(context.Background(), "u"); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("got %v; want a connect error naming the socket", err)
	}
}

func TestTabEscape(t *testing.T) {
	for _, s := range []string{"", "plain", "a\tb\nc\rd\x01e"} {
		if got := TabUnescape(TabEscape(s)); got != s {
			t.Errorf("round trip of %q: %q", s, got)
		}
	}
	if got := TabEscape("a\tb"); got != "a\x01tb" {
		t.Errorf("TabEscape: %q", got)
	}
}
