package bindings

// The exchange of dovecot.http: what submit() does between the request
// object and internal/httpx, as lib-http does it (http-client-request.c):
// the implicit headers, the attempts and redirects, and the failures as
// lib-http's internal statuses 9000-9008 with its reason texts.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pushlua/pushlua/internal/dovecoturl"
	"github.com/pushlua/pushlua/internal/httpx"
)

// The internal statuses of lib-http (http-client.h), for failures that
// never got an HTTP response.
const (
	HTTPStatusAborted          = 9000
	HTTPStatusInvalidURL       = 9001
	HTTPStatusHostLookupFailed = 9002
	HTTPStatusConnectFailed    = 9003
	HTTPStatusInvalidRedirect  = 9004
	HTTPStatusConnectionLost   = 9005
	HTTPStatusBrokenPayload    = 9006
	HTTPStatusBadResponse      = 9007
	HTTPStatusTimedOut         = 9008
)

// httpDefaultRequestTimeout is lib-http's default attempt timeout.
const httpDefaultRequestTimeout = 60 * time.Second

// defaultHTTPClient serves an Env without an HTTP client (tests, tools).
var defaultHTTPClient = sync.OnceValue(func() *httpx.Client {
	return httpx.New(httpx.Options{RetryWaitMin: -1})
})

// errAbsoluteTimeout is the cause of the context of a submit that ran into
// request_absolute_timeout_msecs.
var errAbsoluteTimeout = errors.New("absolute request timeout expired")

// httpExchange is one submit: the request's state as it is retried and
// redirected, and lib-http's statistics for the reason texts. Its methods
// checkRetry, backoff and prepareRetry are lib-http's rules for a further
// attempt, run by go-retryablehttp's loop inside httpx.Client.Do.
type httpExchange struct {
	req      *httpRequest
	set      *httpSettings
	method   string
	url      *dovecoturl.URL
	payload  []byte
	hasBody  bool
	sync     bool
	date     string
	timeout  time.Duration
	attempts int // retries made (lib-http's req->attempts)
	// maxAttempts is max_attempts, or 2.4's per-method override.
	maxAttempts uint32
	// redirects are the redirects followed since the last retry.
	redirects int
	// delay is the wait before the next attempt (a Retry-After).
	delay time.Duration
	// parent is the call's context, which the submit's own (with
	// request_absolute_timeout_msecs) derives from.
	parent context.Context

	queued    time.Time
	firstSent time.Time
	lastSent  time.Time
	sends     int
}

// send runs the request to its end and returns the response, a real one
// or an internal 9000+ one.
func (r *httpRequest) send() *httpResponse {
	env := r.client.env
	set := &r.client.set
	client := env.http()
	if client == nil {
		client = defaultHTTPClient()
	}
	// The call's time budget (luax.Host.Deadline) bounds the whole submit.
	parent, cancelBudget := env.blockingCtx()
	defer cancelBudget()
	ctx := parent
	if set.requestAbsoluteTimeoutMsecs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(parent,
			time.Duration(set.requestAbsoluteTimeoutMsecs)*time.Millisecond, errAbsoluteTimeout)
		defer cancel()
	}
	now := time.Now()
	x := &httpExchange{
		req:     r,
		set:     set,
		method:  r.method,
		url:     r.url,
		payload: r.payload,
		hasBody: r.hasPayload,
		sync:    r.payloadSync,
		date:    r.client.dateValue(now),
		timeout: httpDefaultRequestTimeout,
		queued:  now,
		parent:  parent,
	}
	if set.requestTimeoutMsecs > 0 {
		x.timeout = time.Duration(set.requestTimeoutMsecs) * time.Millisecond
	}
	x.maxAttempts = set.maxAttempts
	// Dovecot 2.4's per-method overrides (http_client_request_new).
	var methodAttempts uint32
	var methodTimeout time.Duration
	switch strings.ToUpper(r.method) {
	case "GET", "HEAD":
		methodAttempts, methodTimeout = set.readMaxAttempts, set.readTimeout
	case "PUT", "POST":
		methodAttempts, methodTimeout = set.writeMaxAttempts, set.writeTimeout
	case "DELETE":
		methodAttempts, methodTimeout = set.deleteMaxAttempts, set.deleteTimeout
	}
	if methodAttempts != 0 {
		x.maxAttempts = methodAttempts
	}
	if methodTimeout != 0 {
		x.timeout = methodTimeout
	}
	x.sent()
	resp, err := client.Do(ctx, x.httpxRequest())
	if err != nil {
		status, reason, _ := x.failure(ctx, parent, err)
		return &httpResponse{status: status, reason: reason}
	}
	if len(resp.Body) > 0 && env.debug() {
		env.logger().Log(env.ctx(), slog.LevelDebug, env.LogPrefix+"DEBUG: REQUEST: Finished")
	}
	return &httpResponse{status: resp.Status, reason: resp.Reason, payload: resp.Body, header: resp.Header}
}

