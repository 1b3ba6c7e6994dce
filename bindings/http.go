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
//     ignored; debug = true logs one "http: <method> <url>: <status>"
//     line per request on the call's logger (lib-http's own debug lines
//     are not reproduced); a connect that runs into the attempt timeout (no
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
	"context"
	stdtls "crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/httpx"
	"github.com/pushlua/pushlua/internal/luax"
)

// The names Dovecot uses for the objects in its "Bad argument" errors.
const (
	httpClientName   = "struct http_client"
	httpRequestName  = "struct http_client_request"
	httpResponseName = "struct dlua_http_response"
)

// The internal statuses of lib-http (http-client.h), for failures that
// never got an HTTP response.
const (
	HTTPStatusAborted          = 9000
	HTTPStatusInvalidURL       = 9001
	HTTPStatusHostLookupFailed = 9002
	HTTPStatusConnectFailed    = 9003
	HTTPStatusInvalidRedirect  = 9004
	HTTPStatusConnectionLost   = 9005
	HTTPStatusBrokenPayload    = 9006
	HTTPStatusBadResponse      = 9007
	HTTPStatusTimedOut         = 9008
)

// httpDefaultRequestTimeout is lib-http's default attempt timeout.
const httpDefaultRequestTimeout = 60 * time.Second

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
}

// httpSettings are the settings dovecot.http.client accepts (Dovecot's
// struct http_client_settings as parse_client_settings fills it). Zero
// means lib-http's default.
type httpSettings struct {
	userAgent string
	rawlogDir string

	maxIdleTimeMsecs            uint32
	maxRedirects                uint32
	maxAttempts                 uint32
	maxConnectAttempts          uint32
	connectBackoffTimeMsecs     uint32
	connectBackoffMaxTimeMsecs  uint32
	requestAbsoluteTimeoutMsecs uint32
	requestTimeoutMsecs         uint32
	connectTimeoutMsecs         uint32
	softConnectTimeoutMsecs     uint32
	maxAutoRetryDelaySecs       uint32

	noAutoRedirect bool
	noAutoRetry    bool
	debug          bool

	proxy       *dovecotURL
	eventParent *event

	// Dovecot 2.4's per-method overrides (read: GET and HEAD, write: PUT
	// and POST, delete: DELETE); zero means the client-wide value.
	readMaxAttempts, writeMaxAttempts, deleteMaxAttempts uint32
	readTimeout, writeTimeout, deleteTimeout             time.Duration
	// tls are the ssl_client_* settings of 2.4; nil: the shared client's
	// (system roots, verified).
	tls *httpx.TLS
}

