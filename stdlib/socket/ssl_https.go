package socket

// ssl.https: LuaSec's HTTPS client (https.lua of LuaSec 1.x), on the same
// request code as socket.http, with TLS through Go's crypto/tls.
//
// What LuaSec does and this keeps: https.request(url [, body]) and
// https.request{...} take and return what socket.http.request does; a URL
// without a port gets https.PORT (443); https.TIMEOUT (60) bounds the
// request; a request table with a proxy (or a socket.http.PROXY) gives
// nil, "proxy not supported", one with a true redirect field nil, "redirect
// not supported", one with a create function nil, "create function not
// permitted"; the TLS parameters are read from the request table: verify
// ("none", "peer", or a list of flags), cafile, capath, certificate, key,
// protocol ("any", "tlsv1_2", "tlsv1_3").
//
// What differs: without a verify parameter the server's certificate is
// verified against the system roots (LuaSec's default is verify = "none");
// verify = "peer" without cafile or capath also uses the system roots
// (LuaSec would have none to trust); protocol "tlsv1_2" is the lowest
// version accepted, not the only one; options, ciphers, curve and mode are
// ignored; every request is made over TLS, whatever scheme the URL names;
// a failed verification gives "certificate verify failed" and a CA or key
// file that cannot be loaded "error loading CA locations (...)" or "error
// loading certificate (...)", LuaSec's texts; the handler's time budget
// bounds the request as it bounds socket.http's.

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/httpx"

	"github.com/pushlua/pushlua/internal/luax"
)

// LuaSec's defaults (https.lua).
const (
	httpsVersion        = "1.3.2"
	httpsDefaultPort    = 443
	httpsDefaultTimeout = 60
)

// openSSLHTTPS is the opener of "ssl.https".
func openSSLHTTPS(l *lua.State, h luax.Host) int {
	sockRequire(l, "socket.http")
	httpIdx := l.Top()
	l.NewTable()
	mod := l.Top()
	l.PushString(httpsVersion)
	l.SetField(mod, "_VERSION")
	l.PushString("LuaSec " + httpsVersion + " API, implemented by pushlua on Go's crypto/tls")
	l.SetField(mod, "_COPYRIGHT")
	l.PushInteger(httpsDefaultPort)
	l.SetField(mod, "PORT")
	l.PushInteger(httpsDefaultTimeout)
	l.SetField(mod, "TIMEOUT")
	c := &httpClient{host: h, https: true}
	l.PushValue(httpIdx)
	l.PushValue(mod)
	l.PushGoClosure(c.httpsRequest, 2)
	l.PushGoClosure(protected, 1)
	l.SetField(mod, "request")
	return 1
}

// httpsRequest is ssl.https.request(url [, body]) and request{...};
// upvalue 1 is socket.http, upvalue 2 ssl.https.
func (h *httpClient) httpsRequest(l *lua.State) int {
	l.CheckStack(24)
	fail := func(msg string) int {
		l.PushNil()
		l.PushString(msg)
		return 2
	}
	if _, ok := sockFieldString(l, lua.UpValueIndex(1), "PROXY"); ok {
		return fail("proxy not supported")
	}
	port := httpsPort(l)
	if l.TypeOf(1) == lua.TypeString {
		return h.simpleRequest(l, func(c *httpCall) { c.makeHTTPS(port) })
	}
	lua.CheckType(l, 1, lua.TypeTable)
	l.SetTop(1)
	if s, ok := sockFieldString(l, 1, "proxy"); ok && s != "" {
		return fail("proxy not supported")
	}
	l.Field(1, "redirect")
	redirect := l.ToBoolean(-1)
	l.Pop(1)
	if redirect {
		return fail("redirect not supported")
	}
	l.Field(1, "create")
	create := !l.IsNil(-1)
	l.Pop(1)
	if create {
		return fail("create function not permitted")
	}
	opts, msg := httpsOptions(l, 1)
	if msg != "" {
		return fail(msg)
	}
	call := h.callFromTable(l, 1)
	call.makeHTTPS(port)
	call.tls = opts
	code, status, err := h.run(l, call)
	if err != nil {
		return fail(err.Error())
	}
	l.PushInteger(1)
	l.PushInteger(code)
	l.PushValue(-3)
	l.PushString(status)
	return 4
}

// httpsPort reads https.PORT as a string ("443").
func httpsPort(l *lua.State) string {
	if s, ok := sockFieldString(l, lua.UpValueIndex(2), "PORT"); ok && s != "" {
		return s
	}
	return "443"
}

// makeHTTPS makes the call an https one, on port unless the URL names one.
func (c *httpCall) makeHTTPS(port string) {
	if c.parts == nil {
		c.parts = map[string]string{}
	}
	if _, ok := c.parts["host"]; !ok {
		return // socket.http's "invalid host" error follows
	}
	c.parts["scheme"] = "https"
	if c.parts["port"] == "" {
		c.parts["port"] = port
	}
}

// httpsOptions reads LuaSec's TLS parameters from the request table at t;
// a message instead when one is invalid.
func httpsOptions(l *lua.State, t int) (*httpx.TLS, string) {
	var o httpx.TLS
	o.CAFile, _ = sockFieldString(l, t, "cafile")
	o.CAPath, _ = sockFieldString(l, t, "capath")
	o.CertFile, _ = sockFieldString(l, t, "certificate")
	o.KeyFile, _ = sockFieldString(l, t, "key")
	if p, ok := sockFieldString(l, t, "protocol"); ok {
		switch p {
		case "any", "tlsv1", "tlsv1_1":
		case "tlsv1_2":
			o.MinVersion = tls.VersionTLS12
		case "tlsv1_3":
			o.MinVersion = tls.VersionTLS13
		default:
			return nil, "invalid protocol (" + p + ")"
		}
	}
	l.Field(t, "verify")
	defer l.Pop(1)
	var flags []string
	switch l.TypeOf(-1) {
	case lua.TypeString:
		s, _ := l.ToString(-1)
		flags = append(flags, s)
	case lua.TypeTable:
		for i := 1; ; i++ {
			l.RawGetInt(-1, i)
			s, ok := sockString(l, -1)
			l.Pop(1)
			if !ok {
				break
			}
			flags = append(flags, s)
		}
	}
	for _, f := range flags {
		switch f {
		case "none", "peer", "fail_if_no_peer_cert", "client_once":
		default:
			return nil, "invalid verify option (" + f + ")"
		}
	}
	// "none" alone turns verification off; with "peer" it stays on.
	o.Insecure = len(flags) == 1 && flags[0] == "none"
	return &o, ""
}

// httpsError is LuaSec's text for a TLS failure, "" when err is none.
func httpsError(err error) string {
	var certErr *tls.CertificateVerificationError
	var pathErr *fs.PathError
	switch {
	case errors.As(err, &certErr):
		return "certificate verify failed"
	case errors.Is(err, httpx.ErrInvalidRequest) && errors.As(err, &pathErr):
		what := "CA locations"
		if strings.Contains(err.Error(), "client certificate") {
			what = "certificate"
		}
		msg := pathErr.Err.Error()
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return "error loading " + what + " (" + msg + ")"
	}
	return ""
}
