package luajson

// json: LuaJSON 1.3 by Thomas Harning (Debian's lua-json), the module behind
// `local json = require "json"`. json.encode and json.decode are callable
// tables as in LuaJSON (json.encode.strict, json.decode.strict,
// json.decode.simple, getEncoder, getDecoder); json.util.null is the null
// marker (a function returning itself) and json.util.undefined the
// undefined one; json.util also has IsArray, InitArray, clone, merge and
// buildCall/isCall/decodeCall (calls encode as name(args), decoding them is
// not supported). Like LuaJSON, requiring the module sets the global json.
// There is no json.null, as in LuaJSON.
//
// Encoding: an empty table is {} unless it carries json.util's array
// metatable (decoded arrays do); a table is an array when its keys are
// 1..#t, or when it has a numeric n >= 1; strings escape " \ / and control
// characters (\v as \v, others as \u00XX); NaN and infinities encode as NaN,
// Infinity and -Infinity unless strict.
//
// Decoding follows LuaJSON's token stream: the input is split into tokens
// (comments, single quotes, unquoted and numeric keys, NaN, Infinity,
// undefined and trailing commas are accepted in the default mode), then a
// state machine builds the tables, with LuaJSON's messages for each fault.
// Unlike LuaJSON, a \uD83D\uDE00 surrogate pair decodes to one 4-byte UTF-8
// character, and nesting is bounded by json.MaxDepth.

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/json"
)

const (
	luajsonNullKey      = "pushlua.json.null"
	luajsonUndefinedKey = "pushlua.json.undefined"
	luajsonArrayMTKey   = "pushlua.json.ArrayMT"
	luajsonCallMTKey    = "pushlua.json.CallMT"
	luajsonVersion      = "1.3.4"
)

// luajsonEscapes is LuaJSON's default string encoding map.
var luajsonEscapes = func() *json.EscapeTable {
	var t json.EscapeTable
	for i := range 0x20 {
		t[i] = fmt.Sprintf("\\u%04X", i)
	}
	t['"'], t['\\'], t['/'] = `\"`, `\\`, `\/`
	t['\b'], t['\f'], t['\n'], t['\r'], t['\t'], t['\v'] = `\b`, `\f`, `\n`, `\r`, `\t`, `\v`
	return &t
}()

// Open registers json, json.util, json.encode and json.decode in
// package.preload.
func Open(l *lua.State, _ luax.Host) {
	luax.Preload(l, "json", openLuaJSON)
	luax.Preload(l, "json.util", openLuaJSONPart("util"))
	luax.Preload(l, "json.encode", openLuaJSONPart("encode"))
	luax.Preload(l, "json.decode", openLuaJSONPart("decode"))
}

func openLuaJSON(l *lua.State) int {
	luajsonShared(l)
	l.CreateTable(0, 8)
	l.PushString(luajsonVersion)
	l.SetField(-2, "_VERSION")
	l.PushString("LuaJSON : customizable JSON decoder/encoder")
	l.SetField(-2, "_DESCRIPTION")
	l.PushString("Copyright (c) 2007-2017 Thomas Harning Jr. <harningt@gmail.com>")
	l.SetField(-2, "_COPYRIGHT")

	// json.encode
	l.CreateTable(0, 4)
	lua.SetFunctions(l, []lua.RegistryFunction{
		{Name: "encode", Function: luajsonEncode},
		{Name: "getEncoder", Function: luajsonGetEncoder},
	}, 0)
	l.NewTable()
	l.SetField(-2, "default")
	pushLuaJSONEncodeStrict(l)
	l.SetField(-2, "strict")
	luajsonSetCallable(l, luajsonEncode)
	l.SetField(-2, "encode")

	// json.decode
	l.CreateTable(0, 6)
	lua.SetFunctions(l, []lua.RegistryFunction{
		{Name: "decode", Function: luajsonDecode},
		{Name: "getDecoder", Function: luajsonGetDecoder},
	}, 0)
	pushLuaJSONDecodeMode(l, true)
	l.SetField(-2, "strict")
	pushLuaJSONDecodeMode(l, false)
	l.SetField(-2, "simple")
	l.NewTable()
	l.SetField(-2, "util")
	luajsonSetCallable(l, luajsonDecode)
	l.SetField(-2, "decode")

	// json.util
	l.CreateTable(0, 8)
	lua.SetFunctions(l, []lua.RegistryFunction{
		{Name: "IsArray", Function: luajsonIsArrayFunc},
		{Name: "InitArray", Function: luajsonInitArray},
		{Name: "clone", Function: luajsonClone},
		{Name: "merge", Function: luajsonMerge},
		{Name: "buildCall", Function: luajsonBuildCall},
		{Name: "isCall", Function: luajsonIsCall},
		{Name: "decodeCall", Function: luajsonDecodeCall},
	}, 0)
	l.Field(lua.RegistryIndex, luajsonNullKey)
	l.SetField(-2, "null")
	l.Field(lua.RegistryIndex, luajsonUndefinedKey)
	l.SetField(-2, "undefined")
	l.SetField(-2, "util")

	l.PushValue(-1)
	l.SetGlobal("json")
	return 1
}

// openLuaJSONPart opens json.util, json.encode or json.decode: the field of
// the json module.
func openLuaJSONPart(part string) lua.Function {
	return func(l *lua.State) int {
		lua.Require(l, "json", openLuaJSON, false)
		l.Field(-1, part)
		return 1
	}
}

// luajsonSetCallable sets on the table at the top a metatable whose __call calls
// f without the table.
func luajsonSetCallable(l *lua.State, f lua.Function) {
	l.CreateTable(0, 1)
	l.PushGoFunction(func(l *lua.State) int {
		l.Remove(1)
		return f(l)
	})
	l.SetField(-2, "__call")
	l.SetMetaTable(-2)
}