// httpRequest is the item of a request object.
type httpRequest struct {
	client *httpClient
	method string
	url    *dovecotURL
	// user and password are the URL's credentials, sent as Basic
	// authentication when hasAuth; redirects keep them.
	user, password string
	hasAuth        bool

	// headers are the script's headers in insertion order.
	headers [][2]string
	// have records the special header names ever added ("host", "date",
	// "authorization", "user-agent", "expect", "connection" and "body" for
	// Content-Length or Transfer-Encoding), which suppress the implicit
	// ones.
	have map[string]bool

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

// pushHTTPObject pushes {item=<item>, <methods>...}.
func pushHTTPObject(l *lua.State, item any, methods []lua.RegistryFunction) {
	l.CreateTable(0, len(methods)+1)
	l.PushUserData(item)
	l.SetField(-2, "item")
	lua.SetFunctions(l, methods, 0)
}

// checkHTTPObject returns the item of the object at arg, raising Dovecot's
// `Bad argument #<arg>, expected <name> got <type>` when arg is not a table
// (Dovecot crashes on a table without such an item; pushlua raises too).
func checkHTTPObject[T any](l *lua.State, arg int, name string) T {
	if l.IsTable(arg) {
		l.PushString("item")
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

// parseHTTPSettings reads the settings table at index 1. Under a Dovecot
// 2.4-style configuration (Env.Settings24) it takes 2.4's names only and an
// unknown key fails, as in 2.4. Otherwise it takes 2.3's names in 2.3's
// order (parse_client_settings: the first bad key is the one reported),
// then 2.4's names too (they win over 2.3's), and an unknown key, which
// 2.3 ignores silently, is ignored with a warning.
func parseHTTPSettings(l *lua.State) (httpSettings, string) {
	env := dovecotEnv(l)
	if env.Settings24 {
		var set httpSettings
		set.maxAttempts = 1
		unknown, err := parseHTTPSettings24(l, &set, true)
		if err == "" && len(unknown) > 0 {
			err = unknown[0] + " is unknown setting"
		}
		if err == "" {
			l.Field(1, "event_parent")
			if l.IsTable(-1) {
				set.eventParent = checkEvent(l, -1)
			}
			l.Pop(1)
		}
		return set, err
	}
	set, err := parseHTTPSettings23(l)
	if err != "" {
		return set, err
	}
	unknown, err := parseHTTPSettings24(l, &set, false)
	if err == "" && len(unknown) > 0 {
		env.logger().Warn(env.LogPrefix + "dovecot.http.client: ignoring unknown setting" + plural(len(unknown)) +
			" " + strings.Join(unknown, ", ") + " (Dovecot 2.3 ignores them, 2.4 fails with \"<name> is unknown setting\")")
	}
	return set, err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// httpSettingKinds are the types of Dovecot 2.4's settings (the value is a
// string through 2.4's settings parser; numbers are taken as their text,
// booleans as yes/no).
type httpSettingKind int

const (
	httpKindIgnored httpSettingKind = iota // accepted, no effect in pushlua
	httpKindString
	httpKindUint
	httpKindBool
	httpKindMsecs
	httpKindSecs
	httpKindSize
)

// httpSettings24 are the keys Dovecot 2.4's dovecot.http.client accepts:
// each is the http_client_<key> setting of lib-http, or an ssl client
// setting (lib-ssl-iostream's ssl_setting_parser_info).
var httpSettings24 = map[string]httpSettingKind{
	"base_dir":                    httpKindIgnored,
	"dns_client_socket_path":      httpKindIgnored,
	"dns_ttl":                     httpKindMsecs,
	"user_agent":                  httpKindString,
	"proxy_socket_path":           httpKindIgnored,
	"proxy_url":                   httpKindString,
	"proxy_username":              httpKindString,
	"proxy_password":              httpKindString,
	"rawlog_dir":                  httpKindString,
	"max_idle_time":               httpKindMsecs,
	"max_parallel_connections":    httpKindUint,
	"max_pipelined_requests":      httpKindUint,
	"auto_redirect":               httpKindBool,
	"auto_retry":                  httpKindBool,
	"proxy_ssl_tunnel":            httpKindBool,
	"request_max_redirects":       httpKindUint,
	"request_max_attempts":        httpKindUint,
	"read_request_max_attempts":   httpKindUint,
	"write_request_max_attempts":  httpKindUint,
	"delete_request_max_attempts": httpKindUint,
	"max_connect_attempts":        httpKindUint,
	"connect_backoff_time":        httpKindMsecs,
	"connect_backoff_max_time":    httpKindMsecs,
	"response_hdr_max_size":       httpKindSize,
	"response_hdr_max_field_size": httpKindSize,
	"response_hdr_max_fields":     httpKindUint,
	"request_absolute_timeout":    httpKindMsecs,
	"request_timeout":             httpKindMsecs,
	"read_request_timeout":        httpKindMsecs,
	"write_request_timeout":       httpKindMsecs,
	"delete_request_timeout":      httpKindMsecs,
	"connect_timeout":             httpKindMsecs,
	"soft_connect_timeout":        httpKindMsecs,
	"max_auto_retry_delay":        httpKindSecs,
	"socket_send_buffer_size":     httpKindSize,
	"socket_recv_buffer_size":     httpKindSize,

	"ssl_client_ca_file":            httpKindString,
	"ssl_client_ca_dir":             httpKindString,
	"ssl_client_cert_file":          httpKindString,
	"ssl_client_key_file":           httpKindString,
	"ssl_client_key_password":       httpKindIgnored,
	"ssl_cipher_list":               httpKindIgnored,
	"ssl_cipher_suites":             httpKindIgnored,
	"ssl_curve_list":                httpKindIgnored,
	"ssl_min_protocol":              httpKindString,
	"ssl_crypto_device":             httpKindIgnored,
	"ssl_client_require_valid_cert": httpKindBool,
	"ssl_options":                   httpKindIgnored,
}

// httpSettings23 are the keys 2.3's parse_client_settings reads.
var httpSettings23 = map[string]bool{
	"user_agent": true, "rawlog_dir": true, "max_idle_time_msecs": true, "no_auto_redirect": true,
	"no_auto_retry": true, "max_redirects": true, "max_attempts": true, "max_connect_attempts": true,
	"connect_backoff_time_msecs": true, "connect_backoff_max_time_msecs": true,
	"request_absolute_timeout_msecs": true, "request_timeout_msecs": true, "connect_timeout_msecs": true,
	"soft_connect_timeout_msecs": true, "max_auto_retry_delay_secs": true, "debug": true, "proxy_url": true,
	"event_parent": true,
}

// parseHTTPSettings24 applies the Dovecot 2.4 names in the settings table
// at index 1 to set, in key order, and returns the keys it does not know
// (sorted). With strict unset, 2.3's names (read already) are skipped.
func parseHTTPSettings24(l *lua.State, set *httpSettings, strict bool) (unknown []string, errText string) {
	type kv struct {
		key   string
		value string
		ok    bool
	}
	var items []kv
	for l.PushNil(); l.Next(1); l.Pop(1) {
		// ToValue, not ToString: converting the key in place would
		// break Next.
		var key string
		switch k := l.ToValue(-2).(type) {
		case string:
			key = k
		case float64:
			key = strconv.FormatFloat(k, 'g', 14, 64)
		default:
			key = "(" + lua.TypeNameOf(l, -2) + ")"
		}
		if key == "event_parent" || !strict && httpSettings23[key] {
			continue
		}
		item := kv{key: key}
		switch l.TypeOf(-1) {
		case lua.TypeString:
			item.value, _ = l.ToString(-1)
			item.ok = true
		case lua.TypeNumber:
			n, _ := l.ToNumber(-1)
			item.value, item.ok = strconv.FormatFloat(n, 'f', -1, 64), true
		case lua.TypeBoolean:
			item.value, item.ok = "no", true
			if l.ToBoolean(-1) {
				item.value = "yes"
			}
		}
		items = append(items, item)
	}
	slices.SortFunc(items, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	for _, it := range items {
		kind, known := httpSettings24[it.key]
		if !known {
			unknown = append(unknown, it.key)
			continue
		}
		if !it.ok {
			return nil, it.key + ": string expected"
		}
		if err := applyHTTPSetting24(set, it.key, kind, luax.CString(it.value)); err != nil {
			return nil, it.key + ": " + err.Error()
		}
	}
	return unknown, ""
}

// applyHTTPSetting24 parses and applies one 2.4 setting.
func applyHTTPSetting24(set *httpSettings, key string, kind httpSettingKind, v string) error {
	var (
		str  string
		num  uint32
		on   bool
		dur  time.Duration
		err  error
		uint uint64
	)
	switch kind {
	case httpKindString:
		str = v
	case httpKindUint:
		uint, err = strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fmt.Errorf("Invalid number %s", v) //nolint:staticcheck // Dovecot's text
		}
		num = uint32(uint)
	case httpKindBool:
		on, err = dconfig.ParseBool(v)
	case httpKindMsecs:
		dur, err = dconfig.ParseTimeMsecs(v)
	case httpKindSecs:
		dur, err = dconfig.ParseTime(v)
	case httpKindSize:
		_, err = dconfig.ParseSize(v)
	}
	if err != nil {
		return err
	}
	msecs := uint32(min(dur.Milliseconds(), math.MaxUint32))
	tls := func() *httpx.TLS {
		if set.tls == nil {
			set.tls = &httpx.TLS{}
		}
		return set.tls
	}
	switch key {
	case "user_agent":
		set.userAgent = str
	case "rawlog_dir":
		set.rawlogDir = str
	case "proxy_url":
		if str == "" {
			set.proxy = nil
			break
		}
		u, perr := parseDovecotURL(str, true)
		if perr != nil {
			return errors.New("proxy_url is invalid: " + perr.Error())
		}
		set.proxy = u
	case "proxy_username", "proxy_password":
		if set.proxy == nil {
			break // 2.4 uses them only with a proxy_url
		}
		p := str
		if key == "proxy_username" {
			set.proxy.user = &p
		} else {
			set.proxy.password = &p
		}
	case "max_idle_time":
		set.maxIdleTimeMsecs = msecs
	case "auto_redirect":
		set.noAutoRedirect = !on
	case "auto_retry":
		set.noAutoRetry = !on
	case "request_max_redirects":
		set.maxRedirects = num
	case "request_max_attempts":
		set.maxAttempts = num
	case "read_request_max_attempts":
		set.readMaxAttempts = num
	case "write_request_max_attempts":
		set.writeMaxAttempts = num
	case "delete_request_max_attempts":
		set.deleteMaxAttempts = num
	case "max_connect_attempts":
		set.maxConnectAttempts = num
	case "connect_backoff_time":
		set.connectBackoffTimeMsecs = msecs
	case "connect_backoff_max_time":
		set.connectBackoffMaxTimeMsecs = msecs
	case "request_absolute_timeout":
		set.requestAbsoluteTimeoutMsecs = msecs
	case "request_timeout":
		set.requestTimeoutMsecs = msecs
	case "read_request_timeout":
		set.readTimeout = dur
	case "write_request_timeout":
		set.writeTimeout = dur
	case "delete_request_timeout":
		set.deleteTimeout = dur
	case "connect_timeout":
		set.connectTimeoutMsecs = msecs
	case "soft_connect_timeout":
		set.softConnectTimeoutMsecs = msecs
	case "max_auto_retry_delay":
		set.maxAutoRetryDelaySecs = uint32(min(int64(dur/time.Second), math.MaxUint32))
	case "ssl_client_ca_file":
		tls().CAFile = str
	case "ssl_client_ca_dir":
		tls().CAPath = str
	case "ssl_client_cert_file":
		tls().CertFile = str
	case "ssl_client_key_file":
		tls().KeyFile = str
	case "ssl_client_require_valid_cert":
		tls().Insecure = !on
	case "ssl_min_protocol":
		switch strings.ToUpper(str) {
		case "TLSV1.2":
			tls().MinVersion = stdtls.VersionTLS12
		case "TLSV1.3":
			tls().MinVersion = stdtls.VersionTLS13
		case "ANY", "TLSV1", "TLSV1.1", "":
		default:
			return fmt.Errorf("Unknown ssl_min_protocol setting '%s'", str) //nolint:staticcheck // Dovecot's text
		}
	}
	return nil
}

// parseHTTPSettings23 reads Dovecot 2.3's names.
func parseHTTPSettings23(l *lua.State) (httpSettings, string) {
	var set httpSettings
	strs := []struct {
		key string
		dst *string
	}{
		{"user_agent", &set.userAgent},
		{"rawlog_dir", &set.rawlogDir},
	}
	for _, s := range strs {
		if httpSettingString(l, s.key, s.dst) < 0 {
			return set, s.key + ": string expected"
		}
	}
	type field struct {
		key  string
		uint *uint32
		bool *bool
	}
	fields := []field{
		{key: "max_idle_time_msecs", uint: &set.maxIdleTimeMsecs},
		{key: "no_auto_redirect", bool: &set.noAutoRedirect},
		{key: "no_auto_retry", bool: &set.noAutoRetry},
		{key: "max_redirects", uint: &set.maxRedirects},
		{key: "max_attempts", uint: &set.maxAttempts},
		{key: "max_connect_attempts", uint: &set.maxConnectAttempts},
		{key: "connect_backoff_time_msecs", uint: &set.connectBackoffTimeMsecs},
		{key: "connect_backoff_max_time_msecs", uint: &set.connectBackoffMaxTimeMsecs},
		{key: "request_absolute_timeout_msecs", uint: &set.requestAbsoluteTimeoutMsecs},
		{key: "request_timeout_msecs", uint: &set.requestTimeoutMsecs},
		{key: "connect_timeout_msecs", uint: &set.connectTimeoutMsecs},
		{key: "soft_connect_timeout_msecs", uint: &set.softConnectTimeoutMsecs},
		{key: "max_auto_retry_delay_secs", uint: &set.maxAutoRetryDelaySecs},
		{key: "debug", bool: &set.debug},
	}
	for _, f := range fields {
		if f.uint != nil && httpSettingUint(l, f.key, f.uint) < 0 {
			return set, f.key + ": non-negative number expected"
		}
		if f.bool != nil && httpSettingBool(l, f.key, f.bool) < 0 {
			return set, f.key + ": boolean expected"
		}
	}
	set.userAgent = luax.CString(set.userAgent)
	set.rawlogDir = luax.CString(set.rawlogDir)

	// A proxy_url that is not a string is ignored, as Dovecot only looks
	// at it when dlua_table_get_string_by_str finds a string.
	var proxy string
	if httpSettingString(l, "proxy_url", &proxy) > 0 {
		u, perr := parseDovecotURL(luax.CString(proxy), true)
		if perr != nil {
			return set, "proxy_url is invalid: " + perr.Error()
		}
		set.proxy = u
	}

	l.Field(1, "event_parent")
	if !l.IsNil(-1) {
		set.eventParent = checkEvent(l, -1)
	}
	l.Pop(1)
	return set, ""
}

// httpSettingField pushes settings[key] and returns 0 (and pops it) when it
// is nil, -1 (and pops it) when it is not of type want, 1 otherwise, like
// Dovecot's dlua_table_get.
func httpSettingField(l *lua.State, key string, want lua.Type) int {
	l.Field(1, key)
	switch l.TypeOf(-1) {
	case lua.TypeNil, lua.TypeNone:
		l.Pop(1)
		return 0
	case want:
		return 1
	}
	l.Pop(1)
	return -1
}

func httpSettingString(l *lua.State, key string, dst *string) int {
	ret := httpSettingField(l, key, lua.TypeString)
	if ret > 0 {
		*dst, _ = l.ToString(-1)
		l.Pop(1)
	}
	return ret
}

func httpSettingBool(l *lua.State, key string, dst *bool) int {
	ret := httpSettingField(l, key, lua.TypeBoolean)
	if ret > 0 {
		*dst = l.ToBoolean(-1)
		l.Pop(1)
	}
	return ret
}

// httpSettingUint is dlua_table_get_uint_by_str: a number with an exact
// integer value from 0 to UINT_MAX.
func httpSettingUint(l *lua.State, key string, dst *uint32) int {
	ret := httpSettingField(l, key, lua.TypeNumber)
	if ret <= 0 {
		return ret
	}
	n, _ := l.ToNumber(-1)
	l.Pop(1)
	if n != math.Trunc(n) || n < 0 || n > math.MaxUint32 {
		return -1
	}
	*dst = uint32(n)
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
	l.Field(2, "url")
	if l.IsNil(-1) {
		luax.Raise(l, "cannot create request: url not specified")
	}
	rawURL := luax.CString(luaCheckString(l, -1, "request", true))
	l.Pop(1)
	method := "GET"
	l.Field(2, "method")
	if !l.IsNil(-1) {
		method = luax.CString(luaCheckString(l, -1, "request", true))
	}
	l.Pop(1)

	u, err := parseDovecotURL(rawURL, true)
	if err != nil {
		// Dovecot prints the URL as given; its password is masked here.
		luax.Raise(l, "Failed to parse url %s: %s", RedactURL(rawURL), err.Error())
	}
	r := &httpRequest{client: c, method: method, url: u, have: map[string]bool{}}
	if u.user != nil && *u.user != "" && u.password != nil {
		r.user, r.password, r.hasAuth = *u.user, *u.password, true
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

// httpSpecialHeader returns the key under which httpRequest.have records
// name, or "".
func httpSpecialHeader(name string) string {
	switch strings.ToLower(name) {
	case "host":
		return "host"
	case "date":
		return "date"
	case "authorization":
		return "authorization"
	case "user-agent":
		return "user-agent"
	case "expect":
		return "expect"
	case "connection":
		return "connection"
	case "content-length", "transfer-encoding":
		return "body"
	}
	return ""
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
	if key := httpSpecialHeader(name); key != "" {
		r.have[key] = true
	}
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

func httpResponseStatus(l *lua.State) int {
	luax.RequireArgs(l, 1)
	resp := checkHTTPObject[*httpResponse](l, 1, httpResponseName)
	l.PushInteger(resp.status)
	return 1
}

func httpResponsePayload(l *lua.State) int {
	luax.RequireArgs(l, 1)
	resp := checkHTTPObject[*httpResponse](l, 1, httpResponseName)
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
	luax.RequireArgs(l, 1)
	resp := checkHTTPObject[*httpResponse](l, 1, httpResponseName)
	l.PushString(resp.reason)
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

// defaultHTTPClient serves an Env without an HTTP client (tests, tools).
var defaultHTTPClient = sync.OnceValue(func() *httpx.Client {
	return httpx.New(httpx.Options{RetryWaitMin: -1})
})

// errAbsoluteTimeout is the cause of the context of a submit that ran into
// request_absolute_timeout_msecs.
var errAbsoluteTimeout = errors.New("absolute request timeout expired")

// httpExchange is one submit: the request's state as it is retried and
// redirected, and lib-http's statistics for the reason texts.
type httpExchange struct {
	req      *httpRequest
	set      *httpSettings
	method   string
	url      *dovecotURL
	payload  []byte
	hasBody  bool
	sync     bool
	date     string
	timeout  time.Duration
	attempts int // retries made (lib-http's req->attempts)
	// maxAttempts is max_attempts, or 2.4's per-method override.
	maxAttempts uint32

	queued    time.Time
	firstSent time.Time
	lastSent  time.Time
	sends     int
}

// send runs the request to its end and returns the response, a real one
// or an internal 9000+ one.
func (r *httpRequest) send() *httpResponse {
	env := r.client.env
	set := &r.client.set
	client := env.http()
	if client == nil {
		client = defaultHTTPClient()
	}
	// The call's time budget (luax.Host.Deadline) bounds the whole submit.
	parent, cancelBudget := env.blockingCtx()
	defer cancelBudget()
	ctx := parent
	if set.requestAbsoluteTimeoutMsecs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(parent,
			time.Duration(set.requestAbsoluteTimeoutMsecs)*time.Millisecond, errAbsoluteTimeout)
		defer cancel()
	}
	now := time.Now()
	x := &httpExchange{
		req:     r,
		set:     set,
		method:  r.method,
		url:     r.url,
		payload: r.payload,
		hasBody: r.hasPayload,
		sync:    r.payloadSync,
		date:    now.UTC().Format(http.TimeFormat),
		timeout: httpDefaultRequestTimeout,
		queued:  now,
	}
	if set.requestTimeoutMsecs > 0 {
		x.timeout = time.Duration(set.requestTimeoutMsecs) * time.Millisecond
	}
	x.maxAttempts = set.maxAttempts
	// Dovecot 2.4's per-method overrides (http_client_request_new).
	var methodAttempts uint32
	var methodTimeout time.Duration
	switch strings.ToUpper(r.method) {
	case "GET", "HEAD":
		methodAttempts, methodTimeout = set.readMaxAttempts, set.readTimeout
	case "PUT", "POST":
		methodAttempts, methodTimeout = set.writeMaxAttempts, set.writeTimeout
	case "DELETE":
		methodAttempts, methodTimeout = set.deleteMaxAttempts, set.deleteTimeout
	}
	if methodAttempts != 0 {
		x.maxAttempts = methodAttempts
	}
	if methodTimeout != 0 {
		x.timeout = methodTimeout
	}
	redirects := 0
	for {
		x.sends++
		x.lastSent = time.Now()
		if x.sends == 1 {
			x.firstSent = x.lastSent
		}
		resp, err := client.Do(ctx, x.httpxRequest())
		if err != nil {
			status, reason, temporary := x.failure(ctx, parent, err)
			if temporary && ctx.Err() == nil && !set.noAutoRetry && x.tryRetry() {
				redirects = 0
				continue
			}
			return &httpResponse{status: status, reason: reason}
		}
		location := resp.Header.Get("Location")
		switch {
		case resp.Status == http.StatusExpectationFailed && x.sync:
			x.sync = false
			if x.tryRetry() {
				redirects = 0
				continue
			}
		case !set.noAutoRedirect && resp.Status/100 == 3 && resp.Status != http.StatusNotModified && location != "":
			delay, result := x.delayFromResponse(resp)
			if result < 0 {
				break // Retry-After too far away: the 3xx is the answer
			}
			u, perr := parseDovecotURL(location, false)
			if perr != nil {
				return &httpResponse{status: HTTPStatusInvalidRedirect, reason: "Invalid redirect location: " + perr.Error()}
			}
			redirects++
			if redirects > int(set.maxRedirects) {
				reason := "Redirect refused"
				if set.maxRedirects > 0 {
					reason = fmt.Sprintf("Redirected more than %d times", set.maxRedirects)
				}
				return &httpResponse{status: HTTPStatusInvalidRedirect, reason: reason}
			}
			x.url = u
			if resp.Status == http.StatusSeeOther && !strings.EqualFold(x.method, "HEAD") && !strings.EqualFold(x.method, "GET") {
				x.method = "GET"
				x.payload, x.hasBody, x.sync = nil, false, false
			}
			if !sleepCtx(ctx, delay) {
				return x.canceled(ctx, parent)
			}
			continue
		case resp.Status == http.StatusServiceUnavailable:
			if delay, result := x.delayFromResponse(resp); result > 0 && x.tryRetry() {
				redirects = 0
				if !sleepCtx(ctx, delay) {
					return x.canceled(ctx, parent)
				}
				continue
			}
		case resp.Status == http.StatusRequestTimeout:
			if x.tryRetry() {
				redirects = 0
				continue
			}
		}
		if len(resp.Body) > 0 && env.debug() {
			env.logger().Log(env.ctx(), slog.LevelDebug, env.LogPrefix+"DEBUG: REQUEST: Finished")
		}
		return &httpResponse{status: resp.Status, reason: resp.Reason, payload: resp.Body, header: resp.Header}
	}
}

// tryRetry is http_client_request_try_retry: one more attempt while
// max_attempts allows it.
func (x *httpExchange) tryRetry() bool {
	if x.attempts+1 >= int(x.maxAttempts) {
		return false
	}
	x.attempts++
	return true
}

// delayFromResponse is http_client_request_delay_from_response: result 0
// without a (valid) Retry-After or when its time has passed, -1 when it is
// further away than max_auto_retry_delay_secs (default: the attempt
// timeout), else 1 with the wait. Retry-After is delay-seconds or an
// HTTP-date, compared in whole seconds as lib-http does.
func (x *httpExchange) delayFromResponse(resp *httpx.Response) (time.Duration, int) {
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, 0
	}
	now := time.Now().Truncate(time.Second)
	var at time.Time
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		at = now.Add(time.Duration(n) * time.Second)
	} else if t, err := http.ParseTime(v); err == nil {
		at = t
	} else {
		return 0, 0
	}
	if at.Before(now) {
		return 0, 0
	}
	maxDelay := time.Duration(x.set.maxAutoRetryDelaySecs) * time.Second
	if x.set.maxAutoRetryDelaySecs == 0 {
		maxDelay = x.timeout.Truncate(time.Second)
	}
	delay := at.Sub(now)
	if delay > maxDelay {
		return 0, -1
	}
	return delay, 1
}

// sleepCtx waits d unless ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// canceled is the response of an exchange whose context ended while it
// waited between attempts.
func (x *httpExchange) canceled(ctx, parent context.Context) *httpResponse {
	status, reason, _ := x.failure(ctx, parent, ctx.Err())
	return &httpResponse{status: status, reason: reason}
}

// httpxRequest builds the next attempt: the implicit headers in lib-http's
// order (http_client_request_send_real), then the script's.
func (x *httpExchange) httpxRequest() *httpx.Request {
	r := x.req
	u := x.url
	proxy := x.set.proxy
	h := make([][2]string, 0, 7+len(r.headers))
	if !r.have["host"] {
		h = append(h, [2]string{"Host", u.authority()})
	}
	if !r.have["date"] {
		h = append(h, [2]string{"Date", x.date})
	}
	if !r.have["authorization"] && r.hasAuth {
		h = append(h, [2]string{"Authorization", "Basic " +
			base64.StdEncoding.EncodeToString([]byte(r.user+":"+r.password))})
	}
	if !r.have["user-agent"] && x.set.userAgent != "" {
		h = append(h, [2]string{"User-Agent", x.set.userAgent})
	}
	if !r.have["expect"] && x.sync {
		h = append(h, [2]string{"Expect", "100-continue"})
	}
	if x.hasBody || strings.EqualFold(x.method, "POST") || strings.EqualFold(x.method, "PUT") {
		if !r.have["body"] {
			h = append(h, [2]string{"Content-Length", strconv.Itoa(len(x.payload))})
		}
	}
	if !r.have["connection"] && proxy == nil {
		h = append(h, [2]string{"Connection", "Keep-Alive"})
	}
	h = append(h, r.headers...)

	req := &httpx.Request{
		Method:         x.method,
		URL:            u.scheme() + "://" + u.authority() + u.target(),
		Header:         h,
		Timeout:        x.timeout,
		ConnectTimeout: time.Duration(x.set.connectTimeoutMsecs) * time.Millisecond,
		MaxAttempts:    1,
		MaxRedirects:   0,
		TLS:            x.set.tls,
	}
	// Debug lines follow the client's debug setting, as lib-http's do in
	// Dovecot 2.3 (mail_debug alone does not reach the client's event), on
	// the call's logger (the transaction's user and id).
	if x.set.debug {
		req.Logger = r.client.env.logger()
	}
	if x.hasBody && len(x.payload) > 0 {
		req.Body = x.payload
	}
	if proxy != nil {
		pu := &url.URL{Scheme: proxy.scheme(), Host: proxy.authority()}
		if proxy.user != nil && *proxy.user != "" && proxy.password != nil {
			pu.User = url.UserPassword(*proxy.user, *proxy.password)
		}
		req.Proxy = pu.String()
	}
	return req
}

// failure maps an error of httpx to lib-http's internal status and reason,
// and whether lib-http would retry it (a timeout or a lost connection).
func (x *httpExchange) failure(ctx, parent context.Context, err error) (status int, reason string, temporary bool) {
	now := time.Now()
	switch {
	case parent.Err() != nil && errors.Is(context.Cause(parent), errCallBudget):
		// The handler's time budget is lib-http's absolute timeout here:
		// it bounds the whole request, whatever stage it is in.
		return HTTPStatusTimedOut, "Absolute request timeout expired (Request " + x.stats(now) + ")", false
	case parent.Err() != nil && errors.Is(parent.Err(), context.Canceled):
		return HTTPStatusAborted, "Aborted", false
	case ctx.Err() != nil && parent.Err() == nil && errors.Is(context.Cause(ctx), errAbsoluteTimeout):
		return HTTPStatusTimedOut, "Absolute request timeout expired (Request " + x.stats(now) + ")", false
	}
	var opErr *net.OpError
	dial := errors.As(err, &opErr) && opErr.Op == "dial"
	switch {
	case errors.Is(err, httpx.ErrHostNotFound):
		var dnsErr *net.DNSError
		msg := "Name or service not known"
		if errors.As(err, &dnsErr) && !dnsErr.IsNotFound {
			msg = capitalize(dnsErr.Err)
		}
		return HTTPStatusHostLookupFailed, fmt.Sprintf("Failed to lookup host %s: %s", x.url.hostName(), msg), false
	case errors.Is(err, httpx.ErrConnectRefused):
		return HTTPStatusConnectFailed, fmt.Sprintf("connect(%s) failed: Connection refused", x.peerName(opErr)), false
	case errors.Is(err, httpx.ErrTimeout) && dial:
		return HTTPStatusConnectFailed, fmt.Sprintf("connect(%s) failed: Connection timed out in %s secs",
			x.peerName(opErr), secs(now.Sub(x.lastSent))), false
	case errors.Is(err, httpx.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		return HTTPStatusTimedOut, "Request timed out (" + x.timing(now) + ")", true
	case errors.Is(err, httpx.ErrConnectFailed):
		if dial {
			return HTTPStatusConnectFailed, fmt.Sprintf("connect(%s) failed: %s", x.peerName(opErr), strerror(opErr.Err)), false
		}
		return HTTPStatusConnectFailed, fmt.Sprintf("SSL handshake to %s failed: %s", x.peerName(opErr), innerError(err)), false
	case errors.Is(err, httpx.ErrConnectionLost):
		var lost string
		switch {
		case errors.Is(err, syscall.EPIPE):
			lost = "Connection lost: Remote disconnected"
		case errors.Is(err, syscall.ECONNRESET):
			lost = fmt.Sprintf("Connection lost: read(%s) failed: Connection reset by peer", x.peerName(opErr))
		default:
			lost = fmt.Sprintf("Connection lost: read(%s) failed: EOF", x.peerName(opErr))
		}
		return HTTPStatusConnectionLost, lost + " (" + x.timing(now) + ")", true
	case errors.Is(err, httpx.ErrBadResponse):
		return HTTPStatusBadResponse, "Invalid HTTP response: " + innerError(err), false
	case errors.Is(err, httpx.ErrBodyTooLarge):
		return HTTPStatusBrokenPayload, "Response payload read error: " + innerError(err), false
	case errors.Is(err, httpx.ErrCanceled), errors.Is(err, context.Canceled):
		return HTTPStatusAborted, "Aborted", false
	}
	return HTTPStatusAborted, "Aborted: " + innerError(err), false
}

// stats is http_client_request_append_stats_text.
func (x *httpExchange) stats(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "queued %s secs ago", secs(now.Sub(x.queued)))
	if x.attempts > 0 {
		fmt.Fprintf(&b, ", %d times retried", x.attempts)
	}
	if x.sends == 0 {
		b.WriteString(", not yet sent")
	} else {
		fmt.Fprintf(&b, ", %d send attempts in %s secs", x.sends, secs(now.Sub(x.firstSent)))
		if x.sends > 1 {
			fmt.Fprintf(&b, ", %s in last attempt", secs(now.Sub(x.lastSent)))
		}
	}
	if d := now.Sub(x.lastSent); d >= time.Millisecond {
		fmt.Fprintf(&b, ", %s in http ioloop", secs(d))
	}
	b.WriteString(", 0.000 in other ioloops")
	return b.String()
}

// timing is http_client_connection_get_timing_info, for the reasons of
// timeouts and lost connections.
func (x *httpExchange) timing(now time.Time) string {
	return "Request " + x.stats(now) + ", connected " + secs(now.Sub(x.lastSent)) + " secs ago"
}

// peerName is the name lib-http gives a connection: the peer's ip:port.
func (x *httpExchange) peerName(opErr *net.OpError) string {
	if opErr != nil && opErr.Addr != nil {
		if a, err := netip.ParseAddrPort(opErr.Addr.String()); err == nil {
			return a.String()
		}
	}
	host := x.url.hostName()
	if x.set.proxy != nil {
		host = x.set.proxy.hostName()
		return net.JoinHostPort(host, strconv.Itoa(x.set.proxy.portOrDefault()))
	}
	return net.JoinHostPort(host, strconv.Itoa(x.url.portOrDefault()))
}

// secs formats d as lib-http does: %u.%03u seconds.
func secs(d time.Duration) string {
	ms := max(d.Milliseconds(), 0)
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

// strerror returns the text glibc's strerror gives an errno Go reports
// (Go's texts are glibc's with a lowercase first letter).
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return capitalize(errno.Error())
	}
	if err == nil {
		return "Unknown error"
	}
	return err.Error()
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// innerError is the text of the error under an *httpx.Error.
func innerError(err error) string {
	var he *httpx.Error
	if errors.As(err, &he) && he.Err != nil {
		return he.Err.Error()
	}
	return err.Error()
}

// A port of Dovecot 2.3's http_url_parse (lib-http/http-url.c over
// lib/uri-util.c) without a base URL: the URLs it accepts and its error
// texts are Dovecot's.

// uriChar is uri-util.c's _uri_char_lookup for 7-bit characters; the masks
// below select classes of it.
var uriChar = [128]byte{
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 00
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 10
	0, 2, 0, 4, 2, 0, 2, 2, 2, 2, 2, 2, 2, 1, 1, 36, // 20
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 28, 2, 0, 2, 0, 68, // 30
	12, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 40
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, 0, 4, 0, 1, // 50
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 60
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, // 70
}

const (
	uriUnreserved = 1 << 0
	uriSubDelims  = 1 << 1
	uriPchar      = 1<<0 | 1<<1 | 1<<3
	uriPfchar     = 1<<0 | 1<<1 | 1<<3 | 1<<5
	uriUchar      = 1<<0 | 1<<1 | 1<<4
	uriQchar      = 1<<0 | 1<<1 | 1<<3 | 1<<5 | 1<<6
)

// uriMaxSchemeNameLen is URI_MAX_SCHEME_NAME_LEN.
const uriMaxSchemeNameLen = 64

func uriIs(c, mask byte) bool { return c < 0x80 && uriChar[c]&mask != 0 }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// uriEncode is uri_data_encode: bytes outside mask as lowercase %xx.
func uriEncode(b *strings.Builder, s string, mask byte) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; uriIs(c, mask) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(b, "%%%02x", c)
		}
	}
}

// dovecotURL is what http_url_parse makes of an http or https URL.
type dovecotURL struct {
	https bool
	// host is Dovecot's host name: "[...]" for an IPv6 literal, the
	// dotted quad for IPv4, the decoded name otherwise.
	host string
	// port is 0 when the URL has none.
	port int
	// user and password are the decoded userinfo parts (nil: absent).
	user, password *string
	// path is the decoded path (nil: none); query is still encoded.
	path, query *string
}

func (u *dovecotURL) scheme() string {
	if u.https {
		return "https"
	}
	return "http"
}

// hostName is the host without the brackets of an IPv6 literal.
func (u *dovecotURL) hostName() string {
	return strings.TrimSuffix(strings.TrimPrefix(u.host, "["), "]")
}

func (u *dovecotURL) portOrDefault() int {
	switch {
	case u.port != 0:
		return u.port
	case u.https:
		return 443
	}
	return 80
}

// authority is http_url_create_authority: the Host header's value.
func (u *dovecotURL) authority() string {
	var b strings.Builder
	if strings.HasPrefix(u.host, "[") {
		b.WriteString(u.host)
	} else {
		uriEncode(&b, u.host, uriUnreserved|uriSubDelims)
	}
	if u.port != 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(u.port))
	}
	return b.String()
}

