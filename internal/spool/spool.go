package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/pushlua/pushlua/internal/txn"
)

// Defaults of Options.
const (
	// MaxLine is the longest line a spool holds (docs/spool.md: the
	// forwarder does not write longer ones).
	MaxLine = 1 << 20
	// DefaultStaleAfter is how long an .open file of a dead writer must
	// be unchanged before it is treated as closed.
	DefaultStaleAfter = 60 * time.Second
	// DefaultRescan is the period of the directory rescan that catches
	// what fsnotify missed.
	DefaultRescan = time.Second
	// DefaultSaveInterval bounds how often the offsets are written. They
	// only bound what a crash runs again (at least once); each write is an
	// fsync, a rename and a directory fsync, which a busy disk makes every
	// other writer's fsync wait for.
	DefaultSaveInterval = time.Second
	// DefaultMaxAge is the age of the oldest unprocessed line over which
	// Lagging reports the spool as lagging.
	DefaultMaxAge = 5 * time.Minute
)

// Submit hands one transaction to the engine. It may block while the
// engine's queue is full, until ctx ends; when it returns nil, done must be
// called exactly once: processed true once the transaction ran (its end_txn
// returned), false when it was not run (the engine gave up at shutdown),
// which keeps the line for the next start.
type Submit func(ctx context.Context, t *txn.Txn, done func(processed bool)) error

// Options configure a Reader.
type Options struct {
	// Dir is the spool directory (required).
	Dir string
	// OffsetsFile is where the per-file watermarks are kept (required;
	// pushlua serve uses <data dir>/spool-offsets.json). Two readers must
	// not share one.
	OffsetsFile string
	// Submit runs a transaction (required).
	Submit Submit
	// Logger receives skipped lines, directory errors and deletions.
	// Default: discard.
	Logger *slog.Logger
	// MaxLineBytes is the longest line parsed (without its "\n"); longer
	// lines are skipped. Default MaxLine.
	MaxLineBytes int
	// StaleAfter is how long an .open file whose writer is gone must be
	// unchanged (by its modification time) to be treated as closed.
	// Default DefaultStaleAfter.
	StaleAfter time.Duration
	// Rescan is the period of the directory rescan. Default DefaultRescan.
	Rescan time.Duration
	// SaveInterval is the least time between two writes of OffsetsFile.
	// Default DefaultSaveInterval.
	SaveInterval time.Duration
	// MaxAge is the age of the oldest unprocessed line over which Lagging
	// reports true. Default DefaultMaxAge.
	MaxAge time.Duration
	// MaxDepthBytes, when positive, also makes Lagging report true when
	// more unprocessed bytes than this are waiting.
	MaxDepthBytes int64
	// OnDelete, when set, is called with a file's name after the Reader
	// deleted it (the write-ahead log counts its size again).
	OnDelete func(name string)
	// Now is the clock for ages; default time.Now.
	Now func() time.Time
	// Parse decodes a line; default txn.Parse. pushlua serve's own log
	// hands over the transactions ingest decoded already instead of
	// decoding the line again.
	Parse func(line []byte, ids *txn.IDs) (*txn.Txn, error)
	// Padded says that an .open file may end in NUL bytes written ahead by
	// its writer (pushlua's own log with wal.Options.Preallocate): its
	// data ends at the first NUL, and its size on disk is not its data's.
	Padded bool
}

// Stats describe the spool's backlog.
type Stats struct {
	// Files is the number of spool files not deleted yet.
	Files int
	// DepthBytes is the bytes written to the spool whose lines are not
	// done yet (file sizes minus watermarks).
	DepthBytes int64
	// OldestAge is how long the oldest unprocessed byte has been in the
	// spool (as far as the Reader can tell: a file found unprocessed at
	// start counts from its <start> or its last saved progress); 0 when
	// nothing waits.
	OldestAge time.Duration
	// Submitted counts transactions handed to Submit; Skipped counts
	// lines skipped (invalid, too long, partial).
	Submitted, Skipped uint64
	// DirErr is the error of the last directory scan, nil when it worked.
	DirErr error
}

// Reader reads a spool directory. Create it with Start.
type Reader struct {
	opts Options
	log  *slog.Logger
	ids  *txn.IDs

	// scanMu keeps a directory listing and the deletion of a file from
	// interleaving (a listing taken before the deletion would bring the
	// file back); it is taken before mu.
	scanMu sync.Mutex

	mu       sync.Mutex
	files    map[string]*file  // by stem
	saved    map[string]record // loaded offsets of files not seen yet; nil after the first scan
	dirty    bool              // watermarks changed since the last save
	dirErr   error
	scans    uint64
	counts   struct{ submitted, skipped uint64 }
	handed   int    // lines handed over (Handoff) and not submitted yet
	saveErr  string // the last save error logged
	lastSave time.Time

	// Reader goroutine only.
	buf  []byte
	open map[string]*file // files with an open descriptor

	readWake chan struct{} // a file is dirty
	scanWake chan struct{} // list the directory again
	saveWake chan struct{} // a watermark moved or a file may be finished

	watcher  *fsnotify.Watcher
	watching bool // scanner goroutine only

	stopRead   context.CancelFunc
	readDone   chan struct{}
	quit       chan struct{} // closed by Close: the scanner and saver end
	scanDone   chan struct{}
	saveDone   chan struct{}
	stopOnce   sync.Once
	closeOnce  sync.Once
	closeErr   error
	finalSaved error
}

