package redact

import (
	"io"
	"strings"
)

// Mask is what a credential is replaced with, as in pushlua.redact_url and
// Dovecot-shaped log lines: `login:xxxxx@`.
const Mask = "xxxxx"

// String returns s with the credentials described in the package comment
// replaced by Mask.
func String(s string) string {
	if strings.Contains(s, "://") {
		s = userinfo(s)
	}
	if strings.IndexByte(s, '=') >= 0 && strings.ContainsAny(s, "?&;") {
		s = params(s)
	}
	if indexAuth(s, 0) >= 0 {
		s = authHeaders(s)
	}
	return s
}

// endsAuthority reports whether c ends a URL's authority.
func endsAuthority(c byte) bool {
	return c == '/' || c == '?' || c == '#' || c <= ' ' || c == 0x7f
}

func isSpace(c byte) bool { return c <= ' ' || c == 0x7f }

// isPort reports whether s is empty or all digits.
func isPort(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// userinfo masks the password of every "scheme://user:password@" in s.
func userinfo(s string) string {
	var b strings.Builder
	last := 0      // s[last:] is not copied to b yet
	noAtUntil := 0 // no '@' before the next space up to here
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "://")
		if j < 0 {
			break
		}
		start := i + j + 3
		end := start
		for end < len(s) && !endsAuthority(s[end]) {
			end++
		}
		i = end
		if end == start {
			continue
		}
		auth := s[start:end]
		colon := strings.IndexByte(auth, ':')
		at := strings.LastIndexByte(auth, '@')
		if at < 0 {
			// No '@' in the authority: a password with an unencoded '/',
			// '?' or '#' ends it early. Look on to the next space when what
			// follows the ':' is no port.
			if colon < 0 || auth[0] == '[' || isPort(auth[colon+1:]) || end < noAtUntil {
				continue
			}
			k := end
			for k < len(s) && !isSpace(s[k]) && s[k] != '@' {
				k++
			}
			if k == len(s) || s[k] != '@' {
				noAtUntil = k
				continue
			}
			at = k - start
			i = k
		}
		if colon < 0 || colon > at {
			continue
		}
		pw := s[start+colon+1 : start+at]
		if pw == "" || pw == Mask {
			continue
		}
		b.WriteString(s[last : start+colon+1])
		b.WriteString(Mask)
		last = start + at
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// secretParams are the parameter names whose values params masks.
var secretParams = map[string]bool{
	"token": true, "access_token": true, "refresh_token": true, "id_token": true, "auth_token": true,
	"api_key": true, "apikey": true, "key": true,
	"password": true, "passwd": true, "pass": true, "pwd": true,
	"secret": true, "client_secret": true,
	"signature": true, "sig": true, "x-amz-signature": true, "x-amz-security-token": true,
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// endsParam reports whether c ends a parameter's value.
func endsParam(c byte) bool {
	switch c {
	case '&', ';', '#', '"', '\'', '<', '>', '\\':
		return true
	}
	return isSpace(c)
}

// params masks the values of credential-looking "?name=value" parameters.
func params(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '?' && c != '&' && c != ';' {
			continue
		}
		n := i + 1
		for n < len(s) && isNameByte(s[n]) {
			n++
		}
		if n == i+1 || n >= len(s) || s[n] != '=' || n-i-1 > len("x-amz-security-token") ||
			!secretParams[strings.ToLower(s[i+1:n])] {
			continue
		}
		v := n + 1
		e := v
		for e < len(s) && !endsParam(s[e]) {
			e++
		}
		if e == v || s[v:e] == Mask {
			i = e - 1
			continue
		}
		b.WriteString(s[last:v])
		b.WriteString(Mask)
		last = e
		i = e - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// authWord ends both Authorization and Proxy-Authorization.
const authWord = "authorization"

// indexAuth returns the index of authWord in s at or after from, compared
// without case, or -1. It looks for the word's 'z' (rare in text) with
// strings.IndexByte, which is fast, and compares the rest around it.
func indexAuth(s string, from int) int {
	const z = 7 // authWord[z] == 'z'
	best := -1
	for _, c := range []byte{'z', 'Z'} {
		for i := from + z; i < len(s); {
			j := strings.IndexByte(s[i:], c)
			if j < 0 {
				break
			}
			j += i
			if k := j - z; k+len(authWord) <= len(s) && strings.EqualFold(s[k:k+len(authWord)], authWord) {
				if best < 0 || k < best {
					best = k
				}
				break
			}
			i = j + 1
		}
	}
	return best
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// authSchemes are the HTTP authentication schemes authHeaders keeps in
// front of the masked credentials.
var authSchemes = map[string]bool{
	"basic": true, "bearer": true, "digest": true, "token": true, "negotiate": true, "ntlm": true,
	"hoba": true, "mutual": true, "dpop": true, "gnap": true, "vapid": true,
	"scram-sha-1": true, "scram-sha-256": true, "aws4-hmac-sha256": true,
}

// endsCredential reports whether c ends an unquoted header value.
func endsCredential(c byte) bool {
	switch c {
	case '"', '\'', ',', ']', '}', ')', '>':
		return true
	}
	return isSpace(c)
}

// authHeaders masks the credentials of "Authorization: scheme credentials".
func authHeaders(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; ; {
		k := indexAuth(s, i)
		if k < 0 {
			break
		}
		p := k + len(authWord)
		i = p
		// `Authorization: `, `"Authorization": "`, `["authorization"]="`,
		// `Authorization:[` (a Go http.Header).
		for p < len(s) && (s[p] == '"' || s[p] == '\'' || s[p] == ']' || s[p] == ' ' || s[p] == '\t') {
			p++
		}
		if p >= len(s) || s[p] != ':' && s[p] != '=' {
			continue
		}
		p++
		var closer byte
	opener:
		for ; p < len(s); p++ {
			switch s[p] {
			case '"', '\'':
				closer = s[p]
			case '[':
				closer = ']'
			case ' ', '\t':
			default:
				break opener
			}
		}
		// A known scheme followed by a space is kept.
		w := p
		for w < len(s) && (isLetter(s[w]) || s[w] == '-' || s[w] >= '0' && s[w] <= '9') {
			w++
		}
		if w < len(s) && s[w] == ' ' && authSchemes[strings.ToLower(s[p:w])] {
			p = w + 1
		}
		e := p
		for e < len(s) && (closer != 0 && s[e] != closer && s[e] >= ' ' || closer == 0 && !endsCredential(s[e])) {
			e++
		}
		i = e
		if e == p || s[p:e] == Mask {
			continue
		}
		b.WriteString(s[last:p])
		b.WriteString(Mask)
		last = e
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// Writer redacts what is written to W, one Write at a time: a credential
// split across two writes is not seen. Writers that write whole lines (fmt's
// Fprintln, log handlers) lose nothing.
type Writer struct {
	W io.Writer
}

// Write writes String(p) to W and reports len(p) on success.
func (w *Writer) Write(p []byte) (int, error) {
	s := string(p)
	r := String(s)
	if r == s {
		return w.W.Write(p)
	}
	if _, err := io.WriteString(w.W, r); err != nil {
		return 0, err
	}
	return len(p), nil
}
