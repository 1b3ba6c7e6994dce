package bindings

// The `pushlua` module (require "pushlua"): the few things a driver script
// needs that Dovecot's Lua API does not give. pushlua's bundled drivers
// (scripts/dlog.lua, scripts/ox.lua) use it; user scripts may too.
//
//	pushlua.driver          the driver this script runs as: {name=, args={k=v}, raw_args=}
//	                        (raw_args is nil when the setting had no ':')
//	pushlua.json_string(s)  s as a JSON string literal, escaped the way
//	                        Dovecot 2.3's json_append_escaped does
//	pushlua.parse_time(s)   a Dovecot time interval ("5s", "1 min") in
//	                        seconds, or nil and Dovecot's error text
//	pushlua.redact_url(u)   u with the password of its userinfo (and token-like
//	                        query parameters) replaced by "xxxxx"
//	pushlua.version         pushlua's version string

import (
	"strings"
	"unicode/utf8"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/internal/redact"
)

// DriverInfo describes the push-notification driver a state runs as.
type DriverInfo struct {
	Name    string            // as typed in the configuration
	Args    map[string]string // parsed driver arguments
	RawArgs *string           // everything after the first ':', nil without one
}

// Version is reported as pushlua.version; cmd/pushlua sets it.
var Version = "(devel)"

var pushluaFuncs = []lua.RegistryFunction{
	{Name: "json_string", Function: pushluaJSONString},
	{Name: "parse_time", Function: pushluaParseTime},
	{Name: "redact_url", Function: pushluaRedactURL},
}

func openPushlua(l *lua.State, env *Env) {
	luax.Preload(l, "pushlua", func(l *lua.State) int {
		lua.NewLibrary(l, pushluaFuncs)
		l.NewTable()
		l.PushString(env.Driver.Name)
		l.SetField(-2, "name")
		l.NewTable()
		for k, v := range env.Driver.Args {
			l.PushString(v)
			l.SetField(-2, k)
		}
		l.SetField(-2, "args")
		if env.Driver.RawArgs != nil {
			l.PushString(*env.Driver.RawArgs)
			l.SetField(-2, "raw_args")
		}
		l.SetField(-2, "driver")
		l.PushString(Version)
		l.SetField(-2, "version")
		return 1
	})
}

func pushluaJSONString(l *lua.State) int {
	s := luaCheckString(l, 1, "json_string", false)
	l.PushString(JSONString23(s))
	return 1
}

// JSONString23 quotes s as Dovecot 2.3's json_append_escaped does: invalid
// UTF-8 bytes become U+FFFD one by one; \b \f \n \r \t " \ get their short
// escapes, other controls below 0x20 \u00xx in lower case; U+2028 and
// U+2029 are escaped; everything else, '/' and DEL included, is raw.
func JSONString23(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			b.WriteString("\uFFFD")
			i++
			continue
		}
		i += size
		switch {
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20:
			const hex = "0123456789abcdef"
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		case r == 0x2028:
			b.WriteString(`\u2028`)
		case r == 0x2029:
			b.WriteString(`\u2029`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func pushluaParseTime(l *lua.State) int {
	s := luaCheckString(l, 1, "parse_time", false)
	d, err := dconfig.ParseTime(s)
	if err != nil {
		l.PushNil()
		l.PushString(err.Error())
		return 2
	}
	l.PushNumber(d.Seconds())
	return 1
}

func pushluaRedactURL(l *lua.State) int {
	s := luaCheckString(l, 1, "redact_url", false)
	l.PushString(RedactURL(s))
	return 1
}

// RedactURL replaces the password of a URL's userinfo, and the values of
// token-like query parameters, with "xxxxx" (internal/redact), whether the
// URL parses or not; the rest of the string is kept as it is.
func RedactURL(s string) string {
	return redact.String(s)
}
