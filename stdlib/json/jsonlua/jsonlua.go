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
	"strconv"

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
	t := json.NewEscapeTable("%04x")
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

// Open registers JSON in package.preload.
func Open(l *lua.State, _ luax.Host) {
	luax.Preload(l, "JSON", openJSONLua)
}

// openJSONLua is the opener of "JSON": a new object of OBJDEF.
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
	if !jsonluaNumberField(l, "S", lua.TypeString) {
		lua.ToStringMeta(l, 2)
	}
	return 1
}

// jsonluaForceNumber is JSON:forceNumber(item): a number object's number,
// else tonumber(item).
func jsonluaForceNumber(l *lua.State) int {
	if !jsonluaNumberField(l, "N", lua.TypeNumber) {
		l.Global("tonumber")
		l.PushValue(2)
		l.Call(1, 1)
	}
	return 1
}

// jsonluaNumberField pushes item.field when item (argument 2) is a table
// whose field has type t, and reports whether it did; the stack is cut to
// self and item either way.
func jsonluaNumberField(l *lua.State, field string, t lua.Type) bool {
	l.SetTop(2)
	if l.IsTable(2) {
		l.Field(2, field)
		if l.TypeOf(-1) == t {
			return true
		}
		l.Pop(1)
	}
	return false
}

// jsonluaNumberParts returns the lengths of a number text's integer part
// (sign included), decimal part (with the dot) and exponent part.
func jsonluaNumberParts(text string) (intPart, decPart, expPart int) {
	i := 0
	if i < len(text) && text[i] == '-' {
		i++
	}
	for i < len(text) && json.IsDigit(text[i]) {
		i++
	}
	intPart = i
	if i < len(text) && text[i] == '.' {
		j := i + 1
		for j < len(text) && json.IsDigit(text[j]) {
			j++
		}
		decPart = j - i
		i = j
	}
	return intPart, decPart, len(text) - i
}
