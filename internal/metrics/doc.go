// Package metrics owns pushlua's Prometheus metrics: what the engine
// reports through its Observer (transactions processed, Lua calls and their
// duration, queue depth, reloads, the serving script version) and what the
// daemon's ingest counts (transactions accepted and rejected, readiness).
//
// *Metrics has the method set of the runtime's Observer interface, so the
// daemon hands the same value to the engine and to the ingest handler. All
// methods are safe for concurrent use; the per-event ones (TxnProcessed,
// HandlerCalled, QueueDepth) do not allocate once a (script, function) pair
// has been seen.
//
// Metric names (all in the pushlua namespace):
//
//	pushlua_transactions_accepted_total               counter
//	pushlua_transactions_rejected_total               counter
//	pushlua_transactions_processed_total{result}      counter, result="ok"|"failed"
//	pushlua_handler_calls_total{script,function}      counter
//	pushlua_handler_errors_total{script,function}     counter
//	pushlua_handler_duration_seconds{script,function} histogram, 100µs … 10s
//	pushlua_queue_depth                               gauge
//	pushlua_reloads_total{result}                     counter, result="ok"|"failed"
//	pushlua_script_version_info{version}              gauge, 1 for the serving version only
//	pushlua_ready                                     gauge, 1 when scripts are loaded
package metrics
