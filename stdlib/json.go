package stdlib

// The JSON modules Dovecot push scripts use: cjson and cjson.safe
// (lua-cjson 2.1.0, OpenResty flavour, cjson.go), json (LuaJSON 1.3 by
// Thomas Harning, Debian's lua-json, luajson.go), dkjson (David Kolf's
// dkjson 2.5 without LPeg, dkjson.go) and JSON (Jeffrey Friedl's JSON.lua
// as the json-lua rock installs it, jsonlua.go). Each keeps its model's API, its
// encoding rules and its error messages; this file holds what they share:
// number formatting, string escaping, key collection, UTF-8 building and the
// nesting bound.
//
// Two choices hold for all three: object keys are written in a fixed order
// (boolean keys, then numeric keys in ascending order, then string keys in
// byte order; the real modules follow Lua's hash order, which is
// unspecified), and nesting is bounded by jsonMaxDepth so that neither the Go
// stack nor the Lua stack can be exhausted by a hostile document or a deep
// table.

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

// jsonMaxDepth bounds the nesting of arrays and objects for the modules that
// have no setting of their own (json, dkjson); cjson's default is the same.
const jsonMaxDepth = 1000

// openJSON registers the JSON modules in package.preload.
func openJSON(l *lua.State, h luax.Host) {
	luax.Preload(l, "cjson", openCJSON)
	luax.Preload(l, "cjson.safe", openCJSONSafe)
	luax.Preload(l, "json", openLuaJSON)
	luax.Preload(l, "json.util", openLuaJSONPart("util"))
	luax.Preload(l, "json.encode", openLuaJSONPart("encode"))
	luax.Preload(l, "json.decode", openLuaJSONPart("decode"))
	luax.Preload(l, "dkjson", openDKJSON)
	luax.Preload(l, "JSON", openJSONLua)
}

// raiseJSON raises msg as a Lua error without a position prefix, as
// LuaJSON's assert and error calls appear to a script.
func raiseJSON(l *lua.State, msg string) {
	luax.Raise(l, "%s", msg)
}

// jsonError is a failure inside an encoder or decoder: the module's wrapper
// raises it or returns it as nil, msg.
type jsonError struct{ msg string }

func (e *jsonError) Error() string { return e.msg }

func jsonErrorf(msg string) error { return &jsonError{msg} }

// jsonAppendNumber appends f formatted as C's "%.<prec>g" (for finite f).
func jsonAppendNumber(b []byte, f float64, prec int) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 && math.Abs(f) < math.Pow10(prec) {
		if f == 0 && math.Signbit(f) {
			return append(b, "-0"...)
		}
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', prec, 64)
}

// jsonLuaNumberString is tostring(f) in C Lua 5.2 ("%.14g", "inf", "nan").
func jsonLuaNumberString(f float64) string {
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
	return string(jsonAppendNumber(nil, f, 14))
}

// jsonEscapeTable maps each byte to its escape in a JSON string, "" for none.
type jsonEscapeTable [256]string

