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
// invalid (the valid lines of the batch are still accepted; a line with
// invalid UTF-8 is named with its line and byte offset, "offset" in the
// answer), 429 when a user's lane of the queue was full (that user's line
// and its later lines are not submitted, the other users' lines are), and
// 503 when Options.Submit failed otherwise (the queue stayed full for
// Options.QueueWait, or pushlua is shutting down): then that line and the
// valid lines after it are listed as rejected and not submitted, so that
// the order of transactions is kept. 429 and 503 carry Retry-After.
// Nothing rejected is submitted.
//
// Other failures answer {"error": "..."} for the request as a whole,
// before its body is read, with "Connection: close" (the server does not
// wait for a body it will not use): 421 for a Host that is not served
// (Options.AllowedHosts: DNS rebinding), 403 for a request from a web
// page of another origin (Origin, Sec-Fetch-Site), 401 for a missing or
// wrong bearer token (every /v1/ path), 404 for an unknown /v1/ path, 405
// for another method than POST, 415 for a Content-Type other than
// application/json, application/x-ndjson or application/jsonl (none: JSON
// Lines; with a charset, UTF-8), 413 for a body larger than
// Options.MaxBodyBytes, 503 with Retry-After while the bodies being read
// already hold Options.MaxInflightBytes. A body must arrive within
// Options.BodyTimeout (408 otherwise); an empty body is 400.
package ingest
