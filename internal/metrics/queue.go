package metrics

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueStats is where the accepted transactions are now, as WatchQueue
// exports it.
type QueueStats struct {
	// InFlight is how many a worker runs now.
	InFlight int
	// Queued is how many wait: in the write-ahead log not read yet, or in
	// the engine's queue.
	Queued int
}

// queueAccounting holds the counters of the accounting identity
//
//	accepted = processed + dead + in_flight + queued + dropped
//
// that pushlua_transactions_accepted_total and the metrics WatchQueue adds
// keep (dropped stays 0 with the write-ahead log: a drain timeout leaves
// transactions in the log instead).
type queueAccounting struct {
	once    sync.Once
	dead    prometheus.Counter
	dropped prometheus.Counter
}

// WatchQueue exports the queue's accounting, asking stats at every scrape:
//
//	pushlua_transactions_in_flight
//	pushlua_transactions_queued
//	pushlua_transactions_dead_total      (given up on: the dead-letter area)
//	pushlua_transactions_dropped_total   (accepted and then lost: must stay 0)
//
// It may be called once.
func (m *Metrics) WatchQueue(stats func() QueueStats) error {
	m.queue.init()
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "transactions_in_flight",
		Help: "Accepted transactions a worker runs now.",
	}, func() float64 { return float64(stats().InFlight) })
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "transactions_queued",
		Help: "Accepted transactions waiting: in the write-ahead log or the engine's queue.",
	}, func() float64 { return float64(stats().Queued) })
	for _, c := range []prometheus.Collector{inFlight, queued, m.queue.dead, m.queue.dropped} {
		if err := m.reg.Register(c); err != nil {
			return fmt.Errorf("metrics: queue: %w", err)
		}
	}
	return nil
}

func (q *queueAccounting) init() {
	q.once.Do(func() {
		q.dead = prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "transactions_dead_total",
			Help: "Transactions given up on after pushlua_poison_attempts poisoned runs (see pushlua dlq).",
		})
		q.dropped = prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "transactions_dropped_total",
			Help: "Accepted transactions that were lost (not processed and not kept): 0 unless durability is off.",
		})
	})
}

// TxnDead counts a transaction the engine gave up on. The engine calls it
// instead of TxnProcessed.
func (m *Metrics) TxnDead() {
	m.queue.init()
	m.queue.dead.Inc()
}

// Dropped counts n accepted transactions that were lost.
func (m *Metrics) Dropped(n int) {
	m.queue.init()
	if n > 0 {
		m.queue.dropped.Add(float64(n))
	}
}
