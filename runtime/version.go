package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/logx"
)

// Observer is told what the engine does, for metrics. Implementations must
// be safe for concurrent use and cheap: they run on the per-transaction
// path.
type Observer interface {
	// TxnProcessed is called when a transaction has run; failed says
	// whether any call or driver failed.
	TxnProcessed(failed bool)
	// HandlerCalled is called after each call into Lua.
	HandlerCalled(script, function string, d time.Duration, failed bool)
	// Reloaded is called after each build of a version (ok) or failed
	// reload (!ok); version names the version serving afterwards.
	Reloaded(ok bool, version string)
	// QueueDepth reports how many transactions wait or run, after every
	// Submit and every finished transaction. It is called with the
	// engine's queue lock held (so the last value reported is the current
	// one): it must not call back into the Engine.
	QueueDepth(n int)
}

type nopObserver struct{}

func (nopObserver) TxnProcessed(bool)                                 {}
func (nopObserver) HandlerCalled(string, string, time.Duration, bool) {}
func (nopObserver) Reloaded(bool, string)                             {}
func (nopObserver) QueueDepth(int)                                    {}

// version is one build of the configuration and its scripts: the driver
// list and, per worker, the driver instances (Lua states). A reload builds a
// new version off to the side and swaps it in; the old one is closed once
// the transactions that started on it have finished.
type version struct {
	n       int
	id      string            // hash of the files it was built from
	files   map[string]string // display path → content hash
	cfg     *dconfig.Config
	drivers []Driver
	errs    []error
	slots   [][]driverInstance // per worker
	refs    sync.WaitGroup
	log     *slog.Logger // the engine's, with the version attribute
	label   string       // "v3 (1a2b3c4d)"
	live    bool         // the scripts' store asks doveadm (pushlua_doveadm_url)
}

func (v *version) name() string { return v.label }

// build makes a version from cfg: settings, drivers with their first
// states, instances for every worker, and the version id. It is not
// numbered yet (number).
func (e *Engine) build(ctx context.Context, cfg *dconfig.Config) (*version, error) {
	budget, allowExec, err := engineSettings(cfg, e.opts.Budget)
	if err != nil {
		return nil, err
	}
	opts := e.opts
	opts.Config = cfg
	if opts.Store, err = liveStore(cfg, e.opts.Store); err != nil {
		return nil, err
	}
	v := &version{cfg: cfg, live: opts.Store != e.opts.Store}
	v.drivers, v.errs = buildDrivers(ctx, &driverEnv{opts: opts, budget: budget, allowExec: allowExec, log: e.log})
	v.slots = make([][]driverInstance, e.opts.Jobs)
	for i := range v.slots {
		for _, d := range v.drivers {
			v.slots[i] = append(v.slots[i], d.Instance())
		}
	}
	v.files = hashFiles(v.watched())
	v.id = versionID(v.files)
	return v, nil
}

// number gives a version that built and is about to serve its number,
// the next one: a build that fails or changes nothing uses none.
func (e *Engine) number(v *version) {
	e.versions++
	v.n = e.versions
	v.label = fmt.Sprintf("v%d (%s)", v.n, v.id)
	v.log = e.log.With("version", v.label)
}

// watched lists the files a version depends on: the configuration files
// and the scripts, with the Lua modules beside each script (require looks
// there first).
func (v *version) watched() []string {
	files := slices.Clone(v.cfg.Files)
	for _, d := range v.drivers {
		ld, ok := d.(*luaDriver)
		if !ok || ld.spec.Bundled {
			continue
		}
		files = append(files, ld.spec.Path)
		mods, _ := filepath.Glob(filepath.Join(filepath.Dir(ld.spec.Path), "*.lua"))
		files = append(files, mods...)
	}
	sort.Strings(files)
	return slices.Compact(files)
}

func hashFiles(paths []string) map[string]string {
	out := make(map[string]string, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			out[p] = "missing"
			continue
		}
		sum := sha256.Sum256(data)
		out[p] = hex.EncodeToString(sum[:8])
	}
	return out
}