// target is http_url_create_target: the path re-encoded ("/" when empty)
// and the query.
func (u *dovecotURL) target() string {
	var b strings.Builder
	if u.path == nil || *u.path == "" {
		b.WriteByte('/')
	} else {
		uriEncode(&b, *u.path, uriPfchar)
	}
	if u.query != nil {
		b.WriteByte('?')
		b.WriteString(*u.query)
	}
	return b.String()
}

// dovecotURLError is the error of parseDovecotURL. Some failures of the
// host name parser set no error text; Dovecot prints that NULL as "(null)".
type dovecotURLError struct {
	msg   string
	unset bool
}

func (e *dovecotURLError) Error() string {
	if e.unset {
		return "(null)"
	}
	return e.msg
}

// parseDovecotURL is http_url_parse(s, NULL, flags): flags
// HTTP_URL_ALLOW_USERINFO_PART when allowUserinfo, no fragments, no
// relative URLs.
func parseDovecotURL(s string, allowUserinfo bool) (*dovecotURL, error) {
	p := &uriParser{s: s}
	u := &dovecotURL{}
	if !p.parseHTTPURL(u, allowUserinfo) {
		return nil, &dovecotURLError{msg: p.err, unset: !p.hasErr}
	}
	return u, nil
}

// uriParser is Dovecot's struct uri_parser over s.
type uriParser struct {
	s      string
	cur    int
	err    string
	hasErr bool
}