// Start reads the offsets file and starts reading Dir. It fails only on a
// bad option or an offsets file it cannot read; a spool directory that
// cannot be read is logged (once, until it changes) and retried at every
// rescan, and Stats and Lagging report it.
func Start(ctx context.Context, opts Options) (*Reader, error) {
	if opts.Dir == "" {
		return nil, errors.New("spool: no directory")
	}
	if opts.OffsetsFile == "" {
		return nil, errors.New("spool: no offsets file")
	}
	if opts.Submit == nil {
		return nil, errors.New("spool: no Submit")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = MaxLine
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = DefaultStaleAfter
	}
	if opts.Rescan <= 0 {
		opts.Rescan = DefaultRescan
	}
	if opts.SaveInterval <= 0 {
		opts.SaveInterval = DefaultSaveInterval
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	saved, err := loadOffsets(opts.OffsetsFile)
	if err != nil {
		return nil, err
	}
	r := &Reader{
		opts:     opts,
		log:      opts.Logger,
		ids:      txn.NewIDs(),
		files:    map[string]*file{},
		saved:    saved,
		buf:      make([]byte, 0, 64<<10),
		open:     map[string]*file{},
		readWake: make(chan struct{}, 1),
		scanWake: make(chan struct{}, 1),
		saveWake: make(chan struct{}, 1),
		readDone: make(chan struct{}),
		quit:     make(chan struct{}),
		scanDone: make(chan struct{}),
		saveDone: make(chan struct{}),
	}
	if w, err := fsnotify.NewWatcher(); err != nil {
		r.log.Warn(fmt.Sprintf("spool: no fsnotify (%v): %s is rescanned every %s only", err, opts.Dir, opts.Rescan))
	} else {
		r.watcher = w
	}
	// The first scan runs before Start returns, so that the files already
	// there are known (and Stats is right) from the start.
	r.scan()
	readCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stopRead = stop
	go r.readLoop(readCtx)
	go r.scanLoop()
	go r.saveLoop()
	return r, nil
}

// Notify tells the Reader that lines were appended (the write-ahead log
// calls it after a commit), without waiting for fsnotify.
func (r *Reader) Notify() {
	r.mu.Lock()
	for _, f := range r.files {
		f.dirty = true
	}
	r.mu.Unlock()
	poke(r.readWake)
}

// Stop makes the Reader read no more lines: a Submit blocked on a full
// queue returns, and Stop returns once the reading goroutine ended. Done
// callbacks of transactions already submitted still move the watermarks;
// Close persists them.
func (r *Reader) Stop() {
	r.stopOnce.Do(func() {
		r.stopRead()
		<-r.readDone
	})
}

// Close stops the Reader (Stop), deletes the files that are done, writes
// the offsets a last time and releases the directory watch. Call it after
// the engine drained, so that the last done callbacks count.
func (r *Reader) Close() error {
	r.closeOnce.Do(func() {
		r.Stop()
		close(r.quit)
		if r.watcher != nil {
			_ = r.watcher.Close()
		}
		<-r.scanDone
		<-r.saveDone
		for _, f := range r.open {
			_ = f.fd.Close()
		}
		r.closeErr = r.finalSaved
	})
	return r.closeErr
}

// Stats returns the spool's backlog now.
func (r *Reader) Stats() Stats {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Files: len(r.files), Submitted: r.counts.submitted, Skipped: r.counts.skipped, DirErr: r.dirErr}
	for _, f := range r.files {
		if f.size <= f.durable {
			continue
		}
		s.DepthBytes += f.size - f.durable
		if len(f.marks) > 0 {
			s.OldestAge = max(s.OldestAge, now.Sub(f.marks[0].at))
		}
	}
	return s
}

// Lagging reports whether the spool is behind: its directory cannot be
// read, its oldest unprocessed line is older than Options.MaxAge, or more
// than Options.MaxDepthBytes wait. The reason says which, for /readyz.
func (r *Reader) Lagging() (bool, string) {
	s := r.Stats()
	switch {
	case s.DirErr != nil:
		return true, fmt.Sprintf("spool %s: %v", r.opts.Dir, s.DirErr)
	case s.OldestAge > r.opts.MaxAge:
		return true, fmt.Sprintf("spool %s lags: %d bytes in %d files not processed, the oldest for %s (limit %s)",
			r.opts.Dir, s.DepthBytes, s.Files, s.OldestAge.Round(time.Second), r.opts.MaxAge)
	case r.opts.MaxDepthBytes > 0 && s.DepthBytes > r.opts.MaxDepthBytes:
		return true, fmt.Sprintf("spool %s lags: %d bytes in %d files not processed (limit %d)",
			r.opts.Dir, s.DepthBytes, s.Files, r.opts.MaxDepthBytes)
	}
	return false, ""
}

