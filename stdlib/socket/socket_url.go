package socket

// socket.url: LuaSocket's URL functions (RFC 2396 naming), reimplemented in
// Go with the exact results of LuaSocket's Lua patterns.

import (
	"strconv"
	"strings"

	lua "github.com/Shopify/go-lua"
)

var socketURLFunctions = []lua.RegistryFunction{
	{Name: "absolute", Function: urlAbsoluteLua},
	{Name: "build", Function: urlBuildLua},
	{Name: "build_path", Function: urlBuildPathLua},
	{Name: "escape", Function: func(l *lua.State) int {
		l.PushString(urlEscape(lua.CheckString(l, 1)))
		return 1
	}},
	{Name: "parse", Function: urlParseLua},
	{Name: "parse_path", Function: urlParsePathLua},
	{Name: "unescape", Function: func(l *lua.State) int {
		l.PushString(urlUnescape(lua.CheckString(l, 1)))
		return 1
	}},
}

// openSocketURL is the opener of "socket.url"; it also sets socket.url.
func openSocketURL(l *lua.State) int {
	sockRequire(l, "socket")
	lua.NewLibrary(l, socketURLFunctions)
	l.PushString("URL 1.0.3")
	l.SetField(-2, "_VERSION")
	l.PushValue(-1)
	l.SetField(-3, "url")
	return 1
}

// urlFields are the components parse sets, in the order of the grammar.
var urlFields = []string{"scheme", "authority", "userinfo", "user", "password", "host", "port", "path", "params", "query", "fragment"}

func urlIsAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func urlIsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// urlEscape escapes every byte but [A-Za-z0-9_] as lower-case %xx.
func urlEscape(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if urlIsAlnum(c) || c == '_' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// urlUnescape decodes every %xx (either case); other bytes stay.
func urlUnescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && urlIsHex(s[i+1]) && urlIsHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// segmentSafe are the bytes besides [A-Za-z0-9_] that build_path leaves
// alone in a segment.
const segmentSafe = "-_.!~*'():@&=+$,"

// urlProtectSegment escapes a path segment as build_path does: upper-case %XX.
func urlProtectSegment(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if urlIsAlnum(c) || strings.IndexByte(segmentSafe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// urlParse splits a URL into its components; only the components present
// are in the map. ok is false for the empty URL.
func urlParse(s string) (parts map[string]string, ok bool) {
	if s == "" {
		return nil, false
	}
	p := map[string]string{}
	// scheme: ^([%w][%w%+%-%.]*):
	if len(s) > 0 && urlIsAlnum(s[0]) {
		i := 1
		for i < len(s) && (urlIsAlnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.') {
			i++
		}
		if i < len(s) && s[i] == ':' {
			p["scheme"] = s[:i]
			s = s[i+1:]
		}
	}
	// authority: ^//([^/?#]*)
	if strings.HasPrefix(s, "//") {
		end := strings.IndexAny(s[2:], "/?#")
		if end < 0 {
			end = len(s) - 2
		}
		p["authority"] = s[2 : 2+end]
		s = s[2+end:]
	}
	// fragment: #(.*)$
	if i := strings.IndexByte(s, '#'); i >= 0 {
		p["fragment"] = s[i+1:]
		s = s[:i]
	}
	// query: ?(.*)
	if i := strings.IndexByte(s, '?'); i >= 0 {
		p["query"] = s[i+1:]
		s = s[:i]
	}
	// params: ;(.*)
	if i := strings.IndexByte(s, ';'); i >= 0 {
		p["params"] = s[i+1:]
		s = s[:i]
	}
	if s != "" {
		p["path"] = s
	}
	authority, ok := p["authority"]
	if !ok {
		return p, true
	}
	// userinfo: ^([^@]*)@
	if i := strings.IndexByte(authority, '@'); i >= 0 {
		p["userinfo"] = authority[:i]
		authority = authority[i+1:]
	}
	// port: :([^:%]]*)$
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && strings.IndexByte(authority[i:], ']') < 0 {
		p["port"] = authority[i+1:]
		authority = authority[:i]
	}
	if authority != "" {
		// IPv6: ^%[(.+)%]$
		if len(authority) >= 3 && authority[0] == '[' && authority[len(authority)-1] == ']' {
			p["host"] = authority[1 : len(authority)-1]
		} else {
			p["host"] = authority
		}
	}
	userinfo, ok := p["userinfo"]
	if !ok {
		return p, true
	}
	// password: :([^:]*)$
	if i := strings.LastIndexByte(userinfo, ':'); i >= 0 {
		p["password"] = userinfo[i+1:]
		userinfo = userinfo[:i]
	}
	p["user"] = userinfo
	return p, true
}

// urlBuild builds a URL from components; get returns a component and
// whether it is present.
func urlBuild(get func(name string) (string, bool)) string {
	u, _ := get("path")
	if v, ok := get("params"); ok {
		u += ";" + v
	}
	if v, ok := get("query"); ok {
		u += "?" + v
	}
	authority, hasAuthority := get("authority")
	if host, ok := get("host"); ok {
		authority, hasAuthority = host, true
		if strings.Contains(authority, ":") { // IPv6
			authority = "[" + authority + "]"
		}
		if port, ok := get("port"); ok {
			authority += ":" + port
		}
		userinfo, hasUserinfo := get("userinfo")
		if user, ok := get("user"); ok {
			userinfo, hasUserinfo = user, true
			if pw, ok := get("password"); ok {
				userinfo += ":" + pw
			}
		}
		if hasUserinfo {
			authority = userinfo + "@" + authority
		}
	}
	if hasAuthority {
		u = "//" + authority + u
	}
	if scheme, ok := get("scheme"); ok {
		u = scheme + ":" + u
	}
	if fragment, ok := get("fragment"); ok {
		u += "#" + fragment
	}
	return u
}

func urlMapGetter(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// urlRemoveDots removes "." and ".." segments the way LuaSocket does
// (including its quirks): "//" is protected by a marker byte first.
func urlRemoveDots(p string) string {
	const marker = "\x01"
	for {
		i := strings.Index(p, "//")
		if i < 0 {
			break
		}
		p = p[:i] + "/" + marker + "/" + p[i+2:]
	}
	for {
		i := strings.Index(p, "/./")
		if i < 0 {
			break
		}
		p = p[:i] + "/" + p[i+3:]
	}
	// [^/]+/%.%./([^/]+) → %1, one at a time, leftmost first.
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(p); {
			if p[i] == '/' {
				i++
				continue
			}
			j := i
			for j < len(p) && p[j] != '/' {
				j++
			}
			if strings.HasPrefix(p[j:], "/../") {
				k := j + 4
				m := k
				for m < len(p) && p[m] != '/' {
					m++
				}
				if m > k {
					p = p[:i] + p[k:]
					changed = true
					break
				}
			}
			i = j
		}
	}
	// [^/]+/%.%./*$ → ""
	for i := 0; i < len(p); {
		if p[i] == '/' {
			i++
			continue
		}
		j := i
		for j < len(p) && p[j] != '/' {
			j++
		}
		if rest := p[j:]; strings.HasPrefix(rest, "/..") && strings.Trim(rest[3:], "/") == "" {
			p = p[:i]
			break
		}
		i = j
	}
	if strings.HasSuffix(p, "/..") {
		p = p[:len(p)-3] + "/"
	}
	if strings.HasSuffix(p, "/.") {
		p = p[:len(p)-2] + "/"
	}
	if strings.HasPrefix(p, "/../") {
		p = "/" + p[4:]
	}
	return strings.ReplaceAll(p, marker, "")
}

// urlAbsolutePath resolves a relative path against a base path.
func urlAbsolutePath(base, rel string) string {
	if strings.HasPrefix(rel, "/") {
		return urlRemoveDots(rel)
	}
	base = base[:strings.LastIndexByte(base, '/')+1]
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return urlRemoveDots(base + rel)
}

// urlAbsolute resolves rel against a base given as parts (baseOK false: no
// base) and its string form.
func urlAbsolute(baseParts map[string]string, baseOK bool, baseURL, rel string) string {
	relParts, relOK := urlParse(rel)
	var result string
	switch {
	case !baseOK:
		result = rel
	case !relOK:
		result = baseURL
	case urlHasKey(relParts, "scheme"):
		result = rel
	default:
		copyPart := func(name string) {
			if v, ok := baseParts[name]; ok {
				relParts[name] = v
			} else {
				delete(relParts, name)
			}
		}
		copyPart("scheme")
		if !urlHasKey(relParts, "authority") {
			copyPart("authority")
			if !urlHasKey(relParts, "path") {
				copyPart("path")
				if !urlHasKey(relParts, "params") {
					copyPart("params")
					if !urlHasKey(relParts, "query") {
						copyPart("query")
					}
				}
			} else {
				relParts["path"] = urlAbsolutePath(baseParts["path"], relParts["path"])
			}
		}
		result = urlBuild(urlMapGetter(relParts))
	}
	return urlRemoveDots(result)
}

func urlHasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// urlTableGetter reads components from the table at index: nil and false are
// absent, strings and numbers are used as strings, anything else raises
// the error Lua's concatenation would.
func urlTableGetter(l *lua.State, index int) func(string) (string, bool) {
	index = l.AbsIndex(index)
	return func(name string) (string, bool) {
		l.Field(index, name)
		defer l.Pop(1)
		switch l.TypeOf(-1) {
		case lua.TypeNil:
			return "", false
		case lua.TypeBoolean:
			if !l.ToBoolean(-1) {
				return "", false
			}
		case lua.TypeString, lua.TypeNumber:
			s, _ := l.ToString(-1)
			return s, true
		}
		lua.Errorf(l, "attempt to concatenate a %s value (field '%s')", lua.TypeNameOf(l, -1), name)
		return "", false
	}
}

// urlTableParts reads the URL components of the table at index.
func urlTableParts(l *lua.State, index int) map[string]string {
	get := urlTableGetter(l, index)
	m := map[string]string{}
	for _, f := range urlFields {
		if v, ok := get(f); ok {
			m[f] = v
		}
	}
	return m
}

// pushURLParts pushes a table with the parts set over a copy of the table
// at defaults (0: none).
func pushURLParts(l *lua.State, parts map[string]string, defaults int) {
	l.NewTable()
	if defaults != 0 {
		for l.PushNil(); l.Next(defaults); {
			l.PushValue(-2)
			l.Insert(-2)
			l.SetTable(-4)
		}
	}
	for _, f := range urlFields {
		if v, ok := parts[f]; ok {
			l.PushString(v)
			l.SetField(-2, f)
		}
	}
}

// optString returns the string at index, or ok=false for nil/none; numbers
// count as strings; other values raise an argument error.
func urlOptString(l *lua.State, index int) (string, bool) {
	if l.IsNoneOrNil(index) {
		return "", false
	}
	return lua.CheckString(l, index), true
}

// parse(url [, default]) → table | nil, "invalid url"
func urlParseLua(l *lua.State) int {
	s, _ := urlOptString(l, 1)
	defaults := 0
	if l.IsTable(2) {
		defaults = 2
	}
	parts, ok := urlParse(s)
	if !ok {
		l.PushNil()
		l.PushString("invalid url")
		return 2
	}
	pushURLParts(l, parts, defaults)
	return 1
}

// build(parsed) → string
func urlBuildLua(l *lua.State) int {
	lua.CheckType(l, 1, lua.TypeTable)
	l.PushString(urlBuild(urlTableGetter(l, 1)))
	return 1
}

// absolute(base_url, relative_url) → string; base_url may be a parsed table.
func urlAbsoluteLua(l *lua.State) int {
	var baseParts map[string]string
	var baseURL string
	baseOK := false
	if l.IsTable(1) {
		baseParts, baseOK = urlTableParts(l, 1), true
		baseURL = urlBuild(urlTableGetter(l, 1))
	} else if s, ok := urlOptString(l, 1); ok {
		baseURL = s
		baseParts, baseOK = urlParse(s)
	}
	rel := lua.CheckString(l, 2)
	l.PushString(urlAbsolute(baseParts, baseOK, baseURL, rel))
	return 1
}

// parse_path(path) → segments table with is_absolute / is_directory.
func urlParsePathLua(l *lua.State) int {
	path, _ := urlOptString(l, 1)
	l.NewTable()
	n := 0
	for _, seg := range strings.Split(path, "/") {
		if seg == "" {
			continue
		}
		n++
		l.PushString(urlUnescape(seg))
		l.RawSetInt(-2, n)
	}
	if strings.HasPrefix(path, "/") {
		l.PushInteger(1)
		l.SetField(-2, "is_absolute")
	}
	if strings.HasSuffix(path, "/") {
		l.PushInteger(1)
		l.SetField(-2, "is_directory")
	}
	return 1
}

// build_path(segments [, unsafe]) → string
func urlBuildPathLua(l *lua.State) int {
	lua.CheckType(l, 1, lua.TypeTable)
	unsafe := l.ToBoolean(2)
	n := lua.LengthEx(l, 1)
	var b strings.Builder
	for i := 1; i <= n; i++ {
		l.RawGetInt(1, i)
		var seg string
		switch l.TypeOf(-1) {
		case lua.TypeString, lua.TypeNumber:
			seg, _ = l.ToString(-1)
		default:
			if unsafe {
				lua.Errorf(l, "attempt to concatenate a %s value (field '?')", lua.TypeNameOf(l, -1))
			}
			lua.Errorf(l, "bad argument #1 to 'gsub' (string expected, got %s)", lua.TypeNameOf(l, -1))
		}
		l.Pop(1)
		if !unsafe {
			seg = urlProtectSegment(seg)
		}
		b.WriteString(seg)
		if i < n {
			b.WriteByte('/')
		} else if sockTruthy(l, 1, "is_directory") {
			b.WriteByte('/')
		}
	}
	path := b.String()
	if sockTruthy(l, 1, "is_absolute") {
		path = "/" + path
	}
	l.PushString(path)
	return 1
}

// sockTruthy reports whether the field of the table at index is truthy.
func sockTruthy(l *lua.State, index int, name string) bool {
	l.Field(index, name)
	defer l.Pop(1)
	return l.ToBoolean(-1)
}
