package main

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The garbage collector's pace in run and serve. A transaction leaves
// nothing but garbage (the decoded transaction, the Lua tables of its
// calls), so the live heap is small (the Lua states and the store's
// cache) and Go's default, collecting whenever the heap has doubled, runs
// a collection every few dozen transactions. pushlua lets the heap grow
// by four times the live heap (GOGC=400), but by gcHeadroom at most, so
// that a large live heap (a store cache of many users) does not grow
// by four times its size. Measured with `pushlua bench` on 2 CPUs: run
// -j 1 on the collect workload takes about 15 % less CPU than with
// GOGC=100, for about 11 MB more peak RSS (see docs/performance.md). An
// operator's GOGC wins: with GOGC set, pushlua leaves the collector
// alone.
const (
	gcPercent  = 400
	gcHeadroom = 64 << 20
	gcEvery    = time.Second
)

// gcPercentFor returns the GOGC for a live heap of live bytes.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcPercent
	}
	return int(min(max(gcHeadroom*100/live, 100), gcPercent))
}

// tuneGC sets the collector's pace (see gcPercent) unless GOGC is set, and
// adjusts it to the live heap every gcEvery until ctx ends.
func tuneGC(ctx context.Context) {
	if os.Getenv("GOGC") != "" {
		return
	}
	pct := gcPercent
	debug.SetGCPercent(pct)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	go func() {
		t := time.NewTicker(gcEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return
			}
			if p := gcPercentFor(sample[0].Value.Uint64()); p != pct {
				pct = p
				debug.SetGCPercent(pct)
			}
		}
	}()
}
