package json

// The JSON modules Dovecot push scripts use: cjson and cjson.safe
// (lua-cjson 2.1.0, OpenResty flavour, json/cjson), json (LuaJSON 1.3 by
// Thomas Harning, Debian's lua-json, json/luajson), dkjson (David Kolf's
// dkjson 2.5 without LPeg, json/dkjson) and JSON (Jeffrey Friedl's JSON.lua
// as the json-lua rock installs it, json/jsonlua). Each keeps its model's API, its
// encoding rules and its error messages; this package holds what they
// share: number formatting, string escaping, key collection, UTF-8
// building, strtod and the nesting bound.
//
// Two choices hold for all three: object keys are written in a fixed order
// (boolean keys, then numeric keys in ascending order, then string keys in
// byte order; the real modules follow Lua's hash order, which is
// unspecified), and nesting is bounded by MaxDepth so that neither the Go
// stack nor the Lua stack can be exhausted by a hostile document or a deep
// table.

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	lua "github.com/Shopify/go-lua"

	"fmt"
	"github.com/pushlua/pushlua/internal/luax"
)

// MaxDepth bounds the nesting of arrays and objects for the modules that
// have no setting of their own (json, dkjson); cjson's default is the same.
const MaxDepth = 1000

// Error is a failure inside an encoder or decoder: the module's wrapper
// raises it or returns it as nil, msg.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

func NewError(msg string) error { return &Error{msg} }

// AppendNumber appends f formatted as C's "%.<prec>g" (for finite f).
func AppendNumber(b []byte, f float64, prec int) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 && math.Abs(f) < math.Pow10(prec) {
		if f == 0 && math.Signbit(f) {
			return append(b, "-0"...)
		}
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', prec, 64)
}

