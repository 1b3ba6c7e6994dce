package bindings

// The settings table of dovecot.http.client: Dovecot 2.3's names as
// parse_client_settings reads them, and Dovecot 2.4's http_client_* and
// ssl client settings.

import (
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/dovecoturl"
	"github.com/pushlua/pushlua/internal/httpx"
	"github.com/pushlua/pushlua/internal/luax"
)

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

	proxy       *dovecoturl.URL
	eventParent *event

	// Dovecot 2.4's per-method overrides (read: GET and HEAD, write: PUT
	// and POST, delete: DELETE); zero means the client-wide value.
	readMaxAttempts, writeMaxAttempts, deleteMaxAttempts uint32
	readTimeout, writeTimeout, deleteTimeout             time.Duration
	// tls are the ssl_client_* settings of 2.4; nil: the shared client's
	// (system roots, verified).
	tls *httpx.TLS
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
		u, perr := dovecoturl.Parse(str, dovecoturl.AllowUserinfo)
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
			set.proxy.User = &p
		} else {
			set.proxy.Password = &p
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
		u, perr := dovecoturl.Parse(luax.CString(proxy), dovecoturl.AllowUserinfo)
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
