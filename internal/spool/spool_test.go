package spool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/testutil"
	"github.com/pushlua/pushlua/internal/txn"
)

// checkFor polls cond until it holds or 20 s have passed.
func checkFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// spoolFile is a writer following docs/spool.md: one file, every line
// written whole with one write, closed by a rename to .jsonl.
type spoolFile struct {
	t    *testing.T
	dir  string
	stem string
	f    *os.File
	n    int
}

func newSpoolFile(t *testing.T, dir string, pid int, start int64, rand string) *spoolFile {
	t.Helper()
	stem := fmt.Sprintf("pl-%d-%d-%s", pid, start, rand)
	f, err := os.OpenFile(filepath.Join(dir, stem+".open"), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &spoolFile{t: t, dir: dir, stem: stem, f: f}
}

// txnLine is a valid transaction of user with the writer's next id.
func (w *spoolFile) txnLine(user string) string {
	w.n++
	return fmt.Sprintf(`{"id":"%s-%d","user":{"username":%q},"events":[{"name":"MailboxCreate","mailbox":"INBOX"}]}`, w.stem[3:], w.n, user) + "\n"
}

// write appends raw bytes with one write.
func (w *spoolFile) write(s string) {
	w.t.Helper()
	if _, err := w.f.WriteString(s); err != nil {
		w.t.Fatal(err)
	}
}

// add appends n transactions of user and returns their ids.
func (w *spoolFile) add(user string, n int) []string {
	var ids []string
	for range n {
		l := w.txnLine(user)
		w.write(l)
		ids = append(ids, idOf(w.t, l))
	}
	return ids
}

func (w *spoolFile) close() {
	w.t.Helper()
	if err := w.f.Close(); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Rename(w.path(".open"), w.path(".jsonl")); err != nil {
		w.t.Fatal(err)
	}
}

func (w *spoolFile) path(suffix string) string { return filepath.Join(w.dir, w.stem+suffix) }

func idOf(t *testing.T, line string) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		t.Fatal(err)
	}
	return v.ID
}

// engine is a Submit that records what it gets; with hold set, it keeps
// the done callbacks for the test to call.
type engine struct {
	mu    sync.Mutex
	got   []*txn.Txn
	dones map[string]func(bool)
	hold  func(t *txn.Txn) bool
	gate  chan struct{} // when set, each Submit first takes a token
}

func (e *engine) submit(ctx context.Context, t *txn.Txn, done func(bool)) error {
	if e.gate != nil {
		select {
		case <-e.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.mu.Lock()
	e.got = append(e.got, t)
	held := e.hold != nil && e.hold(t)
	if held {
		if e.dones == nil {
			e.dones = map[string]func(bool){}
		}
		e.dones[t.ID] = done
	}
	e.mu.Unlock()
	if !held {
		go done(true) // from another goroutine, as the engine's workers do
	}
	return nil
}

func (e *engine) ids() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []string
	for _, t := range e.got {
		ids = append(ids, t.ID)
	}
	return ids
}

func (e *engine) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.got)
}

func (e *engine) release(id string, processed bool) {
	e.mu.Lock()
	done := e.dones[id]
	delete(e.dones, id)
	e.mu.Unlock()
	done(processed)
}

type fixture struct {
	dir, offsets string
	logs         *testutil.Buffer
	eng          *engine
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "spool")
	if err := os.Mkdir(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: dir, offsets: filepath.Join(base, "data", "spool-offsets.json"), logs: &testutil.Buffer{}, eng: &engine{}}
}

