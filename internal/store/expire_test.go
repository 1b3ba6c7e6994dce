package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"
)

// clock is a settable clock for BoltOptions.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const day = 24 * time.Hour

// txID returns the store's last committed transaction id once what the
// store has in memory is written: it changes only when something was
// written.
func txID(t *testing.T, s *Bolt) int {
	t.Helper()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	var id int
	_ = s.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
	return id
}

// userExists reports whether the store's file holds a record for user
// once what the store has in memory is written.
func userExists(t *testing.T, s *Bolt, user string) bool {
	t.Helper()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	found := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketState).Get([]byte(user)) != nil
		return nil
	})
	return found
}

// indexLen returns the number of entries of the expiry index once what
// the store has in memory is written.
func indexLen(t *testing.T, s *Bolt) int {
	t.Helper()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketExpiry).ForEach(func(_, _ []byte) error { n++; return nil })
	})
	return n
}

func expire(t *testing.T, s *Bolt) ExpireStats {
	t.Helper()
	st, err := s.ExpireIdle(context.Background())
	if err != nil {
		t.Fatalf("ExpireIdle: %v", err)
	}
	return st
}

func TestExpireIdle(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{Expire: 30 * day, Now: c.Now})
	defer s.Close()
	gate := mustServerKey(t, "/private/vendor/vendor.dovecot/http-notify")
	learned := mustServerKey(t, "/private/learned")

	// idle: one transaction, then nothing. active: a transaction every
	// ten days. operator: a transaction and an operator's setting.
	// operator-reset: the operator's key, later set by a snapshot.
	for _, u := range []string{"idle", "active", "operator", "operator-reset"} {
		mustApply(t, s, u, &Snapshot{
			Status:   map[string]Status{"INBOX": {Messages: 5}, "Work": {Messages: 2}},
			Metadata: map[string]*string{"/private/learned": ptr("from dovecot")},
		})
	}
	mustSet(t, s, "operator", inbox, gate, "user=11@3")
	mustSet(t, s, "operator", "Work", "/shared/comment", "work mail")
	mustSet(t, s, "operator-reset", inbox, gate, "user=12@3")
	mustApply(t, s, "operator-reset", &Snapshot{Metadata: map[string]*string{"/private/vendor/vendor.dovecot/http-notify": ptr("user=dovecot")}})
	if got := s.Users(); got != 4 {
		t.Fatalf("Users() = %d; want 4", got)
	}

	for range 2 {
		c.Advance(10 * day)
		mustApply(t, s, "active", &Snapshot{Ensure: []string{inbox}})
		if st := expire(t, s); st != (ExpireStats{}) {
			t.Fatalf("ExpireIdle before 30 days: %+v", st)
		}
	}
	// 30 days after the first transactions: all but active go.
	c.Advance(10 * day)
	mustApply(t, s, "active", &Snapshot{Ensure: []string{inbox}})
	if st := expire(t, s); st != (ExpireStats{Removed: 2, Trimmed: 1}) {
		t.Errorf("ExpireIdle = %+v; want 2 removed (idle, operator-reset), 1 trimmed (operator)", st)
	}
	if got := s.Users(); got != 2 {
		t.Errorf("Users() = %d; want 2", got)
	}
	for _, u := range []string{"idle", "operator-reset"} {
		if userExists(t, s, u) {
			t.Errorf("%s is still in the store", u)
		}
		if st, err := s.Status(ctx, u, inbox); err != nil || st.Messages != 0 {
			t.Errorf("%s: INBOX = %+v, %v; want an empty INBOX", u, st, err)
		}
	}
	if st, err := s.Status(ctx, "active", "Work"); err != nil || st.Messages != 2 {
		t.Errorf("active: Work = %+v, %v; want it kept", st, err)
	}
	// The operator's settings stay; what transactions taught goes.
	checkState(t, s, "operator", state{
		Mailboxes: []string{"INBOX"},
		Status:    map[string]Status{"INBOX": {}},
		Attrs: map[string]map[string]string{
			"INBOX": {gate: "user=11@3"},
			"Work":  {"/shared/comment": "work mail"},
		},
	}, "Work")
	if _, ok, _ := s.GetAttribute(ctx, "operator", inbox, learned); ok {
		t.Error("operator: the transaction-learned attribute was kept")
	}
	// Only active is indexed: the trimmed user waits for its next touch.
	if n := indexLen(t, s); n != 1 {
		t.Errorf("expiry index has %d entries; want 1", n)
	}
	if st := expire(t, s); st != (ExpireStats{}) {
		t.Errorf("second ExpireIdle = %+v; want nothing", st)
	}

	// A trimmed user comes back with its next transaction, and expires
	// again (trimmed again) when idle again.
	mustApply(t, s, "operator", &Snapshot{Status: map[string]Status{"INBOX": {Messages: 1}}})
	c.Advance(31 * day)
	if st := expire(t, s); st != (ExpireStats{Removed: 1, Trimmed: 1}) {
		t.Errorf("ExpireIdle = %+v; want active removed, operator trimmed", st)
	}
	if v, ok, _ := s.GetAttribute(ctx, "operator", inbox, gate); !ok || v != "user=11@3" {
		t.Errorf("the operator's setting is gone after a second expiry: %q, %v", v, ok)
	}
	// Unsetting the operator's keys lets the user go entirely.
	if err := s.UnsetAttribute(ctx, "operator", inbox, gate); err != nil {
		t.Fatal(err)
	}
	if err := s.UnsetAttribute(ctx, "operator", "Work", "/shared/comment"); err != nil {
		t.Fatal(err)
	}
	c.Advance(31 * day)
	if st := expire(t, s); st != (ExpireStats{Removed: 1}) {
		t.Errorf("ExpireIdle = %+v; want operator removed", st)
	}
	if got := s.Users(); got != 0 {
		t.Errorf("Users() = %d; want 0", got)
	}
}

