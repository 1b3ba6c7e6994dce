package doveadm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/store"
)

// countingServer answers every request with answer(body) and counts them.
type countingServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []string
}

func startCounting(t *testing.T, answer func(body string) (int, string)) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, string(b))
		s.mu.Unlock()
		status, body := answer(string(b))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *countingServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// liveAnswer is a doveadm that knows alice's INBOX (7 messages, 3 unseen)
// and the server METADATA key /private/live = "from dovecot".
func liveAnswer(body string) (int, string) {
	switch {
	case strings.Contains(body, `"mailboxStatus"`) && strings.Contains(body, `["INBOX"]`):
		return 200, `[["doveadmResponse",[{"mailbox":"INBOX","messages":"7","recent":"0","uidnext":"8","uidvalidity":"42","unseen":"3","highestmodseq":"9"}],"c0"]]`
	case strings.Contains(body, `"mailboxStatus"`):
		return 200, `[["error",{"type":"exitCode", "exitCode":68},"c0"]]`
	case strings.Contains(body, `pvt/server/live"`):
		return 200, `[["doveadmResponse",[{"value":"from dovecot"}],"c0"],["doveadmResponse",[{"key":""}],"c1"]]`
	default:
		return 200, `[["doveadmResponse",[{"value":""}],"c0"],["doveadmResponse",[],"c1"]]`
	}
}

func newLiveStore(t *testing.T, url string) (*Store, *store.Memory) {
	t.Helper()
	base := store.NewMemory()
	ctx := context.Background()
	if err := base.Apply(ctx, "alice", &store.Snapshot{Status: map[string]store.Status{"INBOX": {Messages: 1}, "Work": {Messages: 5}}}); err != nil {
		t.Fatal(err)
	}
	sk, _ := store.ServerKey("/private/live")
	if err := base.SetAttribute(ctx, "alice", "INBOX", sk, "stored"); err != nil {
		t.Fatal(err)
	}
	s := NewStore(base, newClient(t, Options{URL: url, Key: "k"}))
	s.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	return s, base
}

func TestStoreOutsideTransaction(t *testing.T) {
	srv := startCounting(t, liveAnswer)
	s, _ := newLiveStore(t, srv.URL)
	ctx := context.Background()
	st, err := s.Status(ctx, "alice", "INBOX")
	if err != nil || st.Messages != 1 {
		t.Errorf("Status = %+v, %v; want the stored 1 message", st, err)
	}
	sk, _ := store.ServerKey("/private/live")
	if v, ok, err := s.GetAttribute(ctx, "alice", "INBOX", sk); v != "stored" || !ok || err != nil {
		t.Errorf("GetAttribute = %q, %v, %v; want the stored value", v, ok, err)
	}
	if n := srv.count(); n != 0 {
		t.Errorf("%d requests to doveadm, want none outside a transaction", n)
	}
}

