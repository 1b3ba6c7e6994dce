package cjson_test

import (
	"github.com/pushlua/pushlua/stdlib/internal/jsontest"
	"strings"
	"testing"
)

func TestCJSONEncode(t *testing.T) {
	jsontest.RunCases(t, []jsontest.Case{
		{`return cjson.encode({1, 2, 3})`, `"[1,2,3]"`},
		{`return cjson.encode({a = 1})`, `"{"a":1}"`},
		{`return cjson.encode({b = 1, a = 2, [3] = 3})`, `"{"3":3,"a":2,"b":1}"`},
		{`return cjson.encode({}), cjson.encode({{}, {x = {}}})`, `"{}", "[{},{"x":{}}]"`},
		{`return cjson.encode(1), cjson.encode(-2.5), cjson.encode(1e100), cjson.encode(2^53)`, `"1", "-2.5", "1e+100", "9.007199254741e+15"`},
		{`return cjson.encode("a/b\"c\\d\n\0\127\200")`, `""a\92/b\92"c\92\92d\92n\92u0000\92u007f\200""`},
		{`return cjson.encode({cjson.null, nil, 3})`, `"[null,null,3]"`},
		{`return cjson.encode({[1] = 1, [20] = 2})`, `error: [string "return cjson.encode({[1] = 1, [20] = 2})"]:1: Cannot serialise table: excessively sparse array`},
		{`local r = cjson.encode(print) return r`, `error: [string "local r = cjson.encode(print) return r"]:1: Cannot serialise function: type not supported`},
		{`local r = cjson.encode({[true] = 1}) return r`, `error: [string "local r = cjson.encode({[true] = 1}) return r"]:1: Cannot serialise boolean: table key must be a number or string`},
		{`local r = cjson.encode(0/0) return r`, `error: [string "local r = cjson.encode(0/0) return r"]:1: Cannot serialise number: must not be NaN or Infinity`},
		{`local t = {} t.t = t local ok, err = pcall(cjson.encode, t) return err`, `"Cannot serialise, excessive nesting (1001)"`},
		{`return cjson_safe.encode(print)`, `nil, "Cannot serialise function: type not supported"`},
		{`return cjson_safe.encode({[1] = 1, [100] = 1})`, `nil, "Cannot serialise table: excessively sparse array"`},
	})
}

