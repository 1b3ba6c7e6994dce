package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// testUsers is how many users populate writes: enough for the state
// bucket to need branch pages.
const testUsers = 300

func userName(i int) string { return fmt.Sprintf("u%03d@example.com", i) }

// populate writes a store with testUsers users, each with an INBOX status
// record and a transaction-learned METADATA key; every tenth user also has
// an operator-set attribute. Each user's snapshot is a commit of its own.
func populate(t *testing.T, path string) {
	t.Helper()
	s := openBolt(t, path, BoltOptions{})
	ctx := context.Background()
	for i := range testUsers {
		u := userName(i)
		mustApply(t, s, u, &Snapshot{
			Status:   map[string]Status{"INBOX": {Messages: uint32(i + 1), UIDNext: uint32(i + 2)}},
			Metadata: map[string]*string{"/private/gate": ptr("user=" + u)},
		})
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if err := s.SetAttribute(ctx, u, inbox, mustServerKey(t, "/private/vendor/vendor.dovecot/http-notify"), "user=ox"+u); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustServerKey(t testing.TB, k string) string {
	t.Helper()
	sk, err := ServerKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// layout is where some of a healthy store's pages are.
type layout struct {
	pageSize  int64
	root      uint64              // the root bucket's page
	freelist  uint64              // the freelist page
	state     uint64              // the state bucket's root page (a branch page)
	userPages map[string]uint64   // the leaf page of each user's record
	pageUsers map[uint64][]string // the users on each leaf page, in order
}

func readLayout(t testing.TB, path string) layout {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := layout{pageSize: int64(db.Info().PageSize), userPages: map[string]uint64{}, pageUsers: map[uint64][]string{}}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	metas, _ := readMetas(bytes.NewReader(data), int64(len(data)))
	l.root, l.freelist = metas[0].root, metas[0].freelist
	if err := db.View(func(tx *bolt.Tx) error {
		l.state = uint64(tx.Bucket(bucketState).Root())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var walk func(id uint64)
	walk = func(id uint64) {
		b := data[int64(id)*l.pageSize : int64(id+1)*l.pageSize]
		leaf := ne.Uint16(b[8:]) == leafPageFlag
		for i := range int(ne.Uint16(b[10:])) {
			k, _, child, err := element(b, i, leaf)
			if err != nil {
				t.Fatalf("page %d: %v", id, err)
			}
			if !leaf {
				walk(child)
				continue
			}
			l.userPages[string(k)] = id
			l.pageUsers[id] = append(l.pageUsers[id], string(k))
		}
	}
	walk(l.state)
	if len(l.pageUsers) < 4 {
		t.Fatalf("the state bucket has %d leaf pages; the damages need more", len(l.pageUsers))
	}
	return l
}

// usersFrom returns the users on user's leaf page from user on.
func (l layout) usersFrom(user string) []string {
	users := l.pageUsers[l.userPages[user]]
	for i, u := range users {
		if u == user {
			return users[i:]
		}
	}
	return nil
}

// patch writes b at offset off of the file.
func patch(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// damage is one way of breaking a populated store; lost are users whose
// state the salvage cannot keep.
type damage struct {
	name  string
	apply func(t testing.TB, path string, l layout)
	want  string // in the first problem
	lost  func(l layout) []string
}

var damages = []damage{
	{
		name: "truncated to half",
		apply: func(t testing.TB, path string, l layout) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		},
		want: "the file was truncated",
		lost: nil, // depends on where the pages were: checked by count only
	},
	{
		name: "garbage user pages",
		apply: func(t testing.TB, path string, l layout) {
			for i, u := range []string{userName(30), userName(150), userName(210)} {
				if l.userPages[u] == l.userPages[userName(testUsers-1)] {
					// The previous commit would keep that page.
					t.Fatalf("%s shares the last commit's leaf page: damage another one", u)
				}
				patch(t, path, int64(l.userPages[u])*l.pageSize, randomBytes(int(l.pageSize), uint64(i+1)))
			}
		},
		want: "garbage or misplaced data",
		// Every user whose record was on those pages.
		lost: func(l layout) []string {
			var lost []string
			for _, u := range []string{userName(30), userName(150), userName(210)} {
				lost = append(lost, l.pageUsers[l.userPages[u]]...)
			}
			return lost
		},
	},
	{
		name: "garbage freelist",
		apply: func(t testing.TB, path string, l layout) {
			patch(t, path, int64(l.freelist)*l.pageSize, randomBytes(int(l.pageSize), 9))
		},
		want: "freelist",
	},
	{
		name: "element table past the page",
		apply: func(t testing.TB, path string, l layout) {
			b := make([]byte, 2)
			binary.NativeEndian.PutUint16(b, 0xFFF0)
			patch(t, path, int64(l.userPages[userName(5)])*l.pageSize+10, b)
		},
		// The elements before the first bad one are salvaged.
		want: "bucket state: leaf page",
	},
	{
		name: "key out of order",
		apply: func(t testing.TB, path string, l layout) {
			// Make u106's key sort before the one ahead of it.
			f, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			off := int64(l.userPages[userName(106)]) * l.pageSize
			i := strings.Index(string(f[off:off+l.pageSize]), userName(106))
			if i < 0 {
				t.Fatal("no u106 key on its page")
			}
			patch(t, path, off+int64(i), []byte("aaaa"))
		},
		want: "out of order",
		// The walk of the page stops at the bad key.
		lost: func(l layout) []string { return l.usersFrom(userName(106)) },
	},
	{
		name: "branch page loop",
		apply: func(t testing.TB, path string, l layout) {
			// The state bucket's root is a branch page: point its
			// second child at itself.
			b := make([]byte, 8)
			binary.NativeEndian.PutUint64(b, l.state)
			patch(t, path, int64(l.state)*l.pageSize+pageHeaderSize+pageElementSize+8, b)
		},
		want: "referenced more than once",
		// The previous commit's tree is intact and gives more: the
		// repair goes back to it and loses the last commit, u299's.
		lost: func(layout) []string { return []string{userName(testUsers - 1)} },
	},
	{
		name: "both meta pages",
		apply: func(t testing.TB, path string, l layout) {
			patch(t, path, 0, randomBytes(int(2*l.pageSize), 11))
		},
		want: "no valid meta page",
	},
	{
		name: "damaged record",
		apply: func(t testing.TB, path string, l layout) {
			// A record's version byte, inside a sound page: only
			// decoding the record finds it.
			f, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			off := int64(l.userPages[userName(42)]) * l.pageSize
			i := strings.Index(string(f[off:off+l.pageSize]), userName(42)+string(rune(recordVersion)))
			if i < 0 {
				t.Fatal("no u042 record on its page")
			}
			patch(t, path, off+int64(i+len(userName(42))), []byte{0x7f})
		},
		want: `the record of "u042@example.com": damaged record: unknown version 127`,
		lost: func(layout) []string { return []string{userName(42)} },
	},
}

func TestCheckHealthy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	populate(t, path)
	rep, err := Check(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Warnings) > 0 {
		t.Fatalf("problems %q, warnings %q; want none", rep.Problems, rep.Warnings)
	}
	if rep.Users != testUsers {
		t.Errorf("Users = %d; want %d", rep.Users, testUsers)
	}
	// Per user: its record and its index entry.
	if want := testUsers * 2; rep.Records != want {
		t.Errorf("Records = %d; want %d", rep.Records, want)
	}
	// bbolt's own check agrees.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt: %v", err)
		}
		return nil
	})
}

func TestCheckMissingAndEmpty(t *testing.T) {
	dir := t.TempDir()
	rep, err := Check(filepath.Join(dir, "none.db"), -1)
	if err != nil || !rep.OK() || rep.Size != 0 {
		t.Errorf("missing file: %+v, %v; want OK and size 0", rep, err)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if rep, err := Check(empty, -1); err != nil || !rep.OK() {
		t.Errorf("empty file: %+v, %v; want OK (bbolt initialises it)", rep, err)
	}
	openBolt(t, empty, BoltOptions{}).Close()
}

func TestCheckHeldLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s := openBolt(t, path, BoltOptions{})
	defer s.Close()
	for name, f := range map[string]func() error{
		"check":  func() error { _, err := Check(path, -1); return err },
		"repair": func() error { _, err := Repair(path, BoltOptions{Timeout: -1}); return err },
	} {
		if err := f(); err == nil || !strings.Contains(err.Error(), "another pushlua process holds the database") {
			t.Errorf("%s while the store is open: %v; want the lock error", name, err)
		}
	}
}

// TestDamagedStore breaks a store in each way of damages: OpenBolt must
// refuse it with a *CorruptError naming the file (and not crash), Check
// must say what is wrong, and Repair must produce a store that opens,
// passes Check and keeps what was readable.
func TestDamagedStore(t *testing.T) {
	healthy := filepath.Join(t.TempDir(), "healthy.db")
	populate(t, healthy)
	l := readLayout(t, healthy)
	orig, err := os.ReadFile(healthy)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			if err := os.WriteFile(path, orig, 0o600); err != nil {
				t.Fatal(err)
			}
			d.apply(t, path, l)

			s, err := OpenBolt(path, BoltOptions{})
			if err == nil {
				s.Close()
				t.Fatal("OpenBolt accepted the damaged file")
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("OpenBolt error %v (%T); want a *CorruptError", err, err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "is damaged") {
				t.Errorf("error %q does not name the file and the damage", err)
			}

			rep, err := Check(path, -1)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("Check found no problem")
			}
			if !strings.Contains(strings.Join(rep.Problems, "\n"), d.want) {
				t.Errorf("problems %q; want one containing %q", rep.Problems, d.want)
			}

			before := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			rr, err := Repair(path, BoltOptions{Now: func() time.Time { return before }})
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			if want := path + ".corrupt-20300102T030405Z"; rr.MovedTo != want {
				t.Errorf("MovedTo = %q; want %q", rr.MovedTo, want)
			}
			if got, err := os.ReadFile(rr.MovedTo); err != nil || len(got) == 0 {
				t.Errorf("the damaged file was not kept: %v", err)
			}
			if len(rr.Skipped) == 0 && rr.TxID == rr.Damage.TxID {
				t.Error("the repair report lists no damage and used the damaged commit")
			}
			after, err := Check(path, -1)
			if err != nil || !after.OK() {
				t.Fatalf("Check after Repair: %+v, %v", after, err)
			}
			s = openBolt(t, path, BoltOptions{})
			defer s.Close()
			if s.Users() != rr.Users {
				t.Errorf("Users() = %d; the repair reported %d", s.Users(), rr.Users)
			}
			checkSalvage(t, s, d, l, rr)
			// The repaired store works.
			mustApply(t, s, "new@example.com", &Snapshot{Status: map[string]Status{"INBOX": {Messages: 9}}})
			if st, err := s.Status(context.Background(), "new@example.com", inbox); err != nil || st.Messages != 9 {
				t.Errorf("Status after repair: %+v, %v", st, err)
			}
		})
	}
}

