package dconfig

import (
	"slices"
	"strings"
)

// Place says where in a configuration file a setting goes.
type Place int

const (
	// TopLevel settings are written outside any section of pushlua's own
	// configuration (pushlua reads them: serve, run, check, ...).
	TopLevel Place = 1 << iota
	// InPlugin settings are written inside Dovecot's plugin { } section,
	// where the forwarder (scripts/dovecot/forward.lua) reads them inside
	// Dovecot; pushlua itself does not read them there.
	InPlugin
)

// String says where, as the README's settings table does.
func (p Place) String() string {
	switch p {
	case TopLevel:
		return "top level"
	case InPlugin:
		return "Dovecot's `plugin { }`"
	case TopLevel | InPlugin:
		return "top level (serve); Dovecot's `plugin { }` (forwarder)"
	}
	return "nowhere"
}

// SettingsTable returns the README's table of Known: a Markdown table with
// the columns setting, where, default and meaning.
func SettingsTable() string {
	var b strings.Builder
	b.WriteString("| setting | where | default | meaning |\n|---|---|---|---|\n")
	for _, k := range Known {
		b.WriteString("| `" + k.Name + "` | " + k.Where.String() + " | " + k.Default + " | " + k.Doc + " |\n")
	}
	return b.String()
}

// KnownSetting is one pushlua_* setting.
type KnownSetting struct {
	Name    string
	Default string // as the README shows it; "–" for none
	Where   Place
	Doc     string // one line, Markdown
}

