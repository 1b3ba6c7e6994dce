package jsonlua

// JSON: the object API of Jeffrey Friedl's JSON.lua, version 20161109.21
// with the array_newline option, the module the json-lua rock (0.1-3,
// 0.1-4) installs: `local JSON = require "JSON"`. This is pushlua's own
// implementation in Go of that API and its rules.
//
// The module is an object whose metatable is OBJDEF (OBJDEF.__index is
// OBJDEF): JSON:decode(text [, etc [, options]]), JSON:encode(value [, etc
// [, options]]), JSON:encode_pretty(value [, etc [, options]]) (default
// options {pretty = true, align_keys = false, indent = "  "}),
// JSON:new(fields) (another object with its own handlers and switches),
// JSON:newArray(t) and JSON:newObject(t) (t marked as a JSON array or
// object: tostring "JSON array" / "JSON object"), JSON:asNumber(x),
// JSON:forceString(x), JSON:forceNumber(x), the fields VERSION
// ("20161109.21") and AUTHOR_NOTE, the switches strictTypes (decoded
// tables are marked), noKeyConversion, decodeNumbersAsObjects,
// decodeIntegerStringificationLength and decodeDecimalStringificationLength
// (on the object or in decode's options), and the handlers a script may
// replace: onDecodeError(message, text, location, etc), onDecodeOfNilError,
// onDecodeOfHTMLError, onTrailingGarbage(text, location, value, etc),
// onEncodeError(message, etc) and assert. The default handlers add " at
// byte <n> of: <text>" (or ": <text>") and " (<etc as JSON>)" to the
// message and raise it through self.assert or assert, so a decode error
// reads "expected comma or '}' at byte 8 of: {"a":1 "b":2}".
//
// Decoding: whitespace (or nothing) decodes to nil; text that starts with
// "<" is HTML; a NUL in the first two bytes is UTF-16/32; text after the
// first value (but whitespace) goes to onTrailingGarbage, whose results
// decode returns (the default fails with "trailing garbage"); null is nil
// (an array keeps a hole, an object loses the key); true, false and null
// need no delimiter after them; strings keep raw control characters and
// decode \b \f \n \r \t, \uXXXX (a surrogate pair is one character, a lone
// surrogate "?") and any other escaped character as itself; numbers are
// -?(0|[1-9]digits)[.digits][(e|E)[+-]digits], read by tonumber, or kept
// as text (or number objects) when the stringification options say so.
//
// Encoding: nil and options.null are null; NaN is null, the infinities
// 1e+9999 and -1e+9999; numbers as tostring, number objects as their
// text; strings escape " \ and control characters (\n \r \t \b \f, others
// \u00xx; U+2028 and U+2029 too with stringsAreUtf8); a table with only
// positive numeric keys is an array up to its largest key (holes are
// null), an empty one [] unless tostring says "JSON object"; a table with
// string keys, or with keys <= 0 or infinite, is an object with its string
// keys sorted, then the numeric keys as strings in numeric order (unless
// noKeyConversion); pretty arrays are "[ a, b ]" (one element per line
// with array_newline), pretty objects one key per line, aligned with
// align_keys; a table that contains itself, a key or a value of another
// type are errors.
//
// Differences: messages carry no "JSON.lua:<line>: " positions (the real
// module's asserts add its file and line, twice for a decode error); an
// error
// in a string value is reported as such (JSON.lua 20161109.21 fails there
// indexing a nil options table); nesting deeper than 1000 levels is an
// error (JSON.lua runs out of stack); an error handler that returns
// instead of raising ends the call: decode returns nil and the message,
// encode nil (JSON.lua goes on from where it failed); decode does not
// write etc and the defaults into the options table it is given; both
// count against the call's memory and time budgets.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/json"
)

const (
	jsonluaObjdefKey   = "pushlua.JSON.OBJDEF"
	jsonluaArrayMTKey  = "pushlua.JSON.isArray"
	jsonluaObjectMTKey = "pushlua.JSON.isObject"
	jsonluaNumberMTKey = "pushlua.JSON.isNumber"
	jsonluaVersion     = "20161109.21"
	jsonluaAuthorNote  = "-[ JSON.lua API version 20161109.21 (JSON.lua by Jeffrey Friedl, http://regex.info/blog/lua/json), implemented by pushlua ]-"
)

// jsonluaEscapes is JSON.lua's string escaping.
var jsonluaEscapes = func() *json.EscapeTable {
	var t json.EscapeTable
	for i := range 0x20 {
		t[i] = fmt.Sprintf("\\u%04x", i)
	}
	t['"'], t['\\'] = `\"`, `\\`
	t['\b'], t['\f'], t['\n'], t['\r'], t['\t'] = `\b`, `\f`, `\n`, `\r`, `\t`
	return &t
}()

// jsonluaMethods are OBJDEF's fields, the methods of every JSON object
// (set by init: they refer to OBJDEF's builder).
var jsonluaMethods []lua.RegistryFunction

func init() { jsonluaMethods = jsonluaMethodList() }