func (fx *fixture) start(t *testing.T, mod func(*Options)) *Reader {
	t.Helper()
	opts := Options{
		Dir: fx.dir, OffsetsFile: fx.offsets, Submit: fx.eng.submit,
		Logger: slog.New(slog.NewTextHandler(fx.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Rescan: 20 * time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	r, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// count is how many log lines contain every one of parts.
func (fx *fixture) count(parts ...string) int {
	n := 0
	for l := range strings.Lines(fx.logs.String()) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			n++
		}
	}
	return n
}

func (fx *fixture) saved(t *testing.T) map[string]record {
	t.Helper()
	m, err := loadOffsets(fx.offsets)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestTailOpenFileThenCloseAndDelete(t *testing.T) {
	fx := newFixture(t)
	r := fx.start(t, nil)
	w := newSpoolFile(t, fx.dir, os.Getpid(), time.Now().Unix(), "0a0b0c0d")
	want := w.add("alice", 2)
	checkFor(t, "the first two lines", func() bool { return fx.eng.count() == 2 })

	// Lines appended later, and one without an id, are picked up too.
	want = append(want, w.add("bob", 1)...)
	w.write(`{"user":{"username":"carol"}}` + "\n")
	want = append(want, w.stem+"-4")
	checkFor(t, "the appended lines", func() bool { return fx.eng.count() == 4 })
	if got := fx.eng.ids(); !slices.Equal(got, want) {
		t.Fatalf("ids: got %v; want %v", got, want)
	}
	checkFor(t, "the watermark on disk", func() bool { return fx.saved(t)[w.stem].Line == 4 })
	if !exists(w.path(".open")) {
		t.Fatal("an .open file was deleted while its writer is alive")
	}

	// The writer closes the file: once every line is done it is deleted
	// and its offset entry dropped.
	w.close()
	checkFor(t, "the closed file to be deleted", func() bool { return !exists(w.path(".jsonl")) })
	checkFor(t, "the offset entry to be dropped", func() bool { _, ok := fx.saved(t)[w.stem]; return !ok })
	if got := fx.eng.count(); got != 4 {
		t.Errorf("transactions: got %d; want 4 (none twice)", got)
	}
	for i, tx := range fx.eng.got {
		if tx.Input != w.stem+".open" && tx.Input != w.stem+".jsonl" || tx.Line != i+1 {
			t.Errorf("txn %d: Input, Line = %s, %d; want the file and line %d", i, tx.Input, tx.Line, i+1)
		}
	}
	if s := r.Stats(); s.Files != 0 || s.DepthBytes != 0 || s.Submitted != 4 {
		t.Errorf("stats: got %+v; want no files, no depth, 4 submitted", s)
	}
}

func TestFilesOldestStartFirst(t *testing.T) {
	fx := newFixture(t)
	now := time.Now().Unix()
	newer := newSpoolFile(t, fx.dir, os.Getpid(), now-10, "000000b2")
	older := newSpoolFile(t, fx.dir, os.Getpid(), now-20, "000000a1")
	want := older.add("u1", 3)
	want = append(want, newer.add("u2", 3)...)
	older.close()
	newer.close()
	fx.start(t, nil)
	checkFor(t, "both files", func() bool { return fx.eng.count() == 6 })
	if got := fx.eng.ids(); !slices.Equal(got, want) {
		t.Errorf("order: got %v; want %v", got, want)
	}
}

func TestRestartRerunsOnlyUnackedLines(t *testing.T) {
	fx := newFixture(t)
	w := newSpoolFile(t, fx.dir, os.Getpid(), time.Now().Unix(), "0a0b0c0d")
	ids := w.add("u", 6)
	// Lines 3 and 6 stay in flight; 1, 2, 4 and 5 are done (4 and 5 out
	// of order with 3: the watermark stops before 3).
	fx.eng.hold = func(t *txn.Txn) bool { return t.ID == ids[2] || t.ID == ids[5] }
	a := fx.start(t, nil)
	checkFor(t, "six submitted", func() bool { return fx.eng.count() == 6 })
	checkFor(t, "the watermark after line 2", func() bool { return fx.saved(t)[w.stem].Line == 2 })
	a.Stop()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if rec := fx.saved(t)[w.stem]; rec.Line != 2 {
		t.Fatalf("after Close: watermark at line %d; want 2", rec.Line)
	}

	eng := &engine{}
	fx.eng = eng
	fx.start(t, nil)
	checkFor(t, "the rerun", func() bool { return eng.count() == 4 })
	if got, want := eng.ids(), ids[2:]; !slices.Equal(got, want) {
		t.Errorf("after restart: got %v; want only the lines from the first not done on (%v)", got, want)
	}
	checkFor(t, "the watermark at the end", func() bool { return fx.saved(t)[w.stem].Line == 6 })

	// A line appended now continues the numbering.
	w.write(`{"user":{"username":"u"}}` + "\n")
	checkFor(t, "the new line", func() bool { return eng.count() == 5 })
	if got := eng.ids()[4]; got != w.stem+"-7" {
		t.Errorf("assigned id: got %s; want %s-7", got, w.stem)
	}
}

func TestPartialLastLineOfClosedFile(t *testing.T) {
	fx := newFixture(t)
	w := newSpoolFile(t, fx.dir, os.Getpid(), time.Now().Unix(), "0a0b0c0d")
	want := w.add("u", 2)
	info, err := w.f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	size := info.Size()
	r := fx.start(t, nil)
	checkFor(t, "two lines", func() bool { return fx.eng.count() == 2 })

	// The writer dies mid-line; in an open file the prefix is not read.
	w.write(`{"id":"half","user":{"usern`)
	scans := r.scanCount()
	checkFor(t, "three more scans", func() bool { return r.scanCount() >= scans+3 })
	if n := fx.count("partial"); n != 0 {
		t.Fatalf("a partial line of an open file was logged: %s", fx.logs)
	}
	w.close()
	checkFor(t, "the file to be deleted", func() bool { return !exists(w.path(".jsonl")) })
	if got := fx.eng.ids(); !slices.Equal(got, want) {
		t.Errorf("ids: got %v; want %v (half a transaction is never parsed)", got, want)
	}
	if n := fx.count("partial last line", w.stem+".jsonl:3", fmt.Sprintf("offset %d", size)); n != 1 {
		t.Errorf("partial line logged %d times; want once with file and offset:\n%s", n, fx.logs)
	}
	if n := fx.count("partial"); n != 1 {
		t.Errorf("%d log lines about the partial line; want 1:\n%s", n, fx.logs)
	}
}

func TestBadLinesAreSkippedOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int // 0: the default, MaxLine
	}{
		{"default limit", 0},
		{"small limit", 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			limit := tc.limit
			if limit == 0 {
				limit = MaxLine
			}
			w := newSpoolFile(t, fx.dir, os.Getpid(), time.Now().Unix(), "0a0b0c0d")
			want := w.add("u", 1)
			w.write("this is not json\n")
			want = append(want, w.add("u", 1)...)
			long := fmt.Sprintf(`{"id":"long","user":{"username":"u"},"x":"%s"}`, strings.Repeat("y", limit))
			w.write(long + "\n")
			want = append(want, w.add("u", 1)...)
			w.write(`{"user":{"username":"u"},"events":[{"name":"MessageNew","mailbox":"INBOX"}]}` + "\n")
			want = append(want, w.add("u", 1)...)
			w.close()
			fx.start(t, func(o *Options) { o.MaxLineBytes = tc.limit })
			checkFor(t, "the file to be deleted", func() bool { return !exists(w.path(".jsonl")) })
			if got := fx.eng.ids(); !slices.Equal(got, want) {
				t.Errorf("ids: got %v; want %v", got, want)
			}
			file := filepath.Join(fx.dir, w.stem+".jsonl")
			for _, tc := range []struct{ where, what string }{
				{file + ":2:", "invalid JSON"},
				{file + ":4:", fmt.Sprintf("line longer than %d bytes", limit)},
				{file + ":6:", "field events[0].uid"},
			} {
				if n := fx.count(tc.where, tc.what); n != 1 {
					t.Errorf("%s %s logged %d times; want once:\n%s", tc.where, tc.what, n, fx.logs)
				}
			}
			if n := fx.count("skipped"); n != 3 {
				t.Errorf("%d skipped lines logged; want 3:\n%s", n, fx.logs)
			}
		})
	}
}

