package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func segments(t *testing.T, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "pl-*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readAll(t *testing.T, dir string) string {
	t.Helper()
	var b bytes.Buffer
	for _, f := range append(segments(t, dir, ".jsonl"), segments(t, dir, ".open")...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

func TestAppendIsOnDiskWhenItReturns(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(context.Background(), []byte(`{"id":"a","user":"u"}`), []byte(`{"id":"b","user":"u"}`)); err != nil {
		t.Fatal(err)
	}
	open := segments(t, dir, ".open")
	if len(open) != 1 {
		t.Fatalf("open segments: got %v; want one", open)
	}
	data, _ := os.ReadFile(open[0])
	if got, want := string(data), "{\"id\":\"a\",\"user\":\"u\"}\n{\"id\":\"b\",\"user\":\"u\"}\n"; got != want {
		t.Fatalf("segment: got %q; want %q", got, want)
	}
	if got := l.Size(); got != int64(len(data)) {
		t.Errorf("Size: got %d; want %d", got, len(data))
	}
	if !strings.HasPrefix(filepath.Base(open[0]), fmt.Sprintf("pl-%d-", os.Getpid())) {
		t.Errorf("segment name %s does not follow docs/spool.md", open[0])
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := segments(t, dir, ".open"); len(got) != 0 {
		t.Errorf("after Close: open segments %v", got)
	}
	if got := segments(t, dir, ".jsonl"); len(got) != 1 {
		t.Errorf("after Close: closed segments %v; want one", got)
	}
	if err := l.Append(context.Background(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: got %v; want ErrClosed", err)
	}
}

func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const writers, each = 32, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := l.Append(context.Background(), fmt.Appendf(nil, `{"id":"%d-%d"}`, w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(readAll(t, dir), "\n"), "\n")
	if len(lines) != writers*each {
		t.Fatalf("lines: got %d; want %d", len(lines), writers*each)
	}
	// Per writer, the order of its calls is kept.
	next := map[string]int{}
	for _, line := range lines {
		var w, i int
		if _, err := fmt.Sscanf(line, `{"id":"%d-%d"}`, &w, &i); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		key := fmt.Sprint(w)
		if i != next[key] {
			t.Fatalf("writer %d: line %d after %d", w, i, next[key]-1)
		}
		next[key]++
	}
	// 32 writers each waiting for its fsync: batches must carry several
	// calls each, or the log is one fsync per transaction.
	if b := l.Batches(); b >= writers*each {
		t.Errorf("batches: %d for %d appends; want group commit", b, writers*each)
	}
}

func TestRotationAndLeftovers(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, SegmentBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(`{"id":"` + strings.Repeat("x", 40) + `"}`)
	for range 6 {
		if err := l.Append(context.Background(), line); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(segments(t, dir, ".jsonl")); got < 2 {
		t.Errorf("closed segments after 6 × %d bytes with SegmentBytes 100: got %d; want ≥ 2", len(line)+1, got)
	}
	// A crash leaves the current segment .open; the next Open closes it.
	if err := os.WriteFile(filepath.Join(dir, "pl-1-1-deadbeef.open"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if got := segments(t, dir, ".open"); len(got) != 0 {
		t.Errorf("open segments after a second Open: %v", got)
	}
	if want := int64(6*(len(line)+1) + 3); l2.Size() != want {
		t.Errorf("Size after Open: got %d; want %d", l2.Size(), want)
	}
}

func TestFull(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, MaxBytes: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Append(context.Background(), bytes.Repeat([]byte("a"), 60)); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(context.Background(), []byte("b")); !errors.Is(err, ErrFull) {
		t.Fatalf("Append past MaxBytes: got %v; want ErrFull", err)
	}
	// The reader deleted the segment: room again.
	_ = l.Close()
	for _, f := range segments(t, dir, ".jsonl") {
		_ = os.Remove(f)
	}
	l2, err := Open(Options{Dir: dir, MaxBytes: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if err := l2.Append(context.Background(), []byte("b")); err != nil {
		t.Fatalf("Append after the log emptied: %v", err)
	}
}

// TestPreallocate: a segment being written is padded with zeros a chunk at
// a time and its lines are written over them; closing it, or finding it
// left open by a crash (with a torn last line), cuts it at the first NUL.
func TestPreallocate(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, Preallocate: true})
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(`{"id":"a"}`)
	for range 3 {
		if err := l.Append(context.Background(), line); err != nil {
			t.Fatal(err)
		}
	}
	open := segments(t, dir, ".open")
	if len(open) != 1 {
		t.Fatalf("open segments: %v", open)
	}
	data, err := os.ReadFile(open[0])
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat(string(line)+"\n", 3)
	if len(data) != PreallocateChunk || string(data[:len(want)]) != want || bytes.IndexFunc(data[len(want):], func(r rune) bool { return r != 0 }) >= 0 {
		t.Errorf("open segment: %d bytes starting %q; want %d bytes, the lines, then zeros", len(data), data[:min(len(data), 40)], PreallocateChunk)
	}
	if got, want := l.Size(), int64(len(want)); got != want {
		t.Errorf("Size: %d; want %d (the lines, not the padding)", got, want)
	}
	if err := l.Recount(); err != nil || l.Size() != int64(len(want)) {
		t.Errorf("Size after Recount: %d, %v; want %d", l.Size(), err, len(want))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	closed := segments(t, dir, ".jsonl")
	if data, _ := os.ReadFile(closed[0]); string(data) != want {
		t.Errorf("closed segment: %q; want %q", data, want)
	}

	// A crash: lines, a torn one, zeros. Open cuts at the first NUL and
	// the reader sees the torn line as the partial last line it skips.
	crashed := append([]byte(want+`{"id":"tor`), make([]byte, 4096)...)
	if err := os.WriteFile(filepath.Join(dir, "pl-1-1-deadbeef.open"), crashed, 0o600); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(Options{Dir: dir, Preallocate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	data, err = os.ReadFile(filepath.Join(dir, "pl-1-1-deadbeef.jsonl"))
	if err != nil || string(data) != want+`{"id":"tor` {
		t.Errorf("segment left open by a crash, after Open: %q, %v; want %q", data, err, want+`{"id":"tor`)
	}
}

func BenchmarkAppend(b *testing.B) {
	line := []byte(`{"id":"0123456789abcdef-1","user":{"username":"user01@example.com","service":"lmtp"},"events":[{"name":"MessageNew","mailbox":"INBOX","uid":1,"uid_validity":1}]}`)
	for _, mode := range []string{"fsync", "preallocate", "nosync"} {
		b.Run(mode, func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir(), NoSync: mode == "nosync", Preallocate: mode == "preallocate"})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Append(context.Background(), line); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/float64(l.Batches()), "txn/batch")
		})
	}
}

// TestOnAppended: OnSegment names a segment before it exists; OnAppended
// gets every committed line with its offsets in the segment and its tag,
// in log order, before Append returns.
func TestOnAppended(t *testing.T) {
	dir := t.TempDir()
	var segs, seen []string
	var got []Appended
	l, err := Open(Options{Dir: dir, Preallocate: true,
		OnSegment: func(name string) {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				t.Errorf("OnSegment(%s) after the file was created", name)
			}
			segs = append(segs, name)
		},
		OnAppended: func(seg string, as []Appended) {
			seen = append(seen, seg)
			got = append(got, as...) // copies: as is reused
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.AppendTagged(context.Background(), []any{1, 2}, [][]byte{[]byte(`{"a":1}`), []byte(`{"bb":2}`)}); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(context.Background(), []byte(`{"c":3}`)); err != nil {
		t.Fatal(err)
	}
	if len(segs) != 1 || len(seen) != 2 || seen[0] != segs[0] || seen[1] != segs[0] {
		t.Fatalf("segments %v, OnAppended for %v; want one segment, two batches in it", segs, seen)
	}
	data, err := os.ReadFile(filepath.Join(dir, segs[0]))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line string
		tag  any
	}{{`{"a":1}`, 1}, {`{"bb":2}`, 2}, {`{"c":3}`, nil}}
	if len(got) != len(want) {
		t.Fatalf("OnAppended lines: got %d; want %d", len(got), len(want))
	}
	var off int64
	for i, w := range want {
		a := got[i]
		if string(a.Line) != w.line || a.Tag != w.tag || a.Start != off || string(data[a.Start:a.End]) != w.line+"\n" {
			t.Errorf("line %d: got %q tag %v at %d..%d; want %q tag %v at %d", i, a.Line, a.Tag, a.Start, a.End, w.line, w.tag, off)
		}
		off = a.End
	}
	if err := l.AppendTagged(context.Background(), []any{1}, [][]byte{[]byte("x"), []byte("y")}); err == nil {
		t.Error("AppendTagged with fewer tags than lines: no error")
	}
}