// luajsonShared creates, once per state, the null and undefined markers and
// the array metatable.
func luajsonShared(l *lua.State) {
	l.Field(lua.RegistryIndex, luajsonNullKey)
	exists := !l.IsNil(-1)
	l.Pop(1)
	if exists {
		return
	}
	for _, key := range []string{luajsonNullKey, luajsonUndefinedKey} {
		l.PushGoFunction(func(l *lua.State) int {
			l.Field(lua.RegistryIndex, key)
			return 1
		})
		l.SetField(lua.RegistryIndex, key)
	}
	l.NewTable()
	l.SetField(lua.RegistryIndex, luajsonArrayMTKey)
	l.NewTable()
	l.SetField(lua.RegistryIndex, luajsonCallMTKey)
}

func pushLuaJSONEncodeStrict(l *lua.State) {
	l.CreateTable(0, 3)
	l.PushBoolean(true)
	l.SetField(-2, "initialObject")
	l.CreateTable(0, 2)
	l.PushBoolean(false)
	l.SetField(-2, "nan")
	l.PushBoolean(false)
	l.SetField(-2, "inf")
	l.SetField(-2, "number")
	l.CreateTable(0, 1)
	l.PushBoolean(false)
	l.SetField(-2, "allowUndefined")
	l.SetField(-2, "others")
}

// pushLuaJSONDecodeMode pushes json.decode.strict (strict) or
// json.decode.simple with the options this implementation reads.
func pushLuaJSONDecodeMode(l *lua.State, strict bool) {
	set := func(sub string, fields map[string]any) {
		l.CreateTable(0, len(fields))
		for k, v := range fields {
			switch v := v.(type) {
			case bool:
				l.PushBoolean(v)
			case string:
				l.PushString(v)
			}
			l.SetField(-2, k)
		}
		l.SetField(-2, sub)
	}
	l.CreateTable(0, 8)
	if !strict {
		set("others", map[string]any{"null": false, "undefined": false})
		return
	}
	for _, f := range []string{"unicodeWhitespace", "initialObject"} {
		l.PushBoolean(true)
		l.SetField(-2, f)
	}
	l.PushBoolean(false)
	l.SetField(-2, "nothrow")
	set("array", map[string]any{"trailingComma": false})
	set("object", map[string]any{"trailingComma": false, "number": false, "identifier": false})
	set("strings", map[string]any{"strict_quotes": true, "badChars": "\b\f\n\r\t\v"})
	set("number", map[string]any{"nan": false, "inf": false, "hex": false})
	set("others", map[string]any{"allowUndefined": false})
}

// luajsonOptionField reads options[sub][field] (options[field] when sub is "") of
// the options table at idx, pushing nothing; ok is false when absent.
func luajsonOptionField(l *lua.State, idx int, sub, field string, get func(int)) {
	if !l.IsTable(idx) {
		return
	}
	if sub != "" {
		l.Field(idx, sub)
		if !l.IsTable(-1) {
			l.Pop(1)
			return
		}
		l.Field(-1, field)
		if !l.IsNil(-1) {
			get(l.Top())
		}
		l.Pop(2)
		return
	}
	l.Field(idx, field)
	if !l.IsNil(-1) {
		get(l.Top())
	}
	l.Pop(1)
}

func luajsonOptionBool(l *lua.State, idx int, sub, field string, def bool) bool {
	v := def
	luajsonOptionField(l, idx, sub, field, func(i int) { v = l.ToBoolean(i) })
	return v
}

// ===== encoding =====

type luajsonEncodeOptions struct {
	initialObject  bool
	nan, inf       bool
	allowUndefined bool
}

func luajsonEncodeOptionsAt(l *lua.State, idx int) luajsonEncodeOptions {
	return luajsonEncodeOptions{
		initialObject:  luajsonOptionBool(l, idx, "", "initialObject", false),
		nan:            luajsonOptionBool(l, idx, "number", "nan", true),
		inf:            luajsonOptionBool(l, idx, "number", "inf", true),
		allowUndefined: luajsonOptionBool(l, idx, "others", "allowUndefined", true),
	}
}

// luajsonEncode is json.encode(value [, options]).
func luajsonEncode(l *lua.State) int {
	opt := luajsonEncodeOptionsAt(l, 2)
	l.SetTop(1)
	return luajsonEncodeWith(l, opt)
}

// luajsonGetEncoder is json.encode.getEncoder([options]).
func luajsonGetEncoder(l *lua.State) int {
	opt := luajsonEncodeOptionsAt(l, 1)
	l.PushGoFunction(func(l *lua.State) int {
		l.SetTop(1)
		return luajsonEncodeWith(l, opt)
	})
	return 1
}

func luajsonEncodeWith(l *lua.State, opt luajsonEncodeOptions) int {
	if opt.initialObject && (!l.IsTable(1) || luajsonIsCallAt(l, 1)) {
		raiseJSON(l, "Invalid arguments: expects a JSON Object or Array at the root")
	}
	luajsonShared(l)
	l.Field(lua.RegistryIndex, luajsonNullKey)
	l.Field(lua.RegistryIndex, luajsonUndefinedKey)
	l.Field(lua.RegistryIndex, luajsonArrayMTKey)
	l.Field(lua.RegistryIndex, luajsonCallMTKey)
	e := luajsonEncoder{l: l, opt: opt, nullIdx: 2, undefinedIdx: 3, arrayMTIdx: 4, callMTIdx: 5,
		bud: json.NewTextBudget(l, "json.encode")}
	if err := e.value(1, 0); err != nil {
		raiseJSON(l, err.Error())
	}
	e.bud.Charge(e.buf)
	l.PushString(string(e.buf))
	return 1
}