// sent records the start of an attempt for lib-http's statistics.
func (x *httpExchange) sent() {
	x.sends++
	x.lastSent = time.Now()
	if x.sends == 1 {
		x.firstSent = x.lastSent
	}
}

// redirectError ends an exchange whose redirect lib-http refuses: 9004
// with the reason.
type redirectError struct{ reason string }

func (e *redirectError) Error() string { return e.reason }

// checkRetry is lib-http's decision after an attempt (go-retryablehttp's
// CheckRetry): a timeout or a lost connection is retried unless
// no_auto_retry; 408, 417 (without Expect then) and 503 with a
// Retry-After within max_auto_retry_delay_secs are retried; a retry needs
// an attempt left (max_attempts) and starts the redirect count anew. A
// redirect (3xx but 304, with Location, unless no_auto_redirect) is
// followed after its Retry-After without counting as an attempt, up to
// max_redirects; an invalid Location or one redirect too many ends the
// exchange with a *redirectError. delay is set for backoff.
func (x *httpExchange) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	x.delay = 0
	if err != nil {
		_, _, temporary := x.failure(ctx, x.parent, err)
		return temporary && ctx.Err() == nil && !x.set.noAutoRetry && x.retry(), nil
	}
	location := resp.Header.Get("Location")
	switch {
	case resp.StatusCode == http.StatusExpectationFailed && x.sync:
		x.sync = false
		return x.retry(), nil
	case !x.set.noAutoRedirect && resp.StatusCode/100 == 3 && resp.StatusCode != http.StatusNotModified && location != "":
		delay, result := x.delayFromResponse(resp.Header)
		if result < 0 {
			return false, nil // Retry-After too far away: the 3xx is the answer
		}
		u, perr := dovecoturl.Parse(location, 0)
		if perr != nil {
			return false, &redirectError{"Invalid redirect location: " + perr.Error()}
		}
		x.redirects++
		if x.redirects > int(x.set.maxRedirects) {
			reason := "Redirect refused"
			if x.set.maxRedirects > 0 {
				reason = fmt.Sprintf("Redirected more than %d times", x.set.maxRedirects)
			}
			return false, &redirectError{reason}
		}
		x.url = u
		if resp.StatusCode == http.StatusSeeOther && !strings.EqualFold(x.method, "HEAD") && !strings.EqualFold(x.method, "GET") {
			x.method = "GET"
			x.payload, x.hasBody, x.sync = nil, false, false
		}
		x.delay = delay
		return true, nil
	case resp.StatusCode == http.StatusServiceUnavailable:
		delay, result := x.delayFromResponse(resp.Header)
		if result > 0 && x.retry() {
			x.delay = delay
			return true, nil
		}
	case resp.StatusCode == http.StatusRequestTimeout:
		return x.retry(), nil
	}
	return false, nil
}

// retry is http_client_request_try_retry: one more attempt while
// max_attempts allows it; it starts the redirect count anew.
func (x *httpExchange) retry() bool {
	if x.attempts+1 >= int(x.maxAttempts) {
		return false
	}
	x.attempts++
	x.redirects = 0
	return true
}

// backoff is the wait before the next attempt (go-retryablehttp's
// Backoff): lib-http retries at once but for a Retry-After.
func (x *httpExchange) backoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	return x.delay
}

// prepareRetry makes r the next attempt (go-retryablehttp's PrepareRetry,
// in httpx's terms): the redirect's target and method, or the same request
// without Expect after a 417.
func (x *httpExchange) prepareRetry(r *httpx.Request) error {
	x.sent()
	*r = *x.httpxRequest()
	return nil
}

// delayFromResponse is http_client_request_delay_from_response: result 0
// without a (valid) Retry-After or when its time has passed, -1 when it is
// further away than max_auto_retry_delay_secs (default: the attempt
// timeout), else 1 with the wait. Retry-After is delay-seconds or an
// HTTP-date, compared in whole seconds as lib-http does.
func (x *httpExchange) delayFromResponse(header http.Header) (time.Duration, int) {
	v := strings.TrimSpace(header.Get("Retry-After"))
	if v == "" {
		return 0, 0
	}
	now := time.Now().Truncate(time.Second)
	var at time.Time
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		at = now.Add(time.Duration(n) * time.Second)
	} else if t, err := http.ParseTime(v); err == nil {
		at = t
	} else {
		return 0, 0
	}
	if at.Before(now) {
		return 0, 0
	}
	maxDelay := time.Duration(x.set.maxAutoRetryDelaySecs) * time.Second
	if x.set.maxAutoRetryDelaySecs == 0 {
		maxDelay = x.timeout.Truncate(time.Second)
	}
	delay := at.Sub(now)
	if delay > maxDelay {
		return 0, -1
	}
	return delay, 1
}

