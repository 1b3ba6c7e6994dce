package conformance

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pushlua/pushlua/internal/httpx"
)

// request is one HTTP request as the mock endpoint received it.
type request struct {
	Method string
	URL    string // scheme://host[:port]/path?query, default port dropped
	Header http.Header
	Body   []byte
}

// mock is the endpoint every HTTP connection of the scripts goes to,
// whatever host they name: one listener on 127.0.0.1 that speaks plain
// HTTP and, when the client starts with a TLS handshake, HTTPS with a
// self-signed certificate. Its rules decide the answers; unmatched
// requests get 200 with an empty body.
type mock struct {
	rules []*mockRule
	ln    net.Listener
	srv   *http.Server

	mu      sync.Mutex
	reqs    []request
	refused []string // host:port of refused connections
}

func newMock(rules []*mockRule) (*mock, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cert, err := selfSigned()
	if err != nil {
		ln.Close()
		return nil, err
	}
	m := &mock{ln: ln}
	// Copies: a rule's "times" counts per mock.
	for _, r := range rules {
		c := *r
		c.used = 0
		m.rules = append(m.rules, &c)
	}
	sl := &sniffListener{Listener: ln, tls: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}},
		conns: make(chan net.Conn), done: make(chan struct{})}
	go sl.run()
	m.srv = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	go func() { _ = m.srv.Serve(sl) }()
	return m, nil
}

func (m *mock) close() {
	_ = m.srv.Close()
}

// client returns an HTTP client for the engine that sends every
// connection to the mock.
func (m *mock) client() *httpx.Client {
	return httpx.New(httpx.Options{
		Dial:         m.dial,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 10 * time.Millisecond,
		TLSConfig:    &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the mock's self-signed certificate
	})
}

// dial connects to the mock, or refuses the connection when a refuse
// rule names the host.
func (m *mock) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	m.mu.Lock()
	for _, r := range m.rules {
		if r.Refuse && r.matchHost(addr) && (r.Times == 0 || r.used < r.Times) {
			r.used++
			m.refused = append(m.refused, addr)
			m.mu.Unlock()
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		}
	}
	m.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, "tcp", m.ln.Addr().String())
}

// matchHost reports whether a refuse rule's URL names the host:port addr.
func (r *mockRule) matchHost(addr string) bool {
	if r.URL.Text == "*" {
		return true
	}
	scheme, rest, ok := strings.Cut(r.URL.Text, "://")
	if !ok {
		return false
	}
	host, _, _ := strings.Cut(rest, "/")
	if _, _, err := net.SplitHostPort(host); err != nil && !strings.Contains(host, "*") {
		port := "80"
		if scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(host, port)
	}
	return newGlob(host).match(addr) || newGlob(host+":*").match(addr)
}

func (m *mock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	req := request{Method: r.Method, URL: normalizeURL(scheme + "://" + r.Host + r.URL.RequestURI()), Header: r.Header.Clone(), Body: body}
	if r.Host != "" {
		req.Header.Set("Host", r.Host)
	}
	m.mu.Lock()
	m.reqs = append(m.reqs, req)
	status, delay, respBody := http.StatusOK, time.Duration(0), ""
	for _, rule := range m.rules {
		if rule.Refuse || !rule.Method.match(req.Method) || !rule.URL.match(req.URL) {
			continue
		}
		if rule.Times > 0 && rule.used >= rule.Times {
			continue
		}
		rule.used++
		status, delay, respBody = rule.Status, rule.Delay, rule.Body
		break
	}
	m.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(respBody)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, respBody)
}

// requests returns the requests received so far.
func (m *mock) requests() []request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]request(nil), m.reqs...)
}

func (m *mock) refusedConns() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.refused...)
}

// sniffListener hands out plain connections, or TLS server connections
// for clients that open with a TLS handshake record (0x16).
type sniffListener struct {
	net.Listener
	tls   *tls.Config
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *sniffListener) run() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.once.Do(func() { close(l.done) })
			return
		}
		go func() {
			br := bufio.NewReader(c)
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			first, err := br.Peek(1)
			_ = c.SetReadDeadline(time.Time{})
			if err != nil {
				c.Close()
				return
			}
			var conn net.Conn = &peekedConn{Conn: c, r: br}
			if first[0] == 0x16 {
				conn = tls.Server(conn, l.tls)
			}
			select {
			case l.conns <- conn:
			case <-l.done:
				conn.Close()
			}
		}()
	}
}

func (l *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *sniffListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.done) })
	return err
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

var (
	certOnce sync.Once
	certVal  tls.Certificate
	certErr  error
)

// selfSigned returns the mock's certificate (made once per process).
func selfSigned() (tls.Certificate, error) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "pushlua conformance mock"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			DNSNames:     []string{"*"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = err
			return
		}
		certVal = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	if certErr != nil {
		return tls.Certificate{}, errors.New("mock certificate: " + certErr.Error())
	}
	return certVal, nil
}
