package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "pushlua"

// DurationBuckets are the upper bounds, in seconds, of
// pushlua_handler_duration_seconds: 100µs to 10s.
var DurationBuckets = []float64{
	0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05,
	0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
}

// Metrics records pushlua's metrics. Create it with New.
type Metrics struct {
	gatherer prometheus.Gatherer
	reg      prometheus.Registerer // for collectors added later (WatchSpool)
	queue    queueAccounting       // WatchQueue, TxnDead, Dropped

	accepted prometheus.Counter
	rejected prometheus.Counter

	processedOK     prometheus.Counter
	processedFailed prometheus.Counter

	calls    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// handlers are the children of each script and function; a map
	// under a read lock rather than a sync.Map, whose Load boxes the key
	// (an allocation per call into Lua).
	handlersMu sync.RWMutex
	handlers   map[handlerKey]*handlerMetrics

	queueDepth prometheus.Gauge

	reloadsOK     prometheus.Counter
	reloadsFailed prometheus.Counter

	versionMu sync.Mutex
	version   string // label value set to 1 in versionInfo; "" before the first Reloaded
	versions  *prometheus.GaugeVec

	ready prometheus.Gauge
}

type handlerKey struct{ script, function string }

// handlerMetrics are the pre-resolved children of one (script, function)
// pair.
type handlerMetrics struct {
	calls    prometheus.Counter
	errors   prometheus.Counter
	duration prometheus.Observer
}

// Option changes what New registers.
type Option func(*config)

type config struct {
	runtime bool
}

// WithRuntimeCollectors also registers the Go runtime collector (go_*) and
// the process collector (process_*). Off by default.
func WithRuntimeCollectors() Option {
	return func(c *config) { c.runtime = true }
}

// New creates pushlua's metrics and registers them with reg. A nil reg
// means a fresh prometheus.NewRegistry(). Handler serves what reg gathers
// when reg is also a prometheus.Gatherer (as *prometheus.Registry is), else
// prometheus.DefaultGatherer.
//
// New panics when a metric cannot be registered, as MustRegister does (for
// example when reg already holds pushlua's metrics): give every Metrics its
// own registry.
func New(reg prometheus.Registerer, opts ...Option) *Metrics {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{gatherer: prometheus.DefaultGatherer, reg: reg}
	if g, ok := reg.(prometheus.Gatherer); ok {
		m.gatherer = g
	}

	m.accepted = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "transactions_accepted_total",
		Help: "Transactions accepted at ingest into the queue.",
	})
	m.rejected = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "transactions_rejected_total",
		Help: "Transaction lines rejected at ingest: invalid, or not taken by the queue.",
	})
	processed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "transactions_processed_total",
		Help: "Transactions run by the engine, by result (failed: a call or driver failed).",
	}, []string{"result"})
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "handler_calls_total",
		Help: "Calls into Lua, by script and function.",
	}, []string{"script", "function"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "handler_errors_total",
		Help: "Calls into Lua that failed, by script and function.",
	}, []string{"script", "function"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "handler_duration_seconds",
		Help:    "Duration of calls into Lua, by script and function.",
		Buckets: DurationBuckets,
	}, []string{"script", "function"})
	m.queueDepth = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "queue_depth",
		Help: "Transactions waiting or running.",
	})
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "reloads_total",
		Help: "Builds of a script version (ok) and failed reloads (failed).",
	}, []string{"result"})
	m.versions = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "script_version_info",
		Help: "The script version serving transactions (1 for the current version only).",
	}, []string{"version"})
	m.ready = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "ready",
		Help: "1 when scripts are loaded and transactions are served, else 0.",
	})

	// Pre-resolve the fixed label values so that they are exported as 0
	// from the start and cost no lookup per event.
	m.processedOK = processed.WithLabelValues("ok")
	m.processedFailed = processed.WithLabelValues("failed")
	m.reloadsOK = reloads.WithLabelValues("ok")
	m.reloadsFailed = reloads.WithLabelValues("failed")

	reg.MustRegister(m.accepted, m.rejected, processed, m.calls, m.errors,
		m.duration, m.queueDepth, reloads, m.versions, m.ready)
	if cfg.runtime {
		reg.MustRegister(collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Handler serves the registry's metrics in the Prometheus exposition
// format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

// Accepted counts n transactions accepted at ingest.
func (m *Metrics) Accepted(n int) {
	if n > 0 {
		m.accepted.Add(float64(n))
	}
}

// Rejected counts n transaction lines rejected at ingest.
func (m *Metrics) Rejected(n int) {
	if n > 0 {
		m.rejected.Add(float64(n))
	}
}

// SetReady sets pushlua_ready.
func (m *Metrics) SetReady(ready bool) {
	if ready {
		m.ready.Set(1)
	} else {
		m.ready.Set(0)
	}
}

// TxnProcessed counts a transaction the engine has run.
func (m *Metrics) TxnProcessed(failed bool) {
	if failed {
		m.processedFailed.Inc()
	} else {
		m.processedOK.Inc()
	}
}

// HandlerCalled counts one call into Lua and observes its duration.
func (m *Metrics) HandlerCalled(script, function string, d time.Duration, failed bool) {
	h := m.handler(script, function)
	h.calls.Inc()
	if failed {
		h.errors.Inc()
	}
	h.duration.Observe(d.Seconds())
}

func (m *Metrics) handler(script, function string) *handlerMetrics {
	key := handlerKey{script, function}
	m.handlersMu.RLock()
	h, ok := m.handlers[key]
	m.handlersMu.RUnlock()
	if ok {
		return h
	}
	m.handlersMu.Lock()
	defer m.handlersMu.Unlock()
	if h, ok := m.handlers[key]; ok {
		return h
	}
	h = &handlerMetrics{
		calls:    m.calls.WithLabelValues(script, function),
		errors:   m.errors.WithLabelValues(script, function),
		duration: m.duration.WithLabelValues(script, function),
	}
	if m.handlers == nil {
		m.handlers = map[handlerKey]*handlerMetrics{}
	}
	m.handlers[key] = h
	return h
}

// QueueDepth sets pushlua_queue_depth.
func (m *Metrics) QueueDepth(n int) {
	m.queueDepth.Set(float64(n))
}

// Reloaded counts a build (ok) or a failed reload (!ok) and makes version,
// the version serving afterwards, the only pushlua_script_version_info
// series. An empty version leaves the info gauge alone.
func (m *Metrics) Reloaded(ok bool, version string) {
	if ok {
		m.reloadsOK.Inc()
	} else {
		m.reloadsFailed.Inc()
	}
	if version == "" {
		return
	}
	m.versionMu.Lock()
	defer m.versionMu.Unlock()
	if version == m.version {
		return
	}
	if m.version != "" {
		m.versions.DeleteLabelValues(m.version)
	}
	m.versions.WithLabelValues(version).Set(1)
	m.version = version
}
