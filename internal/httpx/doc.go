// Package httpx is pushlua's one HTTP client for everything scripts send:
// socket.http and dovecot.http. One Client, shared by all Lua states, sends
// requests over one pooled *http.Transport; github.com/hashicorp/go-retryablehttp
// runs each request's attempts, with the request's own retry policy.
//
// It has go-retryablehttp's small-library shape: New(Options) with
// documented defaults for the zero values, a Request whose exported fields
// say everything about one exchange, and the behaviour that varies as
// function-typed fields (CheckRetry, Backoff, PrepareRetry) with defaults
// (DefaultCheckRetry, retryablehttp.DefaultBackoff, the same request).
//
// Semantics:
//
//   - The headers on the wire are exactly the ones the caller gives, with the
//     caller's spelling of the names: no Accept-Encoding (compression is off),
//     no Go User-Agent. net/http writes Host first, then User-Agent, then
//     Content-Length or Transfer-Encoding, then the other headers sorted by
//     name; the caller's order is not kept beyond that.
//   - Requests speak HTTP/1.1 only (also over TLS), as LuaSocket and Dovecot do.
//   - Request.Timeout bounds one attempt: connecting, sending the request,
//     and reading the response head and the whole body. The context given to
//     Do bounds the whole exchange, retries and waits included.
//   - Attempts: after each attempt (its body read, or its failure classified
//     as an *Error) Request.CheckRetry decides whether another follows;
//     Request.Backoff says how long to wait first; Request.PrepareRetry may
//     change the request for it (a redirect's target, a header dropped).
//     The defaults retry only after a timeout or a lost connection, up to
//     Request.MaxAttempts attempts, waiting exponentially between
//     Options.RetryWaitMin and RetryWaitMax; never after a refused or failed
//     connect, never because of an HTTP status. dovecot.http plugs lib-http's
//     rules in (408, 417, 503 with Retry-After, its redirects). (net/http
//     itself may resend an idempotent request once, inside one attempt, when
//     a reused keep-alive connection turns out to be closed.)
//   - Redirects: the http.Client's redirect policy follows them within one
//     attempt only when Request.MaxRedirects > 0, with the rules of net/http;
//     otherwise the redirect is the attempt's response, which the caller's
//     own rules may follow (LuaSocket's in socket.http; lib-http's, through
//     CheckRetry and PrepareRetry, in dovecot.http).
//   - Proxies are used only when Request.Proxy says so; the environment
//     (HTTP_PROXY...) is ignored.
//   - Request.TLS gives a request its own TLS options (CA file or
//     directory, no verification, client certificate); requests with equal
//     options share one pool, built on first use.
//   - A request logs only to its own Request.Logger (debug lines: each
//     retry and the outcome), which callers set when their debug logging is
//     on, with the transaction's logger; nothing is logged client-wide.
//   - Errors are *Error values whose Kind is one of the sentinel errors
//     (ErrTimeout, ErrConnectRefused, ...), so callers map them with
//     errors.Is to LuaSocket strings or Dovecot's 9000+ statuses.
package httpx
