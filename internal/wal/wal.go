// Package wal owns pushlua's own write-ahead log: the transactions that
// `pushlua serve` accepted over HTTP, written to disk before the 202 answer.
//
// The log is a spool directory in the format of docs/spool.md, written by
// pushlua itself: segment files named pl-<pid>-<start>-<rand>.open while
// they are written and renamed to .jsonl when closed, one transaction per
// line. The same reader (package spool) runs the Dovecot forwarder's spool
// and this log, so there is one record format and one code path from disk
// to the scripts.
//
// Options.OnAppended hands every committed batch, in log order and with a
// tag per line (pushlua serve: the decoded transaction), to the log's
// reader, which therefore does not read back what this process wrote.
//
// Append is a group commit: every line handed to Append while an fsync is
// in progress goes into the next batch, which is written with one write and
// made durable with one fsync.
//
// With Options.Preallocate a segment is written ahead with zeros, a chunk
// at a time, and a batch overwrites them: its fdatasync then flushes data
// only, not the file's size, so it needs no commit of the file system's
// journal and does not wait for other files' metadata (PostgreSQL zero-fills
// its WAL segments for the same reason). A segment being written is then
// padded with NUL bytes after its last line; a reader of the directory must
// treat a NUL where a line starts as the end of the data (spool.Options
// Padded). Closing a segment, or finding one left open by a crash, cuts it
// at its first NUL byte: a JSON line holds none. Append returns once its lines are on disk,
// so a caller that answers only after Append returned never acknowledges a
// transaction that a crash can lose.
package wal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultSegmentBytes = 16 << 20
	DefaultMaxBytes     = 1 << 30
)

// PreallocateChunk is how far ahead of the data Options.Preallocate writes
// zeros: one change of the file's size per chunk.
const PreallocateChunk = 1 << 20

// ErrFull is returned by Append when the log holds MaxBytes already: the
// caller answers 503 with Retry-After and accepts nothing.
var ErrFull = errors.New("write-ahead log is full")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("write-ahead log is closed")

// Options configure a Log.
type Options struct {
	// Dir is the log's directory; it is created (mode 0700) when missing.
	Dir string
	// SegmentBytes is the size at which a segment is closed and the next
	// one started. Default DefaultSegmentBytes.
	SegmentBytes int64
	// MaxBytes bounds the bytes of all segments in Dir (closed ones count
	// until the reader deletes them). Default DefaultMaxBytes.
	MaxBytes int64
	// NoSync skips fsync: the log is written but a machine crash may lose
	// what the page cache held (benchmarks compare the two).
	NoSync bool
	// Preallocate writes segments ahead with zeros, PreallocateChunk bytes
	// at a time, so that a commit is an fdatasync of data only (see the
	// package comment).
	Preallocate bool
	// OnCommit, when set, is called after every durable batch (the reader
	// is told there is more to read without waiting for fsnotify).
	OnCommit func()
	// OnSegment, when set, is called with a segment's file name (its
	// .open name) before the file is created: its reader can expect it.
	OnSegment func(name string)
	// OnAppended, when set, is called by the commit goroutine after every
	// durable batch, before any Append of it returns, with the segment's
	// .open file name and the batch's lines in log order: a reader can take
	// them from here instead of reading them back. Batches come in log
	// order; the slice and its Appended values are reused after the call
	// returns (the lines themselves are the caller's).
	OnAppended func(segment string, lines []Appended)
	// Logger receives what the log does on its own (segments closed at
	// start). Default: discard.
	Logger *slog.Logger
}

// Log is an open write-ahead log.
type Log struct {
	opts Options
	log  *slog.Logger
	pid  int

	reqs   chan *request
	done   chan struct{}
	closed atomic.Bool
	mu     sync.Mutex // orders closed against sends on reqs

	// Owned by the commit goroutine.
	f         *os.File
	name      string // current segment, without the .open suffix
	written   int64  // bytes of lines in the current segment
	allocated int64  // the current segment's size with its zero padding
	buf       []byte
	appended  []Appended // the batch's lines, for OnAppended
	zeros     []byte     // PreallocateChunk of them, with Preallocate

	current  atomic.Int64 // written, for Recount; -1 with no segment open
	openName atomic.Value // the current segment's file name, for Recount

	size    atomic.Int64 // bytes in Dir's segments, as last counted plus appended
	batches atomic.Int64 // batches committed (one write and one fsync each)
}

type request struct {
	lines [][]byte
	tags  []any
	err   chan error
}

// Appended is one line of a committed batch, as Options.OnAppended sees
// it.
type Appended struct {
	// Start and End are the line's offsets in the segment; End is after
	// its "\n".
	Start, End int64
	// Line is the line without its "\n", as handed to Append.
	Line []byte
	// Tag is the value AppendTagged was given with the line (nil with
	// Append).
	Tag any
}