func jsonluaMethodList() []lua.RegistryFunction {
	return []lua.RegistryFunction{
		{Name: "decode", Function: jsonluaDecode},
		{Name: "encode", Function: func(l *lua.State) int { return jsonluaEncode(l, false) }},
		{Name: "encode_pretty", Function: func(l *lua.State) int { return jsonluaEncode(l, true) }},
		{Name: "new", Function: jsonluaNew},
		{Name: "newArray", Function: func(l *lua.State) int { return jsonluaMark(l, jsonluaArrayMTKey) }},
		{Name: "newObject", Function: func(l *lua.State) int { return jsonluaMark(l, jsonluaObjectMTKey) }},
		{Name: "asNumber", Function: jsonluaAsNumber},
		{Name: "forceString", Function: jsonluaForceString},
		{Name: "forceNumber", Function: jsonluaForceNumber},
		{Name: "onDecodeError", Function: jsonluaOnDecodeError},
		{Name: "onDecodeOfNilError", Function: jsonluaOnDecodeError},
		{Name: "onDecodeOfHTMLError", Function: jsonluaOnDecodeError},
		{Name: "onTrailingGarbage", Function: jsonluaOnTrailingGarbage},
		{Name: "onEncodeError", Function: jsonluaOnEncodeError},
		{Name: "__tostring", Function: func(l *lua.State) int {
			l.PushString("JSON encode/decode package")
			return 1
		}},
	}
}

// openJSONLua is the opener of "JSON": a new object of OBJDEF.
// Open registers JSON in package.preload.
func Open(l *lua.State, _ luax.Host) {
	luax.Preload(l, "JSON", openJSONLua)
}

func openJSONLua(l *lua.State) int {
	jsonluaPushObjdef(l)
	l.NewTable()
	l.PushValue(-2)
	l.SetMetaTable(-2)
	return 1
}

// jsonluaPushObjdef pushes OBJDEF, creating it (and the array and object
// marks) on first use in l.
func jsonluaPushObjdef(l *lua.State) {
	l.Field(lua.RegistryIndex, jsonluaObjdefKey)
	if !l.IsNil(-1) {
		return
	}
	l.Pop(1)
	for _, mt := range []struct{ key, name string }{{jsonluaArrayMTKey, "JSON array"}, {jsonluaObjectMTKey, "JSON object"}} {
		name := mt.name
		l.NewTable()
		l.PushGoFunction(func(l *lua.State) int { l.PushString(name); return 1 })
		l.SetField(-2, "__tostring")
		l.PushValue(-1)
		l.SetField(-2, "__index")
		l.SetField(lua.RegistryIndex, mt.key)
	}
	l.NewTable()
	lua.SetFunctions(l, jsonluaNumberMethods, 0)
	l.PushValue(-1)
	l.SetField(-2, "__index")
	l.SetField(lua.RegistryIndex, jsonluaNumberMTKey)
	l.CreateTable(0, len(jsonluaMethods)+3)
	l.PushString(jsonluaVersion)
	l.SetField(-2, "VERSION")
	l.PushString(jsonluaAuthorNote)
	l.SetField(-2, "AUTHOR_NOTE")
	lua.SetFunctions(l, jsonluaMethods, 0)
	l.PushValue(-1)
	l.SetField(-2, "__index")
	l.PushValue(-1)
	l.SetField(lua.RegistryIndex, jsonluaObjdefKey)
}

// jsonluaIsObject is JSON.lua's method-format check: self is a table whose
// __index is OBJDEF (at objdef).
func jsonluaIsObject(l *lua.State, self, objdef int) bool {
	if !l.IsTable(self) {
		return false
	}
	l.Field(self, "__index")
	ok := l.RawEqual(-1, objdef)
	l.Pop(1)
	return ok
}

// jsonluaNew is JSON:new(args): a new object with a copy of args' fields.
func jsonluaNew(l *lua.State) int {
	l.SetTop(2)
	l.NewTable()
	if l.ToBoolean(2) {
		lua.CheckType(l, 2, lua.TypeTable)
		for l.PushNil(); l.Next(2); {
			l.PushValue(-2)
			l.Insert(-2)
			l.SetTable(3)
		}
	}
	jsonluaPushObjdef(l)
	l.SetMetaTable(3)
	return 1
}

// jsonluaMark is newArray/newObject(tbl): tbl (or a new table) with the
// mark's metatable.
func jsonluaMark(l *lua.State, key string) int {
	l.SetTop(2)
	if !l.ToBoolean(2) {
		l.NewTable()
		l.Replace(2)
	}
	lua.CheckType(l, 2, lua.TypeTable)
	l.Field(lua.RegistryIndex, key)
	l.SetMetaTable(2)
	return 1
}

// jsonluaRaise ends a failed call as JSON.lua does: self.assert(false,
// value) when the object has an assert, else Lua's assert (raising the
// value as it is). The value is on top of the stack. When a custom assert
// returns, the call returns nil and the value.
func jsonluaRaise(l *lua.State, self int) int {
	v := l.Top()
	l.Field(self, "assert")
	if l.ToBoolean(-1) {
		l.PushBoolean(false)
		l.PushValue(v)
		l.Call(2, 0)
		l.PushNil()
		l.PushValue(v)
		return 2
	}
	l.Pop(1)
	l.Error()
	return 0
}