// httpxRequest builds the next attempt: the implicit headers in lib-http's
// order (http_client_request_send_real), then the script's.
func (x *httpExchange) httpxRequest() *httpx.Request {
	r := x.req
	u := x.url
	proxy := x.set.proxy
	h := make([][2]string, 0, 7+len(r.headers))
	authority, full := r.client.urlParts(u)
	if r.have&haveHost == 0 {
		h = append(h, [2]string{"Host", authority})
	}
	if r.have&haveDate == 0 {
		h = append(h, [2]string{"Date", x.date})
	}
	if r.have&haveAuthorization == 0 && r.hasAuth {
		h = append(h, [2]string{"Authorization", "Basic " +
			base64.StdEncoding.EncodeToString([]byte(r.user+":"+r.password))})
	}
	if r.have&haveUserAgent == 0 && x.set.userAgent != "" {
		h = append(h, [2]string{"User-Agent", x.set.userAgent})
	}
	if r.have&haveExpect == 0 && x.sync {
		h = append(h, [2]string{"Expect", "100-continue"})
	}
	if x.hasBody || strings.EqualFold(x.method, "POST") || strings.EqualFold(x.method, "PUT") {
		if r.have&haveBody == 0 {
			h = append(h, [2]string{"Content-Length", strconv.Itoa(len(x.payload))})
		}
	}
	if r.have&haveConnection == 0 && proxy == nil {
		h = append(h, [2]string{"Connection", "Keep-Alive"})
	}
	h = append(h, r.headers...)

	req := &httpx.Request{
		Method:         x.method,
		URL:            full,
		Header:         h,
		Timeout:        x.timeout,
		ConnectTimeout: time.Duration(x.set.connectTimeoutMsecs) * time.Millisecond,
		TLS:            x.set.tls,
		CheckRetry:     x.checkRetry,
		Backoff:        x.backoff,
		PrepareRetry:   x.prepareRetry,
	}
	// Debug lines follow the client's debug setting, as lib-http's do in
	// Dovecot 2.3 (mail_debug alone does not reach the client's event), on
	// the call's logger (the transaction's user and id).
	if x.set.debug {
		req.Logger = r.client.env.logger()
	}
	if x.hasBody && len(x.payload) > 0 {
		req.Body = x.payload
	}
	if proxy != nil {
		pu := &url.URL{Scheme: proxy.Scheme(), Host: proxy.Authority()}
		if proxy.User != nil && *proxy.User != "" && proxy.Password != nil {
			pu.User = url.UserPassword(*proxy.User, *proxy.Password)
		}
		req.Proxy = pu.String()
	}
	return req
}

