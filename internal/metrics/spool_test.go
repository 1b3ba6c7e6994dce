package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestWatchSpool(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	stats := SpoolStats{Files: 2, DepthBytes: 300, OldestAge: 90 * time.Second, Submitted: 7, Skipped: 1}
	if err := m.WatchSpool("forwarder", func() SpoolStats { return stats }); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP pushlua_spool_depth_bytes Bytes in the spool whose transactions are not processed yet.
# TYPE pushlua_spool_depth_bytes gauge
pushlua_spool_depth_bytes{spool="forwarder"} 300
# HELP pushlua_spool_files Spool files not deleted yet.
# TYPE pushlua_spool_files gauge
pushlua_spool_files{spool="forwarder"} 2
# HELP pushlua_spool_lines_total Spool lines handed to the engine (submitted) or skipped (invalid, too long, partial).
# TYPE pushlua_spool_lines_total counter
pushlua_spool_lines_total{result="skipped",spool="forwarder"} 1
pushlua_spool_lines_total{result="submitted",spool="forwarder"} 7
# HELP pushlua_spool_oldest_age_seconds How long the oldest unprocessed transaction of the spool has waited (0 when none).
# TYPE pushlua_spool_oldest_age_seconds gauge
pushlua_spool_oldest_age_seconds{spool="forwarder"} 90
`
	names := []string{"pushlua_spool_depth_bytes", "pushlua_spool_files", "pushlua_spool_lines_total", "pushlua_spool_oldest_age_seconds"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// Every scrape asks again.
	stats.DepthBytes = 0
	if err := testutil.GatherAndCompare(reg, strings.NewReader(strings.Replace(want, "} 300", "} 0", 1)), names...); err != nil {
		t.Error(err)
	}
	// A second spool gets its own label; the same name twice is an error.
	if err := m.WatchSpool("wal", func() SpoolStats { return SpoolStats{} }); err != nil {
		t.Errorf("second spool: %v", err)
	}
	if err := m.WatchSpool("forwarder", func() SpoolStats { return stats }); err == nil {
		t.Error("watching the same spool twice: no error")
	}
}
