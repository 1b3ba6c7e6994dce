package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SpoolStats is a spool reader's backlog, as WatchSpool exports it.
type SpoolStats struct {
	// Files is the number of spool files not deleted yet.
	Files int
	// DepthBytes is the bytes whose lines are not processed yet.
	DepthBytes int64
	// OldestAge is how long the oldest unprocessed byte has waited.
	OldestAge time.Duration
	// Submitted and Skipped count lines handed to the engine and lines
	// skipped (invalid, too long, partial) since start.
	Submitted, Skipped uint64
}

// WatchSpool exports a spool's backlog, asking stats at every scrape:
//
//	pushlua_spool_files{spool}
//	pushlua_spool_depth_bytes{spool}
//	pushlua_spool_oldest_age_seconds{spool}
//	pushlua_spool_lines_total{spool,result="submitted"|"skipped"}
//
// name is the spool label ("forwarder" for the Dovecot forwarder's spool);
// each name may be watched once.
func (m *Metrics) WatchSpool(name string, stats func() SpoolStats) error {
	labels := prometheus.Labels{"spool": name}
	desc := func(metric, help string, variable ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "spool", metric), help, variable, labels)
	}
	c := &spoolCollector{
		stats: stats,
		files: desc("files", "Spool files not deleted yet."),
		depth: desc("depth_bytes", "Bytes in the spool whose transactions are not processed yet."),
		age:   desc("oldest_age_seconds", "How long the oldest unprocessed transaction of the spool has waited (0 when none)."),
		lines: desc("lines_total", "Spool lines handed to the engine (submitted) or skipped (invalid, too long, partial).", "result"),
	}
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: spool %q: %w", name, err)
	}
	return nil
}

type spoolCollector struct {
	stats                    func() SpoolStats
	files, depth, age, lines *prometheus.Desc
}

func (c *spoolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.files
	ch <- c.depth
	ch <- c.age
	ch <- c.lines
}

func (c *spoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.files, prometheus.GaugeValue, float64(s.Files))
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(s.DepthBytes))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, s.OldestAge.Seconds())
	ch <- prometheus.MustNewConstMetric(c.lines, prometheus.CounterValue, float64(s.Submitted), "submitted")
	ch <- prometheus.MustNewConstMetric(c.lines, prometheus.CounterValue, float64(s.Skipped), "skipped")
}
