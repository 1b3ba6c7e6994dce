package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// WatchStore exports the size of pushlua's store, asking at every scrape:
//
//	pushlua_store_bytes   the store file's size
//	pushlua_store_users   the users it holds state for
//
// A store may be watched once.
func (m *Metrics) WatchStore(sizeBytes func() int64, users func() int) error {
	size := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "store_bytes",
		Help: "Size of the store file (mailbox status and METADATA), bytes.",
	}, func() float64 { return float64(sizeBytes()) })
	n := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "store_users",
		Help: "Users the store holds state for (idle ones expire: pushlua_store_expire).",
	}, func() float64 { return float64(users()) })
	if err := m.reg.Register(size); err != nil {
		return fmt.Errorf("metrics: store: %w", err)
	}
	if err := m.reg.Register(n); err != nil {
		m.reg.Unregister(size)
		return fmt.Errorf("metrics: store: %w", err)
	}
	return nil
}
