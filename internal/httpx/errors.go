package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/pushlua/pushlua/internal/redact"
)

// The kinds of failure Do reports, as the Kind of an *Error. Test with
// errors.Is: an *Error matches its Kind, the errors its Kind implies (a
// refused connect and an unknown host are also ErrConnectFailed) and the
// underlying error.
var (
	// ErrTimeout: an attempt took longer than Request.Timeout, the connect
	// longer than Request.ConnectTimeout, or the context's deadline passed.
	ErrTimeout = errors.New("timeout")
	// ErrConnectRefused: the server refused the TCP connection.
	ErrConnectRefused = errors.New("connection refused")
	// ErrHostNotFound: the host name did not resolve.
	ErrHostNotFound = errors.New("host not found")
	// ErrConnectFailed: the connection could not be set up (also matched by
	// ErrConnectRefused and ErrHostNotFound errors, and TLS handshake
	// failures).
	ErrConnectFailed = errors.New("connect failed")
	// ErrConnectionLost: the connection broke after it was set up, before
	// the response was complete.
	ErrConnectionLost = errors.New("connection lost")
	// ErrBadResponse: the server's answer is not valid HTTP.
	ErrBadResponse = errors.New("bad response")
	// ErrBodyTooLarge: the response body is longer than Options.MaxBody.
	ErrBodyTooLarge = errors.New("response body too large")
	// ErrTooManyRedirects: more than Request.MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrInvalidRequest: the request cannot be sent (bad URL, scheme,
	// method or header, or TLS options whose files cannot be loaded).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrCanceled: the context was canceled (not by its deadline).
	ErrCanceled = errors.New("canceled")
	// ErrRetryPolicy: the request's CheckRetry or PrepareRetry returned an
	// error, which the *Error wraps.
	ErrRetryPolicy = errors.New("ended by the retry policy")
)

// Error is the error Do returns.
type Error struct {
	// Kind is one of the Err* sentinels of this package.
	Kind error
	// Method and URL (password removed) of the request.
	Method, URL string
	// Attempts is the number of attempts made (0 if none was started).
	Attempts int
	// Err is the underlying error.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.URL)
	b.WriteString(": ")
	b.WriteString(e.Kind.Error())
	if e.Err != nil && e.Err.Error() != e.Kind.Error() {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	// The underlying error may quote the URL as given (net/url's parse
	// errors do), password included.
	return redact.String(b.String())
}

// Unwrap returns the kind, the kinds it implies and the underlying error.
func (e *Error) Unwrap() []error {
	errs := []error{e.Kind}
	if e.Kind == ErrConnectRefused || e.Kind == ErrHostNotFound {
		errs = append(errs, ErrConnectFailed)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// attemptTimeoutError marks an error caused by the end of one attempt's time.
type attemptTimeoutError struct{ err error }

func (e *attemptTimeoutError) Error() string { return "attempt timed out: " + e.err.Error() }
func (e *attemptTimeoutError) Unwrap() error { return e.err }

// retryable reports whether an attempt that failed with kind may be repeated.
func retryable(kind error) bool {
	return kind == ErrTimeout || kind == ErrConnectionLost
}

// classify returns the kind of err; parent is the context given to Do.
func classify(parent context.Context, err error) error {
	var ate *attemptTimeoutError
	var tce *tlsConfigError
	var pe *policyError
	var ie *invalidError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var recErr tls.RecordHeaderError
	var alertErr tls.AlertError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ate):
		return ErrTimeout
	case errors.As(err, &tce), errors.As(err, &ie):
		return ErrInvalidRequest
	case errors.As(err, &pe):
		return ErrRetryPolicy
	case parent.Err() != nil:
		if errors.Is(parent.Err(), context.DeadlineExceeded) {
			return ErrTimeout
		}
		return ErrCanceled
	case errors.Is(err, errTooManyRedirects):
		return ErrTooManyRedirects
	case errors.Is(err, errBodyTooLarge):
		return ErrBodyTooLarge
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return ErrTimeout
		}
		return ErrHostNotFound
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrConnectRefused
	case errors.As(err, &opErr) && opErr.Op == "dial":
		if opErr.Timeout() {
			return ErrTimeout
		}
		return ErrConnectFailed
	case errors.As(err, &netErr) && netErr.Timeout():
		return ErrTimeout
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &authErr),
		errors.As(err, &recErr), errors.As(err, &alertErr):
		return ErrConnectFailed
	case strings.Contains(err.Error(), "malformed HTTP"),
		strings.Contains(err.Error(), "bad Content-Length"),
		strings.Contains(err.Error(), "invalid Trailer"),
		strings.Contains(err.Error(), "unsupported transfer encoding"),
		strings.Contains(err.Error(), "too many transfer encodings"),
		strings.Contains(err.Error(), "server response headers exceeded"),
		strings.Contains(err.Error(), "invalid byte in chunk length"),
		strings.Contains(err.Error(), "malformed chunked encoding"):
		return ErrBadResponse
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, net.ErrClosed):
		return ErrConnectionLost
	default:
		return ErrConnectionLost
	}
}