func TestExpireBoundary(t *testing.T) {
	c := newClock()
	s := openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{Expire: 2 * day, Now: c.Now})
	defer s.Close()
	mustApply(t, s, "u", &Snapshot{Ensure: []string{inbox}})
	c.Advance(2*day - time.Second)
	if st := expire(t, s); st.Removed != 0 {
		t.Fatal("removed a second before its time")
	}
	c.Advance(time.Second)
	if st := expire(t, s); st.Removed != 1 {
		t.Fatal("not removed after exactly Expire")
	}
}

// TestTouchIsCheap: a transaction on known mailboxes writes nothing while
// the user's touch is younger than the resolution, and rewrites it after.
func TestTouchIsCheap(t *testing.T) {
	c := newClock()
	s := openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{Now: c.Now})
	defer s.Close()
	known := &Snapshot{Ensure: []string{inbox}}
	mustApply(t, s, "u", known)
	id := txID(t, s)
	for range 10 {
		c.Advance(5 * time.Minute)
		mustApply(t, s, "u", known)
	}
	if got := txID(t, s); got != id {
		t.Errorf("known-mailbox transactions within the hour wrote %d commits; want none", got-id)
	}
	c.Advance(15 * time.Minute) // an hour since the touch
	mustApply(t, s, "u", known)
	if got := txID(t, s); got != id+1 {
		t.Errorf("after an hour: %d commits; want 1 (the touch)", got-id)
	}
	if n := indexLen(t, s); n != 1 {
		t.Errorf("expiry index has %d entries; want 1 (the old one replaced)", n)
	}
}

func TestExpireResolutions(t *testing.T) {
	tests := []struct {
		expire       time.Duration
		touch, sweep time.Duration
	}{
		{DefaultExpire, time.Hour, time.Hour},
		{NeverExpire, time.Hour, time.Hour},
		{8 * time.Hour, 30 * time.Minute, time.Hour},
		{time.Hour, 225 * time.Second, 15 * time.Minute},
		{2 * time.Second, time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.expire.String(), func(t *testing.T) {
			if got := touchResolution(tt.expire); got != tt.touch {
				t.Errorf("touchResolution = %v; want %v", got, tt.touch)
			}
			if got := sweepInterval(tt.expire); got != tt.sweep {
				t.Errorf("sweepInterval = %v; want %v", got, tt.sweep)
			}
		})
	}
}

// TestExpirePinsFollowMailboxes: an operator's attribute on a mailbox
// moves with a rename and goes with a delete.
func TestExpirePinsFollowMailboxes(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{Now: c.Now})
	defer s.Close()
	mustApply(t, s, "u", &Snapshot{Ensure: []string{"Work", "Old"}})
	mustSet(t, s, "u", "Work", "/shared/comment", "work")
	mustSet(t, s, "u", "Old", "/shared/comment", "old")
	mustApply(t, s, "u", &Snapshot{Renames: map[string]string{"Work": "Play"}, Deletes: []string{"Old"}})
	c.Advance(DefaultExpire)
	if st := expire(t, s); st != (ExpireStats{Trimmed: 1}) {
		t.Fatalf("ExpireIdle = %+v; want u trimmed", st)
	}
	if v, ok, _ := s.GetAttribute(ctx, "u", "Play", "/shared/comment"); !ok || v != "work" {
		t.Errorf("Play's comment after expiry = %q, %v; want it kept", v, ok)
	}
	for _, box := range []string{"Work", "Old"} {
		if _, ok, _ := s.GetAttribute(ctx, "u", box, "/shared/comment"); ok {
			t.Errorf("%s's comment is back", box)
		}
	}
}