// deadPid returns the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestStaleOpenFile(t *testing.T) {
	fx := newFixture(t)
	dead := deadPid(t)
	now := time.Now()
	old := now.Add(-2 * time.Minute)

	stale := newSpoolFile(t, fx.dir, dead, now.Unix()-200, "0000000a")
	want := stale.add("u1", 2)
	stale.write(`{"id":"cut","user":`)
	recent := newSpoolFile(t, fx.dir, dead, now.Unix()-100, "0000000b")
	want = append(want, recent.add("u2", 1)...)
	recent.write(`{"id":"cut2","user":`)
	alive := newSpoolFile(t, fx.dir, os.Getpid(), now.Unix()-50, "0000000c")
	want = append(want, alive.add("u3", 1)...)
	alive.write(`{"id":"cut3","user":`)
	for _, p := range []string{stale.path(".open"), alive.path(".open")} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	r := fx.start(t, nil)
	checkFor(t, "the stale file to be deleted", func() bool { return !exists(stale.path(".open")) })
	checkFor(t, "every complete line", func() bool { return fx.eng.count() == 4 })
	if got := fx.eng.ids(); !slices.Equal(got, want) {
		t.Errorf("ids: got %v; want %v", got, want)
	}
	if n := fx.count("partial last line", stale.stem+".open:3"); n != 1 {
		t.Errorf("partial line of the stale file logged %d times; want 1:\n%s", n, fx.logs)
	}
	if n := fx.count(fmt.Sprintf("writer pid %d is gone", dead)); n != 1 {
		t.Errorf("stale file logged %d times; want 1:\n%s", n, fx.logs)
	}
	// A few more scans change nothing for the others: a dead writer's
	// file that changed recently, and a live writer's idle file.
	scans := r.scanCount()
	checkFor(t, "three more scans", func() bool { return r.scanCount() >= scans+3 })
	for _, w := range []*spoolFile{recent, alive} {
		if !exists(w.path(".open")) {
			t.Errorf("%s was deleted", w.stem)
		}
	}
	if n := fx.count("partial"); n != 1 {
		t.Errorf("%d partial lines logged; want 1 (open files' last lines are not read yet):\n%s", n, fx.logs)
	}
}

