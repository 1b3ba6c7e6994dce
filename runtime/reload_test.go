package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pushlua/pushlua/internal/dconfig"
)

func TestDebouncer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDebouncer(100 * time.Millisecond)
		defer d.Stop()
		fired := func() bool {
			synctest.Wait()
			select {
			case <-d.C:
				return true
			default:
				return false
			}
		}
		// A burst: five triggers 30 ms apart.
		for range 5 {
			d.Trigger()
			time.Sleep(30 * time.Millisecond)
			if fired() {
				t.Fatal("fired during the burst")
			}
		}
		time.Sleep(100 * time.Millisecond)
		if !fired() {
			t.Fatal("did not fire 100 ms after the burst")
		}
		time.Sleep(time.Second)
		if fired() {
			t.Fatal("fired again without a trigger")
		}
		d.Trigger()
		time.Sleep(99 * time.Millisecond)
		if fired() {
			t.Fatal("fired before the quiet period")
		}
		time.Sleep(time.Millisecond)
		if !fired() {
			t.Fatal("a later trigger did not fire")
		}
		// A burst that never goes quiet still fires, maxDebounce after its
		// first trigger.
		start := time.Now()
		for !fired() {
			d.Trigger()
			time.Sleep(50 * time.Millisecond)
			if time.Since(start) > 2*maxDebounce {
				t.Fatal("an endless burst never fired")
			}
		}
		if got := time.Since(start); got < maxDebounce || got > maxDebounce+50*time.Millisecond {
			t.Errorf("endless burst fired after %v; want %v", got, maxDebounce)
		}
	})
}

// versionScript logs its version marker from every handler.
func versionScript(marker string) string {
	return fmt.Sprintf(`function script_deinit() dovecot.i_info("deinit %[1]s") end
function dovecot_lua_notify_begin_txn(user) return user.username end
function dovecot_lua_notify_event_message_new(u, e) dovecot.i_info("%[1]s " .. u .. " " .. e.uid) end
function dovecot_lua_notify_end_txn() end
`, marker)
}

func reloadEngine(t testing.TB, opts ...func(*Options)) *testEngine {
	t.Helper()
	te := newTestEngine(t, map[string]string{
		"pushlua.conf": "plugin {\n  push_notification_driver = lua:file=script.lua\n}\n",
		"script.lua":   versionScript("v1"),
	}, opts...)
	te.opts.Load = func() (*dconfig.Config, error) { return dconfig.Parse(filepath.Join(te.Dir, "pushlua.conf")) }
	return te
}