// Known lists every pushlua_* setting, in the order the README's settings
// table shows them. It is the one list: Lint checks configurations against
// it, and a test keeps it, the code that reads the settings and the
// README's table in step.
var Known = []KnownSetting{
	{"pushlua_listen", "`127.0.0.1:8787`", TopLevel, "`serve`'s address: `host:port` or `unix:/path` (`--listen` wins); `send` and `metadata` reach `serve` there"},
	{"pushlua_auth_token", "–", TopLevel, "bearer token `POST /v1/transactions` and `/v1/metadata` need (also `$PUSHLUA_AUTH_TOKEN`); required unless listening on loopback or a Unix socket"},
	{"pushlua_max_body", "`10485760`", TopLevel, "largest request body, bytes (413 above)"},
	{"pushlua_max_inflight_bytes", "4 × `pushlua_max_body`", TopLevel, "request body bytes held at once by all requests; past it `503` + `Retry-After`, before the body is read (at least `pushlua_max_body`)"},
	{"pushlua_body_timeout", "`30s`", TopLevel, "time to receive a request body once its headers are in; slower: `408`, connection closed"},
	{"pushlua_user_queue_size", "`64`", TopLevel, "transactions of one user waiting or running (of the 1024 the queue holds); past it that user gets `429` + `Retry-After`, the others go on"},
	{"pushlua_allowed_hosts", "–", TopLevel, "more `Host` names `serve` answers (space- or comma-separated; `name` for any port, `name:port`, `*` for any); the listen address, `localhost`, `127.0.0.1` and `[::1]` with its port are always accepted"},
	{"pushlua_drain_timeout", "`30s`", TopLevel, "how long SIGTERM waits for accepted transactions (the rest stay in the write-ahead log)"},
	{"pushlua_durable", "`yes`", TopLevel, "`202` only once the transaction is in the write-ahead log (`DATA_DIR/wal/`); `no`: in memory only"},
	{"pushlua_wal_max_bytes", "`1G`", TopLevel, "unprocessed transactions the log may hold; past it ingest answers `503`"},
	{"pushlua_poison_attempts", "`3`", TopLevel, "runs in a row that exceed the budget or crash before a transaction goes to the dead-letter area"},
	{"pushlua_reload_debounce", "`25ms`", TopLevel, "quiet time after file events before a reload (a burst that never goes quiet reloads 500 ms after its first event)"},
	{"pushlua_handler_timeout", "`5s`", TopLevel, "time budget of one call into Lua"},
	{"pushlua_handler_instructions", "`100000000`", TopLevel, "instruction budget of one call into Lua"},
	{"pushlua_handler_memory", "`64M`", TopLevel, "memory budget of one call into Lua: bytes the Lua library may make (a number of bytes, or with a unit `K`, `M`, `G`, `T`)"},
	{"pushlua_allow_exec", "`no`", TopLevel, "allow `os.execute` / `io.popen`"},
	{"pushlua_queue", "`local`", TopLevel, "the queue behind `serve`: `local` (the write-ahead log) or `nats://HOST:PORT[,HOST:PORT...]`: a NATS JetStream stream that any number of `serve` processes share ([docs/cluster.md](docs/cluster.md))"},
	{"pushlua_queue_creds", "–", TopLevel, "NATS credentials file (JWT and nkey seed), relative to the configuration file"},
	{"pushlua_queue_user", "–", TopLevel, "NATS user name (with `pushlua_queue_password`)"},
	{"pushlua_queue_password", "–", TopLevel, "NATS password (also `$PUSHLUA_QUEUE_PASSWORD`)"},
	{"pushlua_queue_token", "–", TopLevel, "NATS token (also `$PUSHLUA_QUEUE_TOKEN`)"},
	{"pushlua_queue_tls_ca", "–", TopLevel, "PEM file of the CAs that sign the NATS servers' certificates"},
	{"pushlua_queue_tls_cert", "–", TopLevel, "client certificate for NATS (mutual TLS), with `pushlua_queue_tls_key`"},
	{"pushlua_queue_tls_key", "–", TopLevel, "the client certificate's private key"},
	{"pushlua_queue_stream", "`PUSHLUA`", TopLevel, "the JetStream stream's name"},
	{"pushlua_queue_subject", "`pushlua.txn`", TopLevel, "the stream's subject prefix: partition n is `<prefix>.<n>`"},
	{"pushlua_queue_partitions", "`64`", TopLevel, "partitions of the stream (FNV-1a of the user name): at most this many transactions run at once, cluster-wide; every worker must use the stream's number"},
	{"pushlua_queue_replicas", "`1`", TopLevel, "copies of the stream when `serve` creates it (`3` on a three-server cluster)"},
	{"pushlua_queue_max_bytes", "`1G`", TopLevel, "the stream's bound when `serve` creates it; a full stream refuses new transactions: ingest answers `503`"},
	{"pushlua_queue_max_age", "`0`", TopLevel, "when `serve` creates the stream: older transactions are deleted, processed or not; `0`: never"},
	{"pushlua_queue_duplicate_window", "`2m`", TopLevel, "how long the stream drops a second transaction with the same id"},
	{"pushlua_queue_ack_wait", "`30s`", TopLevel, "a worker that has not answered for this long (dead, cut off) loses its transaction to another worker"},
	{"pushlua_queue_max_deliver", "`5`", TopLevel, "deliveries without an acknowledgement before a transaction goes to the dead letters (`pushlua dlq`) instead of running again"},
	{"pushlua_data_dir", "the user's state dir", TopLevel, "the store, the write-ahead log, the dead letters (`--data-dir` wins)"},
	{"pushlua_store_expire", "`30d`", TopLevel, "a user whose state no transaction and no `pushlua metadata set\\|unset` touched for this long is removed from the store (its `pushlua metadata` settings stay; see [The store](#the-store)); `0`: never"},
	{"pushlua_doveadm_url", "–", TopLevel, "Dovecot's doveadm HTTP API (`http://127.0.0.1:8080`): a transaction's `mailbox:status()` and `metadata_get()` ask it for what the transaction's snapshot does not carry (below)"},
	{"pushlua_doveadm_key", "–", TopLevel, "Dovecot's `doveadm_api_key` (also `$PUSHLUA_DOVEADM_KEY`); required with `pushlua_doveadm_url`, never logged"},
	{"pushlua_doveadm_timeout", "`1s`", TopLevel, "time budget of one doveadm request (`500ms`, `2s`, ...)"},
	{"pushlua_spool", "–", TopLevel | InPlugin, "the spool directory ([docs/spool.md](docs/spool.md)): the forwarder appends transactions there, `serve` reads them (relative to the configuration file)"},
	{"pushlua_spool_max_age", "`5m`", TopLevel, "`/readyz` answers 503 while the oldest unprocessed spool line is older"},
	{"pushlua_spool_stale_after", "`60s`", TopLevel, "an `.open` spool file of a dead writer unchanged this long is closed"},
	{"pushlua_url", "–", InPlugin, "where the forwarder POSTs transactions (`http://127.0.0.1:8787/v1/transactions`): without a spool, or as its fallback"},
	{"pushlua_token", "–", InPlugin, "the forwarder's bearer token: `serve`'s `pushlua_auth_token`"},
	{"pushlua_timeout_msecs", "`2000`", InPlugin, "the most one forwarder POST may take, retries included"},
	{"pushlua_max_attempts", "`1`", InPlugin, "forwarder POST attempts within `pushlua_timeout_msecs`"},
	{"pushlua_spool_max_bytes", "`16777216`", InPlugin, "a spool file is closed at this size"},
	{"pushlua_status", "`yes`", InPlugin, "what the forwarder looks up in Dovecot: `yes` (what the ox driver needs), `all`, `no`"},
	{"pushlua_metadata_cache_secs", "`60`", InPlugin, "how long the forwarder reuses a session's METADATA read (the ox driver's `cache_lifetime`)"},
}