func (p *uriParser) fail(msg string) {
	p.err, p.hasErr = msg, true
}

// at is the byte at i, or the terminating NUL past the end.
func (p *uriParser) at(i int) byte {
	if i < len(p.s) {
		return p.s[i]
	}
	return 0
}

// pctDecode is uri_parse_pct_encoded_data at s[i]: ret 0 when s[i] is not
// '%', -1 with msg for a bad escape, 1 with the byte and the index after
// the escape.
func pctDecode(s string, i int) (ch byte, next, ret int, msg string) {
	at := func(k int) byte {
		if k < len(s) {
			return s[k]
		}
		return 0
	}
	if at(i) != '%' {
		return 0, i, 0, ""
	}
	i++
	if at(i) == 0 || at(i+1) == 0 {
		return 0, i, -1, "Unexpected URI boundary after '%'"
	}
	hi := hexValue(at(i))
	if hi < 0 {
		return 0, i, -1, "Expecting hex digit after '%', but found '" + string([]byte{at(i)}) + "'"
	}
	i++
	lo := hexValue(at(i))
	if lo < 0 {
		return 0, i, -1, "Expecting hex digit after '%" + string([]byte{s[i-1]}) + "', but found '" + string([]byte{at(i)}) + "'"
	}
	i++
	ch = byte(hi<<4 | lo)
	if ch == 0 {
		return 0, i, -1, "Percent encoding is not allowed to encode NUL character"
	}
	return ch, i, 1, ""
}