// jsonluaOnDecodeError is the default onDecodeError(message, text,
// location, etc) (also onDecodeOfNilError and onDecodeOfHTMLError).
func jsonluaOnDecodeError(l *lua.State) int {
	l.SetTop(5)
	msg, _ := lua.ToStringMeta(l, 2)
	l.Pop(1)
	if l.ToBoolean(3) {
		text, _ := lua.ToStringMeta(l, 3)
		l.Pop(1)
		if l.ToBoolean(4) {
			loc := lua.CheckNumber(l, 4)
			msg = fmt.Sprintf("%s at byte %d of: %s", msg, int64(loc), text)
		} else {
			msg = msg + ": " + text
		}
	}
	luax.MemOf(l).ChargeSize(l, "JSON:decode", float64(len(msg)))
	return jsonluaHandlerEnd(l, msg, 5)
}

// jsonluaOnTrailingGarbage is the default onTrailingGarbage(text,
// location, value, etc): self:onDecodeError("trailing garbage", text,
// location, etc), whose results it returns.
func jsonluaOnTrailingGarbage(l *lua.State) int {
	l.SetTop(5)
	base := l.Top()
	l.Field(1, "onDecodeError")
	l.PushValue(1)
	l.PushString("trailing garbage")
	l.PushValue(2)
	l.PushValue(3)
	l.PushValue(5)
	l.Call(5, lua.MultipleReturns)
	return l.Top() - base
}

// jsonluaOnEncodeError is the default onEncodeError(message, etc).
func jsonluaOnEncodeError(l *lua.State) int {
	l.SetTop(3)
	msg, _ := lua.ToStringMeta(l, 2)
	l.Pop(1)
	return jsonluaHandlerEnd(l, msg, 3)
}

// jsonluaHandlerEnd adds " (<etc as JSON>)" to msg unless etc (at index
// etc) is nil, and raises it through self.assert or assert.
func jsonluaHandlerEnd(l *lua.State, msg string, etc int) int {
	l.PushString(msg)
	if !l.IsNil(etc) {
		l.PushString(" (")
		l.PushGoFunction(func(l *lua.State) int { return jsonluaEncode(l, false) })
		jsonluaPushObjdef(l)
		l.PushValue(etc)
		l.Call(2, 1)
		l.PushString(")")
		l.Concat(4)
	}
	if l.IsTable(1) {
		return jsonluaRaise(l, 1)
	}
	l.Error()
	return 0
}

// jsonluaFail is a decode error: the handler gets the message, the text,
// the location (1-based, 0: none) and etc.
type jsonluaFail struct {
	msg string
	loc int
}

func (f *jsonluaFail) Error() string { return f.msg }

// jsonluaDecode is JSON:decode(text [, etc [, options]]).
func jsonluaDecode(l *lua.State) int {
	l.SetTop(4)
	const self, text, etc, options = 1, 2, 3, 4
	// etc: the argument, else options.etc.
	if l.IsNil(etc) && l.IsTable(options) {
		l.Field(options, "etc")
		l.Replace(etc)
	}
	jsonluaPushObjdef(l)
	objdef := l.Top()
	// outer calls a handler outside JSON.lua's pcall: what it raises goes
	// through; when it returns, decode returns nil and ret.
	outer := func(on int, handler, msg, ret string, withText bool) int {
		l.Field(on, handler)
		l.PushValue(on)
		l.PushString(msg)
		if withText {
			l.PushValue(text)
		} else {
			l.PushNil()
		}
		l.PushNil()
		l.PushValue(etc)
		l.Call(5, 0)
		l.PushNil()
		l.PushString(ret)
		return 2
	}
	if !jsonluaIsObject(l, self, objdef) {
		msg := "JSON:decode must be called in method format"
		return outer(objdef, "onDecodeError", msg, msg, false)
	}
	switch l.TypeOf(text) {
	case lua.TypeNil:
		msg := "nil passed to JSON:decode()"
		return outer(self, "onDecodeOfNilError", msg, msg, false)
	case lua.TypeString:
	default:
		msg := "expected string argument to JSON:decode()"
		return outer(self, "onDecodeError", msg+", got "+lua.TypeNameOf(l, text), msg, false)
	}
	s, _ := l.ToValue(text).(string)
	rest := strings.TrimLeft(s, " \t\n\v\f\r")
	if rest == "" {
		l.PushNil()
		return 1
	}
	if rest[0] == '<' {
		msg := "HTML passed to JSON:decode()"
		return outer(self, "onDecodeOfHTMLError", msg, msg, true)
	}
	if s[0] == 0 || len(s) >= 2 && s[1] == 0 {
		msg := "JSON package groks only UTF-8, sorry"
		return outer(self, "onDecodeError", msg, msg, true)
	}
	// opt pushes an option: decode's options table first, then the
	// object's field.
	opt := func(name string) {
		if l.IsTable(options) {
			l.Field(options, name)
			if !l.IsNil(-1) {
				return
			}
			l.Pop(1)
		}
		l.Field(self, name)
	}
	d := jsonluaDecoder{l: l, s: s, host: luax.HostOf(l)}
	l.Field(self, "strictTypes")
	d.strict = l.ToBoolean(-1)
	opt("decodeNumbersAsObjects")
	d.asObjects = l.ToBoolean(-1)
	opt("decodeIntegerStringificationLength")
	d.intLen, d.hasIntLen = l.ToNumber(-1)
	opt("decodeDecimalStringificationLength")
	d.decLen, d.hasDecLen = l.ToNumber(-1)
	l.Pop(4)
	d.mem = d.host.Mem()
	top := l.Top()
	next, err := d.one(0)
	if err == nil {
		value := l.Top()
		if next = d.ws(next); next == len(s) {
			l.PushNil()
			return 2
		}
		// Trailing garbage: onTrailingGarbage's results are decode's.
		l.Field(self, "onTrailingGarbage")
		l.PushValue(self)
		l.PushValue(text)
		l.PushInteger(next + 1)
		l.PushValue(value)
		l.PushValue(etc)
		l.Call(5, 2)
		return 2
	}
	l.SetTop(top)
	f := err.(*jsonluaFail)
	// The handler runs inside JSON.lua's pcall: what it raises is raised
	// again through assert; when it returns, decode returns nil and the
	// message.
	l.Field(self, "onDecodeError")
	l.PushValue(self)
	l.PushString(f.msg)
	l.PushValue(text)
	if f.loc > 0 {
		l.PushInteger(f.loc)
	} else {
		l.PushNil()
	}
	l.PushValue(etc)
	if l.ProtectedCall(5, 0, 0) == nil {
		l.PushNil()
		l.PushString(f.msg)
		return 2
	}
	return jsonluaRaise(l, self)
}

