package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"
)

func openBolt(t testing.TB, path string, opts BoltOptions) *Bolt {
	t.Helper()
	s, err := OpenBolt(path, opts)
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	return s
}

func TestBolt(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		return openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{})
	})
}

func TestBoltSyncApply(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		return openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{SyncApply: true})
	})
}

func TestBoltPersistence(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s := openBolt(t, path, BoltOptions{})
	mustApply(t, s, "u", &Snapshot{
		Status:   map[string]Status{"INBOX": {Messages: 3, Keywords: []string{"k"}}, "Sent": {Messages: 1}},
		Metadata: map[string]*string{"/private/a": ptr("1")},
	})
	mustSet(t, s, "u", "Sent", "/shared/comment", "sent")
	want := dump(t, s, "u")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openBolt(t, path, BoltOptions{})
	defer s.Close()
	checkState(t, s, "u", want)
	if err := s.UnsetAttribute(ctx, "u", "Sent", "/shared/comment"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.GetAttribute(ctx, "u", "Sent", "/shared/comment"); ok {
		t.Error("attribute still set after UnsetAttribute")
	}
}

func TestBoltFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "store.db")
	s := openBolt(t, path, BoltOptions{})
	defer s.Close()
	if s.Path() != path {
		t.Errorf("Path() = %q; want %q", s.Path(), path)
	}
	for _, f := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Dir(dir), os.ModeDir | 0o700},
		{dir, os.ModeDir | 0o700},
		{path, 0o600},
	} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != f.want {
			t.Errorf("mode of %s = %v; want %v", f.path, fi.Mode(), f.want)
		}
	}
}

func TestBoltOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a bolt file ", 1024)), 0o600); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path string }{
		{"not a database", garbage},
		{"parent is a file", filepath.Join(blocker, "store.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenBolt(tt.path, BoltOptions{})
			if err == nil {
				s.Close()
				t.Fatal("OpenBolt succeeded; want an error")
			}
			if !strings.Contains(err.Error(), tt.path) && !strings.Contains(err.Error(), filepath.Dir(tt.path)) {
				t.Errorf("error %q does not name the path", err)
			}
		})
	}
}

func TestBoltLockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s := openBolt(t, path, BoltOptions{})
	for _, timeout := range []time.Duration{50 * time.Millisecond, -1} {
		start := time.Now()
		second, err := OpenBolt(path, BoltOptions{Timeout: timeout})
		if err == nil {
			second.Close()
			t.Fatalf("second OpenBolt (timeout %v) succeeded; want a lock timeout", timeout)
		}
		if !errors.Is(err, bolterrors.ErrTimeout) {
			t.Errorf("error = %v; want bbolt's ErrTimeout", err)
		}
		for _, want := range []string{path, "another pushlua process holds the database"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("second OpenBolt took %v; want about %v", d, timeout)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Once the first is closed, the lock is free.
	openBolt(t, path, BoltOptions{Timeout: 50 * time.Millisecond}).Close()
}

// typicalSnapshot is what most transactions carry: INBOX's status.
func typicalSnapshot(i int) *Snapshot {
	return &Snapshot{Status: map[string]Status{"INBOX": {
		Messages: uint32(i), Unseen: 1, UIDValidity: 1700000000, UIDNext: uint32(i + 1),
		HighestModseq: uint64(i) * 3, PermanentFlags: 0x3f, PermanentKeywords: true, AllowNewKeywords: true,
		HaveGUIDs: true, HaveSaveGUIDs: true,
	}}}
}

func BenchmarkBoltApply(b *testing.B) {
	s := openBolt(b, filepath.Join(b.TempDir(), "store.db"), BoltOptions{})
	defer s.Close()
	ctx := context.Background()
	snaps := make([]*Snapshot, 64)
	for i := range snaps {
		snaps[i] = typicalSnapshot(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Apply(ctx, "user@example.com", snaps[i%len(snaps)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkBoltStatus(b *testing.B) {
	s := openBolt(b, filepath.Join(b.TempDir(), "store.db"), BoltOptions{})
	defer s.Close()
	ctx := context.Background()
	if err := s.Apply(ctx, "user@example.com", typicalSnapshot(42)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Status(ctx, "user@example.com", "INBOX"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBoltApplyKnownMailbox is the common case on the per-event path:
// a transaction whose events name a mailbox the store knows, without a
// status snapshot (a read transaction, no write).
func BenchmarkBoltApplyKnownMailbox(b *testing.B) {
	s := openBolt(b, filepath.Join(b.TempDir(), "store.db"), BoltOptions{})
	defer s.Close()
	ctx := context.Background()
	snap := &Snapshot{Ensure: []string{"INBOX"}}
	if err := s.Apply(ctx, "user@example.com", snap); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Apply(ctx, "user@example.com", snap); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBoltApplyKnownMailboxKeepsStatus(t *testing.T) {
	s := openBolt(t, filepath.Join(t.TempDir(), "store.db"), BoltOptions{})
	defer s.Close()
	ctx := context.Background()
	if err := s.Apply(ctx, "u", &Snapshot{Status: map[string]Status{"Work": {Messages: 3}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, "u", &Snapshot{Ensure: []string{"Work", "New"}}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Status(ctx, "u", "Work"); err != nil || st.Messages != 3 {
		t.Errorf("Work: got %+v, %v", st, err)
	}
	if _, err := s.Status(ctx, "u", "New"); err != nil {
		t.Errorf("New was not created: %v", err)
	}
}