func hexValue(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// decode is uri_data_decode of s[:until]; escapes are read past until, as
// Dovecot does.
func (p *uriParser) decode(s string, until int) (string, bool) {
	var b []byte
	for k := 0; k < until; {
		ch, next, ret, msg := pctDecode(s, k)
		switch {
		case ret < 0:
			p.fail(msg)
			return "", false
		case ret > 0:
			b = append(b, ch)
			k = next
		default:
			b = append(b, s[k])
			k++
		}
	}
	return string(b), true
}

// parseHTTPURL is http_url_do_parse.
func (p *uriParser) parseHTTPURL(u *dovecotURL, allowUserinfo bool) bool {
	s, n := p.s, len(p.s)
	relative, haveScheme, haveAuthority := true, false, false
	if scheme, ret := p.parseScheme(); ret > 0 {
		switch {
		case strings.EqualFold(scheme, "https"):
			u.https = true
		case strings.EqualFold(scheme, "http"):
		default:
			p.fail("Not an HTTP URL")
			return false
		}
		relative, haveScheme = false, true
	} else {
		p.cur = 0
	}
	if p.cur+1 < n && s[p.cur] == '/' && s[p.cur+1] == '/' {
		p.cur += 2
		relative, haveAuthority = false, true
	}
	if haveScheme && !haveAuthority {
		p.fail("Absolute HTTP URL requires `//' after `http:'")
		return false
	}
	if haveAuthority && !p.parseHTTPAuthority(u, allowUserinfo) {
		return false
	}
	if relative {
		p.fail("Relative HTTP URL not allowed")
		return false
	}

	segments, ret := p.parsePath()
	if ret < 0 {
		return false
	}
	if ret > 0 {
		var path strings.Builder
		for _, seg := range segments {
			part, ok := p.decode(seg, len(seg))
			if !ok {
				return false
			}
			path.WriteByte('/')
			path.WriteString(part)
		}
		ps := path.String()
		u.path = &ps
	}
	query, ret := p.parseQuery()
	if ret < 0 {
		return false
	}
	u.query = query
	if ret = p.parseFragment(); ret < 0 {
		return false
	} else if ret > 0 {
		p.fail("URL fragment not allowed for HTTP URL in this context")
		return false
	}
	return true
}

// parseScheme is uri_parse_scheme.
func (p *uriParser) parseScheme() (string, int) {
	s, n := p.s, len(p.s)
	first := p.cur
	if p.cur >= n || !isAlpha(s[p.cur]) {
		return "", 0
	}
	p.cur++
	for length := 1; length < uriMaxSchemeNameLen && p.cur < n; length++ {
		c := s[p.cur]
		if !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			break
		}
		p.cur++
	}
	if p.cur >= n || s[p.cur] != ':' {
		p.fail("Invalid URI scheme")
		return "", -1
	}
	scheme := s[first:p.cur]
	p.cur++
	return scheme, 1
}

