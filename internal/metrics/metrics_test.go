package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// observer has the method set of runtime.Observer, which this package may
// not import (internal/layout).
type observer interface {
	TxnProcessed(failed bool)
	HandlerCalled(script, function string, d time.Duration, failed bool)
	Reloaded(ok bool, version string)
	QueueDepth(n int)
}

var _ observer = (*Metrics)(nil)

func TestCounters(t *testing.T) {
	tests := []struct {
		name   string
		do     func(m *Metrics)
		metric func(m *Metrics) prometheus.Collector
		want   float64
	}{
		{"accepted", func(m *Metrics) { m.Accepted(3); m.Accepted(0); m.Accepted(-1); m.Accepted(2) },
			func(m *Metrics) prometheus.Collector { return m.accepted }, 5},
		{"rejected", func(m *Metrics) { m.Rejected(1); m.Rejected(4) },
			func(m *Metrics) prometheus.Collector { return m.rejected }, 5},
		{"processed ok", func(m *Metrics) { m.TxnProcessed(false); m.TxnProcessed(true); m.TxnProcessed(false) },
			func(m *Metrics) prometheus.Collector { return m.processedOK }, 2},
		{"processed failed", func(m *Metrics) { m.TxnProcessed(false); m.TxnProcessed(true) },
			func(m *Metrics) prometheus.Collector { return m.processedFailed }, 1},
		{"queue depth", func(m *Metrics) { m.QueueDepth(7); m.QueueDepth(3) },
			func(m *Metrics) prometheus.Collector { return m.queueDepth }, 3},
		{"ready", func(m *Metrics) { m.SetReady(true) },
			func(m *Metrics) prometheus.Collector { return m.ready }, 1},
		{"ready then not", func(m *Metrics) { m.SetReady(true); m.SetReady(false) },
			func(m *Metrics) prometheus.Collector { return m.ready }, 0},
		{"reloads ok", func(m *Metrics) { m.Reloaded(true, "v1"); m.Reloaded(false, "v1"); m.Reloaded(true, "v2") },
			func(m *Metrics) prometheus.Collector { return m.reloadsOK }, 2},
		{"reloads failed", func(m *Metrics) { m.Reloaded(true, "v1"); m.Reloaded(false, "v1") },
			func(m *Metrics) prometheus.Collector { return m.reloadsFailed }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(prometheus.NewRegistry())
			tt.do(m)
			if got := testutil.ToFloat64(tt.metric(m)); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestHandlerCalled(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.HandlerCalled("a.lua", "dovecot_lua_notify_event_message_new", 2*time.Millisecond, false)
	m.HandlerCalled("a.lua", "dovecot_lua_notify_event_message_new", 20*time.Millisecond, true)
	m.HandlerCalled("b.lua", "dovecot_lua_notify_end_txn", 3*time.Second, false)

	calls := []struct {
		script, function string
		calls, errors    float64
	}{
		{"a.lua", "dovecot_lua_notify_event_message_new", 2, 1},
		{"b.lua", "dovecot_lua_notify_end_txn", 1, 0},
	}
	for _, c := range calls {
		if got := testutil.ToFloat64(m.calls.WithLabelValues(c.script, c.function)); got != c.calls {
			t.Errorf("calls{%s,%s} = %v; want %v", c.script, c.function, got, c.calls)
		}
		if got := testutil.ToFloat64(m.errors.WithLabelValues(c.script, c.function)); got != c.errors {
			t.Errorf("errors{%s,%s} = %v; want %v", c.script, c.function, got, c.errors)
		}
	}
	if got := testutil.CollectAndCount(m.duration); got != 2 {
		t.Errorf("duration series = %d; want 2", got)
	}
	want := `
# HELP pushlua_handler_duration_seconds Duration of calls into Lua, by script and function.
# TYPE pushlua_handler_duration_seconds histogram
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="0.0001"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="0.00025"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="0.0005"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="0.001"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="0.0025"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="0.005"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="0.01"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="0.025"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="0.05"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="0.1"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="0.25"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="0.5"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="1"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="2.5"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="5"} 1
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="10"} 1
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_end_txn",script="b.lua",le="+Inf"} 1
pushlua_handler_duration_seconds_sum{function="dovecot_lua_notify_end_txn",script="b.lua"} 3
pushlua_handler_duration_seconds_count{function="dovecot_lua_notify_end_txn",script="b.lua"} 1
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="0.0001"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="0.00025"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="0.0005"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="0.001"} 0
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="0.0025"} 1
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="0.005"} 1
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="0.01"} 1
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="0.025"} 2
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="0.05"} 2
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="0.1"} 2
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="0.25"} 2
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="0.5"} 2
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="1"} 2
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="2.5"} 2
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="5"} 2
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="10"} 2
pushlua_handler_duration_seconds_bucket{function="dovecot_lua_notify_event_message_new",script="a.lua",le="+Inf"} 2
pushlua_handler_duration_seconds_sum{function="dovecot_lua_notify_event_message_new",script="a.lua"} 0.022
pushlua_handler_duration_seconds_count{function="dovecot_lua_notify_event_message_new",script="a.lua"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "pushlua_handler_duration_seconds"); err != nil {
		t.Error(err)
	}
}

func TestScriptVersionInfo(t *testing.T) {
	tests := []struct {
		name    string
		reloads []struct {
			ok      bool
			version string
		}
		want string // the only series, "" for none
	}{
		{name: "none", want: ""},
		{name: "first build", reloads: []struct {
			ok      bool
			version string
		}{{true, "v1 (aaaa)"}}, want: "v1 (aaaa)"},
		{name: "reload replaces", reloads: []struct {
			ok      bool
			version string
		}{{true, "v1 (aaaa)"}, {true, "v2 (bbbb)"}}, want: "v2 (bbbb)"},
		{name: "failed reload keeps", reloads: []struct {
			ok      bool
			version string
		}{{true, "v1 (aaaa)"}, {false, "v1 (aaaa)"}}, want: "v1 (aaaa)"},
		{name: "empty version keeps", reloads: []struct {
			ok      bool
			version string
		}{{true, "v1 (aaaa)"}, {false, ""}}, want: "v1 (aaaa)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := New(reg)
			for _, r := range tt.reloads {
				m.Reloaded(r.ok, r.version)
			}
			want := ""
			if tt.want != "" {
				want = fmt.Sprintf(`
# HELP pushlua_script_version_info The script version serving transactions (1 for the current version only).
# TYPE pushlua_script_version_info gauge
pushlua_script_version_info{version=%q} 1
`, tt.want)
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "pushlua_script_version_info"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	m := New(nil)
	m.Accepted(2)
	m.Rejected(1)
	m.TxnProcessed(false)
	m.HandlerCalled("a.lua", "f", time.Millisecond, true)
	m.QueueDepth(4)
	m.Reloaded(true, "v1 (abcd)")
	m.SetReady(true)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d; want 200", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q; want text/plain", ct)
	}
	for _, line := range []string{
		"pushlua_transactions_accepted_total 2",
		"pushlua_transactions_rejected_total 1",
		`pushlua_transactions_processed_total{result="ok"} 1`,
		`pushlua_transactions_processed_total{result="failed"} 0`,
		`pushlua_handler_calls_total{function="f",script="a.lua"} 1`,
		`pushlua_handler_errors_total{function="f",script="a.lua"} 1`,
		`pushlua_handler_duration_seconds_count{function="f",script="a.lua"} 1`,
		"pushlua_queue_depth 4",
		`pushlua_reloads_total{result="ok"} 1`,
		`pushlua_reloads_total{result="failed"} 0`,
		`pushlua_script_version_info{version="v1 (abcd)"} 1`,
		"pushlua_ready 1",
	} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("missing %q in\n%s", line, body)
		}
	}
	if strings.Contains(string(body), "go_goroutines") {
		t.Errorf("Go collector registered without WithRuntimeCollectors")
	}
}

func TestRuntimeCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, WithRuntimeCollectors())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "go_goroutines" {
			found = true
		}
	}
	if !found {
		t.Errorf("go_goroutines not gathered with WithRuntimeCollectors")
	}
}

func TestDoubleRegisterPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg)
	defer func() {
		if recover() == nil {
			t.Errorf("second New on one registry did not panic")
		}
	}()
	New(reg)
}

func TestConcurrent(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	const goroutines, per = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				m.HandlerCalled("s.lua", fmt.Sprintf("f%d", i%4), time.Millisecond, i%10 == 0)
				m.TxnProcessed(i%2 == 0)
				m.QueueDepth(i)
				m.Accepted(1)
				m.Rejected(1)
				m.SetReady(i%2 == 0)
				if i%50 == 0 {
					m.Reloaded(true, fmt.Sprintf("v%d", g))
				}
			}
		}()
	}
	// Scrape while recording.
	for range 5 {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()

	total := float64(goroutines * per)
	var calls, errs float64
	for f := range 4 {
		calls += testutil.ToFloat64(m.calls.WithLabelValues("s.lua", fmt.Sprintf("f%d", f)))
		errs += testutil.ToFloat64(m.errors.WithLabelValues("s.lua", fmt.Sprintf("f%d", f)))
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"calls", calls, total},
		{"errors", errs, total / 10},
		{"processed", testutil.ToFloat64(m.processedOK) + testutil.ToFloat64(m.processedFailed), total},
		{"accepted", testutil.ToFloat64(m.accepted), total},
		{"rejected", testutil.ToFloat64(m.rejected), total},
		{"reloads", testutil.ToFloat64(m.reloadsOK), goroutines * per / 50},
		{"version series", float64(testutil.CollectAndCount(m.versions)), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.name, c.got, c.want)
		}
	}
	m.versionMu.Lock()
	cur := m.version
	m.versionMu.Unlock()
	if got := testutil.ToFloat64(m.versions.WithLabelValues(cur)); got != 1 {
		t.Errorf("script_version_info{version=%q} = %v; want 1", cur, got)
	}
}

func BenchmarkHandlerCalled(b *testing.B) {
	m := New(prometheus.NewRegistry())
	m.HandlerCalled("script.lua", "dovecot_lua_notify_event_message_new", time.Millisecond, false)
	b.ReportAllocs()
	for b.Loop() {
		m.HandlerCalled("script.lua", "dovecot_lua_notify_event_message_new", time.Millisecond, false)
	}
}

func BenchmarkHandlerCalledParallel(b *testing.B) {
	m := New(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.HandlerCalled("script.lua", "dovecot_lua_notify_event_message_new", time.Millisecond, false)
		}
	})
}
