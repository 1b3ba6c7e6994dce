package httpx

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Options configures a Client. The zero value of each field means its
// documented default.
type Options struct {
	// MaxIdleConnsPerHost is the number of idle keep-alive connections kept
	// per host. Default 16.
	MaxIdleConnsPerHost int
	// MaxIdleConns is the number of idle connections kept in all. Default 256.
	MaxIdleConns int
	// IdleConnTimeout closes idle connections after this time. Default 90s.
	IdleConnTimeout time.Duration
	// RetryWaitMin and RetryWaitMax bound the exponential wait between two
	// attempts of a request without its own Backoff. Defaults 50ms and 1s;
	// a negative RetryWaitMin means retry at once.
	RetryWaitMin, RetryWaitMax time.Duration
	// MaxBody is the largest response body Do reads. Default 16 MiB.
	MaxBody int64
	// TLSConfig is the TLS configuration of https requests (tests set
	// RootCAs). Default: Go's defaults with the system roots.
	TLSConfig *tls.Config
	// Dial, when set, makes every connection instead of a net.Dialer (with
	// the same connect timeout in ctx's deadline): the conformance suite
	// routes all of a script's requests to its mock endpoints with it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Defaults of Options.
const (
	DefaultMaxIdleConnsPerHost = 16
	DefaultMaxIdleConns        = 256
	DefaultIdleConnTimeout     = 90 * time.Second
	DefaultRetryWaitMin        = 50 * time.Millisecond
	DefaultRetryWaitMax        = time.Second
	DefaultMaxBody             = 16 << 20
)

// Client sends HTTP requests; it is safe for concurrent use, and one Client
// serves all Lua states.
type Client struct {
	transport *http.Transport
	// http sends one attempt (redirects as Request.MaxRedirects says);
	// each Do runs its attempts through a retryablehttp.Client over it.
	http                       *http.Client
	retryWaitMin, retryWaitMax time.Duration
	maxBody                    int64

	// tlsTransports are the pools of the requests with their own TLS
	// options (Request.TLS), built on first use.
	tlsMu         sync.Mutex
	tlsTransports map[TLS]*http.Transport
}

// New returns a Client configured by opts.
func New(opts Options) *Client {
	if opts.MaxIdleConnsPerHost <= 0 {
		opts.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if opts.MaxIdleConns <= 0 {
		opts.MaxIdleConns = DefaultMaxIdleConns
	}
	if opts.IdleConnTimeout <= 0 {
		opts.IdleConnTimeout = DefaultIdleConnTimeout
	}
	switch {
	case opts.RetryWaitMin < 0:
		opts.RetryWaitMin, opts.RetryWaitMax = 0, 0
	case opts.RetryWaitMin == 0:
		opts.RetryWaitMin = DefaultRetryWaitMin
	}
	if opts.RetryWaitMax == 0 && opts.RetryWaitMin > 0 {
		opts.RetryWaitMax = max(DefaultRetryWaitMax, opts.RetryWaitMin)
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	tlsConf := opts.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{}
	} else {
		tlsConf = tlsConf.Clone()
	}
	tlsConf.NextProtos = []string{"http/1.1"}

	t := &http.Transport{
		Proxy:                 proxyFromRequest,
		DialContext:           dialer(opts.Dial),
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   0, // bounded by the attempt's time
		DisableCompression:    true,
		MaxIdleConns:          opts.MaxIdleConns,
		MaxIdleConnsPerHost:   opts.MaxIdleConnsPerHost,
		IdleConnTimeout:       opts.IdleConnTimeout,
		ExpectContinueTimeout: 0,
		ForceAttemptHTTP2:     false,
		// A non-nil empty map turns HTTP/2 off.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	c := &Client{transport: t, maxBody: opts.MaxBody, retryWaitMin: opts.RetryWaitMin, retryWaitMax: opts.RetryWaitMax}
	c.http = &http.Client{
		// attemptTransport has no CloseIdleConnections, so retryablehttp's
		// calls to it after a failure do not empty the shared pool.
		Transport:     &attemptTransport{base: t, client: c},
		CheckRedirect: checkRedirect,
	}
	return c
}

// CloseIdleConnections closes the pools' idle connections (at shutdown).
func (c *Client) CloseIdleConnections() {
	c.transport.CloseIdleConnections()
	c.tlsMu.Lock()
	defer c.tlsMu.Unlock()
	for _, t := range c.tlsTransports {
		t.CloseIdleConnections()
	}
}

// Request is one HTTP request.
type Request struct {
	// Method is the HTTP method; default GET.
	Method string
	// URL is the absolute http or https URL. Userinfo in it becomes Basic
	// authentication unless Header has an Authorization field.
	URL string
	// Header holds the header fields in order, with the caller's exact
	// names. "Host" sets the Host field (default: the URL's host);
	// "Content-Length" is ignored (it is always len(Body));
	// "Transfer-Encoding: chunked" sets Chunked. Without a User-Agent field
	// none is sent.
	Header [][2]string
	// Body is the request body (nil: none).
	Body []byte
	// Chunked sends Body with Transfer-Encoding: chunked instead of a
	// Content-Length.
	Chunked bool
	// Timeout bounds each attempt: connect, send, response head and body,
	// redirects included. 0: no limit but the context's.
	Timeout time.Duration
	// ConnectTimeout bounds the TCP connect of each attempt. 0: only
	// Timeout and the context limit it.
	ConnectTimeout time.Duration
	// MaxAttempts is the number of attempts DefaultCheckRetry allows;
	// retries happen only after a timeout or a lost connection. 0 or 1: no
	// retry. A request with its own CheckRetry counts for itself.
	MaxAttempts int
	// MaxRedirects is the number of redirects the http.Client follows
	// within one attempt, with net/http's rules; 0: none, the redirect
	// response is the attempt's outcome (and CheckRetry may follow it with
	// other rules, through PrepareRetry).
	MaxRedirects int
	// Proxy is the URL of an HTTP proxy to send the request through; "" for
	// none.
	Proxy string
	// TLS, when set, replaces the client's TLS configuration for this
	// request (LuaSec's verify and cafile, dovecot.http's ssl settings).
	// Requests with equal TLS options share one connection pool.
	TLS *TLS
	// Logger, when set, receives debug lines about this request: each
	// retry and the outcome. Callers set it when their debug logging is on
	// (mail_debug, dovecot.http's debug setting), with the transaction's
	// logger so that the lines carry its user and id. nil: no lines.
	Logger *slog.Logger

	// CheckRetry decides after each attempt whether another one follows
	// (go-retryablehttp's CheckRetry, run by its retry loop). It is called
	// once per attempt: with the response once its body has been read (the
	// body is then in the Response Do returns, not in resp.Body), or with
	// the attempt's failure as an *Error and a nil resp. An error it
	// returns ends Do with an *Error of Kind ErrRetryPolicy that wraps it.
	// nil: DefaultCheckRetry.
	CheckRetry retryablehttp.CheckRetry
	// Backoff is the wait before the next attempt (go-retryablehttp's
	// Backoff; resp is nil after a failed attempt). The context given to
	// Do cuts it short. nil: retryablehttp.DefaultBackoff between
	// Options.RetryWaitMin and RetryWaitMax.
	Backoff retryablehttp.Backoff
	// PrepareRetry, when set, is called after the wait before each further
	// attempt with this Request, which it may change for that attempt:
	// Method, URL, Header, Body and Chunked (the other fields keep the
	// values of the first attempt). An error it returns ends Do with an
	// *Error of Kind ErrRetryPolicy; a changed request that cannot be sent
	// ends it with ErrInvalidRequest. nil: every attempt sends the same
	// request.
	PrepareRetry func(r *Request) error
}

// TLS are the TLS options of one request. The zero value is Go's defaults
// with the system roots.
type TLS struct {
	// CAFile and CAPath name PEM files of the certificates to trust (a
	// file, and a directory whose files are all read) instead of the
	// system roots.
	CAFile, CAPath string
	// Insecure skips the verification of the server's certificate.
	Insecure bool
	// CertFile and KeyFile are the client certificate and its key (PEM).
	CertFile, KeyFile string
	// MinVersion is the lowest TLS version (tls.VersionTLS12...); 0:
	// Go's default.
	MinVersion uint16
}

// Response is the answer to a Request.
type Response struct {
	// Status is the status code, e.g. 200.
	Status int
	// Reason is the reason phrase of the status line, e.g. "OK".
	Reason string
	// Proto is the protocol of the status line, e.g. "HTTP/1.1".
	Proto string
	// Header holds the response header fields, keyed by canonical name
	// (net/http's textproto form); the values of one name keep their order.
	// Transfer-Encoding is included when the response had one.
	Header http.Header
	// Trailer holds the trailer fields of a chunked response, if any.
	Trailer http.Header
	// Body is the whole response body.
	Body []byte
	// Attempts is the number of attempts made.
	Attempts int
}

// Do sends r, retrying as r says (CheckRetry, Backoff, PrepareRetry), and
// reads the whole response. ctx bounds the whole exchange, retries and
// waits included. Failures are *Error values.
func (c *Client) Do(ctx context.Context, r *Request) (*Response, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	st := &state{
		tls:            r.TLS,
		logger:         r.Logger,
		timeout:        r.Timeout,
		connectTimeout: r.ConnectTimeout,
		maxAttempts:    max(r.MaxAttempts, 1),
		maxRedirects:   r.MaxRedirects,
		maxBody:        c.maxBody,
	}
	sctx := context.WithValue(ctx, stateKey{}, st)
	fail := func(kind, err error) error {
		return &Error{Kind: kind, Method: st.method, URL: redactURL(st.url), Attempts: st.attempts, Err: err}
	}
	req, err := st.request(sctx, r, true)
	if err != nil {
		return nil, fail(ErrInvalidRequest, err)
	}
	rc := &retryablehttp.Client{
		HTTPClient:     c.http,
		RequestLogHook: st.logRetry,
		RetryWaitMin:   c.retryWaitMin,
		RetryWaitMax:   c.retryWaitMax,
		RetryMax:       math.MaxInt32, // the request's CheckRetry limits it
		CheckRetry:     st.checkRetry(r.CheckRetry),
		Backoff:        r.Backoff,
		ErrorHandler:   retryablehttp.PassthroughErrorHandler,
	}
	if rc.Backoff == nil {
		rc.Backoff = retryablehttp.DefaultBackoff
	}
	if r.PrepareRetry != nil {
		rc.PrepareRetry = st.prepareRetry(sctx, r, req)
	}

	start := time.Now()
	resp, err := rc.Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	if err != nil {
		kind := classify(ctx, err)
		if st.logger != nil {
			d := time.Since(start).Round(time.Millisecond)
			u := redactURL(st.url)
			st.logger.Debug(fmt.Sprintf("http: %s %s failed: %s (%s, %s)", st.method, u, kind, attemptsText(st.attempts), d),
				"method", st.method, "url", u, "error", kind.Error(), "attempts", st.attempts, "duration", d)
		}
		return nil, fail(kind, err)
	}
	if st.logger != nil {
		d := time.Since(start).Round(time.Millisecond)
		u := redactURL(st.url)
		st.logger.Debug(fmt.Sprintf("http: %s %s: %s (%s, %s)", st.method, u, resp.Status, attemptsText(st.attempts), d),
			"method", st.method, "url", u, "status", resp.StatusCode, "attempts", st.attempts, "duration", d)
	}
	reason := strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode))
	reason = strings.TrimPrefix(reason, " ")
	header := resp.Header
	if len(resp.TransferEncoding) > 0 && header.Get("Transfer-Encoding") == "" {
		header["Transfer-Encoding"] = []string{strings.Join(resp.TransferEncoding, ", ")}
	}
	var trailer http.Header
	if len(resp.Trailer) > 0 {
		trailer = resp.Trailer
	}
	return &Response{
		Status:   resp.StatusCode,
		Reason:   reason,
		Proto:    resp.Proto,
		Header:   header,
		Trailer:  trailer,
		Body:     st.body,
		Attempts: st.attempts,
	}, nil
}

func attemptsText(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}