// LookupKnown returns the pushlua_* setting name.
func LookupKnown(name string) (KnownSetting, bool) {
	i := slices.IndexFunc(Known, func(k KnownSetting) bool { return k.Name == name })
	if i < 0 {
		return KnownSetting{}, false
	}
	return Known[i], true
}

// pushSettings are the plugin settings Dovecot 2.3's push-notification
// plugins read (spec §1.1, §4.1): a plugin key close to one of them is
// most likely a typo of it.
var pushSettings = []string{
	DriverRoot,
	LegacyDriverRoot,
	"push_notification_lua_script_file",
	"mail_lua_script",
}

// driverArgs are the arguments each 2.3 driver reads (spec §1.3); nil:
// any argument (dlog logs them, whatever they are). pushlua's dlog also
// reads "details".
var driverArgs = map[string][]string{
	"lua":  {"file"},
	"ox":   {"url", "cache_lifetime", "max_retries", "timeout_msecs", "user_from_metadata"},
	"dlog": nil,
}

// filterSettings are the settings of a Dovecot 2.4 push_notification
// block pushlua reads.
var filterSettings = []string{
	"driver", "name", "lua_file",
	"push_notification_ox_url", "push_notification_ox_cache_ttl", "push_notification_ox_user_from_metadata",
	"http_client_request_timeout", "http_client_request_max_attempts",
}

// closest returns the candidate nearest to s in edit distance when it is
// near enough to be a typo of it: at most 1 edit for names up to 4
// characters, 2 up to 12, 3 beyond.
func closest(s string, candidates []string) (string, bool) {
	best, bestD := "", -1
	for _, c := range candidates {
		if c == s {
			continue
		}
		d := levenshtein(s, c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 3
	switch n := max(len(s), len(best)); {
	case n <= 4:
		limit = 1
	case n <= 12:
		limit = 2
	}
	return best, bestD >= 0 && bestD <= limit
}

// levenshtein is the edit distance between a and b, byte-wise: insertions,
// deletions, substitutions and transpositions of two neighbours (the
// optimal string alignment distance), so that "dlgo" is one edit from
// "dlog".
func levenshtein(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// knownNames returns the names of the known settings that go in place.
func knownNames(place Place) []string {
	var out []string
	for _, k := range Known {
		if k.Where&place != 0 {
			out = append(out, k.Name)
		}
	}
	return out
}

// stripIndex removes a list index ("push_notification_driver2" →
// "push_notification_driver") and says whether there was one.
func stripIndex(key string) (string, bool) {
	t := strings.TrimRight(key, "0123456789")
	return t, t != key && t != ""
}