// Open opens the log in opts.Dir. Segments left open by an earlier process
// (a crash or a kill) are closed first: pushlua is the only writer of its
// log, so nothing else will append to them.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("wal: no directory")
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	l := &Log{opts: opts, log: opts.Logger, pid: os.Getpid(),
		reqs: make(chan *request, 1024), done: make(chan struct{})}
	l.current.Store(-1)
	if err := l.closeLeftovers(); err != nil {
		return nil, err
	}
	if err := l.recount(); err != nil {
		return nil, err
	}
	go l.run()
	return l, nil
}

// closeLeftovers renames every .open segment in Dir to .jsonl.
func (l *Log) closeLeftovers() error {
	ents, err := os.ReadDir(l.opts.Dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	n := 0
	for _, e := range ents {
		name := e.Name()
		stem, ok := strings.CutSuffix(name, ".open")
		if !ok || !strings.HasPrefix(name, "pl-") {
			continue
		}
		if err := cutPadding(filepath.Join(l.opts.Dir, name)); err != nil {
			return fmt.Errorf("wal: closing %s: %w", name, err)
		}
		if err := os.Rename(filepath.Join(l.opts.Dir, name), filepath.Join(l.opts.Dir, stem+".jsonl")); err != nil {
			return fmt.Errorf("wal: closing %s: %w", name, err)
		}
		n++
	}
	if n > 0 {
		l.log.Info(fmt.Sprintf("wal: closed %d segment(s) left open by an earlier run in %s", n, l.opts.Dir))
		return syncDir(l.opts.Dir)
	}
	return nil
}

// recount sets Size from the segments in Dir.
func (l *Log) recount() error {
	ents, err := os.ReadDir(l.opts.Dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	var total int64
	cur, open := l.current.Load(), l.currentName()
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "pl-") {
			continue
		}
		if cur >= 0 && e.Name() == open {
			// Its size includes the padding of Preallocate.
			total += cur
			continue
		}
		if info, err := e.Info(); err == nil {
			total += info.Size()
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("wal: %w", err)
		}
	}
	l.size.Store(total)
	return nil
}

// currentName is the file name of the segment being written, or "".
func (l *Log) currentName() string {
	if n, ok := l.openName.Load().(string); ok {
		return n
	}
	return ""
}

// Recount counts the bytes in Dir again (after the reader deleted
// segments); the engine calls it when it is told a segment is gone.
func (l *Log) Recount() error { return l.recount() }

// Size returns the bytes held by the log's segments.
func (l *Log) Size() int64 { return l.size.Load() }

// Full reports whether Append would refuse with ErrFull.
func (l *Log) Full() bool { return l.size.Load() >= l.opts.MaxBytes }

// Batches returns how many batches were committed: with many concurrent
// Appends it stays well below the number of calls (group commit).
func (l *Log) Batches() int64 { return l.batches.Load() }

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.opts.Dir }

// Append writes lines (each one transaction, without its newline) to the
// log and returns once they are durable, or with the error that kept them
// from being so; then none of them may be acknowledged. Lines of one call
// stay together and in order.
func (l *Log) Append(ctx context.Context, lines ...[]byte) error {
	return l.AppendTagged(ctx, nil, lines)
}

// AppendTagged is Append with a value per line (tags[i] goes with
// lines[i]; nil tags: none) that Options.OnAppended receives with the line:
// pushlua serve tags each line with its decoded transaction.
func (l *Log) AppendTagged(ctx context.Context, tags []any, lines [][]byte) error {
	if len(lines) == 0 {
		return nil
	}
	if tags != nil && len(tags) != len(lines) {
		return fmt.Errorf("wal: %d tags for %d lines", len(tags), len(lines))
	}
	if l.Full() {
		return ErrFull
	}
	r := &request{lines: lines, tags: tags, err: make(chan error, 1)}
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return ErrClosed
	}
	select {
	case l.reqs <- r:
		l.mu.Unlock()
	case <-ctx.Done():
		l.mu.Unlock()
		return ctx.Err()
	}
	// Once queued the lines will be written whatever ctx says: wait for
	// the answer so the caller knows.
	return <-r.err
}

// Close writes what was queued, closes the current segment (renamed to
// .jsonl) and stops the log.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed.Swap(true) {
		l.mu.Unlock()
		<-l.done
		return nil
	}
	close(l.reqs)
	l.mu.Unlock()
	<-l.done
	return l.closeSegment()
}