func TestExpireNever(t *testing.T) {
	c := newClock()
	s := openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{Expire: NeverExpire, Now: c.Now})
	defer s.Close()
	mustApply(t, s, "u", &Snapshot{Ensure: []string{inbox}})
	c.Advance(10 * 365 * day)
	if st := expire(t, s); st != (ExpireStats{}) || !userExists(t, s, "u") {
		t.Errorf("NeverExpire: ExpireIdle = %+v", st)
	}
}

// TestExpireBatches: a sweep longer than one write transaction's batch
// removes everyone.
func TestExpireBatches(t *testing.T) {
	c := newClock()
	s := openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{Now: c.Now})
	defer s.Close()
	n := 2*expireBatch + 7
	for i := range n {
		mustApply(t, s, fmt.Sprint("u", i), &Snapshot{Ensure: []string{inbox}})
	}
	c.Advance(DefaultExpire)
	if st := expire(t, s); st.Removed != n {
		t.Errorf("removed %d; want %d", st.Removed, n)
	}
	if n := indexLen(t, s); n != 0 {
		t.Errorf("%d index entries left", n)
	}
}

// TestExpireStartsOnOldStores: a store written before expiry existed
// gets its index on open; its users count as touched then, and their
// attributes as the operator's.
func TestExpireStartsOnOldStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		users, _ := tx.CreateBucket(bucketUsers)
		for _, u := range []string{"a", "b"} {
			ub, _ := users.CreateBucket([]byte(u))
			st, _ := ub.CreateBucket(oldBucketStatus)
			at, _ := ub.CreateBucket(oldBucketAttr)
			if err := st.Put([]byte(inbox), []byte("{}")); err != nil {
				return err
			}
			if u == "a" {
				if err := at.Put([]byte(inbox+"\x00/private/x"), []byte("1")); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	c := newClock()
	s := openBolt(t, path, BoltOptions{Now: c.Now})
	defer s.Close()
	if s.Users() != 2 || indexLen(t, s) != 2 {
		t.Fatalf("Users() = %d, index %d; want 2, 2", s.Users(), indexLen(t, s))
	}
	c.Advance(DefaultExpire - time.Second)
	if st := expire(t, s); st != (ExpireStats{}) {
		t.Errorf("expired %+v before Expire had passed since the upgrade", st)
	}
	c.Advance(time.Second)
	if st := expire(t, s); st != (ExpireStats{Removed: 1, Trimmed: 1}) {
		t.Errorf("ExpireIdle = %+v; want b removed and a trimmed", st)
	}
	if v, ok, _ := s.GetAttribute(ctx, "a", inbox, "/private/x"); !ok || v != "1" {
		t.Errorf("a's attribute = %q, %v; want it kept", v, ok)
	}
}

// TestRunExpiry runs the sweep loop on synctest's fake clock: with
// Expire 4h it sweeps at start and every hour, and removes an idle user
// at the first sweep after it has been idle for 4 hours.
func TestRunExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{Expire: 4 * time.Hour})
		defer s.Close()
		mustApply(t, s, "u", &Snapshot{Ensure: []string{inbox}})
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.RunExpiry(ctx, log)
		}()
		time.Sleep(3*time.Hour + time.Minute)
		synctest.Wait()
		if s.Users() != 1 {
			t.Fatal("the user was removed before it was idle for 4 hours")
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if s.Users() != 0 {
			t.Error("the sweep 4 hours after the touch did not remove the user")
		}
		if want := "store: expired 1 users idle for 4h (0 of them kept for their pushlua metadata settings)"; !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
		cancel()
		<-done
	})
}

func TestExpireCancelled(t *testing.T) {
	c := newClock()
	s := openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{Now: c.Now})
	defer s.Close()
	mustApply(t, s, "u", &Snapshot{Ensure: []string{inbox}})
	c.Advance(DefaultExpire)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ExpireIdle(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ExpireIdle with a cancelled context: %v", err)
	}
	if !userExists(t, s, "u") {
		t.Error("a cancelled sweep removed the user")
	}
}

func TestDurationString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * day: "30d", 36 * time.Hour: "36h", 90 * time.Minute: "90m", 45 * time.Second: "45s", 1500 * time.Millisecond: "1.5s",
	} {
		if got := DurationString(d); got != want {
			t.Errorf("DurationString(%v) = %q; want %q", d, got, want)
		}
	}
}
