package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// JetStreamStats is the NATS JetStream queue as WatchJetStream exports it
// (docs/cluster.md).
type JetStreamStats struct {
	// Connected is whether the NATS connection is up.
	Connected bool
	// Published counts transactions this process stored in the stream,
	// Duplicates those of them the stream had already (same id), and
	// PublishErrors those it failed to store (answered 503).
	Published, Duplicates, PublishErrors uint64
	// Delivered counts messages the stream handed to this process,
	// Redelivered those of them delivered before (a worker died or gave
	// it back).
	Delivered, Redelivered uint64
	// Acked counts messages acknowledged after their transaction ran,
	// Naked those given back unrun (shutdown), GaveUp those put into the
	// dead-letter area after pushlua_queue_max_deliver deliveries.
	Acked, Naked, GaveUp uint64
	// StreamMessages and StreamBytes are the stream's backlog: accepted
	// transactions no worker acknowledged yet, cluster-wide.
	StreamMessages, StreamBytes uint64
}

// WatchJetStream exports the JetStream queue, asking stats at every
// scrape:
//
//	pushlua_queue_connected                    1 while the NATS connection is up
//	pushlua_queue_published_total{result}      stored | duplicate | failed
//	pushlua_queue_deliveries_total{kind}       first | redelivery
//	pushlua_queue_acks_total{result}           ack | nak | dead
//	pushlua_queue_stream_messages              the stream's backlog, cluster-wide
//	pushlua_queue_stream_bytes
//
// It may be called once.
func (m *Metrics) WatchJetStream(stats func() JetStreamStats) error {
	desc := func(metric, help string, variable ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "queue", metric), help, variable, nil)
	}
	c := &jetStreamCollector{
		stats:      stats,
		connected:  desc("connected", "1 while the NATS connection of the JetStream queue is up."),
		published:  desc("published_total", "Transactions published to the stream: stored, duplicate (the stream had the id already), failed (answered 503).", "result"),
		deliveries: desc("deliveries_total", "Messages the stream handed to this process: first deliveries and redeliveries.", "kind"),
		acks:       desc("acks_total", "Messages this process finished: ack (ran), nak (given back unrun), dead (dead-letter area after pushlua_queue_max_deliver deliveries).", "result"),
		msgs:       desc("stream_messages", "Transactions in the stream no worker acknowledged yet (all workers)."),
		bytes:      desc("stream_bytes", "Bytes of the stream's unacknowledged transactions (all workers)."),
	}
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: jetstream: %w", err)
	}
	return nil
}

type jetStreamCollector struct {
	stats                                               func() JetStreamStats
	connected, published, deliveries, acks, msgs, bytes *prometheus.Desc
}

func (c *jetStreamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connected, c.published, c.deliveries, c.acks, c.msgs, c.bytes} {
		ch <- d
	}
}

func (c *jetStreamCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	connected := 0.0
	if s.Connected {
		connected = 1
	}
	counter := func(d *prometheus.Desc, v uint64, label string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label)
	}
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, connected)
	counter(c.published, s.Published-s.Duplicates, "stored")
	counter(c.published, s.Duplicates, "duplicate")
	counter(c.published, s.PublishErrors, "failed")
	counter(c.deliveries, s.Delivered-s.Redelivered, "first")
	counter(c.deliveries, s.Redelivered, "redelivery")
	counter(c.acks, s.Acked, "ack")
	counter(c.acks, s.Naked, "nak")
	counter(c.acks, s.GaveUp, "dead")
	ch <- prometheus.MustNewConstMetric(c.msgs, prometheus.GaugeValue, float64(s.StreamMessages))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(s.StreamBytes))
}
