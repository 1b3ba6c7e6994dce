package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/pushlua/pushlua/internal/redact"
)

// Options configures a Client. The zero value of each field means its
// documented default.
type Options struct {
	// Logger is no longer used: a request's debug lines go to its own
	// Request.Logger, so that they carry the transaction's user and id and
	// appear only when the caller's debug logging is on.
	Logger *slog.Logger
	// MaxIdleConnsPerHost is the number of idle keep-alive connections kept
	// per host. Default 16.
	MaxIdleConnsPerHost int
	// MaxIdleConns is the number of idle connections kept in all. Default 256.
	MaxIdleConns int
	// IdleConnTimeout closes idle connections after this time. Default 90s.
	IdleConnTimeout time.Duration
	// RetryWaitMin and RetryWaitMax bound the exponential wait between two
	// attempts. Defaults 50ms and 1s; a negative RetryWaitMin means retry
	// at once.
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
	retry     *retryablehttp.Client
	maxBody   int64

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
	c := &Client{transport: t, maxBody: opts.MaxBody}
	hc := &http.Client{
		// attemptTransport has no CloseIdleConnections, so retryablehttp's
		// calls to it after a failure do not empty the shared pool.
		Transport:     &attemptTransport{base: t, client: c},
		CheckRedirect: checkRedirect,
	}
	// No client-wide logger: each request logs to its own (Request.Logger).
	c.retry = &retryablehttp.Client{
		HTTPClient:     hc,
		RequestLogHook: logRetry,
		RetryWaitMin:   opts.RetryWaitMin,
		RetryWaitMax:   opts.RetryWaitMax,
		RetryMax:       math.MaxInt32, // limited per request in checkRetry
		CheckRetry:     checkRetry,
		Backoff:        retryablehttp.DefaultBackoff,
		ErrorHandler:   retryablehttp.PassthroughErrorHandler,
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
	// MaxAttempts is the number of attempts; retries happen only after a
	// timeout or a lost connection. 0 or 1: no retry.
	MaxAttempts int
	// MaxRedirects is the number of redirects followed; 0: none, the
	// redirect response is returned.
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

// Do sends r, retrying as r says, and reads the whole response. ctx bounds
// the whole exchange. Failures are *Error values.
func (c *Client) Do(ctx context.Context, r *Request) (*Response, error) {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	fail := func(kind, err error, attempts int) error {
		return &Error{Kind: kind, Method: method, URL: redactURL(r.URL), Attempts: attempts, Err: err}
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, fail(ErrInvalidRequest, err, 0)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fail(ErrInvalidRequest, fmt.Errorf("unsupported scheme %q", u.Scheme), 0)
	}
	if u.Host == "" {
		return nil, fail(ErrInvalidRequest, errors.New("no host in URL"), 0)
	}
	if !validToken(method) {
		return nil, fail(ErrInvalidRequest, fmt.Errorf("invalid method %q", method), 0)
	}
	st := &state{
		tls:            r.TLS,
		logger:         r.Logger,
		method:         method,
		timeout:        r.Timeout,
		connectTimeout: r.ConnectTimeout,
		maxAttempts:    max(r.MaxAttempts, 1),
		maxRedirects:   r.MaxRedirects,
		maxBody:        c.maxBody,
	}
	if r.Proxy != "" {
		pu, err := url.Parse(r.Proxy)
		if err != nil || pu.Host == "" {
			if err == nil {
				err = fmt.Errorf("no host in proxy URL %q", r.Proxy)
			}
			return nil, fail(ErrInvalidRequest, err, 0)
		}
		st.proxy = pu
	}
	if ctx == nil {
		ctx = context.Background()
	}
	sctx := context.WithValue(ctx, stateKey{}, st)

	var body any
	if len(r.Body) > 0 || r.Chunked {
		body = r.Body
	}
	req, err := retryablehttp.NewRequestWithContext(sctx, method, r.URL, body)
	if err != nil {
		return nil, fail(ErrInvalidRequest, err, 0)
	}
	h := http.Header{}
	ua := false
	chunked := r.Chunked
	for _, f := range r.Header {
		name, value := f[0], f[1]
		if !validToken(name) {
			return nil, fail(ErrInvalidRequest, fmt.Errorf("invalid header name %q", name), 0)
		}
		if !validValue(value) {
			return nil, fail(ErrInvalidRequest, fmt.Errorf("invalid value of header %q", name), 0)
		}
		switch {
		case strings.EqualFold(name, "Host"):
			req.Host = value
		case strings.EqualFold(name, "Content-Length"):
		case strings.EqualFold(name, "Transfer-Encoding"):
			if strings.Contains(strings.ToLower(value), "chunked") {
				chunked = true
			}
		case strings.EqualFold(name, "User-Agent"):
			ua = true
			h["User-Agent"] = []string{value}
		default:
			h[name] = append(h[name], value)
		}
	}
	if !ua {
		h["User-Agent"] = []string{""} // no Go-http-client
	}
	req.Header = h
	if chunked {
		if body == nil {
			if err := req.SetBody([]byte{}); err != nil {
				return nil, fail(ErrInvalidRequest, err, 0)
			}
		}
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
	}
	req.SetResponseHandler(st.readBody)

	start := time.Now()
	resp, err := c.retry.Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	if err != nil {
		kind := classify(ctx, err)
		if st.logger != nil {
			d := time.Since(start).Round(time.Millisecond)
			st.logger.Debug(fmt.Sprintf("http: %s %s failed: %s (%s, %s)", method, redactURL(r.URL), kind, attemptsText(st.attempts), d),
				"method", method, "url", redactURL(r.URL), "error", kind.Error(), "attempts", st.attempts, "duration", d)
		}
		return nil, fail(kind, err, st.attempts)
	}
	if st.logger != nil {
		d := time.Since(start).Round(time.Millisecond)
		st.logger.Debug(fmt.Sprintf("http: %s %s: %s (%s, %s)", method, redactURL(r.URL), resp.Status, attemptsText(st.attempts), d),
			"method", method, "url", redactURL(r.URL), "status", resp.StatusCode, "attempts", st.attempts, "duration", d)
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

// stateKey keys the *state of a request in its context.
type stateKey struct{}

// state is what the shared hooks need to know about one Do call. The
// immutable fields are read by the dialer's goroutine; the others are used
// only on the goroutine of Do.
type state struct {
	timeout, connectTimeout time.Duration
	maxAttempts             int
	maxRedirects            int
	proxy                   *url.URL
	maxBody                 int64
	tls                     *TLS
	logger                  *slog.Logger
	method                  string

	attempts int
	deadline time.Time // of the current attempt
	body     []byte
}

func stateFrom(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	return st
}

// readBody reads the whole body within the attempt's time.
func (st *state) readBody(resp *http.Response) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, st.maxBody+1))
	if err != nil {
		return err
	}
	if int64(len(b)) > st.maxBody {
		return errBodyTooLarge
	}
	st.body = b
	return nil
}

var (
	errBodyTooLarge     = errors.New("response body too large")
	errTooManyRedirects = errors.New("too many redirects")
)

// checkRetry allows another attempt after a timeout or a lost connection
// while the request has attempts left and its context is alive.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err == nil || ctx.Err() != nil {
		return false, nil
	}
	st := stateFrom(ctx)
	if st == nil || st.attempts >= st.maxAttempts {
		return false, nil
	}
	return retryable(classify(ctx, err)), nil
}