func TestCJSONSettings(t *testing.T) {
	jsontest.RunCases(t, []jsontest.Case{
		// defaults
		{`return cjson.encode_sparse_array()`, `false, 2, 10`},
		{`return cjson.encode_max_depth(), cjson.decode_max_depth()`, `1000, 1000`},
		{`return cjson.encode_number_precision(), cjson.encode_keep_buffer()`, `14, true`},
		{`return cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers()`, `false, true`},
		{`return cjson.encode_empty_table_as_object(), cjson.decode_array_with_array_mt()`, `true, false`},
		{`return cjson.encode_escape_forward_slash()`, `true`},
		{`return cjson._NAME, cjson._VERSION, cjson_safe._VERSION`, `"cjson", "2.1.0", "2.1.0"`},
		// setters return the new value
		{`return cjson.encode_sparse_array(true, 3, 4)`, `true, 3, 4`},
		{`cjson.encode_sparse_array(true, 3, 4) return cjson.encode({[1] = 1, [20] = 2})`, `"{"1":1,"20":2}"`},
		{`cjson.encode_sparse_array(nil, 0) return cjson.encode({[1] = 1, [20] = 2})`, `"[1` + strings.Repeat(",null", 18) + `,2]"`},
		{`cjson.encode_sparse_array("on") return cjson.encode_sparse_array("off", nil, 100)`, `false, 2, 100`},
		{`cjson.encode_sparse_array("off", nil, 100) return cjson.encode({[1] = 1, [20] = 2})`, `"[1` + strings.Repeat(",null", 18) + `,2]"`},
		{`return cjson.encode_max_depth(2), cjson.encode({{1}}), pcall(cjson.encode, {{{1}}})`, `2, "[[1]]", false, "Cannot serialise, excessive nesting (3)"`},
		{`return cjson.decode_max_depth(2), pcall(cjson.decode, "[[[1]]]")`, `2, false, "Found too many nested data structures (3) at character 3"`},
		{`return cjson.encode_number_precision(3), cjson.encode(1/3), cjson.encode(12345)`, `3, "0.333", "1.23e+04"`},
		{`return cjson.encode_number_precision(16), cjson.encode(0.1)`, `16, "0.1"`},
		{`return cjson.encode_invalid_numbers(true), cjson.encode({0/0, 1/0, -1/0})`, `true, "[NaN,Infinity,-Infinity]"`},
		{`return cjson.encode_invalid_numbers("null"), cjson.encode({0/0, 1/0})`, `"null", "[null,null]"`},
		{`return cjson.encode_invalid_numbers("on")`, `true`},
		{`return cjson.decode_invalid_numbers(false), pcall(cjson.decode, "NaN")`, `false, false, "Expected value but found invalid token at character 1"`},
		{`return cjson.decode_invalid_numbers(false), pcall(cjson.decode, "-Infinity")`, `false, false, "Expected value but found invalid number at character 1"`},
		{`return cjson.encode_keep_buffer(false), cjson.encode({1}), cjson.encode_keep_buffer(true), cjson.encode({2})`, `false, "[1]", true, "[2]"`},
		{`return cjson.encode_empty_table_as_object(false), cjson.encode({}), cjson.encode({a = {}})`, `false, "[]", "{"a":[]}"`},
		{`return cjson.encode_escape_forward_slash(false), cjson.encode("a/b"), cjson.new().encode("a/b")`, `false, ""a/b"", ""a\92/b""`},
		{`return cjson.decode_array_with_array_mt(true), getmetatable(cjson.decode("[1]")) == cjson.array_mt, getmetatable(cjson.decode("{}")), cjson.encode(cjson.decode("[]"))`, `true, true, nil, "[]"`},
		// errors of the settings
		{`return pcall(cjson.encode_max_depth, 0)`, `false, "bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)"`},
		{`return pcall(cjson.encode_sparse_array, true, 1, -1)`, `false, "bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)"`},
		{`return pcall(cjson.encode_max_depth, 1, 2)`, `false, "bad argument #2 to 'encode_max_depth' (found too many arguments)"`},
		{`return pcall(cjson.encode_max_depth, "x")`, `false, "bad argument #1 to 'encode_max_depth' (number expected, got string)"`},
		{`return pcall(cjson.encode_keep_buffer, "yes")`, `false, "bad argument #1 to 'encode_keep_buffer' (invalid option 'yes')"`},
		{`return pcall(cjson.encode_invalid_numbers, {})`, `false, "bad argument #1 to 'encode_invalid_numbers' (string expected, got table)"`},
		{`return pcall(cjson.encode)`, `false, "bad argument #1 to 'encode' (expected 1 argument)"`},
		{`return pcall(cjson_safe.decode, "1", "2")`, `false, "bad argument #1 to 'decode' (expected 1 argument)"`},
		{`return pcall(cjson.decode, {})`, `false, "bad argument #1 to 'decode' (string expected, got table)"`},
		// instances
		{`local c = cjson.new() c.encode_max_depth(5) return c.encode_max_depth(), cjson.encode_max_depth()`, `5, 1000`},
		{`local s = cjson_safe.new() local v, err = s.decode("x") return v, err, s.null == cjson.null`, `nil, "Expected value but found invalid token at character 1", true`},
	})
}

func TestCJSONMarkers(t *testing.T) {
	jsontest.RunCases(t, []jsontest.Case{
		{`return type(cjson.null), cjson.decode("null") == cjson.null, cjson.decode("[null]")[1] == cjson_safe.null`, `"userdata", true, true`},
		{`return cjson.encode(cjson.empty_array), cjson.encode({a = cjson.empty_array})`, `"[]", "{"a":[]}"`},
		{`return cjson.encode(setmetatable({}, cjson.empty_array_mt)), cjson.encode(setmetatable({1}, cjson.empty_array_mt))`, `"[]", "[1]"`},
		{`return cjson.encode(setmetatable({1, 2, x = 3}, cjson.array_mt))`, `"[1,2]"`},
		{`return cjson.encode(setmetatable({}, {__len = function() return 2 end, __index = function(t, i) return i * 10 end}))`, `"[10,20]"`},
		{`return pcall(cjson.encode, io.stdout)`, `false, "Cannot serialise userdata: type not supported"`},
	})
}

