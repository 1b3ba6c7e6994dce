package dkjson_test

import (
	"testing"

	"github.com/pushlua/pushlua/stdlib/internal/jsontest"
)

func TestDKJSONModule(t *testing.T) {
	jsontest.RunCases(t, []jsontest.Case{
		{`return dkjson.version, dkjson.use_lpeg() == dkjson, dkjson.using_lpeg`, `"dkjson 2.5", true, nil`},
		{`return getmetatable(dkjson.null).__tojson(), dkjson.encode({dkjson.null})`, `"null", "[null]"`},
		{`return dkjson.quotestring("a\"\\\n/\127\194\128\226\128\168"), dkjson.quotestring("\226\130\172")`, `""a\92"\92\92\92n/\92u007f\92u0080\92u2028"", ""\226\130\172""`},
		{`return dkjson.encodeexception("reason", 1, {}, "msg")`, `""<msg>""`},
	})
}

func TestDKJSONEncode(t *testing.T) {
	jsontest.RunCases(t, []jsontest.Case{
		{`return dkjson.encode({}), dkjson.encode({1, 2}), dkjson.encode({a = {}})`, `"[]", "[1,2]", "{"a":[]}"`},
		{`return dkjson.encode({b = 1, a = true, [2] = "x"})`, `"{"2":"x","a":true,"b":1}"`},
		{`return dkjson.encode({0/0, 1/0, 0.1, 2^53, "\0"})`, `"[null,null,0.1,9.007199254741e+15,"\92u0000"]"`},
		{`return dkjson.encode(setmetatable({}, {__jsontype = "object"})), dkjson.encode((dkjson.decode("{}")))`, `"{}", "{}"`},
		{`return dkjson.encode({[1] = 1, [20] = 2}), dkjson.encode({[1] = 1, [10] = 2})`, `"{"1":1,"20":2}", "[1,null,null,null,null,null,null,null,null,2]"`},
		{`return dkjson.encode({b = 1, a = 2, c = 3}, {keyorder = {"c", "b"}})`, `"{"c":3,"b":1,"a":2}"`},
		{`return dkjson.encode({a = {b = {1, 2}}}, {indent = true})`, `"{\10  "a":{\10    "b":[1,2]\10  }\10}"`},
		{`local r = dkjson.encode(print) return r`, `error: [string "local r = dkjson.encode(print) return r"]:1: type 'function' is not supported by JSON.`},
		{`return pcall(dkjson.encode, {[true] = 1})`, `false, "type 'boolean' is not supported as a key by JSON."`},
		{`local t = {} t.a = t return pcall(dkjson.encode, t)`, `false, "reference cycle"`},
		{`local t = {} t.a = t return dkjson.encode(t, {exception = dkjson.encodeexception})`, `"{"a":"<reference cycle>"}"`},
		{`return dkjson.encode({f = print}, {exception = function(reason, value, state, msg) return "\"" .. reason .. "\"" end})`, `"{"f":"unsupported type"}"`},
		{`return pcall(dkjson.encode, {print}, {exception = function() return nil, "custom" end})`, `false, "custom"`},
		{`local obj = setmetatable({}, {__tojson = function(self, state) return "[" .. tostring(state.indent) .. "]" end}) return dkjson.encode({obj}, {indent = 1})`, `"[[1]]"`},
		{`local t = {} for i = 1, 100000 do t = {t} end return pcall(dkjson.encode, t)`, `false, "excessive nesting (1001)"`},
		{`return pcall(dkjson.encode, {n = 1e9})`, `false, "array too long (1000000000 elements)"`},
		{`local st = {buffer = {"x"}, bufferlen = 1} return dkjson.encode({1}, st), table.concat(st.buffer)`, `true, "x[1]"`},
		{`local st = {buffer = {"x"}} return dkjson.encode({1}, st), table.concat(st.buffer)`, `true, "[1]"`},
	})
}

func TestDKJSONDecode(t *testing.T) {
	jsontest.RunCases(t, []jsontest.Case{
		{`return dkjson.decode('{"a":[1,2.5,"x",true,false,null]}')`, `<object>{"a"=<array>{1=1,2=2.5,3="x",4=true,5=false}}, 34`},
		{`return dkjson.decode('[null]', 1, dkjson.null)`, `<array>{1=dkjson.null}, 7`},
		{`return dkjson.decode('[1] [2]', 4)`, `<array>{1=2}, 8`},
		{`return dkjson.decode('{"a":1}', 1, nil, nil, nil)`, `{"a"=1}, 8`},
		{`return dkjson.decode('"\\u00e9\\ud83d\\ude00\\q"')`, `"\195\169\240\159\152\128q", 23`},
		{`return dkjson.decode("[1, 2")`, `nil, 6, "unterminated array at line 1, column 1"`},
		{`return dkjson.decode('\n  {"a" x}')`, `nil, 9, "no valid JSON value at line 2, column 8"`},
		{`return dkjson.decode("")`, `nil, 1, "no valid JSON value (reached the end)"`},
		{`return dkjson.decode("{null: 1}")`, `nil, 6, "cannot use nil as table index (at line 1, column 6)"`},
		{`return dkjson.decode(string.rep("[", 100000))`, `nil, 1001, "too many nested data structures at line 1, column 1001"`},
		{`return dkjson.decode(string.rep("[", 1000) .. string.rep("]", 1000)) ~= nil`, `true`},
		{`return pcall(dkjson.decode, "[1]", 1, nil, 5)`, `false, "bad argument #4 to 'dkjson.decode' (nil or table expected)"`},
	})
}

func TestDKJSONRoundTripLarge(t *testing.T) {
	l := jsontest.NewState(t)
	got := jsontest.Show(t, l, `
		local big = string.rep("0123456789abcdef\"\\/\n", 500000)
		local s = dkjson.encode({big})
		local back, pos = dkjson.decode(s)
		return #s, back[1] == big, pos`)
	if want := "11500004, true, 11500005"; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}

func TestDKJSONHandlersWithoutState(t *testing.T) {
	// Several __tojson calls at different depths share the state dkjson
	// creates when none is given.
	jsontest.RunCases(t, []jsontest.Case{
		{`local x = setmetatable({}, {__tojson = function(self, state) return type(state) == "table" and '"x"' or "?" end})
		  return dkjson.encode({a = {b = {x}}, c = x, d = {dkjson.null, x}})`, `"{"a":{"b":["x"]},"c":"x","d":[null,"x"]}"`},
	})
}
