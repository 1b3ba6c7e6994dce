package utf8lib

// The utf8 library of Lua 5.3 (lutf8lib.c), which go-lua lacks, with Lua
// 5.3's argument rules and messages. Two things come from Lua 5.4 because
// they only accept more: utf8.char takes code points up to 0x7FFFFFFF (up to
// six bytes), and codepoint, len and codes take 5.4's optional lax flag,
// which lets such sequences through. Without it, decoding is 5.3's: code
// points above 0x10FFFF and overlong sequences are invalid (surrogates pass,
// as in 5.3). utf8.charpattern is 5.4's "[\0-\x7F\xC2-\xFD][\x80-\xBF]*".

import (
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

const (
	utf8MaxUnicode = 0x10FFFF
	utf8MaxUTF     = 0x7FFFFFFF
	utf8Invalid    = "invalid UTF-8 code"
)

var utf8Library = []lua.RegistryFunction{
	{Name: "char", Function: utf8Char},
	{Name: "codepoint", Function: utf8Codepoint},
	{Name: "codes", Function: utf8Codes},
	{Name: "len", Function: utf8Len},
	{Name: "offset", Function: utf8Offset},
}

// Open installs utf8 as a global and as the module "utf8" (in
// package.loaded, and in package.preload should a script unload it).
func Open(l *lua.State, _ luax.Host) {
	utf8Open(l)
	lua.SubTable(l, lua.RegistryIndex, "_LOADED")
	l.PushValue(-2)
	l.SetField(-2, "utf8")
	l.Pop(1)
	l.SetGlobal("utf8")
	luax.Preload(l, "utf8", utf8Open)
}

// utf8Open pushes a new utf8 table.
func utf8Open(l *lua.State) int {
	lua.NewLibrary(l, utf8Library)
	l.PushString("[\x00-\x7F\xC2-\xFD][\x80-\xBF]*")
	l.SetField(-2, "charpattern")
	return 1
}

// utf8Char is utf8.char(...): the characters of the code points, concatenated.
func utf8Char(l *lua.State) int {
	var b strings.Builder
	for arg := 1; arg <= l.Top(); arg++ {
		code := luax.CheckInteger(l, arg, "char")
		if code < 0 || code > utf8MaxUTF {
			luax.ArgError(l, arg, "char", "value out of range")
		}
		utf8Encode(&b, uint32(code))
	}
	l.PushString(b.String())
	return 1
}

// utf8Encode appends code as UTF-8, with the old forms of up to six bytes
// for code points above 0x10FFFF (like Lua's luaO_utf8esc).
func utf8Encode(b *strings.Builder, code uint32) {
	if code < 0x80 {
		b.WriteByte(byte(code))
		return
	}
	var buf [6]byte
	n := 0
	limit := uint32(0x3f) // largest value that fits in the first byte
	for code > limit {
		buf[5-n] = byte(0x80 | code&0x3f)
		n++
		code >>= 6
		limit >>= 1
	}
	buf[5-n] = byte(^limit<<1 | code)
	b.Write(buf[5-n:])
}

// utf8Decode decodes the character at s[i:]; it returns the code point and
// the length of the sequence, or ok false when the sequence is invalid
// (strict: as Lua 5.3; lax: as Lua 5.4's lax mode).
func utf8Decode(s string, i int, lax bool) (code uint32, size int, ok bool) {
	at := func(j int) byte { // like C, the string ends with a '\0'
		if j < len(s) {
			return s[j]
		}
		return 0
	}
	c := uint32(at(i))
	if c < 0x80 {
		return c, 1, true
	}
	limits := [...]uint32{^uint32(0), 0x80, 0x800, 0x10000, 0x200000, 0x4000000}
	count := 0
	var res uint32
	for ; c&0x40 != 0; c <<= 1 {
		count++
		cc := uint32(at(i + count))
		if cc&0xC0 != 0x80 {
			return 0, 0, false
		}
		res = res<<6 | cc&0x3F
	}
	if count > 5 {
		return 0, 0, false
	}
	res |= (c & 0x7F) << (count * 5)
	if res > utf8MaxUTF || res < limits[count] {
		return 0, 0, false
	}
	if !lax && (count > 3 || res > utf8MaxUnicode) {
		return 0, 0, false
	}
	return res, count + 1, true
}

// utf8Iscont reports whether s[i] is a continuation byte (the '\0' after the
// end is not).
func utf8Iscont(s string, i int) bool {
	return i < len(s) && s[i]&0xC0 == 0x80
}

// utf8Codepoint is utf8.codepoint(s [, i [, j [, lax]]]): the code points of
// the characters that start between bytes i and j.
func utf8Codepoint(l *lua.State) int {
	s := luax.CheckString(l, 1, "codepoint")
	posi := luax.RelativePosition(luax.OptInteger(l, 2, "codepoint", 1), len(s))
	pose := luax.RelativePosition(luax.OptInteger(l, 3, "codepoint", posi), len(s))
	lax := l.ToBoolean(4)
	if posi < 1 {
		luax.ArgError(l, 2, "codepoint", "out of range")
	}
	if pose > int64(len(s)) {
		luax.ArgError(l, 3, "codepoint", "out of range")
	}
	if posi > pose {
		return 0
	}
	if pose-posi >= 1<<31-1 || !l.CheckStack(int(pose-posi)+1) {
		luax.RaiseWhere(l, "string slice too long")
	}
	n := 0
	for i := int(posi - 1); i < int(pose); {
		code, size, ok := utf8Decode(s, i, lax)
		if !ok {
			luax.RaiseWhere(l, utf8Invalid)
		}
		l.PushInteger(int(code))
		n++
		i += size
	}
	return n
}

// utf8Len is utf8.len(s [, i [, j [, lax]]]): the number of characters that
// start between bytes i and j, or nil and the position of the first invalid
// byte.
func utf8Len(l *lua.State) int {
	s := luax.CheckString(l, 1, "len")
	posi := luax.RelativePosition(luax.OptInteger(l, 2, "len", 1), len(s))
	posj := luax.RelativePosition(luax.OptInteger(l, 3, "len", -1), len(s))
	lax := l.ToBoolean(4)
	if posi < 1 || posi-1 > int64(len(s)) {
		luax.ArgError(l, 2, "len", "initial position out of string")
	}
	posi--
	if posj-1 >= int64(len(s)) {
		luax.ArgError(l, 3, "len", "final position out of string")
	}
	posj--
	n := 0
	for posi <= posj {
		_, size, ok := utf8Decode(s, int(posi), lax)
		if !ok {
			l.PushNil()
			l.PushInteger(int(posi) + 1)
			return 2
		}
		posi += int64(size)
		n++
	}
	l.PushInteger(n)
	return 1
}

// utf8Offset is utf8.offset(s, n [, i]): the byte position where the n-th
// character counted from byte i starts (n = 0: the character containing byte
// i), or nil.
func utf8Offset(l *lua.State) int {
	s := luax.CheckString(l, 1, "offset")
	n := luax.CheckInteger(l, 2, "offset")
	def := int64(1)
	if n < 0 {
		def = int64(len(s)) + 1
	}
	posi := luax.RelativePosition(luax.OptInteger(l, 3, "offset", def), len(s))
	if posi < 1 || posi-1 > int64(len(s)) {
		luax.ArgError(l, 3, "offset", "position out of range")
	}
	i := int(posi - 1)
	if n == 0 {
		for i > 0 && utf8Iscont(s, i) {
			i--
		}
	} else {
		if utf8Iscont(s, i) {
			luax.RaiseWhere(l, "initial position is a continuation byte")
		}
		if n < 0 {
			for n < 0 && i > 0 {
				i--
				for i > 0 && utf8Iscont(s, i) {
					i--
				}
				n++
			}
		} else {
			n--
			for n > 0 && i < len(s) {
				i++
				for utf8Iscont(s, i) {
					i++
				}
				n--
			}
		}
	}
	if n != 0 {
		l.PushNil()
		return 1
	}
	l.PushInteger(i + 1)
	return 1
}

// utf8Codes is utf8.codes(s [, lax]): an iterator over the positions and
// code points of s's characters, raising "invalid UTF-8 code" when it meets
// an invalid byte.
func utf8Codes(l *lua.State) int {
	luax.CheckString(l, 1, "codes")
	if l.ToBoolean(2) {
		l.PushGoFunction(utf8IterLax)
	} else {
		l.PushGoFunction(utf8IterStrict)
	}
	l.PushValue(1)
	l.PushInteger(0)
	return 3
}

func utf8IterStrict(l *lua.State) int { return utf8Iter(l, false) }
func utf8IterLax(l *lua.State) int    { return utf8Iter(l, true) }

// utf8Iter is Lua 5.3's iter_aux: the control value is the position of the
// previous character (0 at the start).
func utf8Iter(l *lua.State, lax bool) int {
	s := luax.CheckString(l, 1, "for iterator")
	p, _ := l.ToNumber(2)
	n := int64(p) - 1
	if n < 0 {
		n = 0
	} else if n < int64(len(s)) {
		n++
		for utf8Iscont(s, int(n)) {
			n++
		}
	}
	if n >= int64(len(s)) {
		return 0
	}
	code, size, ok := utf8Decode(s, int(n), lax)
	if !ok || utf8Iscont(s, int(n)+size) {
		luax.RaiseWhere(l, utf8Invalid)
	}
	l.PushInteger(int(n) + 1)
	l.PushInteger(int(code))
	return 2
}