// checkRedirect applies the request's redirect limit.
func checkRedirect(req *http.Request, via []*http.Request) error {
	st := stateFrom(req.Context())
	if st == nil || st.maxRedirects <= 0 {
		return http.ErrUseLastResponse
	}
	if len(via) > st.maxRedirects {
		return errTooManyRedirects
	}
	return nil
}

func proxyFromRequest(req *http.Request) (*url.URL, error) {
	if st := stateFrom(req.Context()); st != nil {
		return st.proxy, nil
	}
	return nil, nil
}

// dialContext connects with the request's connect timeout. net/http dials
// with a context that keeps the request's values but not its deadline, so
// the attempt's timeout also bounds the dial here.
func dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return dialer(nil)(ctx, network, addr)
}

func dialer(custom func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var timeout time.Duration
		if st := stateFrom(ctx); st != nil {
			switch {
			case st.connectTimeout > 0:
				timeout = st.connectTimeout
			case st.timeout > 0:
				timeout = st.timeout
			}
		}
		if custom != nil {
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return custom(ctx, network, addr)
		}
		d := net.Dialer{KeepAlive: 30 * time.Second, Timeout: timeout}
		return d.DialContext(ctx, network, addr)
	}
}

// attemptTransport counts attempts and gives each one its own deadline,
// which also bounds the reading of the response body; a request with its
// own TLS options goes through the pool of those options.
type attemptTransport struct {
	base   *http.Transport
	client *Client
}

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := stateFrom(req.Context())
	if st == nil {
		return t.base.RoundTrip(req)
	}
	base := t.base
	if st.tls != nil {
		var err error
		if base, err = t.client.tlsTransport(*st.tls); err != nil {
			return nil, &tlsConfigError{err}
		}
	}
	parent := req.Context()
	if req.Response == nil { // not a redirect: a new attempt
		st.attempts++
		st.body = nil
		if st.timeout > 0 {
			st.deadline = time.Now().Add(st.timeout)
		} else {
			st.deadline = time.Time{}
		}
	}
	ctx, cancel := parent, context.CancelFunc(func() {})
	if !st.deadline.IsZero() {
		ctx, cancel = context.WithDeadline(parent, st.deadline)
	}
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		err = markTimeout(ctx, parent, err)
		cancel()
		return nil, err
	}
	resp.Body = &attemptBody{ReadCloser: resp.Body, ctx: ctx, parent: parent, cancel: cancel}
	return resp, nil
}