type luajsonEncoder struct {
	l                                 *lua.State
	opt                               luajsonEncodeOptions
	nullIdx, undefinedIdx, arrayMTIdx int
	callMTIdx                         int
	buf                               []byte
	keys                              []json.Key
	visiting                          map[any]struct{}
	bud                               json.TextBudget
}

// grow makes room for n more bytes within the budgets.
func (e *luajsonEncoder) grow(n int) { e.buf = e.bud.Grow(e.buf, n) }

func (e *luajsonEncoder) value(idx, depth int) error {
	l := e.l
	e.grow(0)
	switch t := l.TypeOf(idx); t {
	case lua.TypeString:
		s, _ := l.ToString(idx)
		e.grow(len(s) + 2)
		e.buf = luajsonEscapes.AppendQuoted(e.buf, s)
	case lua.TypeNumber:
		n, _ := l.ToNumber(idx)
		switch {
		case math.IsNaN(n):
			if !e.opt.nan {
				return json.NewError("Invalid number: NaN not enabled")
			}
			e.buf = append(e.buf, "NaN"...)
		case math.IsInf(n, 0):
			if !e.opt.inf {
				return json.NewError("Invalid number: Infinity not enabled")
			}
			if n > 0 {
				e.buf = append(e.buf, "Infinity"...)
			} else {
				e.buf = append(e.buf, "-Infinity"...)
			}
		default:
			e.buf = json.AppendNumber(e.buf, n, 14)
		}
	case lua.TypeBoolean:
		if l.ToBoolean(idx) {
			e.buf = append(e.buf, "true"...)
		} else {
			e.buf = append(e.buf, "false"...)
		}
	case lua.TypeNil:
		e.buf = append(e.buf, "null"...)
	case lua.TypeFunction:
		switch {
		case l.RawEqual(idx, e.nullIdx):
			e.buf = append(e.buf, "null"...)
		case l.RawEqual(idx, e.undefinedIdx):
			if !e.opt.allowUndefined {
				return json.NewError("Invalid value: Unsupported 'Undefined' parameter")
			}
			e.buf = append(e.buf, "undefined"...)
		default:
			return json.NewError("Failed to encode value, encoders for function deny encoding")
		}
	case lua.TypeTable:
		if l.MetaTable(idx) {
			isCall := l.RawEqual(-1, e.callMTIdx)
			l.Pop(1)
			if isCall {
				return e.call(idx, depth+1)
			}
		}
		return e.table(idx, depth+1)
	default:
		return json.NewError("Failed to encode value, unhandled type: " + t.String())
	}
	return nil
}

func (e *luajsonEncoder) table(idx, depth int) error {
	l := e.l
	if depth > json.MaxDepth {
		return json.NewError(fmt.Sprintf("Failed to encode value, excessive nesting (%d)", depth))
	}
	json.CheckStack(l, 16)
	id := json.TableID(l, idx)
	if _, ok := e.visiting[id]; ok {
		return json.NewError("Recursive encoding of value")
	}
	if e.visiting == nil {
		e.visiting = make(map[any]struct{})
	}
	e.visiting[id] = struct{}{}
	defer delete(e.visiting, id)

	start := len(e.keys)
	defer func() { e.keys = e.keys[:start] }()
	if e.isArray(idx, start) {
		return e.array(idx, depth)
	}
	if len(e.keys) == start {
		e.keys = json.AppendTableKeys(l, idx, e.keys)
	}
	return e.object(idx, depth, e.keys[start:])
}

// isArray is LuaJSON's array detection; it may leave the table's keys in
// e.keys[start:].
func (e *luajsonEncoder) isArray(idx, start int) bool {
	l := e.l
	if l.MetaTable(idx) {
		isArrayMT := l.RawEqual(-1, e.arrayMTIdx)
		if !isArrayMT {
			l.Field(-1, "__is_luajson_array")
			isArrayMT = l.ToBoolean(-1)
			l.Pop(1)
		}
		l.Pop(1)
		if isArrayMT {
			return true
		}
	}
	length := lua.LengthEx(l, idx)
	if length == 0 {
		return false
	}
	l.Field(idx, "n")
	n, isNum := l.ToNumber(-1)
	isNum = isNum && l.TypeOf(-1) == lua.TypeNumber
	l.Pop(1)
	if isNum && n == math.Floor(n) && n >= 1 {
		return true
	}
	e.keys = json.AppendTableKeys(l, idx, e.keys)
	for _, k := range e.keys[start:] {
		if !k.IsIndex() || k.N > float64(length) {
			return false
		}
	}
	return true
}

