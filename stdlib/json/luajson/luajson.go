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
	t := json.NewEscapeTable("%04X")
	t['/'], t['\v'] = `\/`, `\v`
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

// raiseJSON raises msg as a Lua error without a position prefix, as
// LuaJSON's assert and error calls appear to a script.
func raiseJSON(l *lua.State, msg string) {
	luax.Raise(l, "%s", msg)
}
