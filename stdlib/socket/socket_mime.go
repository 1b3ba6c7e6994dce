package socket

// mime: the parts of LuaSocket's mime module that are cheap to have —
// base64 (b64, unb64), line wrapping (wrp), end-of-line normalisation (eol)
// and SMTP dot-stuffing (dot), plus the ltn12 filter factories of mime.lua.
// Quoted-printable (qp, unqp, qpwrp) is not provided.

import (
	"strings"

	lua "github.com/Shopify/go-lua"
)

const mimeB64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

var mimeCoreFunctions = []lua.RegistryFunction{
	{Name: "b64", Function: mimeB64},
	{Name: "dot", Function: mimeDot},
	{Name: "eol", Function: mimeEOL},
	{Name: "unb64", Function: mimeUnB64},
	{Name: "wrp", Function: mimeWrp},
}

// openMimeCore is the opener of "mime.core".
func openMimeCore(l *lua.State) int {
	lua.NewLibrary(l, mimeCoreFunctions)
	l.PushString("MIME 1.0.3")
	l.SetField(-2, "_VERSION")
	return 1
}

// mimeLua completes mime.core as LuaSocket's mime.lua does.
const mimeLua = `
local mime = ...
local ltn12 = require("ltn12")
local encodet, decodet, wrapt = {}, {}, {}
mime.encodet, mime.decodet, mime.wrapt = encodet, decodet, wrapt

local choose = ` + chooseLua + `

encodet["base64"] = function()
  return ltn12.filter.cycle(mime.b64, "")
end
encodet["quoted-printable"] = function(mode)
  return ltn12.filter.cycle(mime.qp, "", (mode == "binary") and "=0D=0A" or "\r\n")
end
decodet["base64"] = function()
  return ltn12.filter.cycle(mime.unb64, "")
end
decodet["quoted-printable"] = function()
  return ltn12.filter.cycle(mime.unqp, "")
end
wrapt["text"] = function(length)
  length = length or 76
  return ltn12.filter.cycle(mime.wrp, length, length)
end
wrapt["base64"] = wrapt["text"]
wrapt["default"] = wrapt["text"]
wrapt["quoted-printable"] = function()
  return ltn12.filter.cycle(mime.qpwrp, 76, 76)
end

mime.encode = choose(encodet)
mime.decode = choose(decodet)
mime.wrap = choose(wrapt)

function mime.normalize(marker)
  return ltn12.filter.cycle(mime.eol, 0, marker)
end

function mime.stuff()
  return ltn12.filter.cycle(mime.dot, 2)
end

return mime
`

// openMime is the opener of "mime".
func openMime(l *lua.State) int {
	sockRequire(l, "mime.core")
	sockRunChunk(l, mimeLua, "mime.lua", 1)
	return 1
}

// mimeOptString returns the string (or number) argument at index, ok=false
// for nil or none.
func mimeOptString(l *lua.State, index int) (string, bool) {
	if l.IsNoneOrNil(index) {
		return "", false
	}
	return lua.CheckString(l, index), true
}

// mimeFilterArgs reads the arguments (C [, D]) of a filter step: ok is
// false when C is nil (the end of the input), hasD when D is given.
func mimeFilterArgs(l *lua.State) (c, d string, ok, hasD bool) {
	if c, ok = mimeOptString(l, 1); ok {
		d, hasD = mimeOptString(l, 2)
	}
	return c, d, ok, hasD
}

// mimePushNonEmpty pushes s, or nil when s is empty.
func mimePushNonEmpty(l *lua.State, s string) {
	if s == "" {
		l.PushNil()
	} else {
		l.PushString(s)
	}
}

// mimeB64Encode encodes the complete 3-byte groups of s and returns the rest.
func mimeB64Encode(b *strings.Builder, s string) string {
	n := len(s) - len(s)%3
	for i := 0; i < n; i += 3 {
		v := uint(s[i])<<16 | uint(s[i+1])<<8 | uint(s[i+2])
		b.WriteByte(mimeB64Alphabet[v>>18&63])
		b.WriteByte(mimeB64Alphabet[v>>12&63])
		b.WriteByte(mimeB64Alphabet[v>>6&63])
		b.WriteByte(mimeB64Alphabet[v&63])
	}
	return s[n:]
}

