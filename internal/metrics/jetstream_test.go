package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestWatchJetStream(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	stats := JetStreamStats{Connected: true, Published: 10, Duplicates: 2, PublishErrors: 1,
		Delivered: 9, Redelivered: 3, Acked: 6, Naked: 1, GaveUp: 1, StreamMessages: 4, StreamBytes: 512}
	if err := m.WatchJetStream(func() JetStreamStats { return stats }); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP pushlua_queue_acks_total Messages this process finished: ack (ran), nak (given back unrun), dead (dead-letter area after pushlua_queue_max_deliver deliveries).
# TYPE pushlua_queue_acks_total counter
pushlua_queue_acks_total{result="ack"} 6
pushlua_queue_acks_total{result="dead"} 1
pushlua_queue_acks_total{result="nak"} 1
# HELP pushlua_queue_connected 1 while the NATS connection of the JetStream queue is up.
# TYPE pushlua_queue_connected gauge
pushlua_queue_connected 1
# HELP pushlua_queue_deliveries_total Messages the stream handed to this process: first deliveries and redeliveries.
# TYPE pushlua_queue_deliveries_total counter
pushlua_queue_deliveries_total{kind="first"} 6
pushlua_queue_deliveries_total{kind="redelivery"} 3
# HELP pushlua_queue_published_total Transactions published to the stream: stored, duplicate (the stream had the id already), failed (answered 503).
# TYPE pushlua_queue_published_total counter
pushlua_queue_published_total{result="duplicate"} 2
pushlua_queue_published_total{result="failed"} 1
pushlua_queue_published_total{result="stored"} 8
# HELP pushlua_queue_stream_bytes Bytes of the stream's unacknowledged transactions (all workers).
# TYPE pushlua_queue_stream_bytes gauge
pushlua_queue_stream_bytes 512
# HELP pushlua_queue_stream_messages Transactions in the stream no worker acknowledged yet (all workers).
# TYPE pushlua_queue_stream_messages gauge
pushlua_queue_stream_messages 4
`
	names := []string{"pushlua_queue_acks_total", "pushlua_queue_connected", "pushlua_queue_deliveries_total",
		"pushlua_queue_published_total", "pushlua_queue_stream_bytes", "pushlua_queue_stream_messages"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// Every scrape asks again.
	stats.Connected = false
	if err := testutil.GatherAndCompare(reg, strings.NewReader(strings.Replace(want, "\npushlua_queue_connected 1", "\npushlua_queue_connected 0", 1)), names...); err != nil {
		t.Error(err)
	}
	if err := m.WatchJetStream(func() JetStreamStats { return stats }); err == nil {
		t.Error("watching twice: no error")
	}
}
