package dovecoturl

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

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

// URL is what http_url_parse makes of an http or https URL.
type URL struct {
	HTTPS bool
	// Host is Dovecot's host name: "[...]" for an IPv6 literal, the
	// dotted quad for IPv4, the decoded name otherwise.
	Host string
	// Port is 0 when the URL has none.
	Port int
	// User and Password are the decoded userinfo parts (nil: absent).
	User, Password *string
	// Path is the decoded path (nil: none); Query is still encoded.
	Path, Query *string
}

// Scheme is "https" or "http".
func (u *URL) Scheme() string {
	if u.HTTPS {
		return "https"
	}
	return "http"
}

// HostName is the host without the brackets of an IPv6 literal.
func (u *URL) HostName() string {
	return strings.TrimSuffix(strings.TrimPrefix(u.Host, "["), "]")
}

// PortOrDefault is the port, or the scheme's default (80, 443).
func (u *URL) PortOrDefault() int {
	switch {
	case u.Port != 0:
		return u.Port
	case u.HTTPS:
		return 443
	}
	return 80
}

// Authority is http_url_create_authority: the Host header's value.
func (u *URL) Authority() string {
	var b strings.Builder
	if strings.HasPrefix(u.Host, "[") {
		b.WriteString(u.Host)
	} else {
		uriEncode(&b, u.Host, uriUnreserved|uriSubDelims)
	}
	if u.Port != 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(u.Port))
	}
	return b.String()
}

// Target is http_url_create_target: the path re-encoded ("/" when empty)
// and the query.
func (u *URL) Target() string {
	var b strings.Builder
	if u.Path == nil || *u.Path == "" {
		b.WriteByte('/')
	} else {
		uriEncode(&b, *u.Path, uriPfchar)
	}
	if u.Query != nil {
		b.WriteByte('?')
		b.WriteString(*u.Query)
	}
	return b.String()
}

// Flags are http_url_parse's flags.
type Flags uint

// AllowUserinfo is HTTP_URL_ALLOW_USERINFO_PART: a "user:password@" part
// is accepted (request and proxy URLs; redirect targets have none).
const AllowUserinfo Flags = 1 << 0

// Error is the error of Parse: Dovecot's text. Some failures of the host
// name parser set no text; Dovecot prints that NULL as "(null)", and so
// does Error.
type Error struct {
	// Msg is Dovecot's error text; "" with Unset.
	Msg string
	// Unset: Dovecot's parser failed without an error text.
	Unset bool
}

func (e *Error) Error() string {
	if e.Unset {
		return "(null)"
	}
	return e.Msg
}

// Parse is http_url_parse(s, NULL, flags): an absolute http or https URL
// without a fragment. The error is an *Error.
func Parse(s string, flags Flags) (*URL, error) {
	p := &uriParser{s: s}
	u := &URL{}
	if !p.parseHTTPURL(u, flags&AllowUserinfo != 0) {
		return nil, &Error{Msg: p.err, Unset: !p.hasErr}
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
func (p *uriParser) parseHTTPURL(u *URL, allowUserinfo bool) bool {
	s, n := p.s, len(p.s)
	relative, haveScheme, haveAuthority := true, false, false
	if scheme, ret := p.parseScheme(); ret > 0 {
		switch {
		case strings.EqualFold(scheme, "https"):
			u.HTTPS = true
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
		u.Path = &ps
	}
	query, ret := p.parseQuery()
	if ret < 0 {
		return false
	}
	u.Query = query
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
func (p *uriParser) parseHTTPAuthority(u *URL, allowUserinfo bool) bool {
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
		u.User = &user
		if colon < len(ui) {
			rest := ui[colon+1:]
			password, ok := p.decode(rest, len(rest))
			if !ok {
				return false
			}
			u.Password = &password
		}
	}
	u.Host, u.Port = host, port
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
