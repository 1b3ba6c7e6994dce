package luajson_test

import (
	"testing"

	"github.com/pushlua/pushlua/stdlib/internal/jsontest"
)

func TestLuaJSONModule(t *testing.T) {
	jsontest.RunCases(t, []jsontest.Case{
		{`return json._VERSION, type(json.encode), type(json.decode), type(json.util.null)`, `"1.3.4", "table", "table", "function"`},
		{`local m = require "json" return m == json, rawget(_G, "json") == m`, `true, true`},
		{`return require("json.util") == json.util, require("json.encode") == json.encode, require("json.decode") == json.decode`, `true, true, true`},
		{`return json.util.null() == json.util.null, json.util.undefined() == json.util.undefined`, `true, true`},
		{`return json.null`, `nil`},
	})
}

func TestLuaJSONEncode(t *testing.T) {
	jsontest.RunCases(t, []jsontest.Case{
		{`return json.encode({}), json.encode({1, 2}), json.encode({a = {}})`, `"{}", "[1,2]", "{"a":{}}"`},
		{`return json.encode({b = 1, a = true, [2] = "x"})`, `"{"2":"x","a":true,"b":1}"`},
		{`return json.encode({[true] = 1, [1.5] = 2})`, `"{"true":1,"1.5":2}"`},
		{`return json.encode("a/b\"\\\n\11\0\127\200")`, `""a\92/b\92"\92\92\92n\92v\92u0000\127\200""`},
		{`return json.encode({json.util.null, json.util.undefined, nil, 4})`, `"[null,undefined,null,4]"`},
		{`return json.encode({0/0, 1/0, -1/0, 0.1, 2^53})`, `"[NaN,Infinity,-Infinity,0.1,9.007199254741e+15]"`},
		{`return json.encode({n = 3}), json.encode({1, 2, n = 1}), json.encode({1, n = 3})`, `"{"n":3}", "[1]", "[1,null,null]"`},
		{`return json.encode(json.util.InitArray({})), json.encode(setmetatable({}, {__is_luajson_array = true}))`, `"[]", "[]"`},
		{`return pcall(json.encode, print)`, `false, "Failed to encode value, encoders for function deny encoding"`},
		{`return pcall(json.encode, io.stdout)`, `false, "Failed to encode value, unhandled type: userdata"`},
		{`return pcall(json.encode, {[{}] = 1})`, `false, "Invalid object index type: table"`},
		{`local t = {} t[1] = {t} return pcall(json.encode, t)`, `false, "Recursive encoding of value"`},
		{`local t = {} for i = 1, 100000 do t = {t} end return pcall(json.encode, t)`, `false, "Failed to encode value, excessive nesting (1001)"`},
		{`return pcall(json.encode, 1, json.encode.strict)`, `false, "Invalid arguments: expects a JSON Object or Array at the root"`},
		{`return pcall(json.encode, {0/0}, json.encode.strict)`, `false, "Invalid number: NaN not enabled"`},
		{`return pcall(json.encode, {-1/0}, {number = {inf = false}})`, `false, "Invalid number: Infinity not enabled"`},
		{`return pcall(json.encode, {json.util.undefined}, json.encode.strict)`, `false, "Invalid value: Unsupported 'Undefined' parameter"`},
		{`return json.encode.getEncoder(json.encode.strict)({1}), json.encode.encode({2})`, `"[1]", "[2]"`},
		{`return json.encode({d = json.util.buildCall("Date", 2024, "x", nil)})`, `"{"d":Date(2024,"x",null)}"`},
		{`local c = json.util.buildCall("f", 1) return json.util.isCall(c), json.util.isCall({}), json.util.decodeCall(c)`, `true, false, "f", {1=1,"n"=1}`},
		{`return pcall(json.encode, json.util.buildCall("f"), json.encode.strict)`, `false, "Invalid arguments: expects a JSON Object or Array at the root"`},
	})
}