func versionID(files map[string]string) string {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s\x00%s\x00", k, files[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// changed lists the files whose content differs between two versions.
func changed(old, cur map[string]string) []string {
	var out []string
	for p, h := range cur {
		if old[p] != h {
			out = append(out, p)
		}
	}
	for p := range old {
		if _, ok := cur[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func (e *Engine) current() *version {
	e.vmu.RLock()
	defer e.vmu.RUnlock()
	return e.cur
}

// acquire returns the current version with a reference that keeps it open.
func (e *Engine) acquire() *version {
	e.vmu.RLock()
	defer e.vmu.RUnlock()
	e.cur.refs.Add(1)
	return e.cur
}

func (v *version) release() { v.refs.Done() }

// retire waits for the transactions that run on v, then closes its
// instances (script_deinit).
func (v *version) retire(ctx context.Context, log *slog.Logger) {
	v.refs.Wait()
	for _, slot := range v.slots {
		for _, in := range slot {
			in.Close(ctx, log)
		}
	}
}

// VersionInfo describes the version serving transactions.
type VersionInfo struct {
	N        int      // 1 for the first build, +1 per successful reload
	ID       string   // hash of the files it was built from
	Name     string   // "v3 (1a2b3c4d)"
	Drivers  []string // driver names, in order
	Files    []string // the files it depends on (config, scripts, modules)
	LastErr  error    // the last failed reload since the last good one
	Failures []error  // driver init failures of this version
}

// Version describes the version serving now.
func (e *Engine) Version() VersionInfo {
	e.reloadMu.Lock()
	lastErr := e.lastErr
	e.reloadMu.Unlock()
	v := e.current()
	info := VersionInfo{N: v.n, ID: v.id, Name: v.name(), LastErr: lastErr, Failures: v.errs}
	for _, d := range v.drivers {
		info.Drivers = append(info.Drivers, d.Name())
	}
	for p := range v.files {
		info.Files = append(info.Files, p)
	}
	sort.Strings(info.Files)
	return info
}

// Ready reports whether scripts are loaded: at least one driver serves.
func (e *Engine) Ready() bool { return len(e.current().drivers) > 0 }

// ErrNoChange is returned by Reload when no file changed.
var ErrNoChange = errors.New("nothing changed")

// Reload builds a new version from the configuration (Options.Load) and
// its scripts, completely and off to the side, and swaps it in only if
// every driver initialised: a failed reload changes nothing, is logged
// with its file:line, and is returned. Transactions already running finish
// on the version they started on; the old version's states are closed
// once they have. Reload returns ErrNoChange (and swaps nothing) when no
// file changed.
func (e *Engine) Reload(ctx context.Context) error { return e.reload(ctx, true) }

// reload is Reload. Without force (the watcher), an attempt whose files
// have the same content as the last failed one is skipped: it would fail
// the same way, and a file written in a watched directory (a log) must not
// rebuild and log the same error again and again.
func (e *Engine) reload(ctx context.Context, force bool) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return ErrClosed
	}
	start := time.Now()
	old := e.current()
	cfg := old.cfg
	attempt := versionID(hashFiles(e.attemptFiles(old)))
	if !force && e.lastErr != nil && attempt == e.lastFailed {
		return ErrNoChange
	}
	if e.opts.Load != nil {
		var err error
		if cfg, err = e.opts.Load(); err != nil {
			e.failedFiles = old.cfg.Files
			e.lastFailed = versionID(hashFiles(e.attemptFiles(old)))
			return e.reloadFailed(old, fmt.Errorf("reload: %w", err))
		}
	}
	// Cheap check first: the same configuration files, and every file the
	// current version was built from unchanged.
	if sameFiles(cfg.Files, old.cfg.Files) && versionID(hashFiles(old.watched())) == old.id {
		if e.lastErr != nil {
			// The failed edit was undone: what is on disk is what serves.
			e.lastErr, e.failedFiles, e.lastFailed = nil, nil, ""
			e.log.Info("reload: the files are back to the content {version} serves; ready again", logx.Args("version", old.name()))
			e.opts.Observer.Reloaded(true, old.name())
		}
		return ErrNoChange
	}
	v, err := e.build(ctx, cfg)
	if err == nil && len(v.errs) > 0 {
		err = v.errs[0]
	}
	if err == nil && len(v.drivers) == 0 && len(old.drivers) > 0 {
		err = errors.New("the new configuration has no push notification driver")
	}
	if err != nil {
		e.failedFiles = cfg.Files
		if v != nil {
			e.failedFiles = v.watched()
			v.retire(ctx, e.log)
		}
		e.lastFailed = versionID(hashFiles(e.attemptFiles(old)))
		return e.reloadFailed(old, fmt.Errorf("reload: %w", err))
	}
	if v.id == old.id {
		v.retire(ctx, e.log)
		return ErrNoChange
	}
	e.number(v)
	e.vmu.Lock()
	e.cur = v
	e.vmu.Unlock()
	e.lastErr, e.failedFiles, e.lastFailed = nil, nil, ""
	what := changed(old.files, v.files)
	shown := make([]string, len(what))
	for i, p := range what {
		shown[i] = e.display(p)
	}
	e.log.Info("reloaded {files} (v{from} → v{to}, {id}) in {ms} ms",
		logx.Args("files", strings.Join(shown, ", "), "from", old.n, "to", v.n, "id", v.id, "ms", time.Since(start).Milliseconds()))
	e.opts.Observer.Reloaded(true, v.name())
	e.retiring.Add(1)
	go func() {
		defer e.retiring.Done()
		old.retire(context.WithoutCancel(ctx), e.log)
	}()
	return nil
}

// attemptFiles lists the files a reload attempt depends on: those of the
// serving version and those of the last failed attempt (a script the new
// configuration named but could not load). reloadMu is held.
func (e *Engine) attemptFiles(old *version) []string {
	files := append(old.watched(), e.failedFiles...)
	sort.Strings(files)
	return slices.Compact(files)
}

// Watched reports whether a change to path can change what a reload
// builds: a file of the serving version or of the last failed attempt, or
// a Lua module in a script's directory.
func (e *Engine) Watched(path string) bool {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	v := e.current()
	path = filepath.Clean(path)
	for _, f := range e.attemptFiles(v) {
		if filepath.Clean(f) == path {
			return true
		}
	}
	if strings.HasPrefix(filepath.Base(path), "..") {
		// Kubernetes swaps a mounted ConfigMap by renaming a ..data
		// symlink: the files' own names see no event.
		return true
	}
	if filepath.Ext(path) == ".lua" {
		dir := filepath.Dir(path)
		for _, d := range v.drivers {
			if ld, ok := d.(*luaDriver); ok && !ld.spec.Bundled && filepath.Dir(ld.spec.Path) == dir {
				return true
			}
		}
	}
	return false
}

func sameFiles(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// keepsServing is the message of a failed reload.
const keepsServing = "{error}; v{serving} keeps serving"

func (e *Engine) reloadFailed(old *version, err error) error {
	e.lastErr = err
	// A configuration file that could not be read or a missing script (an
	// editor's save or a ConfigMap swap may be under way) is a warning; a
	// file that is there but wrong is an error.
	var pe *fs.PathError
	if errors.As(err, &pe) || errors.Is(err, fs.ErrNotExist) {
		e.log.Warn(keepsServing, logx.Args("error", err, "serving", old.n))
	} else {
		e.log.Error(keepsServing, logx.Args("error", err, "serving", old.n))
	}
	e.opts.Observer.Reloaded(false, old.name())
	return err
}

// display shortens a path for logs: relative to the configuration's
// directory when inside it.
func (e *Engine) display(p string) string {
	base := filepath.Dir(e.current().cfg.Path)
	if rel, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}
