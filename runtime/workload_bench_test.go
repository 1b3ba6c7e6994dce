package runtime

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/benchwork"
	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/txn"
)

// BenchmarkWorkload runs the standard workloads of `pushlua bench`
// (internal/benchwork) through an engine on a bbolt store, as `pushlua
// run` does: decode a line, submit it, the worker applies its snapshot and
// calls the driver. One op is one transaction (begin / one 17-field
// MessageNew / end); ox and fwd post to a 204 sink. The profile of
//
//	go test -run '^$' -bench 'Workload/collect/j=1' -cpuprofile cpu.out ./runtime/
//
// is the profile of `pushlua run -j 1` without the process around it.
func BenchmarkWorkload(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer sink.Close()
	for _, name := range []string{"collect", "ox", "fwd"} {
		w, _ := benchwork.Find(name)
		lines := sync.OnceValue(func() [][]byte {
			var buf bytes.Buffer
			_ = benchwork.Generate(&buf, 20000, 1000, w.Snapshots, 1)
			return bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
		})
		for _, jobs := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/j=%d", name, jobs), func(b *testing.B) {
				benchWorkload(b, w, sink.URL, lines(), jobs)
			})
		}
	}
}

func benchWorkload(b *testing.B, w benchwork.Workload, sink string, lines [][]byte, jobs int) {
	dir := b.TempDir()
	files := map[string]string{"pushlua.conf": w.Config(sink)}
	for k, v := range w.Files {
		files[k] = v
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := dconfig.Parse(filepath.Join(dir, "pushlua.conf"))
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.OpenBolt(filepath.Join(dir, "store.db"), store.BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var logs syncBuffer
	e, err := New(context.Background(), Options{Config: cfg, Store: st, Logger: testLogger(&logs), Jobs: jobs})
	if err != nil {
		b.Fatal(err)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errors int
	)
	done := func(r Result) {
		if r.Errors > 0 {
			mu.Lock()
			errors++
			mu.Unlock()
		}
		wg.Done()
	}
	ids := txn.NewIDs()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		t, err := txn.Parse(lines[i%len(lines)], ids)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		if err := e.Submit(context.Background(), t, done); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "txn/s")
	b.StopTimer()
	if err := e.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if errors > 0 {
		b.Fatalf("%d transactions failed; log:\n%s", errors, firstLines(logs.String(), 5))
	}
}

func firstLines(s string, n int) string {
	lines := bytes.SplitN([]byte(s), []byte("\n"), n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