func (r *Reader) scanCount() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.scans
}

func TestBackpressure(t *testing.T) {
	fx := newFixture(t)
	const total, room = 2000, 10
	w := newSpoolFile(t, fx.dir, os.Getpid(), time.Now().Unix(), "0a0b0c0d")
	want := w.add("u", total)
	w.close()
	fx.eng.gate = make(chan struct{}, total)
	for range room {
		fx.eng.gate <- struct{}{}
	}
	r := fx.start(t, nil)
	checkFor(t, "the queue to fill", func() bool { return fx.eng.count() == room })
	// While Submit blocks, the reader takes nothing more, whatever wakes
	// it: it holds one line in flight beyond what was taken.
	scans := r.scanCount()
	r.Notify()
	checkFor(t, "three more scans", func() bool { return r.scanCount() >= scans+3 })
	if got := fx.eng.count(); got != room {
		t.Fatalf("submitted while blocked: got %d; want %d", got, room)
	}
	r.mu.Lock()
	f := r.files[w.stem]
	inQueue, line := len(f.q), f.line
	r.mu.Unlock()
	if inQueue != 1 || line != room {
		t.Errorf("lines read ahead: %d entries after line %d; want only the blocked one after line %d", inQueue, line, room)
	}

	// Stop returns although Submit is blocked; what was done is kept.
	r.Stop()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if rec := fx.saved(t)[w.stem]; rec.Line != room {
		t.Fatalf("watermark after Close: line %d; want %d", rec.Line, room)
	}

	// A new reader with room for everything resumes after the last
	// done line and takes the rest in order.
	fx.eng.gate = nil
	fx.start(t, nil)
	checkFor(t, "the rest", func() bool { return fx.eng.count() == total })
	if got := fx.eng.ids(); !slices.Equal(got, want) {
		t.Errorf("ids out of order or repeated (%d of %d)", len(got), len(want))
	}
	checkFor(t, "the file to be deleted", func() bool { return !exists(w.path(".jsonl")) })
}

