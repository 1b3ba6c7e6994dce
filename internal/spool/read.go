package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pushlua/pushlua/internal/txn"
)

// readBuf is the size of the read buffer; it grows (up to the line limit)
// only for longer lines.
const readBuf = 64 << 10

// readLoop reads every file that may have new lines, oldest first, each to
// its end, then waits to be woken.
func (r *Reader) readLoop(ctx context.Context) {
	defer close(r.readDone)
	var failing error // the last Submit error logged
	for {
		r.closeDeleted()
		ws := r.workFiles()
		for i, w := range ws {
			if ctx.Err() != nil {
				return
			}
			f := w.f
			err := r.submitHanded(ctx, f)
			if err == nil && w.read {
				err = r.readFile(ctx, f)
			}
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				// The engine refused (closed): try again at the next
				// scan, without a log line per attempt.
				if failing == nil || failing.Error() != err.Error() {
					r.log.Error(fmt.Sprintf("spool: handing over %s: %v (retrying)", f.stem, err))
				}
				failing = err
				r.redirty(ws[i:])
				break
			}
			failing = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-r.readWake:
		}
	}
}

// redirty marks the files of ws that were to be read as dirty again,
// for the next try.
func (r *Reader) redirty(ws []work) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range ws {
		if w.read {
			w.f.dirty = true
		}
	}
}

// closeDeleted closes the descriptors of files that were deleted.
func (r *Reader) closeDeleted() {
	for stem, f := range r.open {
		r.mu.Lock()
		gone := f.deleted
		r.mu.Unlock()
		if gone {
			_ = f.fd.Close()
			f.fd = nil
			delete(r.open, stem)
		}
	}
}

// readFile submits the complete lines of f from its read offset on. It
// returns only Submit's error.
func (r *Reader) readFile(ctx context.Context, f *file) error {
	r.mu.Lock()
	closed, path, deleted := f.closed, f.path, f.deleted
	r.mu.Unlock()
	if deleted {
		return nil
	}
	name := filepath.Base(path)
	if f.fd == nil {
		fd, err := os.Open(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// Renamed under us: the scan finds its new name.
				poke(r.scanWake)
				return nil
			}
			r.mu.Lock()
			r.logOnce(f, "open", slog.LevelError, fmt.Sprintf("spool: %v", err))
			r.mu.Unlock()
			return nil
		}
		f.fd = fd
		r.open[f.stem] = f
	}

	buf := r.buf[:0]
	off := f.readOff // file offset of buf[0]
	var submitErr error
	for {
		if len(buf) == cap(buf) {
			// A line longer than the buffer: grow it (lines() skips a
			// line once it is longer than the limit, so this stops).
			nb := make([]byte, len(buf), min(2*cap(buf), r.opts.MaxLineBytes+1+readBuf))
			copy(nb, buf)
			buf = nb
		}
		n, rerr := f.fd.ReadAt(buf[len(buf):cap(buf)], off+int64(len(buf)))
		padEnd := false
		if r.opts.Padded && !closed {
			// The data ends at the first NUL: the rest is written ahead.
			if i := bytes.IndexByte(buf[len(buf):len(buf)+n], 0); i >= 0 {
				n, padEnd = i, true
			}
		}
		buf = buf[:len(buf)+n]
		used, err := r.lines(ctx, f, name, buf, off)
		copy(buf, buf[used:])
		buf = buf[:len(buf)-used]
		off += int64(used)
		if err != nil {
			submitErr = err
			break
		}
		if padEnd {
			break
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				r.mu.Lock()
				r.logOnce(f, "read", slog.LevelError, fmt.Sprintf("spool: reading %s: %v", path, rerr))
				r.mu.Unlock()
				submitErr = nil
				closed = false // do not judge a last line we may not have seen
			}
			break
		}
		if n == 0 {
			break
		}
	}
	end := off + int64(len(buf)) // the file's size as read
	readAll := false
	if closed && submitErr == nil {
		if len(buf) > 0 && !f.skipping {
			// A closed file's last line without its "\n": its writer
			// died mid-write. Never parse half a transaction.
			f.readLine++
			r.log.Warn(fmt.Sprintf("spool: %s:%d: partial last line at offset %d (%d bytes without a newline): skipped",
				path, f.readLine, off, len(buf)))
			r.pushDone(f, end, f.readLine, true)
			off = end
		} else if f.skipping {
			f.skipping = false
			r.pushDone(f, end, f.readLine, false)
			off = end
		}
		readAll = true
	}
	f.readOff = off
	if cap(buf) > 4*readBuf {
		buf = make([]byte, 0, readBuf)
	}
	r.buf = buf[:0]

	now := r.opts.Now()
	r.mu.Lock()
	f.addMark(end, now)
	f.consumed = off
	f.readAll = readAll
	fin := f.finished()
	r.mu.Unlock()
	if fin {
		poke(r.saveWake)
	}
	return submitErr
}