func TestStoreInTransaction(t *testing.T) {
	srv := startCounting(t, liveAnswer)
	s, _ := newLiveStore(t, srv.URL)
	sk, _ := store.ServerKey("/private/live")
	other, _ := store.ServerKey("/private/other")
	v := "from the snapshot"
	var logs bytes.Buffer
	ctx := WithTxn(context.Background(), &Txn{
		Status:   map[string]store.Status{"Work": {Messages: 5}},
		Metadata: map[string]*string{"/private/other": &v},
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	})

	// Not in the snapshot: live, asked once per transaction.
	for range 2 {
		st, err := s.Status(ctx, "alice", "INBOX")
		if err != nil || st.Messages != 7 || st.Unseen != 3 || st.UIDNext != 8 || st.UIDValidity != 42 || st.HighestModseq != 9 {
			t.Errorf("Status(INBOX) = %+v, %v; want doveadm's", st, err)
		}
	}
	if n := srv.count(); n != 1 {
		t.Errorf("%d requests for two Status calls, want 1", n)
	}
	// In the snapshot: the store's.
	if st, err := s.Status(ctx, "alice", "Work"); err != nil || st.Messages != 5 {
		t.Errorf("Status(Work) = %+v, %v; want the stored 5 messages", st, err)
	}
	// Missing in Dovecot: store.ErrNoMailbox, nothing logged.
	if _, err := s.Status(ctx, "alice", "Nope"); !errors.Is(err, store.ErrNoMailbox) || err.Error() != "mailbox doesn't exist: Nope" {
		t.Errorf("Status(Nope) = %v; want store.ErrNoMailbox", err)
	}

	if v, ok, err := s.GetAttribute(ctx, "alice", "INBOX", sk); v != "from dovecot" || !ok || err != nil {
		t.Errorf("GetAttribute(live) = %q, %v, %v; want doveadm's", v, ok, err)
	}
	if _, ok, err := s.GetAttribute(ctx, "alice", "INBOX", "/private/nothing"); ok || err != nil {
		t.Errorf("GetAttribute(unset) = %v, %v; want unset", ok, err)
	}
	before := srv.count()
	if err := s.SetAttribute(ctx, "alice", "INBOX", other, "written"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.GetAttribute(ctx, "alice", "INBOX", other); v != "written" || !ok || err != nil {
		t.Errorf("GetAttribute(snapshot key) = %q, %v, %v; want the store's", v, ok, err)
	}
	// Written by the transaction: the store's from now on.
	nothing := "/private/nothing"
	if err := s.SetAttribute(ctx, "alice", "Work", nothing, "mine"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.GetAttribute(ctx, "alice", "Work", nothing); v != "mine" || !ok || err != nil {
		t.Errorf("GetAttribute after SetAttribute = %q, %v, %v; want the written value", v, ok, err)
	}
	if err := s.UnsetAttribute(ctx, "alice", "Work", nothing); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.GetAttribute(ctx, "alice", "Work", nothing); ok || err != nil {
		t.Errorf("GetAttribute after UnsetAttribute = %v, %v; want unset", ok, err)
	}
	if n := srv.count(); n != before {
		t.Errorf("%d requests for keys the transaction carries or wrote, want none", n-before)
	}
	if logs.Len() != 0 {
		t.Errorf("logged:\n%s", logs.String())
	}
	// Another transaction asks again.
	ctx2 := WithTxn(context.Background(), &Txn{})
	if st, err := s.Status(ctx2, "alice", "INBOX"); err != nil || st.Messages != 7 {
		t.Errorf("Status in the next transaction = %+v, %v", st, err)
	}
	if n := srv.count(); n != before+1 {
		t.Errorf("%d requests in the next transaction, want 1", n-before)
	}
}

// TestStoreFailure: a failed lookup is Dovecot's internal-error text,
// wraps the doveadm error, is logged once at Error level and is not asked
// again in the same transaction.
func TestStoreFailure(t *testing.T) {
	srv := startCounting(t, func(string) (int, string) { return 401, "" })
	s, _ := newLiveStore(t, srv.URL)
	var logs bytes.Buffer
	ctx := WithTxn(context.Background(), &Txn{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	const want = "Internal error occurred. Refer to server log for more information. [2026-01-02 03:04:05]"
	for range 2 {
		_, err := s.Status(ctx, "alice", "INBOX")
		var de *Error
		if err == nil || err.Error() != want || !errors.As(err, &de) || de.StatusCode != 401 {
			t.Errorf("Status = %v; want %q wrapping the 401", err, want)
		}
		sk, _ := store.ServerKey("/private/live")
		if _, _, err := s.GetAttribute(ctx, "alice", "INBOX", sk); err == nil || err.Error() != want {
			t.Errorf("GetAttribute = %v; want %q", err, want)
		}
	}
	if n := srv.count(); n != 2 {
		t.Errorf("%d requests, want 2 (one per lookup and transaction)", n)
	}
	out := logs.String()
	if n := strings.Count(out, "level=ERROR"); n != 2 ||
		!strings.Contains(out, `doveadm: status of \"INBOX\" failed: doveadm mailboxStatus: POST `+srv.URL+APIPath+`: 401 Unauthorized`) ||
		!strings.Contains(out, `doveadm: attribute /private/vendor/vendor.dovecot/pvt/server/live of \"INBOX\" failed: doveadm mailboxMetadataGet+mailboxMetadataList: POST`) {
		t.Errorf("log:\n%s\nwant one Error line per failed lookup", out)
	}
}

// TestStoreCanceled: a call whose own context ended returns that error
// and logs nothing.
func TestStoreCanceled(t *testing.T) {
	srv := startCounting(t, liveAnswer)
	s, _ := newLiveStore(t, srv.URL)
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(WithTxn(context.Background(), &Txn{Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
	cancel()
	if _, err := s.Status(ctx, "alice", "INBOX"); !errors.Is(err, context.Canceled) {
		t.Errorf("Status = %v; want context.Canceled", err)
	}
	if logs.Len() != 0 {
		t.Errorf("logged:\n%s", logs.String())
	}
}
