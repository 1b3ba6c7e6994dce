package bindings

// dovecot.http (spec §5.6; Dovecot 2.3.19's src/lib-lua/dlua-dovecot-http.c
// over lib-http): a synchronous HTTP client. dovecot.http is the plain table
// {client=function}; the client, request and response objects are plain
// tables {item=<userdata>, <method>=function, ...} without a metatable, as
// Dovecot's luaL_setmetatable names metatables it never registers.
//
// What a request does, as lib-http does it:
//   - the URL is parsed by a port of Dovecot's http_url_parse (userinfo
//     allowed), so the errors are Dovecot's texts; the request target is the
//     decoded path re-encoded Dovecot's way plus the raw query;
//   - the implicit headers are Host, Date (IMF-fixdate, taken once at
//     submit), Authorization (Basic, when the URL has a non-empty user and a
//     password), User-Agent (when set), Expect: 100-continue (with a
//     non-empty payload), Content-Length (with a payload, or for POST and
//     PUT) and Connection: Keep-Alive (not through a proxy); adding a header
//     of one of these names suppresses the implicit one for good, even if it
//     is removed again;
//   - attempts: timeouts and lost connections are retried while
//     no_auto_retry is unset and attempts are left (max_attempts, at least
//     one); 408, 417 (drops Expect) and 503 with a Retry-After within
//     max_auto_retry_delay_secs (default: the attempt timeout) are retried
//     while attempts are left; nothing else is (5xx, refused connects);
//   - redirects (3xx but 304, with Location, unless no_auto_redirect):
//     Location must be an absolute http(s) URL without userinfo, else 9004
//     "Invalid redirect location: <error>"; beyond max_redirects (default 0)
//     9004 "Redirect refused" or "Redirected more than <n> times"; 303 turns
//     other methods than GET and HEAD into a GET without payload; the method
//     and payload are kept otherwise; the URL's credentials stay;
//   - failures become responses with the internal statuses 9000-9008 and
//     lib-http's reason texts (connect(<ip>:<port>) failed: Connection
//     refused, Request timed out (Request queued ... secs ago, ...), ...).
//
// Differences from Dovecot, because net/http (through internal/httpx) sends
// the requests:
//   - header order on the wire: Host, User-Agent, Content-Length, then the
//     other fields sorted by name (Dovecot: Host, Date, Authorization,
//     User-Agent, Expect, Content-Length, Connection, then the script's
//     headers in insertion order). The set of fields and their spelling are
//     Dovecot's, except: Content-Length is always the payload's length (a
//     script's own Content-Length is dropped), set_payload("") sends no
//     "Content-Length: 0" with methods other than POST and PUT, and an
//     explicit "Transfer-Encoding: chunked" really chunks the payload;
//   - Expect: 100-continue is sent but the payload follows at once, without
//     waiting for "100 Continue" (lib-http waits up to 2 s);
//   - response headers: net/http drops Transfer-Encoding, and header() sees
//     canonicalised names (matching is case-insensitive anyway);
//   - the connect is not retried (max_connect_attempts and the backoff
//     settings are accepted and ignored), soft_connect_timeout_msecs,
//     max_idle_time_msecs, rawlog_dir and event_parent are checked and
//     ignored; debug = true logs one "http: <method> <url>: <status>
//     (<n> attempts, <time>)" line per submit() on the call's logger, and
//     one "retrying (attempt <n>)" line before each further attempt or
//     redirect followed (lib-http's own debug lines are not reproduced); a connect that runs into the attempt timeout (no
//     connect_timeout_msecs) may report 9008 where Dovecot says 9003;
//     "connect(...)" names the address the dialer reports, the host name
//     when there is none; a host that does not resolve gives 9002 "Failed to
//     lookup host <host>: Name or service not known";
//   - the timing details in timeout and connection-lost reasons are
//     measured by pushlua ("in http ioloop" is the last attempt's time,
//     "in other ioloops" is always 0.000);
//   - the current call's context (luax.Host.Context) and what is left of its time
//     budget (luax.Host.Deadline) also bound submit(), DNS, connect and TLS
//     included: a cancelled context gives 9000 "Aborted", the budget's end
//     9008 "Absolute request timeout expired (...)"; a response body larger
//     than httpx's limit gives 9006;
//   - the settings table takes Dovecot 2.3's names and, as Dovecot 2.4
//     does, the http_client_* and ssl client settings without their prefix
//     (request_timeout = "1s", request_max_attempts, auto_redirect,
//     ssl_client_ca_file, ...); under a 2.4-style configuration
//     (Env.Settings24) only 2.4's, and an unknown key fails as in 2.4;
//     under a 2.3-style one an unknown key is ignored with a warning;
//   - where Dovecot hits an assertion and panics the process (a header name
//     with ':', CR or LF, a value with CR or LF, Proxy-Authorization, a
//     second set_payload) or touches freed memory (using a request after
//     submit(), a table without a valid item as self), pushlua raises a Lua
//     error instead; a request net/http refuses to send (a method or header
//     name that is not an HTTP token) gives 9000 "Aborted: <reason>".