// LuaNumberString is tostring(f) in C Lua 5.2 ("%.14g", "inf", "nan").
func LuaNumberString(f float64) string {
	switch {
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return string(AppendNumber(nil, f, 14))
}

// EscapeTable maps each byte to its escape in a JSON string, "" for none.
type EscapeTable [256]string

// NewEscapeTable returns the escapes all the modules write: \" \\ \b \f
// \n \r \t, and the other bytes below 0x20 as \u followed by the byte in
// hexFormat ("%04x" or "%04X").
func NewEscapeTable(hexFormat string) EscapeTable {
	var t EscapeTable
	for i := range 0x20 {
		t[i] = fmt.Sprintf(`\u`+hexFormat, i)
	}
	t['"'], t['\\'] = `\"`, `\\`
	t['\b'], t['\f'], t['\n'], t['\r'], t['\t'] = `\b`, `\f`, `\n`, `\r`, `\t`
	return t
}

// AppendQuoted appends s as a quoted JSON string escaped by t.
func (t *EscapeTable) AppendQuoted(b []byte, s string) []byte {
	b = slices.Grow(b, len(s)+2)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		if e := t[s[i]]; e != "" {
			b = append(b, s[start:i]...)
			b = append(b, e...)
			start = i + 1
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Key is one key of a Lua table.
type Key struct {
	Typ lua.Type
	S   string  // a string key
	N   float64 // a number key
	B   bool    // a boolean key
}

// Push pushes the key (string, number or boolean).
func (k Key) Push(l *lua.State) {
	switch k.Typ {
	case lua.TypeString:
		l.PushString(k.S)
	case lua.TypeNumber:
		l.PushNumber(k.N)
	default:
		l.PushBoolean(k.B)
	}
}

// IsIndex reports whether the key is a positive integer.
func (k Key) IsIndex() bool {
	return k.Typ == lua.TypeNumber && k.N >= 1 && k.N == math.Floor(k.N) && !math.IsInf(k.N, 0)
}

// AppendTableKeys appends the keys of the table at the absolute index idx.
// Keys of other types than string, number and boolean keep only their type.
func AppendTableKeys(l *lua.State, idx int, keys []Key) []Key {
	if fast, ok := AppendTableKeysDirect(l.ToValue(idx), keys); ok {
		return fast
	}
	l.PushNil()
	for l.Next(idx) {
		l.Pop(1)
		keys = append(keys, KeyAt(l, -1))
	}
	return keys
}

// AppendTableKeysDirect reads the keys of a go-lua table from its array
// part and hash map, by reflection. go-lua's next scans the hash keys from
// the start on every call, which makes a traversal with Next quadratic (two
// seconds for an object of 10,000 keys); this is linear. ok is false when
// the value is not laid out as the go-lua version this was written for;
// AppendTableKeys then uses Next.
func AppendTableKeysDirect(v any, keys []Key) (_ []Key, ok bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return keys, false
	}
	array, hash := rv.Elem().FieldByName("array"), rv.Elem().FieldByName("hash")
	if array.Kind() != reflect.Slice || array.Type().Elem().Kind() != reflect.Interface ||
		hash.Kind() != reflect.Map || hash.Type().Key().Kind() != reflect.Interface {
		return keys, false
	}
	for i := range array.Len() {
		if !array.Index(i).IsNil() {
			keys = append(keys, Key{Typ: lua.TypeNumber, N: float64(i + 1)})
		}
	}
	for it := hash.MapRange(); it.Next(); {
		k := it.Key().Elem()
		switch k.Kind() {
		case reflect.String:
			keys = append(keys, Key{Typ: lua.TypeString, S: k.String()})
		case reflect.Float64:
			keys = append(keys, Key{Typ: lua.TypeNumber, N: k.Float()})
		case reflect.Bool:
			keys = append(keys, Key{Typ: lua.TypeBoolean, B: k.Bool()})
		default:
			keys = append(keys, Key{Typ: jsonGoLuaType(k.Type().String())})
		}
	}
	return keys, true
}

// jsonGoLuaType is the Lua type of a go-lua reference value, from its Go type.
func jsonGoLuaType(goType string) lua.Type {
	switch goType {
	case "*lua.table":
		return lua.TypeTable
	case "*lua.goFunction", "*lua.goClosure", "*lua.luaClosure":
		return lua.TypeFunction
	case "*lua.State":
		return lua.TypeThread
	}
	return lua.TypeUserData
}

// SortKeys puts keys in the order objects are written: booleans, numbers
// ascending, strings in byte order, then the others.
func SortKeys(keys []Key) {
	rank := func(t lua.Type) int {
		switch t {
		case lua.TypeBoolean:
			return 0
		case lua.TypeNumber:
			return 1
		case lua.TypeString:
			return 2
		}
		return 3
	}
	slices.SortFunc(keys, func(a, b Key) int {
		if ra, rb := rank(a.Typ), rank(b.Typ); ra != rb {
			return ra - rb
		}
		switch a.Typ {
		case lua.TypeNumber:
			switch {
			case a.N < b.N:
				return -1
			case a.N > b.N:
				return 1
			}
		case lua.TypeString:
			return strings.Compare(a.S, b.S)
		case lua.TypeBoolean:
			if a.B != b.B {
				if a.B {
					return 1
				}
				return -1
			}
		}
		return int(a.Typ) - int(b.Typ)
	})
}

// WriteArray appends the elements 1..n of the table at the absolute index
// idx to *buf as a JSON array: each is pushed (raw: without metamethods)
// and written by value, which finds it on top of the stack. The encoders
// of cjson and json (LuaJSON) walk their arrays with it.
func WriteArray(l *lua.State, buf *[]byte, idx, n int, raw bool, value func(top int) error) error {
	*buf = append(*buf, '[')
	for i := 1; i <= n; i++ {
		if i > 1 {
			*buf = append(*buf, ',')
		}
		if raw {
			l.RawGetInt(idx, i)
		} else {
			l.PushInteger(i)
			l.Table(idx)
		}
		err := value(l.Top())
		l.Pop(1)
		if err != nil {
			return err
		}
	}
	*buf = append(*buf, ']')
	return nil
}

// WriteObject appends the pairs of the table at the absolute index idx to
// *buf as a JSON object, keys in SortKeys order: key writes a key and its
// colon (or fails for a key the module cannot write), value writes the
// value, which it finds on top of the stack (read raw). A failure ends the
// encode, so what was appended before it does not matter.
func WriteObject(l *lua.State, buf *[]byte, idx int, keys []Key, key func(Key) error, value func(top int) error) error {
	SortKeys(keys)
	*buf = append(*buf, '{')
	for i, k := range keys {
		if i > 0 {
			*buf = append(*buf, ',')
		}
		if err := key(k); err != nil {
			return err
		}
		RawGetKey(l, idx, k)
		err := value(l.Top())
		l.Pop(1)
		if err != nil {
			return err
		}
	}
	*buf = append(*buf, '}')
	return nil
}

// RawGetKey pushes t[k] (raw) for the table at the absolute index idx.
func RawGetKey(l *lua.State, idx int, k Key) {
	k.Push(l)
	l.RawGet(idx)
}

// AppendCodePoint appends the UTF-8 form of cp, surrogates included (as
// their three-byte form, like the C and Lua decoders).
func AppendCodePoint(b []byte, cp rune) []byte {
	switch {
	case cp < 0x80:
		return append(b, byte(cp))
	case cp < 0x800:
		return append(b, 0xC0|byte(cp>>6), 0x80|byte(cp&0x3F))
	case cp < 0x10000:
		return append(b, 0xE0|byte(cp>>12), 0x80|byte(cp>>6&0x3F), 0x80|byte(cp&0x3F))
	default:
		return append(b, 0xF0|byte(cp>>18), 0x80|byte(cp>>12&0x3F), 0x80|byte(cp>>6&0x3F), 0x80|byte(cp&0x3F))
	}
}

// Hex4 decodes four hex digits at s[i:], -1 if they are not there.
func Hex4(s string, i int) rune {
	if i < 0 || i+4 > len(s) {
		return -1
	}
	var v rune
	for _, c := range []byte(s[i : i+4]) {
		d := HexDigit(c)
		if d < 0 {
			return -1
		}
		v = v<<4 | rune(d)
	}
	return v
}

func HexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// CheckStack makes room for n more Lua stack slots.
func CheckStack(l *lua.State, n int) {
	lua.CheckStackWithMessage(l, n, "too many nested data structures")
}

// TableID identifies the table (or other reference value) at idx, for cycle
// detection.
func TableID(l *lua.State, idx int) any {
	return l.ToValue(idx)
}

// ShortEscape is the byte the JSON escape \b, \f, \n, \r or \t (c is
// the letter) stands for: the escapes every decoder reads alike.
func ShortEscape(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	}
	return '\t'
}

// IsDigit reports whether c is an ASCII digit.
func IsDigit(c byte) bool { return '0' <= c && c <= '9' }

// KeyAt is the key at idx as a Key (for the keyorder bookkeeping).
func KeyAt(l *lua.State, idx int) Key {
	k := Key{Typ: l.TypeOf(idx)}
	switch k.Typ {
	case lua.TypeString:
		k.S, _ = l.ToString(idx)
	case lua.TypeNumber:
		k.N, _ = l.ToNumber(idx)
	case lua.TypeBoolean:
		k.B = l.ToBoolean(idx)
	}
	return k
}

// Strtod parses the longest prefix of s[i:] that C's strtod accepts:
// decimal and hexadecimal numbers, inf, infinity and nan. end == i when
// there is none.
func Strtod(s string, i int) (f float64, end int) {
	at := func(j int) byte {
		if j < len(s) {
			return s[j]
		}
		return 0
	}
	// exponent returns the end of the signed exponent whose letter ('e'
	// or 'p') is at q, and false when it has no digits.
	exponent := func(q int) (int, bool) {
		r := q + 1
		if c := at(r); c == '+' || c == '-' {
			r++
		}
		if !IsDigit(at(r)) {
			return q, false
		}
		for IsDigit(at(r)) {
			r++
		}
		return r, true
	}
	p := i
	neg := false
	if c := at(p); c == '+' || c == '-' {
		neg = c == '-'
		p++
	}
	rest := s[min(p, len(s)):]
	sign := 1.0
	if neg {
		sign = -1
	}
	switch {
	case len(rest) >= 8 && strings.EqualFold(rest[:8], "infinity"):
		return sign * math.Inf(1), p + 8
	case len(rest) >= 3 && strings.EqualFold(rest[:3], "inf"):
		return sign * math.Inf(1), p + 3
	case len(rest) >= 3 && strings.EqualFold(rest[:3], "nan"):
		return math.NaN(), p + 3
	}
	if at(p) == '0' && at(p+1)|0x20 == 'x' {
		q := p + 2
		digits := 0
		for HexDigit(at(q)) >= 0 {
			q++
			digits++
		}
		if at(q) == '.' {
			q++
			for HexDigit(at(q)) >= 0 {
				q++
				digits++
			}
		}
		if digits > 0 {
			mant := s[p:q]
			if at(q)|0x20 == 'p' {
				if r, ok := exponent(q); ok {
					v, _ := strconv.ParseFloat(s[p:r], 64)
					return sign * v, r
				}
			}
			v, _ := strconv.ParseFloat(mant+"p0", 64)
			return sign * v, q
		}
		// "0x" without digits: strtod reads the 0.
		return sign * 0, p + 1
	}
	q := p
	digits := 0
	for '0' <= at(q) && at(q) <= '9' {
		q++
		digits++
	}
	if at(q) == '.' {
		q++
		for '0' <= at(q) && at(q) <= '9' {
			q++
			digits++
		}
	}
	if digits == 0 {
		return 0, i
	}
	if at(q)|0x20 == 'e' {
		if r, ok := exponent(q); ok {
			q = r
		}
	}
	v, _ := strconv.ParseFloat(s[p:q], 64) // a range error gives ±Inf or 0, as strtod
	return sign * v, q
}

// growBuf makes room in buf for n more bytes (and a little slack for the
// punctuation that follows), doubling its capacity but not past limit, so
// that a text built up to the memory budget is not copied through a long
// series of 1.25x growths (each one garbage the budget does not see).
func growBuf(buf []byte, n int, limit int64) []byte {
	need := len(buf) + n + 64
	if need <= cap(buf) {
		return buf
	}
	c := max(2*cap(buf), need, 512)
	if int64(c) > limit {
		c = int(max(int64(need), limit))
	}
	return slices.Grow(buf, c-len(buf))
}

// TextBudget is the budgets of a function that builds one text (the JSON
// encoders): the text may not grow past what the memory budget has left
// when it starts, and the time budget is checked every luax.CheckEvery steps.
type TextBudget struct {
	l     *lua.State
	fname string
	host  luax.Host
	mem   *luax.MemBudget
	limit int64
	steps int
}

// NewTextBudget starts the budget of the text fname builds in l.
func NewTextBudget(l *lua.State, fname string) TextBudget {
	h := luax.HostOf(l)
	b := TextBudget{l: l, fname: fname, host: h, mem: h.Mem()}
	b.limit = b.mem.Remaining()
	return b
}

// Grow is one step that appends about n bytes to buf: it raises the
// budget's error when buf would grow past the budget, and returns buf with
// room for them.
func (b *TextBudget) Grow(buf []byte, n int) []byte {
	if int64(len(buf))+int64(n) > b.limit {
		b.mem.CheckSize(b.l, b.fname, float64(len(buf)+n))
	}
	if b.steps++; b.steps%luax.CheckEvery == 0 {
		luax.CheckTime(b.l, b.host)
	}
	return growBuf(buf, n, b.limit)
}

// Charge charges the finished text.
func (b *TextBudget) Charge(text []byte) {
	b.mem.ChargeSize(b.l, b.fname, float64(len(text)))
}
