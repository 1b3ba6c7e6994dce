package socket

// socket.http: LuaSocket's HTTP client (http.lua of LuaSocket 3.x) on the
// host's shared httpx client.
//
// What LuaSocket does and this keeps: the default headers (user-agent from
// http.USERAGENT, host with the port unless it is the scheme's default,
// "connection: close, TE", "te: trailers", Basic authorization from the URL's
// user and unescaped password), the user's headers lower-cased over them and
// sent with the names of socket.headers.canonic, a chunked request body for
// a source without content-length, lower-case response header names with
// repeated fields joined by ", ", the redirect rules (301/302/303/307 for
// GET/HEAD without a source, up to maxredirects or 5, no https downgrade, the
// redirected request is a GET), sinks and step functions, http.TIMEOUT,
// http.USERAGENT and http.PROXY read at call time, and LuaSocket's error
// strings.
//
// What differs: the request source is drained before connecting and the
// Content-Length sent is always the length of what it gave (a POST, PUT or
// PATCH without a source gets "Content-Length: 0"); http.TIMEOUT bounds the
// whole exchange (LuaSocket: each socket operation) and the handler's
// deadline bounds it too; https works without LuaSec; the create field is
// ignored; header order on the wire is net/http's; the fragment is not sent;
// an IPv6 host keeps its brackets in the Host header; a proxied request
// names the default port only in the Host header, and a proxied https
// request uses CONNECT; HTTP/0.9 answers are errors; an unknown scheme
// raises "socket.http: unsupported scheme" instead of LuaSocket's "attempt
// to index a nil value (local 'schemedefs')".

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/httpx"

	"github.com/pushlua/pushlua/internal/luax"
)

// httpDefaultTimeout is LuaSocket's http.TIMEOUT.
const httpDefaultTimeout = 60

// httpSchemePorts are the schemes socket.http knows and their ports.
var httpSchemePorts = map[string]string{"http": "80", "https": "443"}

// openSocketHTTP is the opener of "socket.http"; it also sets socket.http.
func openSocketHTTP(l *lua.State, h luax.Host) int {
	for _, dep := range []string{"socket.url", "ltn12", "mime", "socket.headers"} {
		sockRequire(l, dep)
		l.Pop(1)
	}
	sockRequire(l, "socket") // 1: socket
	socketIdx := l.Top()
	l.NewTable() // module
	mod := l.Top()
	l.PushNumber(httpDefaultTimeout)
	l.SetField(mod, "TIMEOUT")
	l.Field(socketIdx, "_VERSION")
	l.SetField(mod, "USERAGENT")
	l.NewTable()
	for _, s := range []string{"http", "https"} {
		l.NewTable()
		p, _ := strconv.Atoi(httpSchemePorts[s])
		l.PushInteger(p)
		l.SetField(-2, "port")
		l.SetField(-2, s)
	}
	l.SetField(mod, "schemes")
	c := &httpClient{host: h}
	l.PushValue(mod)
	l.PushGoClosure(c.request, 1)
	l.PushGoClosure(protected, 1) // socket.protect(request)
	l.SetField(mod, "request")
	l.PushValue(mod)
	l.SetField(socketIdx, "http")
	return 1
}

// httpClient is the socket.http module of one state, or its ssl.https.
type httpClient struct {
	host luax.Host
	// https marks ssl.https's request: every call is made over TLS, and
	// upvalue 2 is the ssl.https module (its TIMEOUT).
	https bool
}

// httpFallback is the client used when the host has none (tools, tests).
var httpFallback = sync.OnceValue(func() *httpx.Client { return httpx.New(httpx.Options{}) })

func (h *httpClient) client() *httpx.Client {
	if h.host.HTTP() != nil {
		return h.host.HTTP()
	}
	return httpFallback()
}