func TestCJSONDecode(t *testing.T) {
	jsontest.RunCases(t, []jsontest.Case{
		{`return cjson.decode('{"a":[1,2.5,"x",true,false,null]}')`, `{"a"={1=1,2=2.5,3="x",4=true,5=false,6=cjson.null}}`},
		{`return cjson.decode('"\\u00e9\\ud83d\\ude00\\/"')`, `"\195\169\240\159\152\128/"`},
		{`return cjson.decode('"\255\254"')`, `"\255\254"`},
		{`local r = cjson.decode("[1,]") return r`, `error: [string "local r = cjson.decode("[1,]") return r"]:1: Expected value but found T_ARR_END at character 4`},
		{`return pcall(cjson.decode, '{"a" 1}')`, `false, "Expected colon but found T_NUMBER at character 6"`},
		{`return pcall(cjson.decode, '{"a":1 "b"}')`, `false, "Expected comma or object end but found T_STRING at character 8"`},
		{`return pcall(cjson.decode, '[1 2]')`, `false, "Expected comma or array end but found T_NUMBER at character 4"`},
		{`return pcall(cjson.decode, '{1:2}')`, `false, "Expected object key string but found T_NUMBER at character 2"`},
		{`return pcall(cjson.decode, '[1] x')`, `false, "Expected the end but found invalid token at character 5"`},
		{`return pcall(cjson.decode, '"a\\x"')`, `false, "Expected value but found invalid escape code at character 3"`},
		{`return pcall(cjson.decode, '"\\ud800\\u0041"')`, `false, "Expected value but found invalid unicode escape code at character 2"`},
		{`return pcall(cjson.decode, '"abc')`, `false, "Expected value but found unexpected end of string at character 5"`},
		{`return pcall(cjson.decode, '-')`, `false, "Expected value but found invalid number at character 1"`},
		{`return pcall(cjson.decode, 'tru')`, `false, "Expected value but found invalid token at character 1"`},
		{`return pcall(cjson.decode, '\0\0')`, `false, "JSON parser does not support UTF-16 or UTF-32"`},
		{`return pcall(cjson.decode, string.rep("[", 100000))`, `false, "Found too many nested data structures (1001) at character 1001"`},
		{`return pcall(cjson.decode, string.rep('{"k":', 100000))`, `false, "Found too many nested data structures (1001) at character 5001"`},
		{`return cjson_safe.decode("[1,")`, `nil, "Expected value but found T_END at character 4"`},
		{`return cjson.decode("1e2"), cjson.decode("-0.5"), cjson.decode("0x1F"), cjson.decode("+3")`, `100, -0.5, 31, 3`},
		{`return 1/cjson.decode("-0.0")`, `-inf`},
	})
}

func TestCJSONRoundTripLarge(t *testing.T) {
	l := jsontest.NewState(t)
	got := jsontest.Show(t, l, `
		local big = string.rep("0123456789abcdef\"\\/\n", 500000) -- 10.5 MB
		local s = cjson.encode({big = big, list = {big, 1, true}})
		local back = cjson.decode(s)
		return #s, back.big == big, back.list[1] == big, back.list[2]`)
	if want := "24000029, true, true, 1"; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}

func TestCJSONDeepTable(t *testing.T) {
	l := jsontest.NewState(t)
	got := jsontest.Show(t, l, `
		local t = {}
		for i = 1, 100000 do t = {t} end
		local ok, err = pcall(cjson.encode, t)
		local s = cjson_safe.encode(t)
		return ok, err, s`)
	if want := `false, "Cannot serialise, excessive nesting (1001)", nil`; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}