// A, B = b64(C [, D]): A encodes the longest prefix of C..D whose length is
// a multiple of 3 and B is the rest; without D the rest is padded.
func mimeB64(l *lua.State) int {
	c, d, ok, hasD := mimeFilterArgs(l)
	if !ok {
		l.PushNil()
		l.PushNil()
		return 2
	}
	var b strings.Builder
	rest := mimeB64Encode(&b, c+d)
	if hasD {
		l.PushString(b.String())
		l.PushString(rest)
		return 2
	}
	switch len(rest) {
	case 1:
		v := uint(rest[0]) << 4
		b.WriteByte(mimeB64Alphabet[v>>6&63])
		b.WriteByte(mimeB64Alphabet[v&63])
		b.WriteString("==")
	case 2:
		v := (uint(rest[0])<<8 | uint(rest[1])) << 2
		b.WriteByte(mimeB64Alphabet[v>>12&63])
		b.WriteByte(mimeB64Alphabet[v>>6&63])
		b.WriteByte(mimeB64Alphabet[v&63])
		b.WriteByte('=')
	}
	mimePushNonEmpty(l, b.String())
	l.PushNil()
	return 2
}

// mimeB64Value is the value of a base64 character ('=' counts as 0), -1 for the
// characters unb64 ignores.
func mimeB64Value(c byte) int {
	if c == '=' {
		return 0
	}
	if i := strings.IndexByte(mimeB64Alphabet, c); i >= 0 {
		return i
	}
	return -1
}

// A, B = unb64(C [, D]): A decodes the complete 4-character groups of C..D
// (other characters ignored), B holds the characters of the incomplete
// group; without D they are dropped.
func mimeUnB64(l *lua.State) int {
	c, d, ok, hasD := mimeFilterArgs(l)
	if !ok {
		l.PushNil()
		l.PushNil()
		return 2
	}
	var out strings.Builder
	atom := make([]byte, 0, 4)
	for _, s := range []string{c, d} {
		for i := 0; i < len(s); i++ {
			if mimeB64Value(s[i]) < 0 {
				continue
			}
			atom = append(atom, s[i])
			if len(atom) < 4 {
				continue
			}
			v := mimeB64Value(atom[0])<<18 | mimeB64Value(atom[1])<<12 | mimeB64Value(atom[2])<<6 | mimeB64Value(atom[3])
			dec := []byte{byte(v >> 16), byte(v >> 8), byte(v)}
			valid := 3
			if atom[2] == '=' {
				valid = 1
			} else if atom[3] == '=' {
				valid = 2
			}
			out.Write(dec[:valid])
			atom = atom[:0]
		}
	}
	if hasD {
		l.PushString(out.String())
		l.PushString(string(atom))
		return 2
	}
	mimePushNonEmpty(l, out.String())
	l.PushNil()
	return 2
}

// A, n = wrp(left, B [, length]): breaks lines longer than length (76).
func mimeWrp(l *lua.State) int {
	left := int(lua.CheckNumber(l, 1))
	in, ok := mimeOptString(l, 2)
	length := int(lua.OptNumber(l, 3, 76))
	if !ok {
		if left < length {
			l.PushString("\r\n")
		} else {
			l.PushNil()
		}
		l.PushInteger(length)
		return 2
	}
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		switch c := in[i]; c {
		case '\r':
		case '\n':
			b.WriteString("\r\n")
			left = length
		default:
			if left <= 0 {
				left = length
				b.WriteString("\r\n")
			}
			b.WriteByte(c)
			left--
		}
	}
	l.PushString(b.String())
	l.PushInteger(left)
	return 2
}

// A, n = eol(ctx, B [, marker]): normalises CR, LF, CRLF and LFCR to marker
// (CRLF); ctx carries a pending line-break character between calls.
func mimeEOL(l *lua.State) int {
	ctx := lua.CheckInteger(l, 1)
	in, ok := mimeOptString(l, 2)
	marker := lua.OptString(l, 3, "\r\n")
	if !ok {
		l.PushNil()
		l.PushInteger(0)
		return 2
	}
	isEOL := func(c int) bool { return c == '\r' || c == '\n' }
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := int(in[i])
		switch {
		case !isEOL(c):
			b.WriteByte(byte(c))
			ctx = 0
		case isEOL(ctx):
			if c == ctx {
				b.WriteString(marker)
			}
			ctx = 0
		default:
			b.WriteString(marker)
			ctx = c
		}
	}
	l.PushString(b.String())
	l.PushInteger(ctx)
	return 2
}

// A, n = dot(state, B): doubles a '.' at the start of a line (SMTP).
func mimeDot(l *lua.State) int {
	state := int(lua.CheckNumber(l, 1))
	in, ok := mimeOptString(l, 2)
	if !ok {
		l.PushNil()
		l.PushInteger(2)
		return 2
	}
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		b.WriteByte(c)
		switch c {
		case '\r':
			state = 1
		case '\n':
			if state == 1 {
				state = 2
			} else {
				state = 0
			}
		case '.':
			if state == 2 {
				b.WriteByte('.')
			}
			state = 0
		default:
			state = 0
		}
	}
	l.PushString(b.String())
	l.PushInteger(state)
	return 2
}