// httpCall is one request of socket.http, after LuaSocket's adjustrequest.
type httpCall struct {
	url    string // reqt.url
	hasURL bool
	// parts are the URL components: the parsed url (with the defaults path
	// "/" and scheme "http") overridden by the request table's fields.
	parts  map[string]string
	method string
	// Stack indices (0: none) of the user's headers table, source, sink
	// and step function; they stay on the stack for the whole call.
	headers, source, sink, step int
	proxy                       string // reqt.proxy
	noRedirect                  bool   // reqt.redirect == false
	maxRedirects                int    // -1: unlimited (maxredirects == false)
	nRedirects                  int
	uri                         string // reqt.uri
	hasURI                      bool
	// body is the request body of request(url, body).
	body    []byte
	hasBody bool
	// locationHint is the location that led to this call: the response
	// headers get it when they have no location of their own.
	locationHint string
	// tls are ssl.https's TLS options (nil: the shared client's).
	tls *httpx.TLS
}

func (c *httpCall) hasSource() bool { return c.source != 0 || c.hasBody }

// httpFailure is a failure request reports as nil, message.
type httpFailure struct{ msg string }

func (f *httpFailure) Error() string { return f.msg }

// request is socket.http.request(url [, body]) and request{...}; upvalue 1
// is the module table.
func (h *httpClient) request(l *lua.State) int {
	l.CheckStack(24)
	if l.TypeOf(1) == lua.TypeString {
		return h.simpleRequest(l, nil)
	}
	lua.CheckType(l, 1, lua.TypeTable)
	l.SetTop(1)
	code, status, err := h.run(l, h.callFromTable(l, 1))
	if err != nil {
		l.PushNil()
		l.PushString(err.Error())
		return 2
	}
	// the headers table is on top
	l.PushInteger(1)
	l.PushInteger(code)
	l.PushValue(-3)
	l.PushString(status)
	return 4
}

// simpleRequest is request(url [, body]) → body, code, headers, status:
// a GET, or with a body a form POST.
func (h *httpClient) simpleRequest(l *lua.State, adjust func(*httpCall)) int {
	u, _ := l.ToString(1)
	l.SetTop(2)
	call := &httpCall{url: u, hasURL: true, parts: httpParts(u), maxRedirects: 5}
	if adjust != nil {
		adjust(call)
	}
	if !l.IsNil(2) {
		body, ok := sockString(l, 2)
		if !ok {
			lua.Errorf(l, "bad argument #1 to 'len' (string expected, got %s)", lua.TypeNameOf(l, 2))
		}
		call.body, call.hasBody = []byte(body), true
		call.method = "POST"
		l.NewTable()
		l.PushInteger(len(body))
		l.SetField(-2, "content-length")
		l.PushString("application/x-www-form-urlencoded")
		l.SetField(-2, "content-type")
		call.headers = l.Top()
	}
	var buf strings.Builder
	l.PushGoFunction(func(l *lua.State) int {
		if s, ok := sockString(l, 1); ok {
			buf.WriteString(s)
		}
		l.PushInteger(1)
		return 1
	})
	call.sink = l.Top()
	code, status, err := h.run(l, call)
	if err != nil {
		l.PushNil()
		l.PushString(err.Error())
		return 2
	}
	l.PushString(buf.String())
	l.PushInteger(code)
	l.PushValue(-3)
	l.PushString(status)
	return 4
}

// httpParts parses a URL with LuaSocket's defaults (path "/", scheme
// "http"); an empty URL has no parts at all.
func httpParts(u string) map[string]string {
	parts, ok := urlParse(u)
	if !ok {
		return map[string]string{}
	}
	p := map[string]string{"path": "/", "scheme": "http"}
	for k, v := range parts {
		p[k] = v
	}
	return p
}

// callFromTable reads the request table at t.
func (h *httpClient) callFromTable(l *lua.State, t int) *httpCall {
	call := &httpCall{parts: map[string]string{}, maxRedirects: 5}
	if s, ok := sockFieldString(l, t, "url"); ok {
		call.url, call.hasURL = s, true
		call.parts = httpParts(s)
	}
	for _, f := range urlFields {
		if s, ok := sockFieldString(l, t, f); ok {
			call.parts[f] = s
		}
	}
	call.method, _ = sockFieldString(l, t, "method")
	call.proxy, _ = sockFieldString(l, t, "proxy")
	call.uri, call.hasURI = sockFieldString(l, t, "uri")
	for _, f := range []struct {
		name string
		idx  *int
	}{{"headers", &call.headers}, {"source", &call.source}, {"sink", &call.sink}, {"step", &call.step}} {
		l.Field(t, f.name)
		if l.IsNil(-1) {
			l.Pop(1)
			continue
		}
		*f.idx = l.Top()
	}
	l.Field(t, "redirect")
	call.noRedirect = l.IsBoolean(-1) && !l.ToBoolean(-1)
	l.Pop(1)
	l.Field(t, "maxredirects")
	switch {
	case l.IsBoolean(-1) && !l.ToBoolean(-1):
		call.maxRedirects = -1
	case l.IsNumber(-1):
		n, _ := l.ToNumber(-1)
		call.maxRedirects = int(math.Max(0, math.Min(n, math.MaxInt32)))
	}
	l.Pop(1)
	l.Field(t, "nredirects")
	if n, ok := l.ToNumber(-1); ok {
		call.nRedirects = int(n)
	}
	l.Pop(1)
	return call
}