// jsonluaDecoder reads one JSON.lua value from s, pushing what it builds.
type jsonluaDecoder struct {
	l                    *lua.State
	s                    string
	strict, asObjects    bool
	intLen, decLen       float64
	hasIntLen, hasDecLen bool
	host                 luax.Host
	mem                  *luax.MemBudget
	depth                int
	steps                int
	buf                  []byte
}

func (d *jsonluaDecoder) ws(i int) int {
	for i < len(d.s) {
		switch d.s[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

func (d *jsonluaDecoder) step() {
	if d.steps++; d.steps%luax.CheckEvery == 0 {
		luax.CheckTime(d.l, d.host)
	}
}

// one is grok_one: it pushes the value at i and returns where it ends.
func (d *jsonluaDecoder) one(i int) (int, error) {
	d.step()
	i = d.ws(i)
	if i >= len(d.s) {
		return 0, &jsonluaFail{msg: "unexpected end of string"}
	}
	rest := d.s[i:]
	switch c := d.s[i]; {
	case c == '"':
		return d.str(i)
	case c == '-' || c >= '0' && c <= '9':
		return d.number(i)
	case c == '{':
		return d.object(i)
	case c == '[':
		return d.array(i)
	case strings.HasPrefix(rest, "true"):
		d.l.PushBoolean(true)
		return i + 4, nil
	case strings.HasPrefix(rest, "false"):
		d.l.PushBoolean(false)
		return i + 5, nil
	case strings.HasPrefix(rest, "null"):
		d.l.PushNil()
		return i + 4, nil
	}
	return 0, &jsonluaFail{msg: "can't parse JSON", loc: i + 1}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digits returns the end of the run of digits at i.
func (d *jsonluaDecoder) digits(i int) int {
	for i < len(d.s) && isDigit(d.s[i]) {
		i++
	}
	return i
}

// number is grok_number: -?(0|[1-9]digits), then an optional .digits and
// [eE][-+]?digits, read by tonumber.
func (d *jsonluaDecoder) number(i int) (int, error) {
	s := d.s
	j := i
	if j < len(s) && s[j] == '-' {
		j++
	}
	switch {
	case j < len(s) && s[j] >= '1' && s[j] <= '9':
		j = d.digits(j + 1)
	case j < len(s) && s[j] == '0':
		j++
	default:
		return 0, &jsonluaFail{msg: "expected number", loc: i + 1}
	}
	if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
		j = d.digits(j + 1)
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			j = d.digits(k)
		}
	}
	text := s[i:j]
	if d.asObjects {
		d.mem.ChargeSize(d.l, "JSON:decode", luax.CostTable+float64(len(text)))
		jsonluaPushNumberObject(d.l, text)
		return j, nil
	}
	intPart, decPart, expPart := jsonluaNumberParts(text)
	if d.hasIntLen && (float64(intPart) >= d.intLen || expPart > 0) ||
		d.hasDecLen && (float64(decPart) >= d.decLen || expPart > 0) {
		d.mem.ChargeSize(d.l, "JSON:decode", float64(len(text)))
		d.l.PushString(text)
		return j, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, &jsonluaFail{msg: "bad number", loc: i + 1}
	}
	d.l.PushNumber(f)
	return j, nil
}

// str is grok_string.
func (d *jsonluaDecoder) str(i int) (int, error) {
	s := d.s
	if i >= len(s) || s[i] != '"' {
		return 0, &jsonluaFail{msg: "expected string's opening quote", loc: i + 1}
	}
	b := d.buf[:0]
	j := i + 1
	for j < len(s) {
		c := s[j]
		if c == '"' {
			d.mem.ChargeSize(d.l, "JSON:decode", float64(len(b)))
			d.l.PushString(string(b))
			d.buf = b
			return j + 1, nil
		}
		if c != '\\' {
			start := j
			for j < len(s) && s[j] != '"' && s[j] != '\\' {
				j++
			}
			b = append(b, s[start:j]...)
			continue
		}
		if j+1 >= len(s) {
			break // JSON.lua's match fails: the string is unclosed
		}
		switch e := s[j+1]; e {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			cp := json.Hex4(s, j+2)
			if cp < 0 {
				b = append(b, 'u')
				break
			}
			j += 6
			if cp >= 0xD800 && cp <= 0xDBFF && j+1 < len(s) && s[j] == '\\' && s[j+1] == 'u' &&
				j+2 < len(s) && (s[j+2] == 'd' || s[j+2] == 'D') && j+3 < len(s) && strings.IndexByte("cdefCDEF", s[j+3]) >= 0 {
				if lo := json.Hex4(s, j+2); lo >= 0 {
					cp = 0x2400 + (cp-0xD800)*0x400 + lo
					j += 6
				}
			}
			b = jsonluaAppendCodePoint(b, cp)
			continue
		default:
			b = append(b, e)
		}
		j += 2
	}
	d.buf = b
	return 0, &jsonluaFail{msg: "unclosed string", loc: i + 1}
}

// jsonluaAppendCodePoint is JSON.lua's unicode_codepoint_as_utf8: a
// surrogate (a three-byte form it rejects) is "?".
func jsonluaAppendCodePoint(b []byte, cp rune) []byte {
	if cp >= 0xD800 && cp <= 0xDFFF {
		return append(b, '?')
	}
	return json.AppendCodePoint(b, cp)
}

// open pushes a new table for an object or array, marked with mark when
// strictTypes is on.
func (d *jsonluaDecoder) open(i int, mark string) error {
	if d.depth++; d.depth > json.MaxDepth {
		return &jsonluaFail{msg: fmt.Sprintf("pushlua: JSON nested deeper than %d levels", json.MaxDepth), loc: i + 1}
	}
	json.CheckStack(d.l, 4)
	d.mem.ChargeSize(d.l, "JSON:decode", luax.CostTable)
	d.l.NewTable()
	if d.strict {
		d.l.Field(lua.RegistryIndex, mark)
		d.l.SetMetaTable(-2)
	}
	return nil
}

// object is grok_object.
func (d *jsonluaDecoder) object(i int) (int, error) {
	if err := d.open(i, jsonluaObjectMTKey); err != nil {
		return 0, err
	}
	defer func() { d.depth-- }()
	l, s := d.l, d.s
	t := l.Top()
	j := d.ws(i + 1)
	if j < len(s) && s[j] == '}' {
		return j + 1, nil
	}
	for j < len(s) {
		next, err := d.str(j)
		if err != nil {
			return 0, err
		}
		j = d.ws(next)
		if j >= len(s) || s[j] != ':' {
			return 0, &jsonluaFail{msg: "expected colon", loc: j + 1}
		}
		if j, err = d.one(j + 1); err != nil {
			return 0, err
		}
		d.mem.ChargeSize(l, "JSON:decode", luax.CostSlot)
		l.RawSet(t)
		j = d.ws(j)
		if j < len(s) && s[j] == '}' {
			return j + 1, nil
		}
		if j >= len(s) || s[j] != ',' {
			return 0, &jsonluaFail{msg: "expected comma or '}'", loc: j + 1}
		}
		j = d.ws(j + 1)
	}
	return 0, &jsonluaFail{msg: "unclosed '{'", loc: i + 1}
}

// array is grok_array.
func (d *jsonluaDecoder) array(i int) (int, error) {
	if err := d.open(i, jsonluaArrayMTKey); err != nil {
		return 0, err
	}
	defer func() { d.depth-- }()
	l, s := d.l, d.s
	t := l.Top()
	j := d.ws(i + 1)
	if j < len(s) && s[j] == ']' {
		return j + 1, nil
	}
	for n := 1; j < len(s); n++ {
		var err error
		if j, err = d.one(j); err != nil {
			return 0, err
		}
		d.mem.ChargeSize(l, "JSON:decode", luax.CostSlot)
		l.RawSetInt(t, n)
		j = d.ws(j)
		if j < len(s) && s[j] == ']' {
			return j + 1, nil
		}
		if j >= len(s) || s[j] != ',' {
			return 0, &jsonluaFail{msg: "expected comma or ']'", loc: j + 1}
		}
		j = d.ws(j + 1)
	}
	return 0, &jsonluaFail{msg: "unclosed '['", loc: i + 1}
}

// errJSONLuaHandled ends an encode whose onEncodeError returned.
type errJSONLuaHandled struct{}

func (errJSONLuaHandled) Error() string { return "handled" }

// jsonluaEncode is JSON:encode and JSON:encode_pretty(value, etc,
// options).
func jsonluaEncode(l *lua.State, pretty bool) int {
	l.SetTop(4)
	const self, value, etc, options = 1, 2, 3, 4
	jsonluaPushObjdef(l)
	objdef := l.Top()
	if !jsonluaIsObject(l, self, objdef) {
		name := "JSON:encode"
		if pretty {
			name = "JSON:encode_pretty"
		}
		l.Field(objdef, "onEncodeError")
		l.PushValue(objdef)
		l.PushString(name + " must be called in method format")
		l.PushValue(etc)
		l.Call(3, 0)
	}
	e := jsonluaEncoder{l: l, self: self, etc: etc, bud: json.NewTextBudget(l, "JSON:encode"), parents: map[any]bool{}}
	if pretty && !l.IsTable(options) {
		e.pretty, e.indent = true, "  "
	} else if l.IsTable(options) {
		l.Field(options, "pretty")
		e.pretty = l.ToBoolean(-1)
		l.Field(options, "align_keys")
		e.align = l.ToBoolean(-1)
		l.Field(options, "array_newline")
		e.arrayNewline = l.ToBoolean(-1)
		l.Field(options, "stringsAreUtf8")
		e.utf8 = l.ToBoolean(-1)
		l.Field(options, "indent")
		if l.ToBoolean(-1) {
			e.indent, _ = lua.ToStringMeta(l, -1)
			l.Pop(1)
		}
		l.Pop(5)
		l.Field(options, "null")
		if !l.IsNil(-1) {
			e.null = l.Top()
		} else {
			l.Pop(1)
		}
	}
	l.Field(lua.RegistryIndex, jsonluaNumberMTKey)
	e.numberMT = l.Top()

	l.Field(self, "noKeyConversion")
	e.noKeyConversion = l.ToBoolean(-1)
	l.Pop(1)
	if err := e.value(value, ""); err != nil {
		l.PushNil()
		return 1
	}
	e.bud.Charge(e.buf)
	l.PushString(string(e.buf))
	return 1
}

// jsonluaEncoder builds JSON.lua's text for a value.
type jsonluaEncoder struct {
	l                   *lua.State
	self, etc           int
	null                int // options.null's index, 0: none
	numberMT            int // the number objects' metatable
	bud                 json.TextBudget
	buf                 []byte
	pretty, align, utf8 bool
	arrayNewline        bool
	indent              string
	noKeyConversion     bool
	parents             map[any]bool
	depth               int
}

func (e *jsonluaEncoder) write(s string) {
	e.buf = e.bud.Grow(e.buf, len(s))
	e.buf = append(e.buf, s...)
}

// fail calls self:onEncodeError(msg, etc): what it raises goes through;
// when it returns, the encode ends with nil.
func (e *jsonluaEncoder) fail(msg string) error {
	l := e.l
	l.Field(e.self, "onEncodeError")
	l.PushValue(e.self)
	l.PushString(msg)
	l.PushValue(e.etc)
	l.Call(3, 0)
	return errJSONLuaHandled{}
}

// quote appends s as a JSON string.
func (e *jsonluaEncoder) quote(s string) {
	if !e.utf8 {
		e.buf = e.bud.Grow(e.buf, len(s)+2)
		e.buf = jsonluaEscapes.AppendQuoted(e.buf, s)
		return
	}
	q := string(jsonluaEscapes.AppendQuoted(nil, s))
	q = strings.ReplaceAll(strings.ReplaceAll(q, "\u2028", `\u2028`), "\u2029", `\u2029`)
	e.write(q)
}

// quoted is a key as a JSON string.
func (e *jsonluaEncoder) quoted(k string) string {
	saved := e.buf
	e.buf = nil
	e.quote(k)
	q := string(e.buf)
	e.buf = saved
	return q
}

// value appends the value at the absolute index idx.
func (e *jsonluaEncoder) value(idx int, indent string) error {
	l := e.l
	if e.null != 0 && !l.IsNil(idx) && l.Compare(idx, e.null, lua.OpEq) {
		e.write("null")
		return nil
	}
	switch l.TypeOf(idx) {
	case lua.TypeNil, lua.TypeNone:
		e.write("null")
	case lua.TypeString:
		s, _ := l.ToValue(idx).(string)
		e.quote(s)

	case lua.TypeNumber:
		f, _ := l.ToNumber(idx)
		switch {
		case math.IsNaN(f):
			e.write("null")
		case math.IsInf(f, 1):
			e.write("1e+9999")
		case math.IsInf(f, -1):
			e.write("-1e+9999")
		default:
			e.write(json.LuaNumberString(f))
		}
	case lua.TypeBoolean:
		if l.ToBoolean(idx) {
			e.write("true")
		} else {
			e.write("false")
		}
	case lua.TypeTable:
		if l.MetaTable(idx) {
			number := l.RawEqual(-1, e.numberMT)
			l.Pop(1)
			if number {
				s, _ := lua.ToStringMeta(l, idx)
				l.Pop(1)
				e.write(s)
				return nil
			}
		}
		return e.table(idx, indent)
	default:
		return e.fail("can't convert " + lua.TypeNameOf(l, idx) + " to JSON")
	}
	return nil
}

// table appends the table at idx as an array or an object.
func (e *jsonluaEncoder) table(idx int, indent string) error {
	l := e.l
	id := json.TableID(l, idx)
	if e.parents[id] {
		name, _ := lua.ToStringMeta(l, idx)
		l.Pop(1)
		return e.fail("table " + name + " is a child of itself")
	}
	if e.depth >= json.MaxDepth {
		return e.fail(fmt.Sprintf("pushlua: table nested deeper than %d levels", json.MaxDepth))
	}
	e.parents[id] = true
	e.depth++
	json.CheckStack(l, 8)
	defer func() {
		e.parents[id] = false
		e.depth--
	}()

	var strKeys []string
	var numKeys []float64
	mustStrings := false
	maxKey := math.Inf(-1)
	for _, k := range json.AppendTableKeys(l, idx, nil) {
		switch k.Typ {
		case lua.TypeString:
			strKeys = append(strKeys, k.S)
		case lua.TypeNumber:
			numKeys = append(numKeys, k.N)
			if k.N <= 0 || math.IsInf(k.N, 1) {
				mustStrings = true
			} else if k.N > maxKey {
				maxKey = k.N
			}
		default:
			return e.fail("can't encode table with a key of type " + jsonluaTypeName(k.Typ))
		}
	}
	if len(strKeys) == 0 && !mustStrings {
		if len(numKeys) > 0 {
			return e.array(idx, maxKey, indent)
		}
		name, _ := lua.ToStringMeta(l, idx)
		l.Pop(1)
		if name == "JSON object" {
			return e.object(idx, nil, nil, indent)
		}
		e.write("[]")
		return nil
	}
	slices.Sort(strKeys)
	var fromNumber map[string]float64
	if len(numKeys) > 0 {
		if e.noKeyConversion {
			return e.fail("a table with both numeric and string keys could be an object or array; aborting")
		}
		slices.Sort(numKeys)
		present := make(map[string]bool, len(strKeys))
		for _, k := range strKeys {
			present[k] = true
		}
		fromNumber = map[string]float64{}
		for _, n := range numKeys {
			sk := json.LuaNumberString(n)
			if present[sk] {
				return e.fail("conflict converting table with mixed-type keys into a JSON object: key " + sk + " exists both as a string and a number.")
			}
			present[sk] = true
			strKeys = append(strKeys, sk)
			fromNumber[sk] = n
		}
	}
	return e.object(idx, strKeys, fromNumber, indent)
}

// array appends T[1] ... T[max] (max may have a fraction, as a Lua for loop
// allows).
func (e *jsonluaEncoder) array(idx int, maxKey float64, indent string) error {
	l := e.l
	keyIndent := indent + e.indent
	open, sep, end, sub := "[", ",", "]", indent
	switch {
	case e.pretty && e.arrayNewline:
		open, sep, end = "[\n"+keyIndent, ",\n"+keyIndent, "\n"+indent+"]"
	case e.pretty:
		open, sep, end = "[ ", ", ", " ]"
	}
	if e.arrayNewline {
		sub = keyIndent
	}
	e.write(open)
	for i := 1.0; i <= maxKey; i++ {
		if i > 1 {
			e.write(sep)
		}
		l.PushNumber(i)
		l.Table(idx)
		err := e.value(l.Top(), sub)
		l.Pop(1)
		if err != nil {
			return err
		}
	}
	e.write(end)
	return nil

}

// pushField pushes T[key], the key being a number when it came from one.
func (e *jsonluaEncoder) pushField(idx int, key string, fromNumber map[string]float64) {
	if n, ok := fromNumber[key]; ok {
		e.l.PushNumber(n)
	} else {
		e.l.PushString(key)
	}
	e.l.Table(idx)
}

// object appends the keys of the table at idx with their values.
func (e *jsonluaEncoder) object(idx int, keys []string, fromNumber map[string]float64, indent string) error {
	l := e.l
	quoted := e.quoted
	if !e.pretty {
		e.write("{")
		for i, k := range keys {
			if i > 0 {
				e.write(",")
			}
			e.write(quoted(k))
			e.write(":")
			e.pushField(idx, k, fromNumber)
			err := e.value(l.Top(), indent)
			l.Pop(1)
			if err != nil {
				return err
			}
		}
		e.write("}")
		return nil
	}
	width := 0
	if e.align {
		for _, k := range keys {
			width = max(width, len(quoted(k)))
		}
	}
	keyIndent := indent + e.indent
	sub := keyIndent + strings.Repeat(" ", width)
	if e.align {
		sub += "  "
	}
	e.write("{\n")
	for i, k := range keys {
		if i > 0 {
			e.write(",\n")
		}
		q := quoted(k)
		e.write(keyIndent)
		e.write(strings.Repeat(" ", max(width-len(q), 0)))
		e.write(q)
		e.write(": ")
		e.pushField(idx, k, fromNumber)
		err := e.value(l.Top(), sub)
		l.Pop(1)
		if err != nil {
			return err
		}
	}
	e.write("\n" + indent + "}")
	return nil
}

// jsonluaTypeName is type() of a value of type t.
func jsonluaTypeName(t lua.Type) string {
	switch t {
	case lua.TypeBoolean:
		return "boolean"
	case lua.TypeTable:
		return "table"
	case lua.TypeFunction:
		return "function"
	case lua.TypeThread:
		return "thread"
	case lua.TypeLightUserData, lua.TypeUserData:
		return "userdata"
	}
	return "nil"
}

// jsonluaNumberMethods are the metamethods of JSON:asNumber's objects
// {S = text, N = number}: tostring is the text, arithmetic and comparison
// use the number (unary minus returns it unchanged, as JSON.lua's does).
var jsonluaNumberMethods = []lua.RegistryFunction{
	{Name: "__tostring", Function: func(l *lua.State) int {
		l.Field(1, "S")
		return 1
	}},
	{Name: "__unm", Function: func(l *lua.State) int {
		jsonluaGetNum(l, 1)
		return 1
	}},
	{Name: "__concat", Function: func(l *lua.State) int {
		a, _ := lua.ToStringMeta(l, 1)
		b, _ := lua.ToStringMeta(l, 2)
		l.PushString(a + b)
		return 1
	}},
	{Name: "__add", Function: jsonluaArith(lua.OpAdd)},
	{Name: "__sub", Function: jsonluaArith(lua.OpSub)},
	{Name: "__mul", Function: jsonluaArith(lua.OpMul)},
	{Name: "__div", Function: jsonluaArith(lua.OpDiv)},
	{Name: "__mod", Function: jsonluaArith(lua.OpMod)},
	{Name: "__pow", Function: jsonluaArith(lua.OpPow)},
	{Name: "__lt", Function: jsonluaCompare(lua.OpLT)},
	{Name: "__le", Function: jsonluaCompare(lua.OpLE)},
	{Name: "__eq", Function: jsonluaCompare(lua.OpEq)},
}

// jsonluaGetNum pushes the number of the operand at idx: itself, or its N.
func jsonluaGetNum(l *lua.State, idx int) {
	if l.TypeOf(idx) == lua.TypeNumber {
		l.PushValue(idx)
		return
	}
	l.Field(idx, "N")
}

func jsonluaArith(op lua.Operator) lua.Function {
	return func(l *lua.State) int {
		jsonluaGetNum(l, 1)
		jsonluaGetNum(l, 2)
		l.Arith(op)
		return 1
	}
}

func jsonluaCompare(op lua.ComparisonOperator) lua.Function {
	return func(l *lua.State) int {
		jsonluaGetNum(l, 1)
		jsonluaGetNum(l, 2)
		l.PushBoolean(l.Compare(-2, -1, op))
		return 1
	}
}

// jsonluaPushNumberObject pushes a number object for the number text.
func jsonluaPushNumberObject(l *lua.State, text string) {
	l.CreateTable(0, 2)
	l.PushString(text)
	l.SetField(-2, "S")
	if f, err := strconv.ParseFloat(text, 64); err == nil || math.IsInf(f, 0) {
		l.PushNumber(f)
		l.SetField(-2, "N")
	}
	l.Field(lua.RegistryIndex, jsonluaNumberMTKey)
	l.SetMetaTable(-2)
}

// jsonluaAsNumber is JSON:asNumber(item): item when it is a number object,
// a {S, N} table given the metatable again, else a new number object of
// tostring(item) and tonumber(item).
func jsonluaAsNumber(l *lua.State) int {
	l.SetTop(2)
	l.Field(lua.RegistryIndex, jsonluaNumberMTKey)
	mt := l.Top()
	if l.MetaTable(2) {
		same := l.RawEqual(-1, mt)
		l.Pop(1)
		if same {
			l.PushValue(2)
			return 1
		}
	}
	if l.IsTable(2) {
		l.Field(2, "S")
		l.Field(2, "N")
		ok := l.TypeOf(-2) == lua.TypeString && l.TypeOf(-1) == lua.TypeNumber
		l.Pop(2)
		if ok {
			l.PushValue(mt)
			l.SetMetaTable(2)
			l.PushValue(2)
			return 1
		}
	}
	l.CreateTable(0, 2)
	lua.ToStringMeta(l, 2)
	l.SetField(-2, "S")
	l.Global("tonumber")
	l.PushValue(2)
	l.Call(1, 1)
	l.SetField(-2, "N")
	l.PushValue(mt)
	l.SetMetaTable(-2)
	return 1
}

// jsonluaForceString is JSON:forceString(item): a number object's text,
// else tostring(item).
func jsonluaForceString(l *lua.State) int {
	l.SetTop(2)
	if l.IsTable(2) {
		l.Field(2, "S")
		if l.TypeOf(-1) == lua.TypeString {
			return 1
		}
		l.Pop(1)
	}
	lua.ToStringMeta(l, 2)
	return 1
}

// jsonluaForceNumber is JSON:forceNumber(item): a number object's number,
// else tonumber(item).
func jsonluaForceNumber(l *lua.State) int {
	l.SetTop(2)
	if l.IsTable(2) {
		l.Field(2, "N")
		if l.TypeOf(-1) == lua.TypeNumber {
			return 1
		}
		l.Pop(1)
	}
	l.Global("tonumber")
	l.PushValue(2)
	l.Call(1, 1)
	return 1
}

// jsonluaNumberParts returns the lengths of a number text's integer part
// (sign included), decimal part (with the dot) and exponent part.
func jsonluaNumberParts(text string) (intPart, decPart, expPart int) {
	i := 0
	if i < len(text) && text[i] == '-' {
		i++
	}
	for i < len(text) && isDigit(text[i]) {
		i++
	}
	intPart = i
	if i < len(text) && text[i] == '.' {
		j := i + 1
		for j < len(text) && isDigit(text[j]) {
			j++
		}
		decPart = j - i
		i = j
	}
	return intPart, decPart, len(text) - i
}