// run is the commit loop: take every request waiting, write them as one
// batch, fsync once, answer them all.
func (l *Log) run() {
	defer close(l.done)
	var batch []*request
	for r := range l.reqs {
		batch = append(batch[:0], r)
	more:
		for {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		err := l.commit(batch)
		l.batches.Add(1)
		for _, r := range batch {
			r.err <- err
		}
		clear(batch)
		if err == nil && l.opts.OnCommit != nil {
			l.opts.OnCommit()
		}
	}
}

func (l *Log) commit(batch []*request) error {
	if l.f == nil {
		if err := l.openSegment(); err != nil {
			return err
		}
	}
	l.buf = l.buf[:0]
	l.appended = l.appended[:0]
	base := l.written
	for _, r := range batch {
		for i, line := range r.lines {
			start := base + int64(len(l.buf))
			l.buf = append(l.buf, line...)
			l.buf = append(l.buf, '\n')
			if l.opts.OnAppended != nil {
				a := Appended{Start: start, End: base + int64(len(l.buf)), Line: line}
				if r.tags != nil {
					a.Tag = r.tags[i]
				}
				l.appended = append(l.appended, a)
			}
		}
	}
	var n int
	var err error
	if l.opts.Preallocate {
		err = l.allocate(l.written + int64(len(l.buf)))
		if err == nil {
			n, err = l.f.WriteAt(l.buf, l.written)
		}
	} else {
		n, err = l.f.Write(l.buf)
	}
	l.written += int64(n)
	l.current.Store(l.written)
	l.size.Add(int64(n))
	if err == nil && !l.opts.NoSync {
		if l.opts.Preallocate {
			err = fdatasync(l.f)
		} else {
			err = l.f.Sync()
		}
	}
	if err != nil {
		// What reached the file is unknown: close the segment so the
		// reader treats a partial last line as the crash case, and start
		// a new one for the next batch.
		_ = l.closeSegment()
		return fmt.Errorf("wal: writing %s: %w", l.name, err)
	}
	if l.opts.OnAppended != nil {
		l.opts.OnAppended(l.name+".open", l.appended)
		clear(l.appended)
	}
	if l.written >= l.opts.SegmentBytes {
		if err := l.closeSegment(); err != nil {
			return err
		}
	}
	return nil
}

// allocate writes zeros after the current segment's end until it holds
// size bytes, a PreallocateChunk at a time; the commit's fdatasync makes
// the new size durable with the batch.
func (l *Log) allocate(size int64) error {
	for l.allocated < size {
		if l.zeros == nil {
			l.zeros = make([]byte, PreallocateChunk)
		}
		if _, err := l.f.WriteAt(l.zeros, l.allocated); err != nil {
			return err
		}
		l.allocated += PreallocateChunk
	}
	return nil
}

// cutPadding truncates the segment at path at its first NUL byte: the end
// of its lines when it was preallocated (a JSON line holds no NUL).
func cutPadding(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var off int64
	for {
		n, rerr := f.ReadAt(buf, off)
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			if err := f.Truncate(off + int64(i)); err != nil {
				return err
			}
			return f.Sync()
		}
		off += int64(n)
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func (l *Log) openSegment() error {
	var b [4]byte
	_, _ = rand.Read(b[:])
	l.name = "pl-" + strconv.Itoa(l.pid) + "-" + strconv.FormatInt(time.Now().Unix(), 10) + "-" + hex.EncodeToString(b[:])
	if l.opts.OnSegment != nil {
		l.opts.OnSegment(l.name + ".open")
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL | os.O_APPEND
	if l.opts.Preallocate {
		flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL // WriteAt: no O_APPEND
	}
	f, err := os.OpenFile(filepath.Join(l.opts.Dir, l.name+".open"), flags, 0o600)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	if !l.opts.NoSync {
		if err := syncDir(l.opts.Dir); err != nil {
			_ = f.Close()
			return err
		}
	}
	l.f, l.written, l.allocated = f, 0, 0
	l.openName.Store(l.name + ".open")
	l.current.Store(0)
	return nil
}

// closeSegment closes the current segment and renames it to .jsonl.
func (l *Log) closeSegment() error {
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	l.current.Store(-1)
	var err error
	if l.allocated > l.written {
		// The padding goes: a closed segment ends with its last line.
		if err = f.Truncate(l.written); err == nil && !l.opts.NoSync {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	dir := l.opts.Dir
	if rerr := os.Rename(filepath.Join(dir, l.name+".open"), filepath.Join(dir, l.name+".jsonl")); rerr != nil && err == nil {
		err = rerr
	}
	if err == nil && !l.opts.NoSync {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("wal: closing %s: %w", l.name, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("wal: syncing %s: %w", dir, err)
	}
	return nil
}
