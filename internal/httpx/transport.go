package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pushlua/pushlua/internal/redact"
)

// checkRedirect is the http.Client's redirect policy: within one attempt
// it follows at most the request's MaxRedirects redirects (net/http's
// rules); with none, the redirect is the attempt's response.
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

// dialer connects with the request's connect timeout (or its attempt
// timeout). net/http dials with a context that keeps the request's values
// but not its deadline, so the attempt's timeout also bounds the dial here.
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
		st.body, st.read = nil, false
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