// redirect is the call tredirect makes for a Location: a GET of the
// absolute URL with the same headers, sink and proxy.
func (c *httpCall) redirect(location string) *httpCall {
	parts, ok, base := httpBase(c)
	next := urlAbsolute(parts, ok, base, location)
	return &httpCall{
		url: next, hasURL: true, parts: httpParts(next),
		headers: c.headers, sink: c.sink, proxy: c.proxy,
		maxRedirects: c.maxRedirects, nRedirects: c.nRedirects + 1,
		locationHint: location, tls: c.tls,
	}
}

// httpBase is the call's url as url.absolute's base.
func httpBase(c *httpCall) (map[string]string, bool, string) {
	if !c.hasURL {
		return nil, false, ""
	}
	parts, ok := urlParse(c.url)
	return parts, ok, c.url
}

// run performs call and the redirects it leads to. On success it leaves
// the response headers table on the stack.
func (h *httpClient) run(l *lua.State, call *httpCall) (code int, status string, err error) {
	for {
		var next *httpCall
		next, code, status, err = h.once(l, call)
		if err != nil || next == nil {
			return code, status, err
		}
		call = next
	}
}

// once sends one request and receives its answer: it returns the call to
// make instead when the answer is a redirect to follow.
func (h *httpClient) once(l *lua.State, call *httpCall) (next *httpCall, code int, status string, err error) {
	mod := lua.UpValueIndex(1)
	p := call.parts
	scheme, hasScheme := p["scheme"]
	defPort, known := httpSchemePorts[scheme]
	if !known {
		if !hasScheme {
			lua.Errorf(l, "socket.http: no scheme in url")
		}
		lua.Errorf(l, "socket.http: unsupported scheme '%s'", scheme)
	}
	if p["port"] == "" {
		p["port"] = defPort
	}
	method := call.method
	if method == "" {
		method = "GET"
	}
	host, hasHost := p["host"]
	if host == "" {
		if !hasHost {
			return nil, 0, "", &httpFailure{"invalid host 'nil'"}
		}
		return nil, 0, "", &httpFailure{"invalid host ''"}
	}
	proxy := call.proxy
	if proxy == "" {
		proxy, _ = sockFieldString(l, mod, "PROXY")
	}
	path, hasPath := p["path"]
	if !hasPath && proxy == "" && !call.hasURI {
		return nil, 0, "", &httpFailure{"invalid path 'nil'"}
	}

	headers, err := h.headers(l, call, host, proxy)
	if err != nil {
		return nil, 0, "", err
	}
	body, hasBody := call.body, call.hasBody
	if call.source != 0 {
		var buf strings.Builder
		l.PushGoFunction(func(l *lua.State) int {
			if !l.IsNoneOrNil(1) {
				s, ok := sockString(l, 1)
				if !ok {
					lua.Errorf(l, "bad argument #1 to 'send' (string expected, got %s)", lua.TypeNameOf(l, 1))
				}
				buf.WriteString(s)
			}
			l.PushInteger(1)
			return 1
		})
		err := sockPumpAll(l, call.source, l.Top(), call.step)
		l.Pop(1)
		if err != nil {
			return nil, 0, "", err
		}
		body, hasBody = []byte(buf.String()), true
	}
	_, hasLength := headers.get("content-length")
	if call.source != 0 && !hasLength {
		if _, ok := headers.get("transfer-encoding"); !ok {
			headers.set("transfer-encoding", "chunked")
		}
	}

	target, err := httpTarget(scheme, host, p["port"], call, path)
	if err != nil {
		return nil, 0, "", err
	}
	req := &httpx.Request{
		Method:      method,
		URL:         target,
		Body:        body,
		Chunked:     hasBody && !hasLength,
		MaxAttempts: 1,
		TLS:         call.tls,
	}
	for _, f := range headers {
		req.Header = append(req.Header, [2]string{canonicHeader(f.name), f.value})
	}
	if h.https {
		req.Timeout = h.timeout(l, lua.UpValueIndex(2))
	} else {
		req.Timeout = h.timeout(l, mod)
	}
	req.ConnectTimeout = req.Timeout
	if proxy != "" {
		if req.Proxy, err = httpProxyURL(proxy); err != nil {
			return nil, 0, "", err
		}
	}

	resp, err := h.do(req)
	if err != nil {
		return nil, 0, "", &httpFailure{luasocketError(err)}
	}

	status = resp.Proto + " " + strconv.Itoa(resp.Status)
	if resp.Reason != "" {
		status += " " + resp.Reason
	}
	location, hasLocation := httpPushHeaders(l, resp)
	if hasLocation && !call.hasSource() && h.shouldRedirect(call, method, resp.Status, location) {
		l.Pop(1)
		return call.redirect(location), 0, "", nil
	}
	if method != "HEAD" && resp.Status != 204 && resp.Status != 304 && (resp.Status < 100 || resp.Status >= 200) {
		if err := h.deliver(l, call, resp.Body); err != nil {
			l.Pop(1)
			return nil, 0, "", err
		}
	}
	if call.locationHint != "" && !hasLocation {
		l.PushString(call.locationHint)
		l.SetField(-2, "location")
	}
	return nil, resp.Status, status, nil
}