// parseHTTPAuthority is http_url_parse_authority.
func (p *uriParser) parseHTTPAuthority(u *dovecotURL, allowUserinfo bool) bool {
	userinfo, host, port, ret := p.parseHostAuthority()
	if ret < 0 {
		return false
	}
	if host == "" {
		p.fail("HTTP URL does not allow empty host identifier")
		return false
	}
	if userinfo != nil {
		if !allowUserinfo {
			p.fail("HTTP URL does not allow `userinfo@' part")
			return false
		}
		ui := *userinfo
		colon := strings.IndexByte(ui, ':')
		if colon < 0 {
			colon = len(ui)
		}
		user, ok := p.decode(ui, colon)
		if !ok {
			return false
		}
		u.user = &user
		if colon < len(ui) {
			rest := ui[colon+1:]
			password, ok := p.decode(rest, len(rest))
			if !ok {
				return false
			}
			u.password = &password
		}
	}
	u.host, u.port = host, port
	return true
}

// parseHostAuthority is uri_parse_host_authority: [userinfo "@"] host
// [":" port].
func (p *uriParser) parseHostAuthority() (userinfo *string, host string, port, ret int) {
	s, n := p.s, len(p.s)
	q := p.cur
	for ; q < n; q++ {
		c := s[q]
		if c&0x80 != 0 || (c != '%' && !uriIs(c, uriUchar)) {
			break
		}
	}
	if q < n && s[q] == '@' {
		ui := s[p.cur:q]
		userinfo = &ui
		p.cur = q + 1
	}
	if host, ret = p.parseHost(); ret < 0 {
		return nil, "", 0, -1
	}
	if p.cur == n {
		return userinfo, host, 0, 1
	}
	switch s[p.cur] {
	case ':', '/', '?', '#':
	default:
		p.fail("Invalid host identifier")
		return nil, "", 0, -1
	}
	if s[p.cur] == ':' {
		p.cur++
		if port, ret = p.parsePort(); ret < 0 {
			return nil, "", 0, -1
		}
		if p.cur == n {
			return userinfo, host, port, 1
		}
		switch s[p.cur] {
		case '/', '?', '#':
		default:
			p.fail("Invalid host port")
			return nil, "", 0, -1
		}
	}
	return userinfo, host, port, 1
}