func TestNotRunKeepsTheLine(t *testing.T) {
	fx := newFixture(t)
	w := newSpoolFile(t, fx.dir, os.Getpid(), time.Now().Unix(), "0a0b0c0d")
	ids := w.add("u", 3)
	w.close()
	fx.eng.hold = func(t *txn.Txn) bool { return t.ID == ids[1] }
	r := fx.start(t, nil)
	checkFor(t, "three submitted", func() bool { return fx.eng.count() == 3 })
	fx.eng.release(ids[1], false) // the engine gave up on it at shutdown
	r.Stop()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if !exists(w.path(".jsonl")) {
		t.Fatal("a file with a line that did not run was deleted")
	}
	if rec := fx.saved(t)[w.stem]; rec.Line != 1 {
		t.Errorf("watermark: line %d; want 1", rec.Line)
	}
}

func TestUnreadableDir(t *testing.T) {
	t.Run("not a directory", func(t *testing.T) {
		fx := newFixture(t)
		if err := os.Remove(fx.dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fx.dir, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := fx.start(t, nil)
		checkFor(t, "three scans", func() bool { return r.scanCount() >= 3 })
		if n := fx.count("level=ERROR", "cannot read the spool directory", fx.dir, "not a directory"); n != 1 {
			t.Errorf("got %d error lines; want 1:\n%s", n, fx.logs)
		}
		if lag, why := r.Lagging(); !lag || !strings.Contains(why, "not a directory") {
			t.Errorf("Lagging: got %v %q; want true and the error", lag, why)
		}

		// The directory appears: it is read from then on.
		if err := os.Remove(fx.dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(fx.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		w := newSpoolFile(t, fx.dir, os.Getpid(), time.Now().Unix(), "0a0b0c0d")
		w.add("u", 1)
		checkFor(t, "the line", func() bool { return fx.eng.count() == 1 })
		if lag, why := r.Lagging(); lag {
			t.Errorf("Lagging after recovery: %s", why)
		}
		if n := fx.count("can be read again"); n != 1 {
			t.Errorf("recovery logged %d times; want 1:\n%s", n, fx.logs)
		}
	})
	t.Run("no permission", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads a mode 0000 directory; the not-a-directory case covers the error path")
		}
		fx := newFixture(t)
		if err := os.Chmod(fx.dir, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(fx.dir, 0o700) })
		r := fx.start(t, nil)
		checkFor(t, "three scans", func() bool { return r.scanCount() >= 3 })
		if n := fx.count("cannot read the spool directory", "permission denied"); n != 1 {
			t.Errorf("got %d error lines; want 1:\n%s", n, fx.logs)
		}
	})
}

func TestStatsAndLagging(t *testing.T) {
	fx := newFixture(t)
	now := time.Now()
	w := newSpoolFile(t, fx.dir, os.Getpid(), now.Add(-10*time.Minute).Unix(), "0a0b0c0d")
	ids := w.add("u", 2)
	fx.eng.hold = func(t *txn.Txn) bool { return t.ID == ids[0] }
	r := fx.start(t, nil)
	checkFor(t, "two submitted", func() bool { return fx.eng.count() == 2 })
	info, err := os.Stat(w.path(".open"))
	if err != nil {
		t.Fatal(err)
	}
	s := r.Stats()
	if s.Files != 1 || s.DepthBytes != info.Size() || s.OldestAge < 10*time.Minute {
		t.Errorf("stats: got %+v; want 1 file, %d bytes, at least 10m old", s, info.Size())
	}
	if lag, why := r.Lagging(); !lag || !strings.Contains(why, fmt.Sprintf("%d bytes in 1 files", info.Size())) {
		t.Errorf("Lagging: got %v %q", lag, why)
	}
	fx.eng.release(ids[0], true)
	checkFor(t, "the backlog to clear", func() bool { return r.Stats().DepthBytes == 0 })
	if s := r.Stats(); s.OldestAge != 0 {
		t.Errorf("age with nothing waiting: %s", s.OldestAge)
	}
	if lag, why := r.Lagging(); lag {
		t.Errorf("Lagging after catching up: %s", why)
	}
}