// do sends req within what is left of the call's time (the host's Deadline),
// logging it when mail_debug is on.
func (h *httpClient) do(req *httpx.Request) (*httpx.Response, error) {
	ctx, cancel := luax.BlockingContext(h.host, nil)
	defer cancel()
	if h.host.Debug() {
		req.Logger = h.host.Logger()
	}
	return h.client().Do(ctx, req)
}

// httpHeader is one request header field with its lower-case name.
type httpHeader struct{ name, value string }

type httpHeaders []httpHeader

func (hs httpHeaders) get(name string) (string, bool) {
	for _, f := range hs {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}

func (hs *httpHeaders) set(name, value string) {
	for i, f := range *hs {
		if f.name == name {
			(*hs)[i].value = value
			return
		}
	}
	*hs = append(*hs, httpHeader{name, value})
}

// headers computes the request headers as LuaSocket's adjustheaders: the
// defaults, then the user's headers (names lower-cased) over them.
func (h *httpClient) headers(l *lua.State, call *httpCall, host, proxy string) (httpHeaders, error) {
	var hs httpHeaders
	if ua, ok := sockFieldString(l, lua.UpValueIndex(1), "USERAGENT"); ok {
		hs.set("user-agent", ua)
	}
	hostHeader := host
	if strings.Contains(host, ":") {
		hostHeader = "[" + host + "]"
	}
	if port := call.parts["port"]; port != httpSchemePorts[call.parts["scheme"]] {
		hostHeader += ":" + port
	}
	hs.set("host", hostHeader)
	hs.set("connection", "close, TE")
	hs.set("te", "trailers")
	user, hasUser := call.parts["user"]
	password, hasPassword := call.parts["password"]
	if hasUser && hasPassword {
		hs.set("authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+urlUnescape(password))))
	}
	if proxy != "" {
		if pp, ok := urlParse(proxy); ok && urlHasKey(pp, "user") && urlHasKey(pp, "password") {
			hs.set("proxy-authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(pp["user"]+":"+pp["password"])))
		}
	}
	if call.headers == 0 {
		return hs, nil
	}
	if !l.IsTable(call.headers) {
		lua.Errorf(l, "bad argument #1 to 'for iterator' (table expected, got %s)", lua.TypeNameOf(l, call.headers))
	}
	for l.PushNil(); l.Next(call.headers); l.Pop(1) {
		name, ok := sockString(l, -2)
		if !ok {
			lua.Errorf(l, "bad argument #1 to 'lower' (string expected, got %s)", lua.TypeNameOf(l, -2))
		}
		value, ok := sockString(l, -1)
		if !ok {
			lua.Errorf(l, "attempt to concatenate a %s value (field '%s')", lua.TypeNameOf(l, -1), name)
		}
		hs.set(strings.ToLower(name), value)
	}
	return hs, nil
}

// httpTarget is the URL handed to httpx: the server (host and port) and
// the request target LuaSocket would send, without userinfo or fragment.
func httpTarget(scheme, host, port string, call *httpCall, path string) (string, error) {
	hostport := host
	if strings.Contains(host, ":") {
		hostport = "[" + host + "]"
	}
	base := scheme + "://" + hostport + ":" + port
	if call.hasURI {
		if strings.HasPrefix(call.uri, "/") {
			return base + call.uri, nil
		}
		if u, err := url.Parse(call.uri); err == nil && u.IsAbs() && u.Host != "" {
			u.User = nil
			return u.String(), nil
		}
		return "", &httpFailure{fmt.Sprintf("invalid uri '%s'", call.uri)}
	}
	get := urlMapGetter(map[string]string{"path": path})
	p := call.parts
	return base + urlBuild(func(name string) (string, bool) {
		switch name {
		case "path":
			return get(name)
		case "params", "query":
			v, ok := p[name]
			return v, ok
		}
		return "", false
	}), nil
}

// httpProxyURL turns http.PROXY or reqt.proxy into the proxy URL for
// httpx: LuaSocket's default proxy port is 3128; credentials are sent as
// a proxy-authorization header instead.
func httpProxyURL(proxy string) (string, error) {
	p, ok := urlParse(proxy)
	if !ok || p["host"] == "" {
		return "", &httpFailure{fmt.Sprintf("invalid proxy '%s'", proxy)}
	}
	scheme := p["scheme"]
	if _, known := httpSchemePorts[scheme]; !known {
		return "", &httpFailure{fmt.Sprintf("invalid proxy '%s'", proxy)}
	}
	port := p["port"]
	if port == "" {
		port = "3128"
	}
	host := p["host"]
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port, nil
}

// timeout reads http.TIMEOUT: seconds; nil or negative means none.
func (h *httpClient) timeout(l *lua.State, mod int) time.Duration {
	l.Field(mod, "TIMEOUT")
	if l.IsNil(-1) {
		l.Pop(1)
		return 0
	}
	n, ok := l.ToNumber(-1)
	if !ok {
		// No deferred Pop: it would pop the error value Errorf pushes.
		lua.Errorf(l, "bad argument #1 to 'settimeout' (number expected, got %s)", lua.TypeNameOf(l, -1))
	}
	l.Pop(1)
	if n < 0 || math.IsNaN(n) {
		return 0
	}
	if n > 1e6 {
		n = 1e6
	}
	return time.Duration(n * float64(time.Second))
}

// shouldRedirect applies LuaSocket's shouldredirect (3.x master: the
// location is made absolute before its scheme is checked).
func (h *httpClient) shouldRedirect(call *httpCall, method string, code int, location string) bool {
	location = strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t\n\v\f\r", r) {
			return -1
		}
		return r
	}, location)
	if location == "" {
		return false
	}
	baseParts, baseOK, base := httpBase(call)
	parts, ok := urlParse(urlAbsolute(baseParts, baseOK, base, location))
	scheme, hasScheme := "", false
	if ok {
		scheme, hasScheme = parts["scheme"]
	}
	if _, known := httpSchemePorts[scheme]; hasScheme && !known {
		return false
	}
	if call.parts["scheme"] == "https" && scheme != "https" {
		return false
	}
	return !call.noRedirect &&
		(code == 301 || code == 302 || code == 303 || code == 307) &&
		(method == "GET" || method == "HEAD") &&
		(call.maxRedirects < 0 || call.nRedirects < call.maxRedirects)
}