// lines submits the complete lines in buf, which starts at file offset
// off, and returns how many bytes it consumed.
func (r *Reader) lines(ctx context.Context, f *file, name string, buf []byte, off int64) (int, error) {
	limit := r.opts.MaxLineBytes
	start := 0
	for start < len(buf) {
		rest := buf[start:]
		i := bytes.IndexByte(rest, '\n')
		if f.skipping {
			if i < 0 {
				// Still inside the long line; the watermark stays at
				// its start until its end is found.
				return len(buf), nil
			}
			f.skipping = false
			start += i + 1
			r.pushDone(f, off+int64(start), f.readLine, false)
			continue
		}
		if i < 0 {
			if len(rest) > limit {
				f.readLine++
				f.skipping = true
				r.tooLong(name, f.readLine, limit)
				return len(buf), nil
			}
			break
		}
		f.readLine++
		end := off + int64(start+i+1)
		if i > limit {
			r.tooLong(name, f.readLine, limit)
			r.pushDone(f, end, f.readLine, false)
		} else if err := r.line(ctx, f, name, rest[:i], end); err != nil {
			f.readLine--
			return start, err
		}
		start += i + 1
	}
	return start, nil
}

func (r *Reader) tooLong(name string, line, limit int) {
	r.log.Warn(fmt.Sprintf("spool: %s:%d: line longer than %d bytes: skipped", filepath.Join(r.opts.Dir, name), line, limit))
	r.mu.Lock()
	r.counts.skipped++
	r.mu.Unlock()
}

// line parses and submits one line that ends at file offset end.
func (r *Reader) line(ctx context.Context, f *file, name string, data []byte, end int64) error {
	if len(bytes.TrimSpace(data)) == 0 {
		r.pushDone(f, end, f.readLine, false)
		return nil
	}
	parse := r.opts.Parse
	if parse == nil {
		parse = txn.Parse
	}
	t, err := parse(data, r.ids)
	if err != nil {
		var le *txn.LineError
		if !errors.As(err, &le) {
			le = &txn.LineError{Err: err}
		}
		le.Input, le.Line = filepath.Join(r.opts.Dir, name), f.readLine
		r.log.Warn("spool: skipped " + le.Error())
		r.pushDone(f, end, f.readLine, true)
		return nil
	}
	if r.ids.Assigned(t.ID) {
		t.ID = f.stem + "-" + strconv.Itoa(f.readLine)
	}
	t.Input, t.Line = name, f.readLine
	t.Raw = bytes.Clone(data) // for the dead-letter area
	seq := r.pushInFlight(f, end, f.readLine)
	if err := r.opts.Submit(ctx, t, func(processed bool) { r.finish(f, seq, processed) }); err != nil {
		r.mu.Lock()
		f.q = f.q[:len(f.q)-1]
		r.mu.Unlock()
		return err
	}
	r.mu.Lock()
	r.counts.submitted++
	r.mu.Unlock()
	return nil
}

// pushDone records a consumed line that needs no done callback (blank or
// skipped).
func (r *Reader) pushDone(f *file, end int64, line int, skipped bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if skipped {
		r.counts.skipped++
	}
	switch n := len(f.q); {
	case n == 0:
		f.durable, f.line = end, line
		f.at = r.opts.Now()
		f.trimMarks()
		r.dirty = true
	case f.q[n-1].state == done:
		f.q[n-1].end, f.q[n-1].line = end, line
	default:
		f.q = append(f.q, entry{end: end, line: line, state: done})
	}
}

// pushInFlight records a line handed to Submit and returns its sequence
// number for finish.
func (r *Reader) pushInFlight(f *file, end int64, line int) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	f.q = append(f.q, entry{end: end, line: line, state: inFlight})
	return f.base + uint64(len(f.q)-1)
}

// finish is a line's done callback: it may move the watermark.
func (r *Reader) finish(f *file, seq uint64, processed bool) {
	r.mu.Lock()
	if seq < f.base || seq-f.base >= uint64(len(f.q)) || f.q[seq-f.base].state != inFlight {
		r.mu.Unlock()
		return
	}
	e := &f.q[seq-f.base]
	if !processed {
		e.state = notRun
		f.failed = true
		r.mu.Unlock()
		return
	}
	e.state = done
	moved := f.advance(r.opts.Now())
	if moved {
		r.dirty = true
	}
	r.mu.Unlock()
	if moved {
		poke(r.saveWake)
	}
}
