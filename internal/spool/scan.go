package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// scanLoop lists the directory at every rescan tick and when fsnotify says
// that a file appeared, was renamed or removed; a write to a known file
// only wakes the reader.
func (r *Reader) scanLoop() {
	defer close(r.scanDone)
	tick := time.NewTicker(r.opts.Rescan)
	defer tick.Stop()
	var events chan fsnotify.Event
	var errs chan error
	if r.watcher != nil {
		events, errs = r.watcher.Events, r.watcher.Errors
	}
	for {
		rescan := false
		select {
		case <-r.quit:
			return
		case <-tick.C:
			rescan = true
		case <-r.scanWake:
			rescan = true
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			rescan = r.event(ev)
			// Collapse a burst: take what is queued, then scan once.
		burst:
			for {
				select {
				case ev, ok := <-events:
					if !ok {
						events = nil
						break burst
					}
					rescan = r.event(ev) || rescan
				default:
					break burst
				}
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				r.log.Warn(fmt.Sprintf("spool: watching %s: %v (the rescan every %s goes on)", r.opts.Dir, err, r.opts.Rescan))
			}
			rescan = true
		}
		if rescan {
			r.scan()
		}
	}
}

// event handles one fsnotify event and reports whether the directory must
// be listed again.
func (r *Reader) event(ev fsnotify.Event) bool {
	if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Remove) {
		return true
	}
	if !ev.Has(fsnotify.Write) {
		return false
	}
	stem, _, _, _, ok := parseName(filepath.Base(ev.Name))
	if !ok {
		return false
	}
	r.mu.Lock()
	f := r.files[stem]
	// A file whose lines are handed over (Handoff) is not read while it
	// is open: its writes wake no one.
	wake := f != nil && (!f.direct || f.closed)
	if wake {
		f.dirty = true
	}
	r.mu.Unlock()
	if f == nil {
		return true
	}
	if wake {
		poke(r.readWake)
	}
	return false
}

// seenFile is one pl- file of a directory listing.
type seenFile struct {
	name   string
	closed bool
	pid    int
	start  int64
	size   int64
	mtime  time.Time
}

// scan lists the directory: new files are added (with their saved
// watermark), renamed ones marked closed, vanished ones dropped, stale
// .open files treated as closed, and the reader woken for every file that
// may have lines to read.
func (r *Reader) scan() {
	r.scanMu.Lock()
	defer r.scanMu.Unlock()
	ents, err := os.ReadDir(r.opts.Dir)
	if err == nil && r.watcher != nil && !r.watching {
		if werr := r.watcher.Add(r.opts.Dir); werr == nil {
			r.watching = true
		} else {
			r.log.Warn(fmt.Sprintf("spool: watching %s: %v (rescanning every %s)", r.opts.Dir, werr, r.opts.Rescan))
		}
	}
	now := r.opts.Now()
	r.mu.Lock()
	r.scans++
	if err != nil {
		// Keep the files and their watermarks: the directory may come
		// back. Log when the error is new.
		if r.dirErr == nil || r.dirErr.Error() != err.Error() {
			r.log.Error(fmt.Sprintf("spool: cannot read the spool directory: %v (retrying every %s)", err, r.opts.Rescan))
		}
		r.dirErr = err
		r.mu.Unlock()
		return
	}
	if r.dirErr != nil {
		r.log.Info(fmt.Sprintf("spool: %s can be read again", r.opts.Dir))
		r.dirErr = nil
	}
	r.mu.Unlock()

	seen := make(map[string]seenFile, len(ents))
	for _, e := range ents {
		name := e.Name()
		stem, closed, pid, start, ok := parseName(name)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			// Renamed or removed since the listing: the next event or
			// scan sees it under its new name.
			continue
		}
		if prev, dup := seen[stem]; dup && prev.closed {
			// A listing taken during the rename can hold both names.
			continue
		}
		seen[stem] = seenFile{name: name, closed: closed, pid: pid, start: start, size: info.Size(), mtime: info.ModTime()}
	}

	var gone, open []*file
	r.mu.Lock()
	wake := false
	for stem, s := range seen {
		f := r.files[stem]
		if f == nil {
			f = &file{stem: stem, pid: s.pid, start: time.Unix(s.start, 0), path: r.pathOf(s.name)}
			since := f.start
			if rec, ok := r.saved[stem]; ok {
				f.durable, f.line, f.consumed, f.readOff, f.readLine = rec.Offset, rec.Line, rec.Offset, rec.Offset, rec.Line
				if rec.At > 0 {
					since = time.Unix(rec.At, 0)
				}
				delete(r.saved, stem)
			}
			f.at = since
			if !r.opts.Padded || s.closed {
				f.addMark(s.size, since)
			}
			f.dirty = true
			r.files[stem] = f
		} else if !r.opts.Padded || s.closed {
			// A padded .open file's size is not its data's: reading
			// finds where the data ends.
			f.addMark(s.size, now)
		}
		if s.closed && !f.closed {
			f.closed = true
			f.path = r.pathOf(s.name)
			f.dirty = true
		}
		if !f.closed {
			open = append(open, f)
		}
		if f.size > f.consumed || (f.closed && !f.readAll) {
			f.dirty = true
		}
		wake = wake || f.dirty
	}
	for stem, f := range r.files {
		if _, ok := seen[stem]; !ok && !f.deleted {
			gone = append(gone, f)
		}
	}
	if r.saved != nil {
		// Offsets of files that are no longer there: they were deleted
		// after their last line was done, before the offsets were saved.
		if len(r.saved) > 0 {
			r.dirty = true
		}
		r.saved = nil
	}
	staleCandidates := make([]*file, 0, len(open))
	for _, f := range open {
		if !alive(f.pid) {
			staleCandidates = append(staleCandidates, f)
		}
	}
	r.mu.Unlock()

	for _, f := range staleCandidates {
		s := seen[f.stem]
		if idle := now.Sub(s.mtime); idle >= r.opts.StaleAfter {
			r.mu.Lock()
			f.closed = true
			f.dirty = true
			r.logOnce(f, "stale", slog.LevelInfo, fmt.Sprintf("spool: %s: writer pid %d is gone and the file has not changed for %s: treated as closed",
				s.name, f.pid, idle.Round(time.Second)))
			r.mu.Unlock()
			wake = true
		}
	}
	for _, f := range gone {
		r.vanished(f)
	}
	if wake {
		poke(r.readWake)
	}
	// A scan is also when files that are done are deleted (one whose
	// last line was skipped, one found done at start).
	poke(r.saveWake)
}

// vanished handles a known file missing from a listing: it is checked
// under both names (a listing can miss a file being renamed) before it is
// forgotten.
func (r *Reader) vanished(f *file) {
	for _, suffix := range []string{".jsonl", ".open"} {
		p := r.pathOf(f.stem + suffix)
		if _, err := os.Stat(p); err == nil {
			r.mu.Lock()
			if suffix == ".jsonl" && !f.closed {
				f.closed = true
			}
			f.path = p
			f.dirty = true
			r.mu.Unlock()
			poke(r.readWake)
			return
		} else if !errors.Is(err, fs.ErrNotExist) {
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.deleted {
		return
	}
	if f.durable < f.size || !f.readAll {
		r.log.Warn(fmt.Sprintf("spool: %s was removed by someone else before pushlua processed it (watermark at byte %d of %d)",
			filepath.Base(f.path), f.durable, f.size))
	}
	f.deleted = true
	delete(r.files, f.stem)
	r.dirty = true
	poke(r.saveWake)
}
