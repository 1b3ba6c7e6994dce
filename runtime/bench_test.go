package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
)

// BenchmarkTxn measures whole transactions (begin_txn, one MessageNew,
// end_txn) through the engine, and reports transactions per second.
//
//	go test -run '^$' -bench Txn -benchmem ./runtime/
func BenchmarkTxn(b *testing.B) {
	script := `function dovecot_lua_notify_begin_txn(user) return {user = user, n = 0} end
function dovecot_lua_notify_event_message_new(ctx, e) ctx.n = ctx.n + 1; ctx.subject = e.subject end
function dovecot_lua_notify_end_txn(ctx, success) end`
	for _, jobs := range []int{1, goruntime.NumCPU()} {
		b.Run(fmt.Sprintf("jobs=%d", jobs), func(b *testing.B) {
			te := newTestEngine(b, map[string]string{
				"pushlua.conf": "plugin {\npush_notification_driver = lua:file=script.lua\n}\n", "script.lua": script,
			}, func(o *Options) { o.Jobs = jobs })
			defer te.Close(context.Background())
			txns := make([]*txn.Txn, 64)
			for i := range txns {
				line := fmt.Sprintf(`{"user": "user%d@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d, "uid_validity": 1795978712, "subject": "Hello", "from": "a@b", "snippet": "hi there"}]}`, i, i+1)
				txns[i], _ = txn.Parse([]byte(line), nil)
			}
			var wg sync.WaitGroup
			done := func(Result) { wg.Done() }
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				wg.Add(1)
				_ = te.Submit(context.Background(), txns[i%len(txns)], done)
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "txn/s")
		})
	}
}

// BenchmarkReloadLatency measures how long a saved script takes to serve:
// from the write to the new version being current, with the watcher's
// default settings. It reports the median and the 99th percentile.
//
//	go test -run '^$' -bench ReloadLatency -benchtime 100x ./runtime/
func BenchmarkReloadLatency(b *testing.B) {
	te := reloadEngine(b)
	defer te.Close(context.Background())
	startWatch(b, te.Engine, WatchOptions{})
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		n := te.Version().N
		start := time.Now()
		if err := os.WriteFile(filepath.Join(te.Dir, "script.lua"), []byte(versionScript(fmt.Sprint("b", i))), 0o644); err != nil {
			b.Fatal(err)
		}
		for te.Version().N == n {
			if time.Since(start) > 10*time.Second {
				b.Fatal("no reload within 10 s")
			}
			time.Sleep(200 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