func TestBadOffsetsFile(t *testing.T) {
	fx := newFixture(t)
	if err := os.MkdirAll(filepath.Dir(fx.offsets), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fx.offsets, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{Dir: fx.dir, OffsetsFile: fx.offsets, Submit: fx.eng.submit})
	var se *json.SyntaxError
	if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), fx.offsets) {
		t.Errorf("got %v; want a JSON error naming %s", err, fx.offsets)
	}
}

func TestLongLineWrittenInPieces(t *testing.T) {
	fx := newFixture(t)
	w := newSpoolFile(t, fx.dir, os.Getpid(), time.Now().Unix(), "0a0b0c0d")
	want := w.add("u", 1)
	r := fx.start(t, func(o *Options) { o.MaxLineBytes = 200 })
	checkFor(t, "the first line", func() bool { return fx.eng.count() == 1 })
	// A line over the limit whose end is not written yet: it is known to
	// be too long before its end arrives.
	w.write(`{"id":"long","user":{"username":"u"},"x":"` + strings.Repeat("y", 250))
	checkFor(t, "the long line to be reported", func() bool { return fx.count("line longer than 200 bytes") == 1 })
	scans := r.scanCount()
	checkFor(t, "three more scans", func() bool { return r.scanCount() >= scans+3 })
	w.write(strings.Repeat("y", 250) + `"}` + "\n")
	want = append(want, w.add("u", 1)...)
	checkFor(t, "the line after it", func() bool { return fx.eng.count() == 2 })
	if got := fx.eng.ids(); !slices.Equal(got, want) {
		t.Errorf("ids: got %v; want %v", got, want)
	}
	if n := fx.count("line longer than 200 bytes", w.stem+".open:2:"); n != 1 {
		t.Errorf("long line logged %d times; want once with file:line:\n%s", n, fx.logs)
	}
	checkFor(t, "the watermark after line 3", func() bool { return fx.saved(t)[w.stem].Line == 3 })
}

// TestPaddedOpenFile: with Padded, an .open file written ahead with zeros
// (pushlua's own log, wal.Options.Preallocate) ends at its first NUL; its
// size on disk is not counted as waiting, and lines written over the
// zeros later are read.
func TestPaddedOpenFile(t *testing.T) {
	fx := newFixture(t)
	stem := fmt.Sprintf("pl-%d-%d-0a0b0c0d", os.Getpid(), time.Now().Unix())
	path := filepath.Join(fx.dir, stem+".open")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 256<<10)); err != nil {
		t.Fatal(err)
	}
	w := &spoolFile{t: t, dir: fx.dir, stem: stem}
	var off int64
	put := func(user string) {
		l := w.txnLine(user)
		if _, err := f.WriteAt([]byte(l), off); err != nil {
			t.Fatal(err)
		}
		off += int64(len(l))
	}
	put("alice")
	put("bob")
	r := fx.start(t, func(o *Options) { o.Padded = true })
	checkFor(t, "the two lines before the padding", func() bool { return fx.eng.count() == 2 })
	checkFor(t, "no depth once they are done", func() bool { return r.Stats().DepthBytes == 0 })
	if s := r.Stats(); s.Skipped != 0 {
		t.Errorf("stats: %+v; want nothing skipped (the padding is no line)", s)
	}

	put("carol")
	r.Notify()
	checkFor(t, "the line written over the padding", func() bool { return fx.eng.count() == 3 })
	if got := fx.eng.ids(); got[2] != stem[3:]+"-3" {
		t.Errorf("ids: %v", got)
	}

	// The writer cuts the padding and closes the file: it is deleted.
	if err := f.Truncate(off); err != nil {
		t.Fatal(err)
	}
	w.f = f
	w.close()
	checkFor(t, "the closed file to be deleted", func() bool { return !exists(w.path(".jsonl")) })
	if got := fx.eng.count(); got != 3 {
		t.Errorf("transactions: %d; want 3", got)
	}
	if n := fx.count("partial"); n != 0 {
		t.Errorf("%d log lines about a partial line:\n%s", n, fx.logs)
	}
}
