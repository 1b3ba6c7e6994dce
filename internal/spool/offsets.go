package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// record is one file's entry in the offsets file.
type record struct {
	// Offset is the watermark: every line before it is done.
	Offset int64 `json:"offset"`
	// Line is the number of lines before Offset.
	Line int `json:"line"`
	// At is when the watermark last moved (Unix seconds).
	At int64 `json:"at,omitempty"`
}

// offsets is the offsets file.
type offsets struct {
	Dir   string            `json:"dir"`
	Files map[string]record `json:"files"`
}

func loadOffsets(path string) (map[string]record, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]record{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spool: reading offsets: %w", err)
	}
	var o offsets
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("spool: offsets file %s: %w (remove it to read every spool file from its start)", path, err)
	}
	if o.Files == nil {
		o.Files = map[string]record{}
	}
	for stem, rec := range o.Files {
		if rec.Offset < 0 || rec.Line < 0 {
			return nil, fmt.Errorf("spool: offsets file %s: files.%s: negative offset or line", path, stem)
		}
	}
	return o.Files, nil
}

// saveLoop deletes the files that are done and writes the offsets when
// they changed, at most every SaveInterval, and a last time on Close.
func (r *Reader) saveLoop() {
	defer close(r.saveDone)
	var last time.Time
	for {
		select {
		case <-r.quit:
			r.finalSaved = r.commit()
			return
		case <-r.saveWake:
		}
		if wait := time.Until(last.Add(r.opts.SaveInterval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-r.quit:
				t.Stop()
				r.finalSaved = r.commit()
				return
			}
		}
		_ = r.commit()
		last = time.Now()
	}
}

// commit deletes the files whose lines are all done (first, so that a
// crash in between leaves an offset entry for a missing file, which is
// dropped at the next start, never a file without its entry), then writes
// the offsets if they changed.
func (r *Reader) commit() error {
	r.mu.Lock()
	var fin []*file
	for _, f := range r.files {
		if f.finished() {
			fin = append(fin, f)
		}
	}
	r.mu.Unlock()
	for _, f := range fin {
		r.scanMu.Lock()
		r.mu.Lock()
		path := f.path
		r.mu.Unlock()
		err := os.Remove(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.mu.Lock()
			r.logOnce(f, "remove", slog.LevelError, fmt.Sprintf("spool: %s is processed but cannot be deleted: %v (pushlua needs write permission on %s)", path, err, r.opts.Dir))
			r.mu.Unlock()
			r.scanMu.Unlock()
			continue
		}
		r.mu.Lock()
		f.deleted = true
		delete(r.files, f.stem)
		r.dirty = true
		r.mu.Unlock()
		r.scanMu.Unlock()
		r.log.Debug("spool: " + filepath.Base(path) + " processed and deleted")
		if r.opts.OnDelete != nil {
			r.opts.OnDelete(filepath.Base(path))
		}
	}

	r.mu.Lock()
	if !r.dirty {
		r.mu.Unlock()
		return nil
	}
	o := offsets{Dir: r.opts.Dir, Files: make(map[string]record, len(r.files)+len(r.saved))}
	for stem, rec := range r.saved {
		o.Files[stem] = rec
	}
	for stem, f := range r.files {
		if f.durable > 0 {
			o.Files[stem] = record{Offset: f.durable, Line: f.line, At: f.at.Unix()}
		}
	}
	r.dirty = false
	r.mu.Unlock()

	err := writeFileAtomic(r.opts.OffsetsFile, o)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.dirty = true
		if r.saveErr != err.Error() {
			r.log.Error(err.Error() + " (the offsets are kept in memory and written again)")
			r.saveErr = err.Error()
		}
		// Try again at the next interval.
		poke(r.saveWake)
		return err
	}
	if r.saveErr != "" {
		r.log.Info("spool: offsets written again to " + r.opts.OffsetsFile)
		r.saveErr = ""
	}
	return nil
}

// writeFileAtomic writes v as JSON to path: a temporary file, fsync,
// rename, fsync of the directory.
func writeFileAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("spool: writing offsets: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("spool: writing offsets: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: writing offsets: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("spool: writing offsets to %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: writing offsets: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: writing offsets: syncing %s: %w", dir, err)
	}
	return nil
}