// httpBlockSize is the size of the chunks a sink receives (socket.BLOCKSIZE).
const httpBlockSize = 2048

// deliver pumps the response body into the call's sink, in chunks.
func (h *httpClient) deliver(l *lua.State, call *httpCall, body []byte) error {
	if call.sink == 0 {
		return nil
	}
	luax.MemOf(l).ChargeSize(l, "request", float64(len(body)))
	pos := 0
	l.PushGoFunction(func(l *lua.State) int {
		if pos >= len(body) {
			return 0
		}
		end := min(pos+httpBlockSize, len(body))
		l.PushString(string(body[pos:end]))
		pos = end
		return 1
	})
	err := sockPumpAll(l, l.Top(), call.sink, call.step)
	l.Pop(1)
	return err
}

// httpPushHeaders pushes the response headers as LuaSocket returns them:
// lower-case names, repeated fields joined with ", " (trailers are dropped,
// as LuaSocket does). It returns the location field.
func httpPushHeaders(l *lua.State, resp *httpx.Response) (string, bool) {
	l.NewTable()
	var location string
	hasLocation := false
	add := func(h map[string][]string) {
		for name, values := range h {
			if len(values) == 0 {
				continue
			}
			name = strings.ToLower(name)
			value := strings.Join(values, ", ")
			l.Field(-1, name)
			if prev, ok := sockString(l, -1); ok {
				value = prev + ", " + value
			}
			l.Pop(1)
			l.PushString(value)
			l.SetField(-2, name)
			if name == "location" {
				location, hasLocation = value, true
			}
		}
	}
	add(resp.Header)
	return location, hasLocation
}

