package spool

import (
	"context"
	"path/filepath"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
)

// maxHanded bounds the lines handed over (Handoff) and not submitted yet,
// over all files: past it a file's lines are read back from the file
// instead, so a slow engine makes the file, not memory, hold the backlog.
const maxHanded = 4096

// Handed is one line of an .open file handed to the Reader by the file's
// writer (Handoff), with its transaction decoded already.
type Handed struct {
	// Start and End are the line's offsets in the file (End after its
	// "\n").
	Start, End int64
	// Line is the line without its "\n"; it becomes the transaction's
	// Raw (what the dead-letter area keeps).
	Line []byte
	// Txn is the line's transaction. Its ID is kept as it is.
	Txn *txn.Txn
}

// Expect tells the Reader that the file name (an .open name) of its
// directory is about to be created by a writer in this process that will
// hand its lines over with Handoff: the Reader does not read the file while
// it is open. pushlua serve's write-ahead log calls it before it creates a
// segment.
func (r *Reader) Expect(name string) {
	stem, closed, pid, start, ok := parseName(name)
	if !ok || closed {
		return
	}
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.files[stem] != nil {
		return
	}
	r.files[stem] = &file{stem: stem, pid: pid, start: time.Unix(start, 0), path: r.pathOf(name), direct: true, at: now}
}

// Handoff hands the Reader lines its writer has just made durable in the
// file name (an .open name announced with Expect), in file order: they are
// submitted as if read from the file, without reading or decoding them
// again, and their done callbacks move the file's watermark as usual. The
// slice is not kept. When the Reader cannot take them (more than maxHanded
// wait, or the file was not announced) it reads them from the file
// instead; no lines (nil) says that lines were written that the writer
// cannot hand over: the Reader reads the file from then on.
func (r *Reader) Handoff(name string, lines []Handed) {
	stem, _, _, _, ok := parseName(name)
	if !ok {
		return
	}
	now := r.opts.Now()
	r.mu.Lock()
	f := r.files[stem]
	switch {
	case f == nil:
		// Not announced: the scan finds the file and the reader reads it.
		r.mu.Unlock()
		poke(r.scanWake)
		return
	case !f.direct || f.deleted || len(lines) == 0 || r.handed+len(lines) > maxHanded:
		f.direct = false
		f.dirty = true
	default:
		f.handed = append(f.handed, lines...)
		r.handed += len(lines)
		f.addMark(lines[len(lines)-1].End, now)
	}
	r.mu.Unlock()
	poke(r.readWake)
}

// submitHanded submits the lines handed over for f, in order, from its
// read offset on (lines before it were read from the file already). It
// returns only Submit's error; the lines not submitted stay handed over.
func (r *Reader) submitHanded(ctx context.Context, f *file) error {
	r.mu.Lock()
	hs := f.handed
	f.handed = nil
	r.handed -= len(hs)
	name := filepath.Base(f.path)
	r.mu.Unlock()
	var err error
	submitted := uint64(0)
	for i, h := range hs {
		if h.End <= f.readOff {
			continue
		}
		if h.Start != f.readOff || f.skipping {
			// Not where reading stopped: read the file instead.
			r.mu.Lock()
			f.direct, f.dirty = false, true
			r.mu.Unlock()
			poke(r.readWake)
			break
		}
		f.readLine++
		t := h.Txn
		t.Input, t.Line, t.Raw = name, f.readLine, h.Line
		seq := r.pushInFlight(f, h.End, f.readLine)
		if err = r.opts.Submit(ctx, t, func(processed bool) { r.finish(f, seq, processed) }); err != nil {
			f.readLine--
			r.mu.Lock()
			f.q = f.q[:len(f.q)-1]
			// Keep the rest for the next try, before anything handed
			// over since.
			f.handed = append(append([]Handed(nil), hs[i:]...), f.handed...)
			r.handed += len(hs) - i
			r.mu.Unlock()
			break
		}
		f.readOff = h.End
		submitted++
	}
	clear(hs)
	r.mu.Lock()
	f.consumed = max(f.consumed, f.readOff)
	r.counts.submitted += submitted
	r.mu.Unlock()
	return err
}
