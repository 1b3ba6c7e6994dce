package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// stateKey keys the *state of a request in its context.
type stateKey struct{}

// state is what the shared transport and the hooks of retryablehttp need
// to know about one Do call. The fields set by Do before the first attempt
// are read by the dialer's goroutine; the others are used only on the
// goroutine of Do.
type state struct {
	timeout, connectTimeout time.Duration
	maxAttempts             int
	maxRedirects            int
	proxy                   *url.URL
	maxBody                 int64
	tls                     *TLS
	logger                  *slog.Logger

	// method and url are those of the current attempt.
	method, url string
	attempts    int
	deadline    time.Time // of the current attempt
	body        []byte
	// read is set when the current attempt's body has been read.
	read bool
}

func stateFrom(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	return st
}

var (
	errBodyTooLarge     = errors.New("response body too large")
	errTooManyRedirects = errors.New("too many redirects")
)

// request makes the retryablehttp request of r, for the first attempt
// (first: the proxy is read too) or for a further one after PrepareRetry
// changed r.
func (st *state) request(ctx context.Context, r *Request, first bool) (*retryablehttp.Request, error) {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	st.method, st.url = method, r.URL
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("no host in URL")
	}
	if !validToken(method) {
		return nil, fmt.Errorf("invalid method %q", method)
	}
	if first && r.Proxy != "" {
		pu, err := url.Parse(r.Proxy)
		if err != nil || pu.Host == "" {
			if err == nil {
				err = fmt.Errorf("no host in proxy URL %q", r.Proxy)
			}
			return nil, err
		}
		st.proxy = pu
	}

	var body any
	if len(r.Body) > 0 || r.Chunked {
		body = r.Body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, r.URL, body)
	if err != nil {
		return nil, err
	}
	// One array holds the values of all fields (a name given twice
	// appends beyond its one-element slice, which copies).
	h := make(http.Header, len(r.Header)+1)
	values := make([]string, len(r.Header)+1)
	ua := false
	chunked := r.Chunked
	for i, f := range r.Header {
		name, value := f[0], f[1]
		if !validToken(name) {
			return nil, fmt.Errorf("invalid header name %q", name)
		}
		if !validValue(value) {
			return nil, fmt.Errorf("invalid value of header %q", name)
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
			values[i] = value
			h["User-Agent"] = values[i : i+1 : i+1]
		default:
			if vs, ok := h[name]; ok {
				h[name] = append(vs, value)
			} else {
				values[i] = value
				h[name] = values[i : i+1 : i+1]
			}
		}
	}
	if !ua {
		h["User-Agent"] = values[len(r.Header):] // "": no Go-http-client
	}
	req.Header = h
	if chunked {
		if body == nil {
			if err := req.SetBody([]byte{}); err != nil {
				return nil, err
			}
		}
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
	}
	req.SetResponseHandler(st.readBody)
	return req, nil
}

// readBody reads the whole body within the attempt's time.
func (st *state) readBody(resp *http.Response) error {
	defer resp.Body.Close()
	b, err := readAll(resp.Body, resp.ContentLength, st.maxBody+1)
	if err != nil {
		return err
	}
	if int64(len(b)) > st.maxBody {
		return errBodyTooLarge
	}
	st.body, st.read = b, true
	return nil
}

// readAll reads r to its end, or to limit bytes, as
// io.ReadAll(io.LimitReader(r, limit)) does, into a buffer of the size
// the response's Content-Length gives (size; -1 when unknown). An empty
// body, as a 204's (net/http's Body is then http.NoBody), allocates
// nothing.
func readAll(r io.Reader, size, limit int64) ([]byte, error) {
	if size == 0 {
		return []byte{}, nil
	}
	n := int64(512)
	if size > 0 {
		// Room to see the end without growing, for bodies up to 64 KiB: a
		// larger one grows as it arrives, whatever its header claims.
		n = min(size+1, 64<<10)
	}
	b := make([]byte, 0, max(min(n, limit), 1))
	for int64(len(b)) < limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		k, err := r.Read(b[len(b):min(int64(cap(b)), limit)])
		b = b[:len(b)+k]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// DefaultCheckRetry is the CheckRetry of a Request without one: another
// attempt after a timeout or a lost connection (an *Error of Kind
// ErrTimeout or ErrConnectionLost), while the request's MaxAttempts allows
// it and ctx is alive; never after a refused or failed connect, never
// because of a status.
func DefaultCheckRetry(ctx context.Context, _ *http.Response, err error) (bool, error) {
	if err == nil || ctx.Err() != nil {
		return false, nil
	}
	st := stateFrom(ctx)
	if st == nil || st.attempts >= st.maxAttempts {
		return false, nil
	}
	var e *Error
	return errors.As(err, &e) && retryable(e.Kind), nil
}

// checkRetry adapts a request's CheckRetry to retryablehttp's loop, which
// asks once before the response handler reads the body and once after:
// the policy is asked once per attempt, after the body, and sees a failure
// as an *Error.
func (st *state) checkRetry(policy retryablehttp.CheckRetry) retryablehttp.CheckRetry {
	if policy == nil {
		policy = DefaultCheckRetry
	}
	return func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if err == nil && !st.read {
			return false, nil // let the body be read first
		}
		if err != nil {
			resp = nil
			err = &Error{Kind: classify(ctx, err), Method: st.method, URL: redactURL(st.url), Attempts: st.attempts, Err: err}
		}
		retry, perr := policy(ctx, resp, err)
		if perr != nil {
			return false, &policyError{perr}
		}
		return retry, nil
	}
}

// prepareRetry is retryablehttp's PrepareRetry of a request with its own:
// the request's hook changes r, and req (retryablehttp's request, reused
// by its loop) becomes r's new form.
func (st *state) prepareRetry(ctx context.Context, r *Request, req *retryablehttp.Request) retryablehttp.PrepareRetry {
	return func(*http.Request) error {
		if err := r.PrepareRetry(r); err != nil {
			return &policyError{err}
		}
		next, err := st.request(ctx, r, false)
		if err != nil {
			return &invalidError{err}
		}
		*req = *next
		return nil
	}
}

// logRetry is retryablehttp's hook before each attempt: a retry is logged
// to the request's own logger.
func (st *state) logRetry(_ retryablehttp.Logger, _ *http.Request, retry int) {
	if st.logger != nil && retry > 0 {
		u := redactURL(st.url)
		st.logger.Debug(fmt.Sprintf("http: %s %s: retrying (attempt %d)", st.method, u, retry+1),
			"method", st.method, "url", u, "attempt", retry+1)
	}
}

// policyError is an error of a request's CheckRetry or PrepareRetry.
type policyError struct{ err error }

func (e *policyError) Error() string { return e.err.Error() }
func (e *policyError) Unwrap() error { return e.err }

// invalidError is a request PrepareRetry changed into one that cannot be
// sent.
type invalidError struct{ err error }

func (e *invalidError) Error() string { return e.err.Error() }
func (e *invalidError) Unwrap() error { return e.err }
