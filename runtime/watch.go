package runtime

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long the watcher waits after the last file event
// of a burst before it reloads.
const DefaultDebounce = 150 * time.Millisecond

// debouncer collapses bursts of triggers into one signal on C, delay after
// the last trigger. It is pure (a timer and a channel), so tests can run it
// under testing/synctest.
type debouncer struct {
	delay time.Duration
	timer *time.Timer
	C     chan struct{}
}

func newDebouncer(delay time.Duration) *debouncer {
	d := &debouncer{delay: delay, C: make(chan struct{}, 1)}
	d.timer = time.AfterFunc(time.Hour, d.fire)
	d.timer.Stop()
	return d
}

func (d *debouncer) fire() {
	select {
	case d.C <- struct{}{}:
	default: // one pending signal is enough
	}
}

// Trigger (re)starts the quiet period.
func (d *debouncer) Trigger() { d.timer.Reset(d.delay) }

// Stop stops the timer.
func (d *debouncer) Stop() { d.timer.Stop() }

// Watch reloads the engine when the configuration, a script or a Lua
// module beside a script changes, until ctx ends. It watches directories,
// not files — editors save by writing a temporary file and renaming it,
// Kubernetes swaps a ..data symlink — and collapses bursts of events
// (debounce; DefaultDebounce when 0). reloaded, when not nil, is called
// after every reload attempt with its result.
func (e *Engine) Watch(ctx context.Context, debounce time.Duration, reloaded func(error)) error {
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
					e.log.Warn(fmt.Sprintf("watch: %s: %v", d, err))
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
			e.log.Warn("watch: " + err.Error())
		case <-deb.C:
			err := e.reload(ctx, false)
			if errors.Is(err, ErrClosed) {
				return nil
			}
			if reloaded != nil {
				reloaded(err)
			}
			update()
		}
	}
}
