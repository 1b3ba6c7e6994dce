// Package ingest owns the HTTP side of `pushlua serve`: the handler that
// receives transactions (docs/transactions.md) and hands them to the
// engine's queue, the health, readiness and metrics endpoints, and the
// listener rule (authentication is required unless pushlua listens on
// loopback or a Unix socket).
//
// Routes:
//
//	POST /v1/transactions  one transaction object, or a JSON Lines batch
//	GET  /healthz          200 "ok"
//	GET  /readyz           200 "ready", or 503 and the reason
//	GET  /metrics          Prometheus metrics (when Options.Metrics is set)
//
// A body is one transaction when the whole (trimmed) body is one JSON
// object, which may span several lines; otherwise it is JSON Lines, one
// transaction per line, blank lines skipped. Every valid transaction is
// submitted, in input order; a bad line does not stop the others. The
// answer lists both by 1-based line number:
//
//	{"accepted": [{"line": 1, "id": "..."}],
//	 "rejected": [{"line": 3, "field": "events[0].uid", "error": "missing (required for MessageNew)"}]}
//
// with status 202 when every line was accepted, 400 when any line was
// invalid (the valid lines of the batch are still accepted), and 503 when
// Options.Submit failed: then that line and the valid lines after it are
// listed as rejected and not submitted, so that the order of transactions
// is kept. Other failures answer {"error": "..."}: 400 for an empty body,
// 401 for a missing or wrong bearer token (every /v1/ path), 404 for an
// unknown /v1/ path, 405 for another method than POST, 413 for a body
// larger than Options.MaxBodyBytes.
package ingest
