package runtime

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/pushlua/pushlua/internal/logx"
)

// DefaultDebounce is how long the watcher waits after the last file event
// of a burst before it reloads. An editor's save (write a temporary file,
// rename it) and a Kubernetes ConfigMap swap are bursts of a few
// milliseconds; content that did not change since the serving or the last
// failed version is not rebuilt, so a short quiet period costs nothing.
const DefaultDebounce = 25 * time.Millisecond

// maxDebounce bounds how long a burst that never goes quiet (a file
// written slowly, a process writing steadily into a watched file) holds a
// reload back: the reload happens at most this long after the first event.
const maxDebounce = 500 * time.Millisecond

// debouncer collapses bursts of triggers into one signal on C, delay after
// the last trigger, or max after the first one of a burst when it never
// goes quiet. It is pure (a timer and a channel), so tests can run it
// under testing/synctest.
type debouncer struct {
	delay, max time.Duration
	timer      *time.Timer
	C          chan struct{}

	mu      sync.Mutex
	pending bool      // a burst is under way
	first   time.Time // its first trigger
}

func newDebouncer(delay time.Duration) *debouncer {
	d := &debouncer{delay: delay, max: max(maxDebounce, delay), C: make(chan struct{}, 1)}
	d.timer = time.AfterFunc(time.Hour, d.fire)
	d.timer.Stop()
	return d
}

func (d *debouncer) fire() {
	d.mu.Lock()
	d.pending = false
	d.mu.Unlock()
	select {
	case d.C <- struct{}{}:
	default: // one pending signal is enough
	}
}

// Trigger (re)starts the quiet period.
func (d *debouncer) Trigger() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if !d.pending {
		d.pending, d.first = true, now
	}
	wait := d.delay
	if left := d.max - now.Sub(d.first); left < wait {
		wait = max(left, 0)
	}
	d.timer.Reset(wait)
}

// Stop stops the timer.
func (d *debouncer) Stop() { d.timer.Stop() }

// WatchOptions configure Watch.
type WatchOptions struct {
	// Debounce is how long the watcher waits after the last file event of
	// a burst before it reloads; default DefaultDebounce.
	Debounce time.Duration
	// Reloaded, when set, is called after every reload attempt with its
	// result.
	Reloaded func(error)
	// Ready, when set, is called once, when the watcher watches every
	// directory the serving version depends on: a file changed from then
	// on is reloaded (one changed before is too: the watcher looks once).
	Ready func()
}

// Watch reloads the engine when the configuration, a script or a Lua
// module beside a script changes, until ctx ends. It watches directories,
// not files — editors save by writing a temporary file and renaming it,
// Kubernetes swaps a ..data symlink — and collapses bursts of events
// (opts.Debounce).
func (e *Engine) Watch(ctx context.Context, opts WatchOptions) error {
	debounce := opts.Debounce
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer w.Close()
	dirs := map[string]bool{}
	update := func() {
		want := map[string]bool{}
		for _, f := range e.Version().Files {
			want[filepath.Dir(f)] = true
		}
		e.reloadMu.Lock()
		for _, f := range e.failedFiles {
			want[filepath.Dir(f)] = true
		}
		e.reloadMu.Unlock()
		for d := range want {
			if !dirs[d] {
				if err := w.Add(d); err != nil {
					e.log.Warn("watch: {dir}: {error}", logx.Args("dir", d, "error", err))
					continue
				}
				dirs[d] = true
			}
		}
		for d := range dirs {
			if !want[d] {
				_ = w.Remove(d)
				delete(dirs, d)
			}
		}
	}
	update()
	deb := newDebouncer(debounce)
	defer deb.Stop()
	// A file written after the version was built and before the
	// directories were watched sent no event: look once.
	if v := e.current(); versionID(hashFiles(v.watched())) != v.id {
		deb.Trigger()
	}
	if opts.Ready != nil {
		opts.Ready()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod || !e.Watched(ev.Name) {
				// Only the files a version is built from count: a log
				// or an editor's backup beside the script does not.
				continue
			}
			deb.Trigger()
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			e.log.Warn("watch: {error}", logx.Args("error", err))
		case <-deb.C:
			err := e.reload(ctx, false)
			if errors.Is(err, ErrClosed) {
				return nil
			}
			if opts.Reloaded != nil {
				opts.Reloaded(err)
			}
			update()
		}
	}
}
