package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestBoltCacheModes runs the Store suite on the other ways Bolt can run:
// writing through, and with a cache so small that almost every access
// reads the user from the file.
func TestBoltCacheModes(t *testing.T) {
	for name, opts := range map[string]BoltOptions{
		"write-through":  {FlushInterval: -1},
		"tiny cache":     {CacheUsers: 1},
		"flush every ms": {FlushInterval: time.Millisecond, CacheUsers: 1},
	} {
		t.Run(name, func(t *testing.T) {
			testStore(t, func(t *testing.T) Store {
				return openBolt(t, filepath.Join(t.TempDir(), "store.db"), opts)
			})
		})
	}
}

// commits returns the number of bbolt commits so far (without writing
// what is in memory first, unlike txID).
func commits(t *testing.T, s *Bolt) int {
	t.Helper()
	var id int
	_ = s.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
	return id
}

// TestApplyWritesOnlyChanges: a snapshot is compared with the user's
// state in memory; one that tells nothing new writes nothing, and changes
// are written behind, many users and many transactions per commit.
func TestApplyWritesOnlyChanges(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{Now: c.Now, FlushInterval: time.Hour})
	defer s.Close()
	gate := map[string]*string{"/private/vendor/vendor.dovecot/http-notify": ptr("user=1@3")}
	start := commits(t, s)
	for i := range 100 {
		for u := range 10 {
			mustApply(t, s, fmt.Sprint("u", u), &Snapshot{Status: map[string]Status{"INBOX": {Messages: uint32(i)}}, Metadata: gate})
		}
	}
	if got := commits(t, s); got != start {
		t.Fatalf("1000 transactions made %d commits before the flush; want none", got-start)
	}
	if st, err := s.Status(ctx, "u3", inbox); err != nil || st.Messages != 99 {
		t.Errorf("Status before the flush = %+v, %v; want Messages 99 (from memory)", st, err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := commits(t, s); got != start+1 {
		t.Errorf("one flush made %d commits; want 1", got-start)
	}
	// The same snapshot again: nothing to write.
	for u := range 10 {
		mustApply(t, s, fmt.Sprint("u", u), &Snapshot{Status: map[string]Status{"INBOX": {Messages: 99}}, Metadata: gate, Ensure: []string{inbox}})
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := commits(t, s); got != start+1 {
		t.Errorf("unchanged snapshots made %d more commits; want none", got-start-1)
	}
	// What was written is what a fresh open reads.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openBolt(t, s.Path(), BoltOptions{Now: c.Now})
	defer s2.Close()
	if s2.Users() != 10 {
		t.Errorf("Users() after reopening = %d; want 10", s2.Users())
	}
	for u := range 10 {
		if st, err := s2.Status(ctx, fmt.Sprint("u", u), inbox); err != nil || st.Messages != 99 {
			t.Errorf("u%d after reopening: %+v, %v", u, st, err)
		}
	}
}

// TestWriteBehind: changes reach the file within the flush interval
// without any call (a crash loses at most that interval), and Close
// writes the rest.
func TestWriteBehind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s := openBolt(t, path, BoltOptions{FlushInterval: 10 * time.Millisecond})
	mustApply(t, s, "u", &Snapshot{Status: map[string]Status{"INBOX": {Messages: 7}}})
	onDisk := func() bool {
		found := false
		_ = s.db.View(func(tx *bolt.Tx) error {
			found = tx.Bucket(bucketState).Get([]byte("u")) != nil
			return nil
		})
		return found
	}
	deadline := time.Now().Add(30 * time.Second)
	for !onDisk() {
		if time.Now().After(deadline) {
			t.Fatal("the change was not written within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// With a long interval, Close writes it.
	s = openBolt(t, path, BoltOptions{FlushInterval: time.Hour})
	mustApply(t, s, "v", &Snapshot{Status: map[string]Status{"INBOX": {Messages: 8}}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(context.Background(), "v", &Snapshot{Ensure: []string{"x"}}); err == nil {
		t.Error("Apply after Close succeeded")
	}
	s = openBolt(t, path, BoltOptions{})
	defer s.Close()
	if st, err := s.Status(context.Background(), "v", inbox); err != nil || st.Messages != 8 {
		t.Errorf("after Close and reopen: %+v, %v; want Messages 8", st, err)
	}
}

// TestAttributesWriteThrough: an operator's setting is in the file when
// SetAttribute returns, whatever the flush interval.
func TestAttributesWriteThrough(t *testing.T) {
	s := openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{FlushInterval: time.Hour})
	defer s.Close()
	mustSet(t, s, "u", inbox, "/private/x", "1")
	var rec []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		rec = append(rec, tx.Bucket(bucketState).Get([]byte("u"))...)
		return nil
	})
	u, err := decodeRecord(rec)
	if err != nil {
		t.Fatalf("the record in the file: %v", err)
	}
	if len(u.attrs) != 1 || u.attrs[0] != (attrState{mailbox: inbox, key: "/private/x", value: "1", pinned: true}) {
		t.Errorf("attributes in the file: %+v", u.attrs)
	}
}

// TestBoltConcurrentFlushes runs transactions, reads, attribute writes,
// flushes and expiry sweeps of many users at once (go test -race).
func TestBoltConcurrentFlushes(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{Now: c.Now, FlushInterval: time.Millisecond, CacheUsers: 64})
	defer s.Close()
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for w := range 4 {
		wg.Go(func() {
			for i := range 300 {
				u := fmt.Sprintf("u%d-%d", w, i%50)
				if err := s.Apply(ctx, u, &Snapshot{Status: map[string]Status{"INBOX": {Messages: uint32(i)}}}); err != nil {
					errc <- err
					return
				}
				if i%20 == 0 {
					if err := s.SetAttribute(ctx, u, inbox, "/private/op", "x"); err != nil {
						errc <- err
						return
					}
				}
				if _, err := s.Status(ctx, u, inbox); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			c.Advance(time.Hour)
			if _, err := s.ExpireIdle(ctx); err != nil {
				errc <- err
				return
			}
		}
	})
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	// The count of users agrees with the file.
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketState).ForEach(func(_, _ []byte) error { n++; return nil })
	})
	if s.Users() != n {
		t.Errorf("Users() = %d; the file has %d records", s.Users(), n)
	}
	if n != 200 {
		t.Errorf("%d users in the file; want 200", n)
	}
}