// checkSalvage checks that every user the damage did not reach kept its
// state after the repair.
func checkSalvage(t *testing.T, s *Bolt, d damage, l layout, rr *RepairReport) {
	t.Helper()
	ctx := context.Background()
	switch d.name {
	case "both meta pages":
		if rr.Users != 0 {
			t.Errorf("salvaged %d users from a file without a valid meta page", rr.Users)
		}
		return
	case "truncated to half":
		// What survives depends on where bbolt put the pages; the file
		// must be usable, and what was salvaged must be intact.
		t.Logf("salvaged %d of %d users, %d records", rr.Users, testUsers, rr.Records)
	}
	lost := map[string]bool{}
	if d.lost != nil {
		for _, u := range d.lost(l) {
			lost[u] = true
		}
	}
	kept := 0
	for i := range testUsers {
		u := userName(i)
		st, err := s.Status(ctx, u, inbox)
		if err != nil {
			t.Fatalf("Status(%s): %v", u, err)
		}
		if st.Messages == 0 {
			if !lost[u] && d.name != "truncated to half" {
				t.Errorf("%s lost its status record", u)
			}
			continue
		}
		kept++
		if st.Messages != uint32(i+1) {
			t.Errorf("%s: Messages = %d; want %d", u, st.Messages, i+1)
		}
		if v, ok, err := s.GetAttribute(ctx, u, inbox, mustServerKey(t, "/private/gate")); err != nil || !ok || v != "user="+u {
			t.Errorf("%s: gate attribute = %q, %v, %v", u, v, ok, err)
		}
		if i%10 == 0 {
			v, ok, err := s.GetAttribute(ctx, u, inbox, mustServerKey(t, "/private/vendor/vendor.dovecot/http-notify"))
			if err != nil || !ok || v != "user=ox"+u {
				t.Errorf("%s: operator attribute = %q, %v, %v", u, v, ok, err)
			}
		}
	}
	if d.name != "truncated to half" && kept != testUsers-len(lost) {
		t.Errorf("%d users kept their state; want %d", kept, testUsers-len(lost))
	}
}

// TestRepairHealthy leaves a good file alone.
func TestRepairHealthy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	populate(t, path)
	before, _ := os.ReadFile(path)
	rr, err := Repair(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rr.Damage.OK() || rr.MovedTo != "" {
		t.Errorf("Repair of a healthy file: %+v", rr)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("Repair changed a healthy file")
	}
}

// BenchmarkCheck10kUsers measures what the check adds to opening a store
// of 10,000 users.
func BenchmarkCheck10kUsers(b *testing.B) {
	path := filepath.Join(b.TempDir(), "store.db")
	s := openBolt(b, path, BoltOptions{})
	ctx := context.Background()
	for i := range 10000 {
		if err := s.Apply(ctx, fmt.Sprintf("user%05d@example.com", i), &Snapshot{Ensure: []string{inbox}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(path)
	b.Logf("%d users, %.1f MB", 10000, float64(fi.Size())/1e6)
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Check(path, -1)
		if err != nil || !rep.OK() || rep.Users != 10000 {
			b.Fatalf("%+v, %v", rep, err)
		}
	}
}