// parseHost is uri_do_parse_host with host_name: an IP literal, a dotted
// quad or a DNS host name.
func (p *uriParser) parseHost() (string, int) {
	s, n := p.s, len(p.s)
	if p.cur < n && s[p.cur] == '[' {
		q := p.cur + 1
		for q < n && s[q] != ']' {
			q++
		}
		if q >= n {
			p.fail("Expecting ']' at end of IP-literal")
			return "", -1
		}
		literal, address := s[p.cur:q+1], s[p.cur+1:q]
		p.cur = q + 1
		if address == "" {
			p.fail("Empty IPv6 host address")
			return "", -1
		}
		if address[0] == 'v' {
			p.fail(fmt.Sprintf("Future IP host address '%s' not supported", address))
			return "", -1
		}
		if ip, err := netip.ParseAddr(address); err != nil || !ip.Is6() || ip.Zone() != "" {
			p.fail(fmt.Sprintf("Invalid IPv6 host address '%s'", address))
			return "", -1
		}
		return literal, 1
	}
	preserve := p.cur
	if literal, ret := p.parseIPv4(); ret > 0 {
		return literal, ret
	}
	p.cur = preserve
	name, ret := p.parseHostName()
	if ret < 0 {
		return "", -1
	}
	return name, 0
}

// parseIPv4 is uri_parse_ipv4address.
func (p *uriParser) parseIPv4() (string, int) {
	s, n := p.s, len(p.s)
	start := p.cur
	if ret := p.parseDecOctet(); ret <= 0 {
		return "", ret
	}
	for i := 0; i < 3 && p.cur < n; i++ {
		if s[p.cur] != '.' {
			return "", -1
		}
		p.cur++
		if p.parseDecOctet() <= 0 {
			return "", -1
		}
	}
	return s[start:p.cur], 1
}