func (e *luajsonEncoder) array(idx, depth int) error {
	l := e.l
	l.Field(idx, "n")
	var n float64
	if l.IsNil(-1) {
		n = float64(lua.LengthEx(l, idx))
	} else {
		var ok bool
		if n, ok = l.ToNumber(-1); !ok {
			l.Pop(1)
			return json.NewError("'for' limit must be a number")
		}
	}
	l.Pop(1)
	e.buf = append(e.buf, '[')
	for i := 1; float64(i) <= n; i++ {
		if i > 1 {
			e.buf = append(e.buf, ',')
		}
		l.PushInteger(i)
		l.Table(idx)
		err := e.value(l.Top(), depth)
		l.Pop(1)
		if err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

func (e *luajsonEncoder) object(idx, depth int, keys []json.Key) error {
	l := e.l
	json.SortKeys(keys)
	e.buf = append(e.buf, '{')
	for i, k := range keys {
		var name string
		switch k.Typ {
		case lua.TypeString:
			name = k.S
		case lua.TypeNumber:
			name = json.LuaNumberString(k.N)
		case lua.TypeBoolean:
			name = strconv.FormatBool(k.B)
		default:
			return json.NewError("Invalid object index type: " + k.Typ.String())
		}
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = luajsonEscapes.AppendQuoted(e.buf, name)
		e.buf = append(e.buf, ':')
		json.RawGetKey(l, idx, k)
		err := e.value(l.Top(), depth)
		l.Pop(1)
		if err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// call encodes a json.util.buildCall value as name(parameters...).
func (e *luajsonEncoder) call(idx, depth int) error {
	l := e.l
	if depth > json.MaxDepth {
		return json.NewError(fmt.Sprintf("Failed to encode value, excessive nesting (%d)", depth))
	}
	json.CheckStack(l, 16)
	l.Field(idx, "name")
	name, _ := l.ToString(-1)
	l.Pop(1)
	l.Field(idx, "parameters")
	params := l.Top()
	// Not deferred: a deferred SetTop would also run while a Lua error
	// raised inside unwinds, and drop the error value from the stack.
	err := e.callParams(params, name, depth)
	l.SetTop(params - 1)
	return err
}

func (e *luajsonEncoder) callParams(params int, name string, depth int) error {
	l := e.l
	if !l.IsTable(params) {
		return json.NewError("Failed to encode value, call without parameters")
	}
	l.Field(params, "n")
	n, ok := l.ToInteger(-1)
	l.Pop(1)
	if !ok {
		n = lua.LengthEx(l, params)
	}
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, '(')
	for i := 1; i <= n; i++ {
		if i > 1 {
			e.buf = append(e.buf, ',')
		}
		l.RawGetInt(params, i)
		err := e.value(l.Top(), depth)
		l.Pop(1)
		if err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ')')
	return nil
}

// ===== json.util =====

// luajsonIsCallAt reports whether the value at idx was made by
// json.util.buildCall.
func luajsonIsCallAt(l *lua.State, idx int) bool {
	if !l.MetaTable(idx) {
		return false
	}
	l.Field(lua.RegistryIndex, luajsonCallMTKey)
	is := l.RawEqual(-1, -2)
	l.Pop(2)
	return is
}

// luajsonBuildCall is json.util.buildCall(name, ...): a value encoded as a
// JavaScript call name(...).
func luajsonBuildCall(l *lua.State) int {
	n := l.Top() - 1
	l.CreateTable(0, 2)
	l.PushValue(1)
	l.SetField(-2, "name")
	l.CreateTable(n, 1)
	for i := 1; i <= n; i++ {
		l.PushValue(i + 1)
		l.RawSetInt(-2, i)
	}
	l.PushInteger(n)
	l.SetField(-2, "n")
	l.SetField(-2, "parameters")
	luajsonShared(l)
	l.Field(lua.RegistryIndex, luajsonCallMTKey)
	l.SetMetaTable(-2)
	return 1
}

// luajsonIsCall is json.util.isCall(value).
func luajsonIsCall(l *lua.State) int {
	l.PushBoolean(luajsonIsCallAt(l, 1))
	return 1
}

// luajsonDecodeCall is json.util.decodeCall(value): name, parameters, or
// nil when value is not a call.
func luajsonDecodeCall(l *lua.State) int {
	if !luajsonIsCallAt(l, 1) {
		return 0
	}
	l.Field(1, "name")
	l.Field(1, "parameters")
	return 2
}

// luajsonIsArrayFunc is json.util.IsArray(value): true for a table with the
// array metatable, false for one with no array part, else nil.
func luajsonIsArrayFunc(l *lua.State) int {
	if !l.IsTable(1) {
		l.PushBoolean(false)
		return 1
	}
	if l.MetaTable(1) {
		l.Field(lua.RegistryIndex, luajsonArrayMTKey)
		is := l.RawEqual(-1, -2)
		if !is {
			l.Field(-2, "__is_luajson_array")
			is = l.ToBoolean(-1)
		}
		if is {
			l.PushBoolean(true)
			return 1
		}
	}
	if lua.LengthEx(l, 1) == 0 {
		l.PushBoolean(false)
		return 1
	}
	return 0
}

// luajsonInitArray is json.util.InitArray(t): marks t as an array.
func luajsonInitArray(l *lua.State) int {
	l.SetTop(1)
	l.Field(lua.RegistryIndex, luajsonArrayMTKey)
	l.SetMetaTable(1)
	return 1
}

// luajsonClone is json.util.clone(t): a shallow copy.
func luajsonClone(l *lua.State) int {
	lua.CheckType(l, 1, lua.TypeTable)
	l.NewTable()
	l.PushNil()
	for l.Next(1) {
		l.PushValue(-2)
		l.Insert(-2)
		l.SetTable(-4)
	}
	return 1
}

// luajsonMerge is json.util.merge(t, ...): shallow-merges the tables onto t.
func luajsonMerge(l *lua.State) int {
	n := l.Top()
	for i := 2; i <= n; i++ {
		if !l.IsTable(i) {
			continue
		}
		l.PushNil()
		for l.Next(i) {
			l.PushValue(-2)
			l.Insert(-2)
			l.SetTable(1)
		}
	}
	l.SetTop(1)
	return 1
}

// ===== decoding =====

type luajsonDecodeOptions struct {
	initialObject, nothrow bool
	unicodeWhitespace      bool
	arrayTrailingComma     bool
	ignoreLength           bool
	objectTrailingComma    bool
	numberKeys             bool
	identifiers            bool
	strictQuotes           bool
	badChars               string
	nan, inf, hex          bool
	allowUndefined         bool
}

// luajsonDecodeOptionsAt reads the decode mode at idx: nil for the default,
// true for strict, or an options table.
func luajsonDecodeOptionsAt(l *lua.State, idx int) luajsonDecodeOptions {
	if l.IsBoolean(idx) && l.ToBoolean(idx) {
		lua.Require(l, "json", openLuaJSON, false)
		l.Field(-1, "decode")
		l.Field(-1, "strict")
		l.Replace(idx)
		l.Pop(2)
	}
	o := luajsonDecodeOptions{
		initialObject:       luajsonOptionBool(l, idx, "", "initialObject", false),
		nothrow:             luajsonOptionBool(l, idx, "", "nothrow", false),
		unicodeWhitespace:   luajsonOptionBool(l, idx, "", "unicodeWhitespace", true),
		arrayTrailingComma:  luajsonOptionBool(l, idx, "array", "trailingComma", true),
		ignoreLength:        luajsonOptionBool(l, idx, "array", "ignoreLength", false),
		objectTrailingComma: luajsonOptionBool(l, idx, "object", "trailingComma", true),
		numberKeys:          luajsonOptionBool(l, idx, "object", "number", true),
		identifiers:         luajsonOptionBool(l, idx, "object", "identifier", true),
		strictQuotes:        luajsonOptionBool(l, idx, "strings", "strict_quotes", false),
		nan:                 luajsonOptionBool(l, idx, "number", "nan", true),
		inf:                 luajsonOptionBool(l, idx, "number", "inf", true),
		hex:                 luajsonOptionBool(l, idx, "number", "hex", false),
		allowUndefined:      luajsonOptionBool(l, idx, "others", "allowUndefined", true),
	}
	luajsonOptionField(l, idx, "strings", "badChars", func(i int) { o.badChars, _ = l.ToString(i) })
	return o
}

// pushLuaJSONMarker pushes what the decoder yields for null or undefined:
// options.others[field] when set (false meaning nil), else the json.util
// marker.
func pushLuaJSONMarker(l *lua.State, optIdx int, field, key string) {
	if l.IsTable(optIdx) {
		l.Field(optIdx, "others")
		if l.IsTable(-1) {
			l.Field(-1, field)
			if !l.IsNil(-1) {
				l.Remove(-2)
				if l.IsBoolean(-1) && !l.ToBoolean(-1) {
					l.Pop(1)
					l.PushNil()
				}
				return
			}
			l.Pop(1)
		}
		l.Pop(1)
	}
	l.Field(lua.RegistryIndex, key)
}

// luajsonDecode is json.decode(text [, mode]).
func luajsonDecode(l *lua.State) int {
	l.SetTop(2)
	opt := luajsonDecodeOptionsAt(l, 2)
	return luajsonDecodeWith(l, opt)
}

// luajsonGetDecoder is json.decode.getDecoder([mode]).
func luajsonGetDecoder(l *lua.State) int {
	l.SetTop(1)
	opt := luajsonDecodeOptionsAt(l, 1)
	l.PushValue(1) // the decoder keeps the mode for its null and undefined markers
	l.PushGoClosure(func(l *lua.State) int {
		l.SetTop(1)
		l.PushValue(lua.UpValueIndex(1))
		return luajsonDecodeWith(l, opt)
	}, 1)
	return 1
}

// luajsonDecodeWith decodes the string at 1 with the mode at 2.
func luajsonDecodeWith(l *lua.State, opt luajsonDecodeOptions) int {
	s := lua.CheckString(l, 1)
	l.SetTop(2)
	luajsonShared(l)
	pushLuaJSONMarker(l, 2, "null", luajsonNullKey)
	pushLuaJSONMarker(l, 2, "undefined", luajsonUndefinedKey)
	l.Field(lua.RegistryIndex, luajsonArrayMTKey)
	l.PushNil() // previous value
	d := luajsonDecoder{
		l: l, s: s, opt: &opt, mem: luax.MemOf(l),
		nullIdx: 3, undefinedIdx: 4, arrayMTIdx: 5, prevIdx: 6, framesBase: 7,
	}
	if err := d.run(); err != nil {
		if opt.nothrow {
			l.SetTop(0)
			l.PushNil()
			l.PushString(err.Error())
			return 2
		}
		raiseJSON(l, err.Error())
	}
	l.PushValue(d.prevIdx)
	return 1
}

type luajsonTokenKind uint8

const (
	ljBeginArray luajsonTokenKind = iota
	ljEndArray
	ljBeginObject
	ljEndObject
	ljSetKey
	ljNextValue
	ljString
	ljNumber
	ljBoolean
	ljNull
	ljUndefined
)

type luajsonToken struct {
	kind luajsonTokenKind
	str  string
	num  float64
	b    bool
}

type luajsonFrame struct {
	object bool
	count  int
	hasKey bool
}

type luajsonDecoder struct {
	l   *lua.State
	s   string
	pos int
	opt *luajsonDecodeOptions
	buf []byte
	mem *luax.MemBudget // charged for each value and table made

	nullIdx, undefinedIdx, arrayMTIdx int
	prevIdx, framesBase               int
	frames                            []luajsonFrame
	prevSet                           bool
	pendingKey                        bool // an identifier key was read: a SET_KEY follows
}

// run lexes the whole input, feeding the state machine; a lexical error
// anywhere wins over a fault of the machine, as LuaJSON lexes first.
func (d *luajsonDecoder) run() error {
	var machineErr error
	for {
		tok, ok, err := d.lex()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if machineErr == nil {
			machineErr = d.apply(&tok)
		}
		if d.pendingKey {
			d.pendingKey = false
			if machineErr == nil {
				machineErr = d.apply(&luajsonToken{kind: ljSetKey})
			}
		}
	}
	if machineErr != nil {
		return machineErr
	}
	if d.opt.initialObject && !d.l.IsTable(d.prevIdx) {
		return json.NewError("Initial value not an object or array")
	}
	if len(d.frames) != 0 {
		return json.NewError("Unclosed elements present")
	}
	return nil
}

func (d *luajsonDecoder) at(i int) byte {
	if i < len(d.s) {
		return d.s[i]
	}
	return 0
}

// report is LuaJSON's build_report message for a fault at the 0-based i.
func (d *luajsonDecoder) report(msg string, i int) error {
	line, col, bad, last := luajsonCharInfo(d.s, i+1)
	return json.NewError(fmt.Sprintf("%s @ character: %d %d:%d [%s] line:\n%s", msg, i+1, line, col, bad, last))
}

func (d *luajsonDecoder) denied(item, option string, i int) error {
	if option == "" {
		return d.report(fmt.Sprintf("'%s' denied", item), i)
	}
	return d.report(fmt.Sprintf("'%s' denied by option set '%s'", item, option), i)
}

// stringError is the error of a bad escape in a string, at the 0-based i.
func (d *luajsonDecoder) stringError(item string, i int) error {
	line, col, bad, _ := luajsonCharInfo(d.s, i+1)
	return json.NewError(fmt.Sprintf("%s in string [%s] @ %d:%d", item, jsonLuaQuote(bad), line, col))
}

// luajsonCharInfo is get_invalid_character_info for the 1-based index.
func luajsonCharInfo(s string, index int) (line, col int, bad, last string) {
	parsed := s[:min(index, len(s))]
	if index >= 1 && index <= len(s) {
		bad = s[index-1 : index]
	}
	line = strings.Count(parsed, "\n")
	last = parsed
	if len(parsed) > 0 {
		if p := strings.LastIndexByte(parsed[:len(parsed)-1], '\n'); p >= 0 && len(parsed)-p-1 >= 2 {
			last = parsed[p+1:]
		}
	}
	return line, len(last), bad, last
}

// jsonLuaQuote is string.format("%q", s) of Lua 5.2.
func jsonLuaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\' || c == '\n':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			if i+1 < len(s) && '0' <= s[i+1] && s[i+1] <= '9' {
				fmt.Fprintf(&b, "\\%03d", c)
			} else {
				fmt.Fprintf(&b, "\\%d", c)
			}
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// skipIgnored skips whitespace (Unicode spaces too, unless disabled) and
// comments.
func (d *luajsonDecoder) skipIgnored(p int) int {
	s := d.s
	for p < len(s) {
		c := s[p]
		switch c {
		case '\t', '\n', '\v', '\f', '\r', ' ':
			p++
			continue
		case '/':
			if d.at(p+1) == '/' {
				if j := strings.IndexByte(s[p+2:], '\n'); j >= 0 {
					p += 2 + j + 1
					continue
				}
			} else if d.at(p+1) == '*' {
				if j := strings.Index(s[p+2:], "*/"); j >= 0 {
					p += 2 + j + 2
					continue
				}
			}
			return p
		}
		if !d.opt.unicodeWhitespace || c < 0x80 {
			return p
		}
		n := luajsonUnicodeSpaceLen(s[p:])
		if n == 0 {
			return p
		}
		p += n
	}
	return p
}

// luajsonUnicodeSpaceLen is the length of the Unicode space LuaJSON ignores at the
// start of s, 0 if none.
func luajsonUnicodeSpaceLen(s string) int {
	if len(s) < 2 {
		return 0
	}
	switch s[0] {
	case 0xC2:
		if s[1] == 0x85 || s[1] == 0xA0 {
			return 2
		}
	case 0xE1:
		if strings.HasPrefix(s, "\xE1\x9A\x80") || strings.HasPrefix(s, "\xE1\xA0\x8E") {
			return 3
		}
	case 0xE2:
		if len(s) >= 3 && s[1] == 0x80 && ((0x80 <= s[2] && s[2] <= 0x8B) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF) {
			return 3
		}
		if strings.HasPrefix(s, "\xE2\x81\x9F") {
			return 3
		}
	case 0xE3:
		if strings.HasPrefix(s, "\xE3\x80\x80") {
			return 3
		}
	case 0xEF:
		if strings.HasPrefix(s, "\xEF\xBB\xBF") {
			return 3
		}
	}
	return 0
}

func luajsonIsIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

// lex reads the next token; ok is false at the end of the input.
func (d *luajsonDecoder) lex() (tok luajsonToken, ok bool, err error) {
	p := d.skipIgnored(d.pos)
	if p >= len(d.s) {
		d.pos = p
		return tok, false, nil
	}
	c := d.s[p]
	d.pos = p + 1
	switch c {
	case '[':
		return luajsonToken{kind: ljBeginArray}, true, nil
	case ']':
		return luajsonToken{kind: ljEndArray}, true, nil
	case '{':
		return luajsonToken{kind: ljBeginObject}, true, nil
	case '}':
		return luajsonToken{kind: ljEndObject}, true, nil
	case ':':
		return luajsonToken{kind: ljSetKey}, true, nil
	case ',':
		return luajsonToken{kind: ljNextValue}, true, nil
	}
	d.pos = p
	if d.opt.identifiers && luajsonIsIdentStart(c) {
		j := p + 1
		for j < len(d.s) && (luajsonIsIdentStart(d.s[j]) || json.IsDigit(d.s[j])) {
			j++
		}
		if k := d.skipIgnored(j); d.at(k) == ':' && k < len(d.s) {
			d.pos = k + 1
			d.pendingKey = true
			return luajsonToken{kind: ljString, str: d.s[p:j]}, true, nil
		}
	}
	if c == '"' || (c == '\'' && !d.opt.strictQuotes) {
		str, matched, err := d.lexString(p, c)
		if err != nil {
			return tok, false, err
		}
		if matched {
			return luajsonToken{kind: ljString, str: str}, true, nil
		}
	}
	if num, matched, err := d.lexNumber(p); err != nil {
		return tok, false, err
	} else if matched {
		return luajsonToken{kind: ljNumber, num: num}, true, nil
	}
	rest := d.s[p:]
	switch {
	case strings.HasPrefix(rest, "true"):
		d.pos = p + 4
		return luajsonToken{kind: ljBoolean, b: true}, true, nil
	case strings.HasPrefix(rest, "false"):
		d.pos = p + 5
		return luajsonToken{kind: ljBoolean}, true, nil
	case strings.HasPrefix(rest, "null"):
		d.pos = p + 4
		return luajsonToken{kind: ljNull}, true, nil
	case strings.HasPrefix(rest, "undefined"):
		if !d.opt.allowUndefined {
			return tok, false, d.denied("undefined", "others.allowUndefined", p)
		}
		d.pos = p + 9
		return luajsonToken{kind: ljUndefined}, true, nil
	}
	return tok, false, d.report("unexpected character", p)
}

// lexNumber reads a number at p.
func (d *luajsonDecoder) lexNumber(p int) (float64, bool, error) {
	at := d.at
	if at(p) == '0' && at(p+1)|0x20 == 'x' && json.HexDigit(at(p+2)) >= 0 {
		if !d.opt.hex {
			return 0, false, d.denied("Hexadecimal", "number.hex", p)
		}
		q := p + 2
		for json.HexDigit(at(q)) >= 0 {
			q++
		}
		v, _ := strconv.ParseFloat(d.s[p:q]+"p0", 64)
		d.pos = q
		return v, true, nil
	}
	q := p
	if at(q) == '-' {
		q++
	}
	if json.IsDigit(at(q)) {
		if at(q) == '0' && json.IsDigit(at(q+1)) {
			return 0, false, d.denied("Octal numbers", "", q)
		}
		if at(q) == '0' {
			q++
		} else {
			for json.IsDigit(at(q)) {
				q++
			}
		}
		if at(q) == '.' && json.IsDigit(at(q+1)) {
			q += 2
			for json.IsDigit(at(q)) {
				q++
			}
		}
		if at(q)|0x20 == 'e' {
			r := q + 1
			if at(r) == '+' || at(r) == '-' {
				r++
			}
			if json.IsDigit(at(r)) {
				for json.IsDigit(at(r)) {
					r++
				}
				q = r
			}
		}
		v, _ := strconv.ParseFloat(d.s[p:q], 64)
		d.pos = q
		return v, true, nil
	}
	rest := d.s[p:]
	if len(rest) >= 3 && strings.EqualFold(rest[:3], "nan") {
		if !d.opt.nan {
			return 0, false, d.denied("NaN", "number.nan", p)
		}
		d.pos = p + 3
		return math.NaN(), true, nil
	}
	isInf := func(s string) bool { return len(s) >= 8 && s[0]|0x20 == 'i' && s[1:8] == "nfinity" }
	if ninf := strings.HasPrefix(rest, "-") && isInf(rest[1:]); ninf || isInf(rest) {
		if !d.opt.inf {
			return 0, false, d.denied("+/-Inf", "number.inf", p)
		}
		if ninf {
			d.pos = p + 9
			return math.Inf(-1), true, nil
		}
		d.pos = p + 8
		return math.Inf(1), true, nil
	}
	return 0, false, nil
}

// lexString reads a string quoted by q at p; matched is false when it is
// not closed (or holds a character the mode forbids).
func (d *luajsonDecoder) lexString(p int, q byte) (string, bool, error) {
	s := d.s
	i := p + 1
	// Fast path: no escapes.
	for j := i; j < len(s); j++ {
		c := s[j]
		if c == q {
			if d.opt.badChars == "" || !strings.ContainsAny(s[i:j], d.opt.badChars) {
				d.pos = j + 1
				return s[i:j], true, nil
			}
			break
		}
		if c == '\\' {
			break
		}
	}
	allowed := "bfnrtv/\\\"xu'z"
	if d.opt.strictQuotes {
		allowed = "bfnrtv/\\\"u"
	}
	d.buf = d.buf[:0]
	for {
		if i >= len(s) {
			return "", false, nil
		}
		c := s[i]
		switch {
		case c == q:
			d.pos = i + 1
			return string(d.buf), true, nil
		case c == '\\':
			e := d.at(i + 1)
			if i+1 >= len(s) || strings.IndexByte(allowed, e) < 0 {
				return "", false, d.stringError("Illegal escape", i+1)
			}
			switch e {
			case 'b':
				d.buf = append(d.buf, '\b')
			case 'f':
				d.buf = append(d.buf, '\f')
			case 'n':
				d.buf = append(d.buf, '\n')
			case 'r':
				d.buf = append(d.buf, '\r')
			case 't':
				d.buf = append(d.buf, '\t')
			case 'v':
				d.buf = append(d.buf, '\v')
			case 'z':
			case 'x':
				h, l := json.HexDigit(d.at(i+2)), json.HexDigit(d.at(i+3))
				if h < 0 || l < 0 {
					return "", false, d.stringError("Illegal hex escape", i+2)
				}
				d.buf = append(d.buf, byte(h<<4|l))
				i += 4
				continue
			case 'u':
				cp := json.Hex4(s, i+2)
				if cp < 0 {
					return "", false, d.stringError("Illegal unicode escape", i+2)
				}
				n := 6
				if 0xD800 <= cp && cp <= 0xDBFF && d.at(i+6) == '\\' && d.at(i+7) == 'u' {
					if low := json.Hex4(s, i+8); 0xDC00 <= low && low <= 0xDFFF {
						cp = (cp-0xD800)<<10 + (low - 0xDC00) + 0x10000
						n = 12
					}
				}
				d.buf = json.AppendCodePoint(d.buf, cp)
				i += n
				continue
			default: // ' " \ /
				d.buf = append(d.buf, e)
			}
			i += 2
		case d.opt.badChars != "" && strings.IndexByte(d.opt.badChars, c) >= 0:
			return "", false, nil
		default:
			end := i + 1
			for end < len(s) && s[end] != q && s[end] != '\\' && (d.opt.badChars == "" || strings.IndexByte(d.opt.badChars, s[end]) < 0) {
				end++
			}
			d.buf = append(d.buf, s[i:end]...)
			i = end
		}
	}
}

// ===== the state machine of json.decode.state =====

func (d *luajsonDecoder) tableIdx() int { return d.framesBase + 2*(len(d.frames)-1) }

var errLuaJSONNilActive = json.NewError("attempt to index field 'active' (a nil value)")

func (d *luajsonDecoder) apply(tok *luajsonToken) error {
	l := d.l
	switch tok.kind {
	case ljBeginArray, ljBeginObject:
		return d.push(tok.kind == ljBeginObject)
	case ljEndArray:
		return d.endArray()
	case ljEndObject:
		return d.endObject()
	case ljSetKey:
		return d.setKey()
	case ljNextValue:
		return d.putValue(false)
	}
	d.mem.ChargeSize(l, "json.decode", luax.CostSlot)
	switch tok.kind {
	case ljString:
		d.mem.ChargeSize(l, "json.decode", float64(len(tok.str)))
		l.PushString(tok.str)
	case ljNumber:
		l.PushNumber(tok.num)
	case ljBoolean:
		l.PushBoolean(tok.b)
	case ljNull:
		l.PushValue(d.nullIdx)
	case ljUndefined:
		l.PushValue(d.undefinedIdx)
	}
	// set_value
	if d.prevSet {
		l.Pop(1)
		return json.NewError("Value set when one already in slot")
	}
	l.Replace(d.prevIdx)
	d.prevSet = true
	return nil
}

func (d *luajsonDecoder) push(object bool) error {
	l := d.l
	if len(d.frames) >= json.MaxDepth {
		return json.NewError(fmt.Sprintf("too many nested data structures (%d)", len(d.frames)+1))
	}
	json.CheckStack(l, 16)
	d.mem.ChargeSize(l, "json.decode", luax.CostTable)
	l.NewTable()
	if !object {
		l.PushValue(d.arrayMTIdx)
		l.SetMetaTable(-2)
	}
	l.PushNil() // key
	d.frames = append(d.frames, luajsonFrame{object: object})
	// unset_value
	d.prevSet = false
	l.PushNil()
	l.Replace(d.prevIdx)
	return nil
}

func (d *luajsonDecoder) pop() {
	l := d.l
	l.Copy(d.tableIdx(), d.prevIdx)
	d.prevSet = true
	l.Pop(2)
	d.frames = d.frames[:len(d.frames)-1]
}

// grab is grab_value: the previous value must be set.
func (d *luajsonDecoder) grab() error {
	if !d.prevSet {
		return json.NewError("Previous value not set")
	}
	d.prevSet = false
	return nil
}

func (d *luajsonDecoder) putValue(trailing bool) error {
	if len(d.frames) == 0 {
		return errLuaJSONNilActive
	}
	l := d.l
	f := &d.frames[len(d.frames)-1]
	t := d.tableIdx()
	if f.object {
		if trailing && d.opt.objectTrailingComma && !f.hasKey {
			return nil
		}
		if !f.hasKey {
			return json.NewError("Missing key value")
		}
		if err := d.grab(); err != nil {
			return err
		}
		l.PushValue(t + 1)
		l.PushValue(d.prevIdx)
		l.RawSet(t)
		f.hasKey = false
		l.PushNil()
		l.Replace(t + 1)
		return nil
	}
	if trailing && !d.prevSet && d.opt.arrayTrailingComma {
		return nil
	}
	f.count++
	if err := d.grab(); err != nil {
		return err
	}
	l.PushValue(d.prevIdx)
	l.RawSetInt(t, f.count)
	return nil
}

func (d *luajsonDecoder) setKey() error {
	l := d.l
	if len(d.frames) == 0 || !d.frames[len(d.frames)-1].object {
		return json.NewError("Cannot set key on array")
	}
	if err := d.grab(); err != nil {
		return err
	}
	switch l.TypeOf(d.prevIdx) {
	case lua.TypeString:
	case lua.TypeNumber:
		if !d.opt.numberKeys {
			return json.NewError("As configured, a key must be a string")
		}
	default:
		if d.opt.numberKeys {
			return json.NewError("As configured, a key must be a number or string")
		}
		return json.NewError("As configured, a key must be a string")
	}
	l.Copy(d.prevIdx, d.tableIdx()+1)
	d.frames[len(d.frames)-1].hasKey = true
	return nil
}

func (d *luajsonDecoder) endArray() error {
	if len(d.frames) == 0 {
		return errLuaJSONNilActive
	}
	l := d.l
	f := d.frames[len(d.frames)-1]
	if d.prevSet || f.object || f.count != 0 {
		if err := d.putValue(true); err != nil {
			return err
		}
	}
	if !d.opt.ignoreLength {
		f = d.frames[len(d.frames)-1]
		t := d.tableIdx()
		if f.object {
			l.PushString("object")
			l.SetField(t, "n")
		} else if f.count != l.RawLength(t) {
			l.PushInteger(f.count)
			l.SetField(t, "n")
		}
	}
	d.pop()
	return nil
}

func (d *luajsonDecoder) endObject() error {
	l := d.l
	if len(d.frames) == 0 {
		if d.prevSet {
			return errLuaJSONNilActive
		}
		return json.NewError("bad argument #1 to 'next' (table expected, got nil)")
	}
	f := d.frames[len(d.frames)-1]
	nonEmpty := f.hasKey || d.prevSet
	if !nonEmpty {
		l.PushNil()
		if l.Next(d.tableIdx()) {
			l.Pop(2)
			nonEmpty = true
		}
	}
	if nonEmpty {
		if err := d.putValue(true); err != nil {
			return err
		}
	}
	d.pop()
	return nil
}

// raiseJSON raises msg as a Lua error without a position prefix, as
// LuaJSON's assert and error calls appear to a script.
func raiseJSON(l *lua.State, msg string) {
	luax.Raise(l, "%s", msg)
}