// file is one spool file.
type file struct {
	stem  string // name without .open / .jsonl: the offsets key
	pid   int
	start time.Time

	// Guarded by Reader.mu.
	path     string // where it is now
	closed   bool   // .jsonl, or a stale .open
	dirty    bool   // may have lines to read
	size     int64  // largest size seen
	consumed int64  // offset up to which the reader consumed lines
	readAll  bool   // closed, and consumed to its end
	deleted  bool
	failed   bool // a transaction was not run: keep the file for the next start
	q        []entry
	base     uint64 // sequence number of q[0]
	durable  int64  // watermark: every line before it is done
	line     int    // line number at durable
	at       time.Time
	marks    []mark // when the bytes after durable arrived
	logged   map[string]bool
	direct   bool     // announced by Expect: its lines come by Handoff while it is open
	handed   []Handed // lines handed over, not submitted yet

	// Reader goroutine only.
	fd       *os.File
	readOff  int64
	readLine int
	skipping bool // inside a line longer than the limit
}

// entry is a consumed line whose done has not moved the watermark yet.
type entry struct {
	end   int64 // offset after its "\n"
	line  int
	state uint8
}

const (
	inFlight uint8 = iota
	done
	notRun
)

// mark says that the bytes up to off were in the file at time at.
type mark struct {
	off int64
	at  time.Time
}

const maxMarks = 32

// parseName splits a spool file name into its stem, pid and start;
// ok is false for files pushlua does not read.
func parseName(name string) (stem string, closed bool, pid int, start int64, ok bool) {
	switch {
	case strings.HasSuffix(name, ".open"):
		stem = strings.TrimSuffix(name, ".open")
	case strings.HasSuffix(name, ".jsonl"):
		stem, closed = strings.TrimSuffix(name, ".jsonl"), true
	default:
		return "", false, 0, 0, false
	}
	parts := strings.Split(stem, "-")
	if len(parts) != 4 || parts[0] != "pl" || parts[3] == "" {
		return "", false, 0, 0, false
	}
	p, err := strconv.Atoi(parts[1])
	if err != nil || p <= 0 {
		return "", false, 0, 0, false
	}
	s, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || s < 0 {
		return "", false, 0, 0, false
	}
	return stem, closed, p, s, true
}

// logOnce logs msg at level unless f already logged something under key.
// Called with r.mu held.
func (r *Reader) logOnce(f *file, key string, level slog.Level, msg string) {
	if f.logged == nil {
		f.logged = map[string]bool{}
	}
	if f.logged[key] {
		return
	}
	f.logged[key] = true
	r.log.Log(context.Background(), level, msg)
}

// work is a file the reader has something to do with: lines handed over
// to submit, and whether to read it.
type work struct {
	f    *file
	read bool
}

// workFiles returns the files with lines handed over or to read, oldest
// <start> first, clearing their dirty flags. A file whose lines are handed
// over is read only once it is closed (what was not handed over).
func (r *Reader) workFiles() []work {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ws []work
	for _, f := range r.files {
		if f.deleted {
			continue
		}
		read := f.dirty && (!f.direct || f.closed)
		f.dirty = false
		if read || len(f.handed) > 0 {
			ws = append(ws, work{f: f, read: read})
		}
	}
	slices.SortFunc(ws, func(a, b work) int {
		if c := a.f.start.Compare(b.f.start); c != 0 {
			return c
		}
		return strings.Compare(a.f.stem, b.f.stem)
	})
	return ws
}

// addMark records that f holds size bytes at time at. Called with r.mu
// held.
func (f *file) addMark(size int64, at time.Time) {
	if size <= f.size {
		return
	}
	f.size = size
	if size <= f.durable {
		return
	}
	if n := len(f.marks); n >= maxMarks {
		// Merge into the last mark: its time stays, which can only
		// make the age look older, never younger.
		f.marks[n-1].off = size
		return
	}
	f.marks = append(f.marks, mark{off: size, at: at})
}

// advance moves the watermark over the done entries at the front of q.
// Called with r.mu held; reports whether it moved.
func (f *file) advance(now time.Time) bool {
	moved := false
	for len(f.q) > 0 && f.q[0].state == done {
		f.durable, f.line = f.q[0].end, f.q[0].line
		f.q[0] = entry{}
		f.q = f.q[1:]
		f.base++
		moved = true
	}
	if moved {
		f.at = now
		f.trimMarks()
	}
	return moved
}

func (f *file) trimMarks() {
	i := 0
	for i < len(f.marks) && f.marks[i].off <= f.durable {
		i++
	}
	f.marks = f.marks[i:]
}

// finished reports whether f can be deleted. Called with r.mu held.
func (f *file) finished() bool {
	return f.closed && f.readAll && len(f.q) == 0 && !f.deleted && !f.failed
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (r *Reader) pathOf(name string) string { return filepath.Join(r.opts.Dir, name) }