func (p *uriParser) parseDecOctet() int {
	s, n := p.s, len(p.s)
	octet, count := 0, 0
	for p.cur < n && isDigit(s[p.cur]) {
		octet = octet*10 + int(s[p.cur]-'0')
		if octet > 255 {
			return -1
		}
		p.cur++
		count++
	}
	if count > 0 {
		return 1
	}
	return 0
}

// parseHostName is uri_do_parse_host_name: dot-separated labels of
// letters, digits and inner '-', percent escapes decoded. Its quirks are
// kept (an escaped non-alphanumeric first character fails without an error
// text).
func (p *uriParser) parseHostName() (string, int) {
	s, n := p.s, len(p.s)
	var name []byte
	first, part := p.cur, p.cur
labels:
	for {
		offset := p.cur
		ch := p.at(p.cur)
		pch := ch
		if p.cur >= n {
			break
		}
		c, next, ret, msg := pctDecode(s, p.cur)
		switch {
		case ret < 0:
			p.fail(msg)
			return "", -1
		case ret > 0:
			p.cur, ch = next, c
			if !isAlnum(ch) {
				return "", -1
			}
			name = append(name, ch)
			part = p.cur
		default:
			if !isAlnum(s[p.cur]) {
				break labels
			}
			p.cur++
		}
		if p.cur < n {
			for {
				offset = p.cur
				c, next, ret, msg := pctDecode(s, p.cur)
				if ret < 0 {
					p.fail(msg)
					return "", -1
				}
				if ret > 0 {
					p.cur, ch = next, c
					if !isAlnum(ch) && ch != '-' {
						break
					}
					if offset > part {
						name = append(name, s[part:offset]...)
					}
					name = append(name, ch)
					part = p.cur
				} else {
					ch = s[p.cur]
					if !isAlnum(ch) && ch != '-' {
						break
					}
					p.cur++
				}
				pch = ch
				if p.cur >= n {
					break
				}
			}
			if !isAlnum(pch) {
				p.fail("Invalid domain label in hostname")
				return "", -1
			}
		}
		if p.cur > part {
			name = append(name, s[part:p.cur]...)
		}
		if p.cur >= n || ch != '.' {
			break
		}
		name = append(name, '.')
		if p.cur == offset {
			p.cur++
		}
		part = p.cur
	}
	if p.cur == first {
		return "", 0
	}
	if len(name) > 0 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	return string(name), 1
}

// parsePort is uri_parse_port.
func (p *uriParser) parsePort() (int, int) {
	s, n := p.s, len(p.s)
	first := p.cur
	for p.cur < n && isDigit(s[p.cur]) {
		p.cur++
	}
	if p.cur == first {
		return 0, 0
	}
	v, err := strconv.ParseUint(s[first:p.cur], 10, 64)
	if err != nil || v == 0 || v > 65535 {
		p.fail("Invalid port number")
		return 0, -1
	}
	return int(v), 1
}

// scanComponent moves over characters of mask and percent escapes.
func (p *uriParser) scanComponent(mask byte) bool {
	s, n := p.s, len(p.s)
	for p.cur < n {
		if s[p.cur] == '%' {
			_, next, ret, msg := pctDecode(s, p.cur)
			if ret < 0 {
				p.fail(msg)
				return false
			}
			p.cur = next
			continue
		}
		if !uriIs(s[p.cur], mask) {
			break
		}
		p.cur++
	}
	return true
}

// parsePathSegment is uri_parse_path_segment.
func (p *uriParser) parsePathSegment() (string, int) {
	first := p.cur
	if !p.scanComponent(uriPchar) {
		return "", -1
	}
	if c := p.at(p.cur); p.cur < len(p.s) && c != '/' && c != '?' && c != '#' {
		p.fail("Path component contains invalid character")
		return "", -1
	}
	if p.cur == first {
		return "", 0
	}
	return p.s[first:p.cur], 1
}

// parsePath is uri_parse_path: the segments with "." and ".." resolved.
func (p *uriParser) parsePath() ([]string, int) {
	s, n := p.s, len(p.s)
	begin := p.cur
	if p.cur < n && s[p.cur] == '/' {
		p.cur++
	}
	var segments []string
	seg, ret := p.parsePathSegment()
	if ret < 0 {
		return nil, -1
	}
	dropped := false
	for {
		dropped = false
		switch {
		case ret == 0:
			seg = ""
		case seg == "..":
			dropped = true
			if len(segments) > 0 {
				segments = segments[:len(segments)-1]
			}
		case seg == ".":
			dropped = true
		}
		if !dropped {
			segments = append(segments, seg)
		}
		if p.cur >= n || s[p.cur] != '/' {
			break
		}
		p.cur++
		if seg, ret = p.parsePathSegment(); ret < 0 {
			return nil, -1
		}
	}
	if p.cur == begin {
		return nil, 0
	}
	if dropped {
		segments = append(segments, "")
	}
	if p.cur < n && s[p.cur] != '?' && s[p.cur] != '#' {
		p.fail("Path component contains invalid character")
		return nil, -1
	}
	return segments, 1
}

// parseQuery is uri_parse_query.
func (p *uriParser) parseQuery() (*string, int) {
	if p.cur >= len(p.s) || p.s[p.cur] != '?' {
		return nil, 0
	}
	p.cur++
	first := p.cur
	if !p.scanComponent(uriQchar) {
		return nil, -1
	}
	if p.cur < len(p.s) && p.s[p.cur] != '#' {
		p.fail("Query component contains invalid character")
		return nil, -1
	}
	q := p.s[first:p.cur]
	return &q, 1
}

// parseFragment is uri_parse_fragment.
func (p *uriParser) parseFragment() int {
	if p.cur >= len(p.s) || p.s[p.cur] != '#' {
		return 0
	}
	p.cur++
	if !p.scanComponent(uriQchar) {
		return -1
	}
	if p.cur < len(p.s) {
		p.fail("Fragment component contains invalid character")
		return -1
	}
	return 1
}