// sockPumpAll is ltn12.pump.all(src, snk, step) on stack indices (step 0:
// ltn12.pump.step); a failure carries the error the pump returned.
func sockPumpAll(l *lua.State, src, snk, step int) error {
	for {
		if step != 0 {
			l.PushValue(step)
		} else {
			l.PushGoFunction(sockPumpStep)
		}
		l.PushValue(src)
		l.PushValue(snk)
		l.Call(2, 2)
		if l.ToBoolean(-2) {
			l.Pop(2)
			continue
		}
		if !l.ToBoolean(-1) {
			l.Pop(2)
			return nil
		}
		msg, ok := lua.ToStringMeta(l, -1)
		if !ok {
			msg = lua.TypeNameOf(l, -1)
		}
		l.Pop(3)
		return &httpFailure{msg}
	}
}

// sockPumpStep is ltn12.pump.step(src, snk).
func sockPumpStep(l *lua.State) int {
	l.SetTop(2)
	l.PushValue(1)
	l.Call(0, 2) // 3: chunk, 4: source error
	l.PushValue(2)
	l.PushValue(3)
	l.PushValue(4)
	l.Call(2, 2) // 5: ok, 6: sink error
	if l.ToBoolean(3) && l.ToBoolean(5) {
		l.PushInteger(1)
		return 1
	}
	l.PushNil()
	if l.ToBoolean(4) {
		l.PushValue(4)
	} else {
		l.PushValue(6)
	}
	return 2
}

// luasocketError is the message LuaSocket gives for a failed request.
func luasocketError(err error) string {
	if msg := httpsError(err); msg != "" {
		return msg
	}
	var dnsErr *net.DNSError
	var errno syscall.Errno
	switch {
	case errors.Is(err, httpx.ErrConnectRefused):
		return "connection refused"
	case errors.Is(err, httpx.ErrTimeout):
		return "timeout"
	case errors.Is(err, httpx.ErrHostNotFound):
		if errors.As(err, &dnsErr) && (dnsErr.IsTemporary || dnsErr.IsTimeout) && !dnsErr.IsNotFound {
			return "temporary failure in name resolution"
		}
		return "host or service not provided, or not known"
	case errors.Is(err, httpx.ErrConnectionLost), errors.Is(err, httpx.ErrCanceled):
		return "closed"
	case errors.Is(err, httpx.ErrBadResponse):
		return "malformed response headers"
	case errors.Is(err, httpx.ErrBodyTooLarge):
		return "response body too large"
	case errors.As(err, &errno):
		// strerror(3) spelling
		msg := errno.Error()
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return msg
	}
	var e *httpx.Error
	if errors.As(err, &e) && e.Err != nil {
		return e.Err.Error()
	}
	return err.Error()
}

// httpRedact removes a password from a URL for the log.
func httpRedact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}