func (te *testEngine) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(te.Dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReload(t *testing.T) {
	te := reloadEngine(t)
	ctx := context.Background()
	if err := te.Reload(ctx); !errors.Is(err, ErrNoChange) {
		t.Fatalf("reload without a change: got %v; want ErrNoChange", err)
	}
	first := te.Version()
	te.write(t, "script.lua", versionScript("v2"))
	if err := te.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	v := te.Version()
	if v.N != 2 || v.ID == first.ID {
		t.Errorf("version: got %+v after %+v", v, first)
	}
	if !hasLine(te.Logs.Lines(), fmt.Sprintf("Info: reloaded script.lua (v1 → v2, %s) in ", v.ID)) {
		t.Errorf("no reload line:\n%s", te.Logs)
	}
	te.run(t, newMsg)
	if !hasLine(te.Logs.Lines(), "Info: v2 alice@example.com 1") {
		t.Errorf("the new version does not serve:\n%s", te.Logs)
	}
	// The old version's states are closed once nothing runs on them.
	checkFor(t, func() bool { return hasLine(te.Logs.Lines(), "Info: deinit v1") })

	// A broken save changes nothing; the error names the place.
	te.write(t, "script.lua", "function dovecot_lua_notify_begin_txn(\n")
	err := te.Reload(ctx)
	if err == nil || !strings.Contains(err.Error(), "script.lua:2:") {
		t.Fatalf("broken reload: got %v; want an error naming script.lua:2", err)
	}
	if te.Version().N != 2 || te.Version().LastErr == nil {
		t.Errorf("after a failed reload: %+v", te.Version())
	}
	if !hasLine(te.Logs.Lines(), "Error: reload: ") || !strings.Contains(te.Logs.String(), "v2 keeps serving") {
		t.Errorf("no failed-reload line:\n%s", te.Logs)
	}
	te.run(t, newMsg)
	if n := strings.Count(te.Logs.String(), "Info: v2 alice@example.com 1"); n != 2 {
		t.Errorf("v2 served %d transactions; want 2", n)
	}
	// The next good save recovers.
	te.write(t, "script.lua", versionScript("v3"))
	if err := te.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if te.Version().N != 3 || te.Version().LastErr != nil {
		t.Errorf("after recovery: %+v", te.Version())
	}

	// A deleted script keeps the last good version, with a warning.
	if err := os.Remove(filepath.Join(te.Dir, "script.lua")); err != nil {
		t.Fatal(err)
	}
	if err := te.Reload(ctx); err == nil {
		t.Fatal("reload of a deleted script succeeded")
	}
	if !hasLine(te.Logs.Lines(), "Warning: reload: ") || te.Version().N != 3 {
		t.Errorf("deleted script:\n%s", te.Logs)
	}
	te.run(t, newMsg)
	if !hasLine(te.Logs.Lines(), "Info: v3 alice@example.com 1") {
		t.Errorf("v3 stopped serving:\n%s", te.Logs)
	}

	// A bad configuration line changes nothing either.
	te.write(t, "script.lua", versionScript("v4"))
	te.write(t, "pushlua.conf", "plugin {\n  push_notification_driver = lua:file=script.lua\n")
	if err := te.Reload(ctx); err == nil || !strings.Contains(err.Error(), "pushlua.conf") {
		t.Errorf("bad config: got %v", err)
	}
	if te.Version().N != 3 {
		t.Errorf("a bad config line swapped the version")
	}
}

// A transaction that started on the old version finishes on it.
func TestReloadRunningTransaction(t *testing.T) {
	te := reloadEngine(t, func(o *Options) { o.Jobs = 2 })
	slow := `function script_deinit() dovecot.i_info("deinit slow") end
function dovecot_lua_notify_begin_txn(user) return user.username end
function dovecot_lua_notify_event_message_new(u, e)
  dovecot.i_info("slow start")
  local t = os.time() + 1
  while os.time() <= t do end
  dovecot.i_info("slow done")
end
function dovecot_lua_notify_end_txn() end`
	te.write(t, "script.lua", slow)
	if err := te.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	tx := mustParse(t, newMsg)
	var res Result
	if err := te.Submit(context.Background(), tx, func(r Result) { res = r; wg.Done() }); err != nil {
		t.Fatal(err)
	}
	checkFor(t, func() bool { return hasLine(te.Logs.Lines(), "Info: slow start") })
	te.write(t, "script.lua", versionScript("fast"))
	if err := te.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	te.run(t, strings.Replace(newMsg, "alice", "bob", 1))
	waitGroup(t, &wg)
	if !strings.HasPrefix(res.Version, "v2 ") {
		t.Errorf("the running transaction finished on %q; want v2", res.Version)
	}
	checkFor(t, func() bool { return hasLine(te.Logs.Lines(), "Info: deinit slow") })
	lines := te.Logs.Lines()
	if !containsInOrder(lines, []string{"Info: slow done", "Info: deinit slow"}) || !hasLine(lines, "Info: fast bob@example.com 1") {
		t.Errorf("got\n%s", strings.Join(lines, "\n"))
	}
}

// No transaction is lost or run twice across reloads, and each user's
// order holds.
func TestReloadUnderLoad(t *testing.T) {
	var mu sync.Mutex
	var records []map[string]any
	te := reloadEngine(t, func(o *Options) {
		o.Jobs = 4
		o.Preload = append(o.Preload, sinkModule(&mu, &records))
	})
	script := func(marker string) string {
		return `local sink = require("pushlua_test_sink")
function dovecot_lua_notify_begin_txn(user) return user.username end
function dovecot_lua_notify_event_message_new(u, e) sink.record({user = u, uid = e.uid, v = "` + marker + `"}) end
function dovecot_lua_notify_end_txn() end`
	}
	te.write(t, "script.lua", script("a"))
	if err := te.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const users, per = 8, 150
	for uid := 1; uid <= per; uid++ {
		if uid%25 == 0 {
			// Reload while the earlier transactions are still queued or
			// running.
			te.write(t, "script.lua", script(fmt.Sprint("b", uid)))
			if err := te.Reload(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		for u := range users {
			wg.Add(1)
			tx := mustParse(t, fmt.Sprintf(`{"user": "u%d", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d}]}`, u, uid))
			if err := te.Submit(context.Background(), tx, func(Result) { wg.Done() }); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitGroup(t, &wg)
	mu.Lock()
	defer mu.Unlock()
	if len(records) != users*per {
		t.Fatalf("got %d handler calls; want %d", len(records), users*per)
	}
	last := map[any]float64{}
	versions := map[any]bool{}
	for _, r := range records {
		if r["uid"].(float64) != last[r["user"]]+1 {
			t.Fatalf("user %v: uid %v after %v (lost, repeated or reordered)", r["user"], r["uid"], last[r["user"]])
		}
		last[r["user"]] = r["uid"].(float64)
		versions[r["v"]] = true
	}
	if len(versions) < 2 {
		t.Errorf("only versions %v served; the reloads did not happen during the stream", versions)
	}
}

// The watcher reloads on the ways files really change.
func TestWatch(t *testing.T) {
	te := reloadEngine(t)
	results := make(chan error, 16)
	startWatch(t, te.Engine, WatchOptions{Debounce: 50 * time.Millisecond, Reloaded: func(err error) { results <- err }})
	next := func(what string) error {
		t.Helper()
		for {
			select {
			case err := <-results:
				if errors.Is(err, ErrNoChange) {
					continue
				}
				return err
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: no reload", what)
				return nil
			}
		}
	}
	te.write(t, "script.lua", versionScript("edited"))
	if err := next("edit in place"); err != nil || te.Version().N != 2 {
		t.Fatalf("edit in place: %v, %+v", err, te.Version())
	}
	// An editor's save: write a temporary file, rename it over the script.
	tmp := filepath.Join(te.Dir, ".script.lua.swp")
	if err := os.WriteFile(tmp, []byte(versionScript("renamed")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(te.Dir, "script.lua")); err != nil {
		t.Fatal(err)
	}
	if err := next("atomic rename"); err != nil || te.Version().N != 3 {
		t.Fatalf("atomic rename: %v, %+v", err, te.Version())
	}
	// A syntax error keeps the old version.
	te.write(t, "script.lua", "function (")
	if err := next("syntax error"); err == nil || te.Version().N != 3 {
		t.Fatalf("syntax error: %v, %+v", err, te.Version())
	}
	te.write(t, "script.lua", versionScript("fixed"))
	if err := next("fix"); err != nil || te.Version().N != 4 {
		t.Fatalf("fix: %v, %+v", err, te.Version())
	}
	// A module the script requires, beside it.
	te.write(t, "helper.lua", "return {greeting = 'hi'}")
	te.write(t, "script.lua", "local h = require('helper')\n"+versionScript("module"))
	if err := next("require"); err != nil || te.Version().N != 5 {
		t.Fatalf("require: %v, %+v", err, te.Version())
	}
	te.write(t, "helper.lua", "return {greeting = 'hello'}")
	if err := next("module edit"); err != nil || te.Version().N != 6 {
		t.Fatalf("module edit: %v, %+v", err, te.Version())
	}
	te.run(t, newMsg)
	if !hasLine(te.Logs.Lines(), "Info: module alice@example.com 1") {
		t.Errorf("got\n%s", te.Logs)
	}
}

// Kubernetes mounts a ConfigMap as a directory of symlinks into a ..data
// symlink that it swaps atomically.
func TestWatchSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, script string) {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "script.lua"), []byte(script), 0o644)
		os.WriteFile(filepath.Join(d, "pushlua.conf"), []byte("plugin {\n  push_notification_driver = lua:file=script.lua\n}\n"), 0o644)
	}
	mk("..2026_01", versionScript("k1"))
	if err := os.Symlink("..2026_01", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"script.lua", "pushlua.conf"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "pushlua.conf")
	cfg, err := dconfig.Parse(conf)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	e, err := New(context.Background(), Options{Config: cfg, Store: memStore(), Logger: testLogger(logs), Jobs: 1,
		Load: func() (*dconfig.Config, error) { return dconfig.Parse(conf) }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	results := make(chan error, 8)
	startWatch(t, e, WatchOptions{Debounce: 50 * time.Millisecond, Reloaded: func(err error) { results <- err }})
	mk("..2026_02", versionScript("k2"))
	tmpLink := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink("..2026_02", tmpLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for e.Version().N != 2 {
		select {
		case <-results:
		case <-deadline:
			t.Fatalf("no reload after the ..data swap:\n%s", logs)
		}
	}
}

func mustParse(t *testing.T, line string) *txnT {
	t.Helper()
	tx, err := parseTxn(line)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// startWatch runs e.Watch with opts until the test is over,
// and returns once the watcher is ready (WatchOptions.Ready).
func startWatch(t testing.TB, e *Engine, opts WatchOptions) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan struct{})
	opts.Ready = func() { close(ready) }
	go func() {
		defer close(done)
		_ = e.Watch(ctx, opts)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-ready:
	case <-done:
		t.Fatal("Watch returned before it was ready")
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher was not ready within 10 s")
	}
}

// checkFor polls cond until it holds or 10 s pass.
func checkFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A failed edit is not rebuilt again and again because something else
// writes into the script's directory (a log), and undoing the edit makes
// the engine ready again.
func TestWatchFailedEditQuietAndUndone(t *testing.T) {
	te := reloadEngine(t)
	results := make(chan error, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startWatch(t, te.Engine, WatchOptions{Debounce: 20 * time.Millisecond, Reloaded: func(err error) { results <- err }})
	next := func(what string) error {
		t.Helper()
		select {
		case err := <-results:
			return err
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no reload attempt", what)
			return nil
		}
	}
	good := versionScript("v1")
	te.write(t, "script.lua", "function (")
	if err := next("bad edit"); err == nil || errors.Is(err, ErrNoChange) {
		t.Fatalf("bad edit: got %v; want the syntax error", err)
	}
	if te.Version().LastErr == nil {
		t.Fatal("LastErr is nil after a failed reload")
	}
	failures := func() int {
		n := 0
		for _, l := range te.Logs.Lines() {
			if strings.Contains(l, "v1 keeps serving") {
				n++
			}
		}
		return n
	}
	// A log written beside the script: no reload at all.
	for i := range 50 {
		te.write(t, "serve.log", strings.Repeat("log line\n", i+1))
	}
	// The same bad content saved again: the watcher skips the rebuild.
	te.write(t, "script.lua", "function (")
	if err := next("same bad content"); !errors.Is(err, ErrNoChange) {
		t.Fatalf("same bad content: got %v; want ErrNoChange (skipped)", err)
	}
	if n := failures(); n != 1 {
		t.Fatalf("failed reloads logged: %d; want 1 (the log file must not trigger reloads)\n%s", n, te.Logs)
	}
	select {
	case err := <-results:
		t.Fatalf("an extra reload attempt: %v", err)
	default:
	}
	// Undo the edit: the files are what v1 serves again.
	te.write(t, "script.lua", good)
	if err := next("undo"); !errors.Is(err, ErrNoChange) {
		t.Fatalf("undo: got %v; want ErrNoChange", err)
	}
	if v := te.Version(); v.LastErr != nil || v.N != 1 {
		t.Fatalf("after undo: LastErr %v, N %d; want nil, 1", v.LastErr, v.N)
	}
	if !hasLine(te.Logs.Lines(), "Info: reload: the files are back to the content v1") {
		t.Errorf("no ready-again line:\n%s", te.Logs)
	}
	// SIGHUP (Reload) still retries a failure explicitly.
	te.write(t, "script.lua", "function (")
	if err := next("bad again"); err == nil || errors.Is(err, ErrNoChange) {
		t.Fatalf("bad again: %v", err)
	}
	if err := te.Reload(ctx); err == nil || errors.Is(err, ErrNoChange) {
		t.Fatalf("forced reload of the same failure: got %v; want the error again", err)
	}
}

// A script saved after the version was built but before the watcher
// watched its directory (serve's start) is reloaded all the same.
func TestWatchCatchesEditBeforeStart(t *testing.T) {
	te := reloadEngine(t)
	te.write(t, "script.lua", versionScript("early"))
	startWatch(t, te.Engine, WatchOptions{Debounce: 20 * time.Millisecond})
	checkFor(t, func() bool { return te.Version().N == 2 })
}