func TestLuaJSONDecode(t *testing.T) {
	jsontest.RunCases(t, []jsontest.Case{
		{`return json.decode('{"a":[1,2.5,"x",true,false,null]}')`, `{"a"=<mt>{1=1,2=2.5,3="x",4=true,5=false,6=json.null}}`},
		{`return json.decode("[]"), json.decode("{}"), json.decode("")`, `<mt>{}, {}, nil`},
		{`return json.decode("/* c */ {a: 1, 'b': 'c', 3: [1,2,],} // end\n")`, `{3=<mt>{1=1,2=2},"a"=1,"b"="c"}`},
		{`return json.decode("[NaN, -Infinity, undefined]")`, `<mt>{1=nan,2=-inf,3=json.undefined}`},
		{`return json.decode('"\\u00e9\\ud83d\\ude00\\ud83d\\x41\\z\\v"')`, `"\195\169\240\159\152\128\237\160\189A\11"`},
		{`return json.decode("[1,null]", json.decode.simple)`, `<mt>{1=1,"n"=2}`},
		{`return pcall(json.decode, "[1 2]")`, `false, "Value set when one already in slot"`},
		{`return pcall(json.decode, "[1,,2]")`, `false, "Previous value not set"`},
		{`return pcall(json.decode, '{"a",1}')`, `false, "Missing key value"`},
		{`return pcall(json.decode, '["a":1]')`, `false, "Cannot set key on array"`},
		{`return pcall(json.decode, '{[1]:1}')`, `false, "As configured, a key must be a number or string"`},
		{`return pcall(json.decode, "[")`, `false, "Unclosed elements present"`},
		{`return pcall(json.decode, "]")`, `false, "attempt to index field 'active' (a nil value)"`},
		{`return pcall(json.decode, "[1,2\n,x]")`, `false, "unexpected character @ character: 7 1:2 [x] line:\10,x"`},
		{`return pcall(json.decode, "012")`, `false, "'Octal numbers' denied @ character: 1 0:1 [0] line:\100"`},
		{`return pcall(json.decode, "0x1F")`, `false, "'Hexadecimal' denied by option set 'number.hex' @ character: 1 0:1 [0] line:\100"`},
		{`return json.decode("0x1F", {number = {hex = true}})`, `31`},
		{`return pcall(json.decode, '"\\q"')`, `false, "Illegal escape in string ["q"] @ 0:3"`},
		{`return pcall(json.decode, '"\\u12"')`, `false, "Illegal unicode escape in string ["1"] @ 0:4"`},
		{`return pcall(json.decode, '"\\x4"')`, `false, "Illegal hex escape in string ["4"] @ 0:4"`},
		{`return pcall(json.decode, "[1,2,]", true)`, `false, "Previous value not set"`},
		{`return pcall(json.decode, "5", true)`, `false, "Initial value not an object or array"`},
		{`return pcall(json.decode, "[NaN]", json.decode.strict)`, `false, "'NaN' denied by option set 'number.nan' @ character: 2 0:2 [N] line:\10[N"`},
		{`return json.decode("x", {nothrow = true})`, `nil, "unexpected character @ character: 1 0:1 [x] line:\10x"`},
		{`return json.decode.getDecoder(json.decode.simple)("[null]")`, `<mt>{"n"=1}`},
		{`return pcall(json.decode, string.rep("[", 100000))`, `false, "too many nested data structures (1001)"`},
		{`return json.decode(string.rep("[", 1000) .. string.rep("]", 1000)) ~= nil`, `true`},
		{`return json.encode(json.decode('{"a":[[],{}],"b":null}'))`, `"{"a":[[],{}],"b":null}"`},
	})
}

func TestLuaJSONRoundTripLarge(t *testing.T) {
	l := jsontest.NewState(t)
	got := jsontest.Show(t, l, `
		local big = string.rep("0123456789abcdef\"\\/\n", 500000)
		local s = json.encode({big})
		local back = json.decode(s)
		return #s, back[1] == big`)
	if want := "12000004, true"; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}