// TestMigrateEarlierLayout: a store in the nested-bucket layout is
// converted on open, keeping status records, attributes, pinned marks and
// touches (and the expiry index), and the result passes the check.
func TestMigrateEarlierLayout(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	touched := c.Now().Add(-10 * day).Unix()
	gate := mustServerKey(t, "/private/vendor/vendor.dovecot/http-notify")
	if err := db.Update(func(tx *bolt.Tx) error {
		users, _ := tx.CreateBucket(bucketUsers)
		idx, _ := tx.CreateBucket(bucketExpiry)
		for i := range 50 {
			u := userName(i)
			ub, _ := users.CreateBucket([]byte(u))
			st, _ := ub.CreateBucket(oldBucketStatus)
			at, _ := ub.CreateBucket(oldBucketAttr)
			_ = st.Put([]byte(inbox), fmt.Appendf(nil, `{"messages":%d,"uidnext":%d,"keywords":["$Junk"],"have_guids":true}`, i+1, i+2))
			_ = st.Put([]byte("Sent"), []byte(`{"messages":3}`))
			_ = at.Put([]byte(inbox+"\x00"+gate), []byte("user="+u))
			if i%5 == 0 {
				pinned, _ := ub.CreateBucket(oldBucketPinned)
				_ = at.Put([]byte("Sent\x00/shared/comment"), []byte("sent"))
				_ = pinned.Put([]byte("Sent\x00/shared/comment"), []byte{})
			}
			if i != 7 { // u007 was trimmed by expiry: no touch, not indexed
				v := make([]byte, 8)
				putBE(v, uint64(touched))
				_ = ub.Put(oldKeyTouched, v)
				_ = idx.Put(indexKey(touched, u), []byte{})
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := os.Stat(path)

	s := openBolt(t, path, BoltOptions{Now: c.Now})
	if s.Users() != 50 {
		t.Errorf("Users() = %d; want 50", s.Users())
	}
	for i := range 50 {
		u := userName(i)
		want := state{
			Mailboxes: []string{"INBOX", "Sent"},
			Status: map[string]Status{
				"INBOX": {Messages: uint32(i + 1), UIDNext: uint32(i + 2), Keywords: []string{"$Junk"}, HaveGUIDs: true},
				"Sent":  {Messages: 3},
			},
			Attrs: map[string]map[string]string{"INBOX": {gate: "user=" + u}},
		}
		if i%5 == 0 {
			want.Attrs["Sent"] = map[string]string{"/shared/comment": "sent"}
		}
		checkState(t, s, u, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(path, -1)
	if err != nil || !rep.OK() || rep.Users != 50 {
		t.Fatalf("Check after the conversion: %+v, %v", rep, err)
	}
	err = func() error {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error {
			if tx.Bucket(bucketUsers) != nil {
				return fmt.Errorf("the users bucket is still there")
			}
			return nil
		})
	}()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("file %d bytes before, %d records after", before.Size(), rep.Records)

	// Touches, pins and the index came along: 30 days after the touch
	// everyone expires; the pinned comments keep their users; u007,
	// trimmed before, is not looked at.
	s = openBolt(t, path, BoltOptions{Now: c.Now})
	defer s.Close()
	c.Advance(20*day - time.Second)
	if st := expire(t, s); st != (ExpireStats{}) {
		t.Errorf("expired %+v before their time", st)
	}
	c.Advance(time.Second)
	if st := expire(t, s); st != (ExpireStats{Removed: 39, Trimmed: 10}) {
		t.Errorf("ExpireIdle = %+v; want 39 removed, 10 trimmed (u007 not indexed)", st)
	}
	if v, ok, _ := s.GetAttribute(ctx, userName(5), "Sent", "/shared/comment"); !ok || v != "sent" {
		t.Errorf("u005's pinned comment = %q, %v; want it kept", v, ok)
	}
}

func putBE(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

// TestStatusEqualSeesEveryField: a change of any field of a status record
// is a change.
func TestStatusEqualSeesEveryField(t *testing.T) {
	typ := reflect.TypeFor[Status]()
	for i := range typ.NumField() {
		var a Status
		f := reflect.ValueOf(&a).Elem().Field(i)
		switch f.Kind() {
		case reflect.Uint32, reflect.Uint64:
			f.SetUint(1)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"k"}))
		default:
			t.Fatalf("field %s: kind %v not covered", typ.Field(i).Name, f.Kind())
		}
		if statusEqual(a, Status{}) {
			t.Errorf("statusEqual misses field %s", typ.Field(i).Name)
		}
		// And the record keeps it.
		u := &userState{boxes: []boxState{{name: inbox, st: a}}}
		got, err := decodeRecord(u.encode(nil))
		if err != nil || !statusEqual(got.boxes[0].st, a) {
			t.Errorf("field %s: the record gives %+v, %v", typ.Field(i).Name, got, err)
		}
	}
	if !statusEqual(Status{Keywords: []string{}}, Status{}) {
		t.Error("an empty keyword list differs from none")
	}
}

// TestStoreSizePerUser measures the file of 100,000 users, each with
// INBOX's status and the OX gate key (what forwarded transactions leave):
// at most 300 bytes per user.
func TestStoreSizePerUser(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 users")
	}
	const users = 100_000
	path := filepath.Join(t.TempDir(), "store.db")
	// A write every 5,000 transactions, a second apart, as serve's
	// default interval does at 5,000 transactions per second.
	c := newClock()
	s := openBolt(t, path, BoltOptions{FlushInterval: time.Hour, Now: c.Now})
	ctx := context.Background()
	for i := range users {
		u := fmt.Sprintf("user%06d@example.com", (i*7919)%users) // not in name order
		if err := s.Apply(ctx, u, &Snapshot{
			Status:   map[string]Status{"INBOX": {Messages: uint32(i%500 + 1), Recent: 1, Unseen: uint32(i % 7), UIDNext: uint32(i%500 + 2), UIDValidity: 1795978712}},
			Metadata: map[string]*string{"/private/vendor/vendor.dovecot/http-notify": ptr(fmt.Sprintf("user=%d@3", i))},
		}); err != nil {
			t.Fatal(err)
		}
		if i%5000 == 4999 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			c.Advance(time.Second)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	per := float64(fi.Size()) / users
	t.Logf("%d users: %d bytes, %.0f bytes per user", users, fi.Size(), per)
	if per > 300 {
		t.Errorf("%.0f bytes of store per user; want at most 300", per)
	}
}