// failure maps an error of httpx to lib-http's internal status and reason,
// and whether lib-http would retry it (a timeout or a lost connection).
func (x *httpExchange) failure(ctx, parent context.Context, err error) (status int, reason string, temporary bool) {
	now := time.Now()
	var redirect *redirectError
	switch {
	case errors.As(err, &redirect):
		return HTTPStatusInvalidRedirect, redirect.reason, false
	case parent.Err() != nil && errors.Is(context.Cause(parent), errCallBudget):
		// The handler's time budget is lib-http's absolute timeout here:
		// it bounds the whole request, whatever stage it is in.
		return HTTPStatusTimedOut, "Absolute request timeout expired (Request " + x.stats(now) + ")", false
	case parent.Err() != nil && errors.Is(parent.Err(), context.Canceled):
		return HTTPStatusAborted, "Aborted", false
	case ctx.Err() != nil && parent.Err() == nil && errors.Is(context.Cause(ctx), errAbsoluteTimeout):
		return HTTPStatusTimedOut, "Absolute request timeout expired (Request " + x.stats(now) + ")", false
	}
	var opErr *net.OpError
	dial := errors.As(err, &opErr) && opErr.Op == "dial"
	switch {
	case errors.Is(err, httpx.ErrHostNotFound):
		var dnsErr *net.DNSError
		msg := "Name or service not known"
		if errors.As(err, &dnsErr) && !dnsErr.IsNotFound {
			msg = capitalize(dnsErr.Err)
		}
		return HTTPStatusHostLookupFailed, fmt.Sprintf("Failed to lookup host %s: %s", x.url.HostName(), msg), false
	case errors.Is(err, httpx.ErrConnectRefused):
		return HTTPStatusConnectFailed, fmt.Sprintf("connect(%s) failed: Connection refused", x.peerName(opErr)), false
	case errors.Is(err, httpx.ErrTimeout) && dial:
		return HTTPStatusConnectFailed, fmt.Sprintf("connect(%s) failed: Connection timed out in %s secs",
			x.peerName(opErr), secs(now.Sub(x.lastSent))), false
	case errors.Is(err, httpx.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		return HTTPStatusTimedOut, "Request timed out (" + x.timing(now) + ")", true
	case errors.Is(err, httpx.ErrConnectFailed):
		if dial {
			return HTTPStatusConnectFailed, fmt.Sprintf("connect(%s) failed: %s", x.peerName(opErr), strerror(opErr.Err)), false
		}
		return HTTPStatusConnectFailed, fmt.Sprintf("SSL handshake to %s failed: %s", x.peerName(opErr), innerError(err)), false
	case errors.Is(err, httpx.ErrConnectionLost):
		var lost string
		switch {
		case errors.Is(err, syscall.EPIPE):
			lost = "Connection lost: Remote disconnected"
		case errors.Is(err, syscall.ECONNRESET):
			lost = fmt.Sprintf("Connection lost: read(%s) failed: Connection reset by peer", x.peerName(opErr))
		default:
			lost = fmt.Sprintf("Connection lost: read(%s) failed: EOF", x.peerName(opErr))
		}
		return HTTPStatusConnectionLost, lost + " (" + x.timing(now) + ")", true
	case errors.Is(err, httpx.ErrBadResponse):
		return HTTPStatusBadResponse, "Invalid HTTP response: " + innerError(err), false
	case errors.Is(err, httpx.ErrBodyTooLarge):
		return HTTPStatusBrokenPayload, "Response payload read error: " + innerError(err), false
	case errors.Is(err, httpx.ErrCanceled), errors.Is(err, context.Canceled):
		return HTTPStatusAborted, "Aborted", false
	}
	return HTTPStatusAborted, "Aborted: " + innerError(err), false
}

// stats is http_client_request_append_stats_text.
func (x *httpExchange) stats(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "queued %s secs ago", secs(now.Sub(x.queued)))
	if x.attempts > 0 {
		fmt.Fprintf(&b, ", %d times retried", x.attempts)
	}
	if x.sends == 0 {
		b.WriteString(", not yet sent")
	} else {
		fmt.Fprintf(&b, ", %d send attempts in %s secs", x.sends, secs(now.Sub(x.firstSent)))
		if x.sends > 1 {
			fmt.Fprintf(&b, ", %s in last attempt", secs(now.Sub(x.lastSent)))
		}
	}
	if d := now.Sub(x.lastSent); d >= time.Millisecond {
		fmt.Fprintf(&b, ", %s in http ioloop", secs(d))
	}
	b.WriteString(", 0.000 in other ioloops")
	return b.String()
}

// timing is http_client_connection_get_timing_info, for the reasons of
// timeouts and lost connections.
func (x *httpExchange) timing(now time.Time) string {
	return "Request " + x.stats(now) + ", connected " + secs(now.Sub(x.lastSent)) + " secs ago"
}

// peerName is the name lib-http gives a connection: the peer's ip:port.
func (x *httpExchange) peerName(opErr *net.OpError) string {
	if opErr != nil && opErr.Addr != nil {
		if a, err := netip.ParseAddrPort(opErr.Addr.String()); err == nil {
			return a.String()
		}
	}
	host := x.url.HostName()
	if x.set.proxy != nil {
		host = x.set.proxy.HostName()
		return net.JoinHostPort(host, strconv.Itoa(x.set.proxy.PortOrDefault()))
	}
	return net.JoinHostPort(host, strconv.Itoa(x.url.PortOrDefault()))
}

// secs formats d as lib-http does: %u.%03u seconds.
func secs(d time.Duration) string {
	ms := max(d.Milliseconds(), 0)
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

// strerror returns the text glibc's strerror gives an errno Go reports
// (Go's texts are glibc's with a lowercase first letter).
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return capitalize(errno.Error())
	}
	if err == nil {
		return "Unknown error"
	}
	return err.Error()
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// innerError is the text of the error under an *httpx.Error.
func innerError(err error) string {
	var he *httpx.Error
	if errors.As(err, &he) && he.Err != nil {
		return he.Err.Error()
	}
	return err.Error()
}
