// Package conformance is the suite admins run against their own push
// scripts before they deploy them (`pushlua conformance`), in the spirit of
// OpenResty's Test::Nginx and `benthos test`.
//
// Run takes a configuration (or a single Lua script) and case files. On the
// configuration's drivers it runs the built-in checks, which need no case
// files: the script loads in a fresh state, script_init succeeds, it
// defines begin_txn, end_txn and event handlers (a warning says what
// Dovecot would do otherwise), a generated corpus of transactions shaped
// like Dovecot's own (corpus.txtar: all twelve events, empty FlagsClear
// tables, missing subjects, folded headers, huge uids, rollbacks, MOVE as
// two transactions, ...) runs without a handler error, within a reduced
// budget, without globals that outlive a transaction and without writes
// outside the temporary directory, and a second load of the same files
// behaves the same on the same corpus.
//
// Case files (txtar archives, README.md documents their sections) say what
// the admin expects: transactions in, optional store state and mock
// endpoint behaviour (status codes, delays, refused connections), and the
// HTTP requests, log lines or absence of requests that must come out. Every
// HTTP connection a script makes goes to one mock endpoint on 127.0.0.1,
// whatever host it names. A failing case carries a unified diff of expected
// and actual.
//
// The package owns the case format, the corpus, the mock endpoint and the
// report formats (text, JSON, JUnit XML, TAP). The suites for pushlua's own
// drivers (dlog, ox), Dovecot's two documentation examples and the Dovecot
// forwarder are in testdata/ and embedded, so `pushlua conformance
// --bundled` runs them anywhere.
package conformance