// markTimeout marks err as the end of the attempt's time if it is.
func markTimeout(ctx, parent context.Context, err error) error {
	if ctx.Err() != nil && parent.Err() == nil {
		return &attemptTimeoutError{err}
	}
	return err
}

// attemptBody ends the attempt's context when the body is closed.
type attemptBody struct {
	io.ReadCloser
	ctx, parent context.Context
	cancel      context.CancelFunc
}

func (b *attemptBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = markTimeout(b.ctx, b.parent, err)
	}
	return n, err
}

func (b *attemptBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// logRetry is retryablehttp's hook before each attempt: a retry is logged
// to the request's own logger.
func logRetry(_ retryablehttp.Logger, req *http.Request, retry int) {
	if st := stateFrom(req.Context()); st != nil && st.logger != nil && retry > 0 {
		u := redactURL(req.URL.String())
		st.logger.Debug(fmt.Sprintf("http: %s %s: retrying (attempt %d)", st.method, u, retry+1),
			"method", st.method, "url", u, "attempt", retry+1)
	}
}

func attemptsText(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}

// tlsTransport returns the pool of the requests with TLS options o.
func (c *Client) tlsTransport(o TLS) (*http.Transport, error) {
	c.tlsMu.Lock()
	defer c.tlsMu.Unlock()
	if t, ok := c.tlsTransports[o]; ok {
		return t, nil
	}
	conf, err := o.config()
	if err != nil {
		return nil, err
	}
	t := c.transport.Clone()
	conf.NextProtos = []string{"http/1.1"}
	t.TLSClientConfig = conf
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	if c.tlsTransports == nil {
		c.tlsTransports = map[TLS]*http.Transport{}
	}
	c.tlsTransports[o] = t
	return t, nil
}

// config builds the *tls.Config of o.
func (o TLS) config() (*tls.Config, error) {
	conf := &tls.Config{InsecureSkipVerify: o.Insecure, MinVersion: o.MinVersion} //nolint:gosec // the script asked for it
	if o.CAFile != "" || o.CAPath != "" {
		pool := x509.NewCertPool()
		var files []string
		if o.CAFile != "" {
			files = append(files, o.CAFile)
		}
		if o.CAPath != "" {
			entries, err := os.ReadDir(o.CAPath)
			if err != nil {
				return nil, fmt.Errorf("CA path: %w", err)
			}
			for _, e := range entries {
				if !e.IsDir() {
					files = append(files, filepath.Join(o.CAPath, e.Name()))
				}
			}
		}
		for _, f := range files {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("CA file: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) && f == o.CAFile {
				return nil, fmt.Errorf("CA file %s: no PEM certificate in it", f)
			}
		}
		conf.RootCAs = pool
	}
	if o.CertFile != "" || o.KeyFile != "" {
		key := o.KeyFile
		if key == "" {
			key = o.CertFile
		}
		cert, err := tls.LoadX509KeyPair(o.CertFile, key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// tlsConfigError is a request's TLS options that cannot be loaded.
type tlsConfigError struct{ err error }

func (e *tlsConfigError) Error() string { return e.err.Error() }
func (e *tlsConfigError) Unwrap() error { return e.err }

// redactURL removes the password from a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redact.String(raw)
	}
	if u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// validToken reports whether s is an HTTP token (RFC 9110).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validValue reports whether s may be sent as a header value.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