// appendQuoted appends s as a quoted JSON string escaped by t.
func (t *jsonEscapeTable) appendQuoted(b []byte, s string) []byte {
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

// jsonKey is one key of a Lua table.
type jsonKey struct {
	typ lua.Type
	s   string
	n   float64
	b   bool
}

// push pushes the key (string, number or boolean).
func (k jsonKey) push(l *lua.State) {
	switch k.typ {
	case lua.TypeString:
		l.PushString(k.s)
	case lua.TypeNumber:
		l.PushNumber(k.n)
	default:
		l.PushBoolean(k.b)
	}
}

// isIndex reports whether the key is a positive integer.
func (k jsonKey) isIndex() bool {
	return k.typ == lua.TypeNumber && k.n >= 1 && k.n == math.Floor(k.n) && !math.IsInf(k.n, 0)
}

// jsonAppendTableKeys appends the keys of the table at the absolute index idx.
// Keys of other types than string, number and boolean keep only their type.
func jsonAppendTableKeys(l *lua.State, idx int, keys []jsonKey) []jsonKey {
	if fast, ok := jsonAppendTableKeysDirect(l.ToValue(idx), keys); ok {
		return fast
	}
	l.PushNil()
	for l.Next(idx) {
		l.Pop(1)
		k := jsonKey{typ: l.TypeOf(-1)}
		switch k.typ {
		case lua.TypeString:
			k.s, _ = l.ToString(-1)
		case lua.TypeNumber:
			k.n, _ = l.ToNumber(-1)
		case lua.TypeBoolean:
			k.b = l.ToBoolean(-1)
		}
		keys = append(keys, k)
	}
	return keys
}

// jsonAppendTableKeysDirect reads the keys of a go-lua table from its array
// part and hash map, by reflection. go-lua's next scans the hash keys from
// the start on every call, which makes a traversal with Next quadratic (two
// seconds for an object of 10,000 keys); this is linear. ok is false when
// the value is not laid out as the go-lua version this was written for;
// jsonAppendTableKeys then uses Next.
func jsonAppendTableKeysDirect(v any, keys []jsonKey) (_ []jsonKey, ok bool) {
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
			keys = append(keys, jsonKey{typ: lua.TypeNumber, n: float64(i + 1)})
		}
	}
	for it := hash.MapRange(); it.Next(); {
		k := it.Key().Elem()
		switch k.Kind() {
		case reflect.String:
			keys = append(keys, jsonKey{typ: lua.TypeString, s: k.String()})
		case reflect.Float64:
			keys = append(keys, jsonKey{typ: lua.TypeNumber, n: k.Float()})
		case reflect.Bool:
			keys = append(keys, jsonKey{typ: lua.TypeBoolean, b: k.Bool()})
		default:
			keys = append(keys, jsonKey{typ: jsonGoLuaType(k.Type().String())})
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

// jsonSortKeys puts keys in the order objects are written: booleans, numbers
// ascending, strings in byte order, then the others.
func jsonSortKeys(keys []jsonKey) {
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
	slices.SortFunc(keys, func(a, b jsonKey) int {
		if ra, rb := rank(a.typ), rank(b.typ); ra != rb {
			return ra - rb
		}
		switch a.typ {
		case lua.TypeNumber:
			switch {
			case a.n < b.n:
				return -1
			case a.n > b.n:
				return 1
			}
		case lua.TypeString:
			return strings.Compare(a.s, b.s)
		case lua.TypeBoolean:
			if a.b != b.b {
				if a.b {
					return 1
				}
				return -1
			}
		}
		return int(a.typ) - int(b.typ)
	})
}

// jsonRawGetKey pushes t[k] (raw) for the table at the absolute index idx.
func jsonRawGetKey(l *lua.State, idx int, k jsonKey) {
	k.push(l)
	l.RawGet(idx)
}

// jsonAppendCodePoint appends the UTF-8 form of cp, surrogates included (as
// their three-byte form, like the C and Lua decoders).
func jsonAppendCodePoint(b []byte, cp rune) []byte {
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

// jsonHex4 decodes four hex digits at s[i:], -1 if they are not there.
func jsonHex4(s string, i int) rune {
	if i < 0 || i+4 > len(s) {
		return -1
	}
	var v rune
	for _, c := range []byte(s[i : i+4]) {
		d := jsonHexDigit(c)
		if d < 0 {
			return -1
		}
		v = v<<4 | rune(d)
	}
	return v
}

func jsonHexDigit(c byte) int {
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

// checkJSONStack makes room for n more Lua stack slots.
func checkJSONStack(l *lua.State, n int) {
	lua.CheckStackWithMessage(l, n, "too many nested data structures")
}

// jsonTableID identifies the table (or other reference value) at idx, for cycle
// detection.
func jsonTableID(l *lua.State, idx int) any {
	return l.ToValue(idx)
}