import (
	"net/http"
	"net/textproto"
	"strings"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/dovecoturl"
	"github.com/pushlua/pushlua/internal/luax"
)

// The names Dovecot uses for the objects in its "Bad argument" errors.
const (
	httpClientName   = "struct http_client"
	httpRequestName  = "struct http_client_request"
	httpResponseName = "struct dlua_http_response"
)

// httpMethods is dovecot.http; the functions reach the Env through
// upvalue 1.
var httpMethods = []lua.RegistryFunction{
	{Name: "client", Function: httpClientNew},
}

// httpClientMethods, httpRequestMethods and httpResponseMethods are set as
// fields of each object, in Dovecot's order.
var (
	httpClientMethods = []lua.RegistryFunction{
		{Name: "request", Function: httpRequestNew},
	}
	httpRequestMethods = []lua.RegistryFunction{
		{Name: "add_header", Function: httpRequestAddHeader},
		{Name: "remove_header", Function: httpRequestRemoveHeader},
		{Name: "set_payload", Function: httpRequestSetPayload},
		{Name: "submit", Function: httpRequestSubmit},
	}
	httpResponseMethods = []lua.RegistryFunction{
		{Name: "status", Function: httpResponseStatus},
		{Name: "payload", Function: httpResponsePayload},
		{Name: "header", Function: httpResponseHeader},
		{Name: "reason", Function: httpResponseReason},
	}
)

// openHTTP sets the raw field dovecot.http = {client=function}.
// openDovecot must have run.
func openHTTP(l *lua.State, env *Env) {
	l.Global("dovecot")
	l.PushString("http")
	l.CreateTable(0, len(httpMethods))
	l.PushUserData(env)
	lua.SetFunctions(l, httpMethods, 1)
	l.RawSet(-3)
	l.Pop(1)
}

// httpClient is the item of a client object.
type httpClient struct {
	env *Env
	set httpSettings

	// The last URL a request of this client was made with (a driver sends
	// all its requests to one), parsed, with its authority and its
	// absolute form as sent; and the Date value of the current second.
	// A client is used by its state's goroutine only.
	url                   *dovecoturl.URL
	urlRaw                string
	urlAuthority, urlFull string
	dateSec               int64
	date                  string
}

// parseURL parses the URL of a new request, or returns the last one's
// parse (dovecoturl.URL values are never changed).
func (c *httpClient) parseURL(raw string) (*dovecoturl.URL, error) {
	if c.url != nil && raw == c.urlRaw {
		return c.url, nil
	}
	u, err := dovecoturl.Parse(raw, dovecoturl.AllowUserinfo)
	if err != nil {
		return nil, err
	}
	c.url, c.urlRaw = u, raw
	c.urlAuthority = u.Authority()
	c.urlFull = u.Scheme() + "://" + c.urlAuthority + u.Target()
	return u, nil
}

