package runtime

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/benchwork"
	"github.com/pushlua/pushlua/internal/txn"
)

// benchTxn is the standard workloads' transaction (internal/benchwork):
// begin / one 17-field MessageNew / end, with or without the snapshots a
// forwarded transaction carries.
func benchTxn(b *testing.B, snapshots benchwork.Snapshots) *txn.Txn {
	b.Helper()
	var buf lineBuffer
	if err := benchwork.Generate(&buf, 1, 1, snapshots, 1); err != nil {
		b.Fatal(err)
	}
	t, err := txn.Parse(buf.line, nil)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

type lineBuffer struct{ line []byte }

func (w *lineBuffer) Write(p []byte) (int, error) {
	w.line = append(w.line, p...)
	return len(p), nil
}

// BenchmarkEventTable measures building the Lua event table of one
// 17-field MessageNew (spec §4.5).
//
//	go test -run '^$' -bench EventTable -benchmem ./runtime/
func BenchmarkEventTable(b *testing.B) {
	t := benchTxn(b, benchwork.None)
	l := lua.NewState()
	e := &t.Events[0]
	b.ReportAllocs()
	for b.Loop() {
		pushEvent(l, e)
		l.Pop(1)
	}
}

// BenchmarkDriverTxn measures one transaction through a worker's drivers
// (version.run: the store snapshot, begin_txn, the event, end_txn), without
// the engine's queue: collect is the collecting script of `pushlua bench`
// (pushlua's own cost), ox the bundled ox driver against a 204 sink with
// a forwarded transaction's snapshots, as the fwd workload.
//
//	go test -run '^$' -bench DriverTxn -benchmem ./runtime/
func BenchmarkDriverTxn(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer sink.Close()
	for _, name := range []string{"collect", "fwd"} {
		b.Run(name, func(b *testing.B) {
			w, _ := benchwork.Find(name)
			files := map[string]string{"pushlua.conf": w.Config(sink.URL)}
			for k, v := range w.Files {
				files[k] = v
			}
			te := newTestEngine(b, files, func(o *Options) { o.Jobs = 1 })
			t := benchTxn(b, w.Snapshots)
			v := te.acquire()
			defer v.release()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if res := v.run(ctx, 0, t, te.Store, nopObserver{}); res.Errors > 0 || res.Drivers != 1 {
					b.Fatalf("%+v:\n%s", res, te.Logs)
				}
			}
		})
	}
}
