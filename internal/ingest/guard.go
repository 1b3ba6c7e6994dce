package ingest

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// The media types POST /v1/transactions accepts; a request without a
// Content-Type is read as JSON Lines. Anything else is answered 415, so
// that a browser's "simple" cross-site POST (text/plain, form encodings)
// never reaches the queue.
var acceptedTypes = []string{"application/json", "application/x-ndjson", "application/jsonl"}

// AcceptedContentTypes lists the accepted media types, for the 415
// answer's Accept header and messages.
var AcceptedContentTypes = strings.Join(acceptedTypes, ", ")

// checkContentType returns why a Content-Type is not accepted, or nil.
// Parameters are allowed, except a charset other than UTF-8.
func checkContentType(ct string) error {
	if strings.TrimSpace(ct) == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("unsupported content type %q (%v): use %s (none given: JSON Lines)", ct, err, AcceptedContentTypes)
	}
	ok := false
	for _, a := range acceptedTypes {
		ok = ok || mt == a
	}
	if !ok {
		return fmt.Errorf("unsupported content type %q: use %s (none given: JSON Lines)", mt, AcceptedContentTypes)
	}
	if cs, found := params["charset"]; found && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return fmt.Errorf("unsupported charset %q: transactions are UTF-8", cs)
	}
	return nil
}

// AnyHost, as an entry of Options.AllowedHosts, turns the Host check off.
const AnyHost = "*"

// LoopbackHosts are the loopback names DefaultHosts accepts with the
// listener's port.
var LoopbackHosts = []string{"localhost", "127.0.0.1", "[::1]"}

// DefaultHosts returns the Host header values serve accepts for a
// listener: the configured address (listen, when it names a host), the
// loopback names with the listener's port, and extra (the
// pushlua_allowed_hosts setting: "name" for any port, "name:port", or "*"
// for any Host). A Unix socket gets nil: no Host check. Whatever the list,
// a Host naming the address the connection arrived on (an IP literal and
// port) is accepted too.
func DefaultHosts(listen string, addr net.Addr, extra []string) []string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || strings.HasPrefix(listen, UnixPrefix) {
		return nil
	}
	port := strconv.Itoa(tcp.Port)
	var hosts []string
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" {
		if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
			hosts = append(hosts, net.JoinHostPort(h, port))
		}
	}
	for _, h := range LoopbackHosts {
		hosts = append(hosts, net.JoinHostPort(strings.Trim(h, "[]"), port))
	}
	return append(hosts, extra...)
}

// hostPort splits a Host header value or an allowed-host entry into a
// normalised name (lower case, no brackets, no trailing dot) and port (""
// when none is given).
func hostPort(s string) (host, port string) {
	host = s
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), "."), port
}

// hostCheck decides which Host headers are served (DNS rebinding: a
// foreign name that resolves to pushlua's address).
type hostCheck struct {
	any   bool
	exact map[string]bool // "host|port"
	names map[string]bool // host, any port
}

func newHostCheck(allowed []string) *hostCheck {
	if allowed == nil {
		return nil
	}
	c := &hostCheck{exact: map[string]bool{}, names: map[string]bool{}}
	for _, a := range allowed {
		a = strings.TrimSpace(a)
		switch {
		case a == AnyHost:
			c.any = true
		case a == "":
		default:
			h, p := hostPort(a)
			if p == "" {
				c.names[h] = true
			} else {
				c.exact[h+"|"+p] = true
			}
		}
	}
	return c
}

// allows reports whether the request's Host is served: an allowed name,
// or the IP address and port the connection arrived on.
func (c *hostCheck) allows(r *http.Request) bool {
	if c == nil || c.any {
		return true
	}
	if r.Host == "" {
		return false
	}
	h, p := hostPort(r.Host)
	if c.names[h] {
		return true
	}
	if p == "" {
		p = "80"
	}
	if c.exact[h+"|"+p] {
		return true
	}
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		if ip := net.ParseIP(h); ip != nil && ip.Equal(local.IP) && p == strconv.Itoa(local.Port) {
			return true
		}
	}
	return false
}

// crossOrigin returns why a request comes from a foreign web origin (a
// page of another site, or of another port on this host), or "" when it
// does not: no Origin header, or one naming the request's own Host, and a
// Sec-Fetch-Site, when sent, of same-origin or none. Clients that are not
// browsers (Dovecot's forwarder, pushlua send, curl) send neither header.
func crossOrigin(r *http.Request) string {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return "cross-origin request (Sec-Fetch-Site: " + s + ")"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return ""
	}
	foreign := "foreign origin " + strconv.Quote(o)
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return foreign
	}
	oh, op := hostPort(u.Host)
	if op == "" {
		op = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	rh, rp := hostPort(r.Host)
	// A Host without a port (behind a proxy) is compared by name.
	if oh != rh || (rp != "" && rp != op) {
		return foreign
	}
	return ""
}

// inflight bounds the bytes of request bodies held at once.
type inflight struct {
	mu   sync.Mutex
	used int64
	max  int64
}

// acquire reserves n bytes; false when that would pass the bound.
func (b *inflight) acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *inflight) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// inUse returns the bytes reserved now.
func (b *inflight) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// errInflight is returned while reading a body of unknown length when the
// in-flight bound is reached.
var errInflight = errors.New("too many request bytes in flight")