// urlParts returns the authority of u and its absolute form as sent.
func (c *httpClient) urlParts(u *dovecoturl.URL) (authority, full string) {
	if u == c.url {
		return c.urlAuthority, c.urlFull
	}
	authority = u.Authority()
	return authority, u.Scheme() + "://" + authority + u.Target()
}

// dateValue is the Date header of a request made at now (IMF-fixdate).
func (c *httpClient) dateValue(now time.Time) string {
	if sec := now.Unix(); sec != c.dateSec || c.date == "" {
		c.dateSec, c.date = sec, now.UTC().Format(http.TimeFormat)
	}
	return c.date
}

// httpRequest is the item of a request object.
type httpRequest struct {
	client *httpClient
	method string
	url    *dovecoturl.URL
	// user and password are the URL's credentials, sent as Basic
	// authentication when hasAuth; redirects keep them.
	user, password string
	hasAuth        bool

	// headers are the script's headers in insertion order.
	headers [][2]string
	// have records the special header names ever added (Host, Date,
	// Authorization, User-Agent, Expect, Connection, and Content-Length or
	// Transfer-Encoding), which suppress the implicit ones.
	have httpHeaderFlag

	payload    []byte
	hasPayload bool
	// payloadSync is lib-http's payload_sync: a non-empty payload set by
	// set_payload, sent with Expect: 100-continue.
	payloadSync bool

	submitted bool
}

// httpResponse is the item of a response object.
type httpResponse struct {
	env     *Env
	status  int
	reason  string
	payload []byte
	header  http.Header
}

// pushHTTPObject pushes {item=<item>, <methods>...}. The method
// functions and their names are made once per state (pushHTTPObjectTemplate)
// and copied into each object: a request and a response are made for
// every notification a driver sends. The objects of one kind share their
// functions, as Dovecot's do (lua_pushcfunction of the same C function).
func pushHTTPObject(l *lua.State, item any, methods []lua.RegistryFunction) {
	lua.CheckStackWithMessage(l, 4, "pushing an http object")
	pushHTTPObjectTemplate(l, methods)
	ti := l.Top()
	l.CreateTable(0, len(methods)+1)
	l.RawGetInt(ti, 1)
	l.PushUserData(item)
	l.RawSet(-3)
	for i := range methods {
		l.RawGetInt(ti, 2+2*i)
		l.RawGetInt(ti, 3+2*i)
		l.RawSet(-3)
	}
	l.Remove(ti)
}

// pushHTTPObjectTemplate pushes the state's template of the objects with
// methods: {"item", name1, function1, name2, function2, ...}, kept in the
// registry under the address of methods' first element.
func pushHTTPObjectTemplate(l *lua.State, methods []lua.RegistryFunction) {
	key := &methods[0]
	l.PushLightUserData(key)
	l.RawGet(lua.RegistryIndex)
	if l.IsTable(-1) {
		return
	}
	l.Pop(1)
	l.CreateTable(1+2*len(methods), 0)
	l.PushString("item")
	l.RawSetInt(-2, 1)
	for i, m := range methods {
		l.PushString(m.Name)
		l.RawSetInt(-2, 2+2*i)
		l.PushGoFunction(m.Function)
		l.RawSetInt(-2, 3+2*i)
	}
	l.PushLightUserData(key)
	l.PushValue(-2)
	l.RawSet(lua.RegistryIndex)
}

// checkHTTPObject returns the item of the object at arg, raising Dovecot's
// `Bad argument #<arg>, expected <name> got <type>` when arg is not a table
// (Dovecot crashes on a table without such an item; pushlua raises too).
func checkHTTPObject[T any](l *lua.State, arg int, name string) T {
	if l.IsTable(arg) {
		luax.PushName(l, "item")
		l.RawGet(arg)
		item, ok := l.ToUserData(-1).(T)
		l.Pop(1)
		if ok {
			return item
		}
	}
	luax.Raise(l, "Bad argument #%d, expected %s got %s", arg, name, lua.TypeNameOf(l, arg))
	panic("unreachable")
}

// httpClientNew is dovecot.http.client(settings).
func httpClientNew(l *lua.State) int {
	luax.RequireArgs(l, 1)
	if !l.IsTable(1) {
		luaTypeError(l, 1, "client", false, "table")
	}
	set, err := parseHTTPSettings(l)
	if err != "" {
		luax.Raise(l, "Invalid HTTP client setting: %s", err)
	}
	pushHTTPObject(l, &httpClient{env: dovecotEnv(l), set: set}, httpClientMethods)
	return 1
}

// httpRequestNew is client:request{url=..., method=...}.
func httpRequestNew(l *lua.State) int {
	luax.RequireArgs(l, 2)
	c := checkHTTPObject[*httpClient](l, 1, httpClientName)
	if !l.IsTable(2) {
		luaTypeError(l, 2, "request", true, "table")
	}
	// Dovecot reads both fields at index -1 (the table) and checks them
	// there, so a bad type is reported as argument #-2.
	luax.Field(l, 2, "url")
	if l.IsNil(-1) {
		luax.Raise(l, "cannot create request: url not specified")
	}
	rawURL := luax.CString(luaCheckString(l, -1, "request", true))
	l.Pop(1)
	method := "GET"
	luax.Field(l, 2, "method")
	if !l.IsNil(-1) {
		method = luax.CString(luaCheckString(l, -1, "request", true))
	}
	l.Pop(1)

	u, err := c.parseURL(rawURL)
	if err != nil {
		// Dovecot prints the URL as given; its password is masked here.
		luax.Raise(l, "Failed to parse url %s: %s", RedactURL(rawURL), err.Error())
	}
	r := &httpRequest{client: c, method: method, url: u}
	if u.User != nil && *u.User != "" && u.Password != nil {
		r.user, r.password, r.hasAuth = *u.User, *u.Password, true
	}
	pushHTTPObject(l, r, httpRequestMethods)
	return 1
}

// checkHTTPRequest returns the request of self, raising when it was
// submitted already (Dovecot frees it then).
func checkHTTPRequest(l *lua.State, fname string) *httpRequest {
	r := checkHTTPObject[*httpRequest](l, 1, httpRequestName)
	if r.submitted {
		luax.Raise(l, "%s: the request was already submitted", fname)
	}
	return r
}

// httpHeaderFlag records in httpRequest.have that a header of a name with
// an implicit one was added.
type httpHeaderFlag uint8

const (
	haveHost httpHeaderFlag = 1 << iota
	haveDate
	haveAuthorization
	haveUserAgent
	haveExpect
	haveConnection
	haveBody // Content-Length or Transfer-Encoding
)

// httpSpecialHeaders are the names with an implicit header, and their
// flags.
var httpSpecialHeaders = [...]struct {
	name string
	flag httpHeaderFlag
}{
	{"host", haveHost}, {"date", haveDate}, {"authorization", haveAuthorization},
	{"user-agent", haveUserAgent}, {"expect", haveExpect}, {"connection", haveConnection},
	{"content-length", haveBody}, {"transfer-encoding", haveBody},
}

// httpSpecialHeader returns the flag under which httpRequest.have records
// name (compared without case), or 0.
func httpSpecialHeader(name string) httpHeaderFlag {
	for _, h := range httpSpecialHeaders {
		if strings.EqualFold(name, h.name) {
			return h.flag
		}
	}
	return 0
}

// httpRequestAddHeader is req:add_header(name, value): a header of the same
// name (case-insensitive) gets the new value in place.
func httpRequestAddHeader(l *lua.State) int {
	luax.RequireArgs(l, 3)
	checkHTTPObject[*httpRequest](l, 1, httpRequestName)
	name := luax.CString(luaCheckString(l, 2, "add_header", true))
	value := luax.CString(luaCheckString(l, 3, "add_header", true))
	r := checkHTTPRequest(l, "add_header")
	switch {
	case strings.ContainsAny(name, ":\r\n"):
		luax.Raise(l, "add_header: invalid header name %q", name)
	case strings.ContainsAny(value, "\r\n"):
		luax.Raise(l, "add_header: invalid value of header %s", name)
	case strings.EqualFold(name, "Proxy-Authorization"):
		luax.Raise(l, "add_header: Proxy-Authorization cannot be set")
	}
	r.have |= httpSpecialHeader(name)
	for i := range r.headers {
		if strings.EqualFold(r.headers[i][0], name) {
			r.headers[i][1] = value
			return 0
		}
	}
	r.headers = append(r.headers, [2]string{name, value})
	return 0
}

// httpRequestRemoveHeader is req:remove_header(name).
func httpRequestRemoveHeader(l *lua.State) int {
	luax.RequireArgs(l, 2)
	checkHTTPObject[*httpRequest](l, 1, httpRequestName)
	name := luax.CString(luaCheckString(l, 2, "remove_header", true))
	r := checkHTTPRequest(l, "remove_header")
	for i := range r.headers {
		if strings.EqualFold(r.headers[i][0], name) {
			r.headers = append(r.headers[:i], r.headers[i+1:]...)
			break
		}
	}
	return 0
}

// httpRequestSetPayload is req:set_payload(data): the data up to its first
// NUL, sent with Expect: 100-continue unless empty. Under a 2.4-style
// configuration it is 2.4's set_payload(data [, sync]): Expect only when
// sync is true.
func httpRequestSetPayload(l *lua.State) int {
	settings24 := false
	if l.IsTable(1) {
		l.PushString("item")
		l.RawGet(1)
		if r, ok := l.ToUserData(-1).(*httpRequest); ok {
			settings24 = r.client.env.Settings24
		}
		l.Pop(1)
	}
	if settings24 {
		luax.RequireArgsIn(l, 2, 3)
	} else {
		luax.RequireArgs(l, 2)
	}
	checkHTTPObject[*httpRequest](l, 1, httpRequestName)
	payload := luax.CString(luaCheckString(l, 2, "set_payload", true))
	r := checkHTTPRequest(l, "set_payload")
	if r.hasPayload {
		luax.Raise(l, "set_payload: the payload was already set")
	}
	r.payload, r.hasPayload = []byte(payload), true
	r.payloadSync = len(payload) > 0 && (!settings24 || l.Top() >= 3 && l.ToBoolean(3))
	return 0
}

// httpRequestSubmit is req:submit(): it sends the request, waits for the
// outcome and returns the response object.
func httpRequestSubmit(l *lua.State) int {
	luax.RequireArgs(l, 1)
	r := checkHTTPRequest(l, "submit")
	r.submitted = true
	resp := r.send()
	resp.env = r.client.env
	pushHTTPObject(l, resp, httpResponseMethods)
	return 1
}

// checkHTTPResponse returns the response of resp:<method>(), which takes
// no other argument.
func checkHTTPResponse(l *lua.State) *httpResponse {
	luax.RequireArgs(l, 1)
	return checkHTTPObject[*httpResponse](l, 1, httpResponseName)
}

func httpResponseStatus(l *lua.State) int {
	l.PushInteger(checkHTTPResponse(l).status)
	return 1
}

func httpResponsePayload(l *lua.State) int {
	resp := checkHTTPResponse(l)
	if resp.env != nil {
		resp.env.charge(l, "payload", int64(len(resp.payload)))
	}
	l.PushString(string(resp.payload))
	return 1
}

// httpResponseHeader is resp:header(name): the first value of the field
// (case-insensitive), "" when there is none.
func httpResponseHeader(l *lua.State) int {
	luax.RequireArgs(l, 2)
	resp := checkHTTPObject[*httpResponse](l, 1, httpResponseName)
	name := luax.CString(luaCheckString(l, 2, "header", true))
	l.PushString(resp.headerValue(name))
	return 1
}

func httpResponseReason(l *lua.State) int {
	l.PushString(checkHTTPResponse(l).reason)
	return 1
}

func (resp *httpResponse) headerValue(name string) string {
	if v := resp.header[textproto.CanonicalMIMEHeaderKey(name)]; len(v) > 0 {
		return luax.CString(v[0])
	}
	for k, v := range resp.header {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return luax.CString(v[0])
		}
	}
	return ""
}
