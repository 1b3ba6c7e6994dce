package json_test

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/stdlib/internal/jsontest"
	"github.com/pushlua/pushlua/stdlib/json"
)

// TestJSONLua runs the test_* functions of testdata/{cjson,json,dkjson}*_test.lua,
// each in a fresh state.
func TestJSONLua(t *testing.T) {
	var files []string
	for _, pattern := range []string{"cjson*_test.lua", "json*_test.lua", "dkjson*_test.lua"} {
		m, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no Lua test files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			for _, name := range jsonLuaTestNames(t, file) {
				t.Run(name, func(t *testing.T) {
					l := jsontest.NewState(t)
					if err := lua.DoFile(l, file); err != nil {
						t.Fatalf("load: %v", err)
					}
					l.Global("debug")
					l.Field(-1, "traceback")
					l.Remove(-2)
					l.Global(name)
					if err := l.ProtectedCall(0, 0, 1); err != nil {
						msg, _ := l.ToString(-1)
						t.Fatal(msg)
					}
				})
			}
		})
	}
}

// jsonLuaTestNames lists the global test_* functions file defines.
func jsonLuaTestNames(t *testing.T, file string) []string {
	l := jsontest.NewState(t)
	if err := lua.DoFile(l, file); err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	var names []string
	l.PushGlobalTable()
	l.PushNil()
	for l.Next(-2) {
		if name, ok := l.ToString(-2); ok && l.IsString(-2) && strings.HasPrefix(name, "test_") && l.IsFunction(-1) {
			names = append(names, name)
		}
		l.Pop(1)
	}
	slices.Sort(names)
	if len(names) == 0 {
		t.Fatalf("%s defines no test_ function", file)
	}
	return names
}

func TestJSONNumberFormat(t *testing.T) {
	for _, c := range []struct {
		f    float64
		prec int
		want string
	}{
		{1, 14, "1"},
		{-1, 14, "-1"},
		{0, 14, "0"},
		{math.Copysign(0, -1), 14, "-0"},
		{0.1, 14, "0.1"},
		{1.5, 14, "1.5"},
		{1e20, 14, "1e+20"},
		{123456789012345, 14, "1.2345678901234e+14"},
		{12345678901234, 14, "12345678901234"},
		{1700000000, 14, "1700000000"},
		{1e-5, 14, "1e-05"},
		{0.0001, 14, "0.0001"},
		{1.0 / 3, 14, "0.33333333333333"},
		{1.0 / 3, 3, "0.333"},
		{100, 1, "1e+02"},
		{2.5, 16, "2.5"},
		{math.MaxFloat64, 14, "1.7976931348623e+308"},
	} {
		if got := string(json.AppendNumber(nil, c.f, c.prec)); got != c.want {
			t.Errorf("AppendNumber(%v, %d) = %s; want %s", c.f, c.prec, got, c.want)
		}
	}
}

func TestJSONStrtod(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		end  int
	}{
		{"1", 1, 1},
		{"-1.5e3x", -1500, 6},
		{"1.", 1, 2},
		{".5", 0.5, 2},
		{"1e", 1, 1},
		{"1e+", 1, 1},
		{"0x10", 16, 4},
		{"0x", 0, 1},
		{"-0x1p4", -16, 6},
		{"inf", math.Inf(1), 3},
		{"-Infinity", math.Inf(-1), 9},
		{"+1", 1, 2},
		{"-", 0, 0},
		{"abc", 0, 0},
		{"1e400", math.Inf(1), 5},
	} {
		got, end := json.Strtod(c.in, 0)
		if got != c.want || end != c.end {
			t.Errorf("Strtod(%q) = %v, %d; want %v, %d", c.in, got, end, c.want, c.end)
		}
	}
	if n, end := json.Strtod("nan", 0); !math.IsNaN(n) || end != 3 {
		t.Errorf("Strtod(nan) = %v, %d", n, end)
	}
}

// jsonCompareCases run on go-lua and on Lua 5.2 with Debian's lua-cjson
// 2.1.0, lua-json 1.3.4 and lua-dkjson 2.6, when those are installed
// (TestJSONAgainstRealModules). Objects have one key at most, or are
// decoded back, since key order differs.
var jsonCompareCases = []string{
	// cjson encode
	`return cjson.encode({1,2,3}), cjson.encode({a="x/y"}), cjson.encode(0.1), cjson.encode(1e20), cjson.encode(-0)`,
	`return cjson.encode(true), cjson.encode(false), cjson.encode(nil), cjson.encode(cjson.null), cjson.encode("")`,
	`return cjson.encode({}), cjson.encode({{}}), cjson.encode({[1]=1,[2]=2,[4]=4})`,
	`return cjson.encode({[1]=1,[20]=2})`,
	`return cjson.encode({[1]=1,[11]=2})`,
	`return cjson.encode({[0]=1})`,
	`return cjson.encode({[-1]=1})`,
	`return cjson.encode({[1.5]=1})`,
	`return cjson.encode({[2]="x"})`,
	`return cjson.encode({[true]=1})`,
	`return cjson.encode({[{}]=1})`,
	`return cjson.encode(print)`,
	`return cjson.encode({f=print})`,
	`return cjson.encode("\0\1\31\127\128\255\"\\/\b\f\n\r\t\11")`,
	`return cjson.encode("\226\130\172 \240\159\152\128")`,
	`return cjson.encode(1/3), cjson.encode(123456789012345), cjson.encode(2^53), cjson.encode(-1e-7)`,
	`return cjson.encode({["1"]=1})`,
	`local t = {} for i = 1, 1000 do t = {t} end return #cjson.encode(t)`,
	`local t = {} for i = 1, 1001 do t = {t} end return cjson.encode(t)`,
	`local t = {} t[1] = t return cjson.encode(t)`,
	`return cjson.encode()`,
	`return cjson.encode(1, 2)`,
	`return cjson_safe.encode(print)`,
	`return cjson_safe.encode({1,2})`,
	`return cjson.encode_sparse_array()`,
	`return cjson.encode_sparse_array(true, 3, 5)`,
	`cjson.encode_sparse_array(true) return cjson.encode({[1]=1,[20]=2})`,
	`cjson.encode_sparse_array(false, 0) return cjson.encode({[1]=1,[20]=2})`,
	`return cjson.encode_sparse_array("on")`,
	`return cjson.encode_sparse_array("maybe")`,
	`return cjson.encode_sparse_array(true, -1)`,
	`return cjson.encode_sparse_array(true, 1, 2, 3)`,
	`return cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(), cjson.encode_keep_buffer()`,
	`return cjson.encode_max_depth(0)`,
	`return cjson.encode_number_precision(17)`,
	`return cjson.encode_number_precision(3), cjson.encode(1/3), cjson.encode(1234)`,
	`return cjson.encode_max_depth(2), cjson.encode({{1}}), cjson.encode({{{1}}})`,
	`return cjson.encode_invalid_numbers()`,
	`return cjson.encode_invalid_numbers("null"), cjson.encode(0/0), cjson.encode({1/0})`,
	`return cjson.encode_invalid_numbers(false)`,
	`return cjson.decode_invalid_numbers()`,
	`return cjson.encode_keep_buffer(false), cjson.encode({1})`,
	`return cjson.new().encode_max_depth(3), cjson.encode_max_depth()`,
	`return cjson._NAME, cjson_safe._NAME`,
	`return type(cjson.null), cjson.null == cjson.decode("null"), cjson.null == cjson_safe.decode("null"), cjson.null == cjson.new().null`,
	// cjson decode
	`return cjson.decode("[1,2,{\"a\":null}]")`,
	`return cjson.decode('{"a":[true,false,"x"]}')`,
	`return cjson.decode(" \t\r\n 1 \t\r\n ")`,
	`return cjson.decode("")`,
	`return cjson.decode("{")`,
	`return cjson.decode("[1,]")`,
	`return cjson.decode("[1 2]")`,
	`return cjson.decode("{\"a\" 1}")`,
	`return cjson.decode("{\"a\":1,}")`,
	`return cjson.decode("{1:2}")`,
	`return cjson.decode("[1}")`,
	`return cjson.decode("1 2")`,
	`return cjson.decode("nul")`,
	`return cjson.decode("x")`,
	`return cjson.decode("[")`,
	`return cjson.decode('"abc')`,
	`return cjson.decode('"a\\qb"')`,
	`return cjson.decode('"\\u00e9\\u20AC\\ud83d\\ude00"')`,
	`return cjson.decode('"\\ud83d"')`,
	`return cjson.decode('"\\ude00"')`,
	`return cjson.decode('"\\ud83dx"')`,
	`return cjson.decode('"\\ud83d\\u0041"')`,
	`return cjson.decode('"\\u12"')`,
	`return cjson.decode('"\\u0000"')`,
	`return cjson.decode('"a\0b"')`,
	`return cjson.decode('[1]\0garbage')`,
	`return cjson.decode('\0\0')`,
	`return cjson.decode('"\1\2\n\255"')`,
	`return cjson.decode('"\\/\\b\\f\\n\\r\\t\\"\\\\"')`,
	`return cjson.decode("-1.5e3"), cjson.decode("0"), cjson.decode("-0.0"), cjson.decode("1E2")`,
	`return cjson.decode("+1"), cjson.decode("01"), cjson.decode("0x10"), cjson.decode("1.")`,
	`return cjson.decode("inf"), cjson.decode("-Infinity"), cjson.decode("nan")`,
	`return cjson.decode("-")`,
	`return cjson.decode("-x")`,
	`return cjson.decode("1.5x")`,
	`return cjson.decode("1e400"), cjson.decode("1e-400")`,
	`return cjson.decode(123)`,
	`return cjson.decode()`,
	`return cjson.decode({})`,
	`cjson.decode_invalid_numbers(false) return cjson.decode("+1")`,
	`cjson.decode_invalid_numbers(false) return cjson.decode("01")`,
	`cjson.decode_invalid_numbers(false) return cjson.decode("-0x1")`,
	`cjson.decode_invalid_numbers(false) return cjson.decode("nan")`,
	`cjson.decode_invalid_numbers(false) return cjson.decode("inf")`,
	`cjson.decode_invalid_numbers(false) return cjson.decode("-inf")`,
	`cjson.decode_invalid_numbers(false) return cjson.decode("1.5")`,
	`return cjson.decode(string.rep("[", 1000) .. string.rep("]", 1000)) ~= nil`,
	`return cjson.decode(string.rep("[", 1001) .. string.rep("]", 1001))`,
	`return cjson.decode(string.rep("[", 100000))`,
	`return cjson.decode(string.rep('{"a":', 1001))`,
	`cjson.decode_max_depth(2) return cjson.decode("[[1]]"), pcall(cjson.decode, "[[[1]]]")`,
	`return cjson_safe.decode("x")`,
	`return cjson_safe.decode("[1,2]")`,
	`return cjson_safe.decode(string.rep("[", 2000))`,
	`return pcall(cjson_safe.decode)`,
	`return cjson.decode(cjson.encode({a={1,2,{b="c"}}}))`,
	// luajson encode
	`return json.encode({}), json.encode({1,"a\v/"}), json.encode({json.util.null}), json.encode(0/0), json.encode(-1/0)`,
	`return json.encode("\0\1\31\127\128\255\"\\/\b\f\n\r\t\11")`,
	`return json.encode({a=1}), json.encode({[2]=2}), json.encode({n=2}), json.encode({1,2,n=2})`,
	`return json.encode({[1]=1,[3]=3})`,
	`return json.encode({[1.5]=1}), json.encode({[true]=1}), json.encode({[-1]="x"})`,
	`return json.encode({[{}]=1})`,
	`return json.encode(print)`,
	`return json.encode(json.util.undefined), json.encode({json.util.undefined})`,
	`local t = {} t[1] = t return json.encode(t)`,
	`local s = {} return json.encode({s, s})`,
	`return json.encode(1/3), json.encode(123456789012345), json.encode(true), json.encode(nil)`,
	`return json.encode(5, json.encode.strict)`,
	`return json.encode({0/0}, json.encode.strict)`,
	`return json.encode({1/0}, json.encode.strict)`,
	`return json.encode({json.util.undefined}, json.encode.strict)`,
	`return json.encode({1}, json.encode.strict)`,
	`return json.encode.encode({1}), json.encode.getEncoder()({2}), type(json.encode)`,
	`return json.encode(setmetatable({}, {__is_luajson_array = true}))`,
	`return json.encode(json.util.InitArray({})), json.util.IsArray({}), json.util.IsArray({1}), json.util.IsArray(json.util.InitArray({}))`,
	`return json._VERSION, json.util.null(), json.util.null() == json.util.null`,
	`return json.encode({json.util.buildCall("Date", 2024, "x", nil)}), json.util.decodeCall(json.util.buildCall("f", 1))`,
	`return json._COPYRIGHT, json._DESCRIPTION`,
	`return json.encode(setmetatable({}, {__index = function(t, k) if k == "n" then return 2 end end}))`,
	// luajson decode
	`return json.decode("[1,2,null]")`,
	`return json.decode("{a:1, 'b':2,}")`,
	`return json.decode("[1,2,]"), json.decode("[]"), json.decode("{}")`,
	`return json.decode("[1 2]")`,
	`return json.decode("[1,,2]")`,
	`return json.decode("{\"a\",1}")`,
	`return json.decode("{\"a\"}")`,
	`return json.decode("{\"a\":\"b\":\"c\"}")`,
	`return json.decode("[\"a\":1]")`,
	`return json.decode("{true:1}")`,
	`return json.decode("{1:2}")`,
	`return json.decode("{[]:2}")`,
	`return json.decode("01")`,
	`return json.decode("-01")`,
	`return json.decode("0x1F")`,
	`return json.decode('"\\q"')`,
	`return json.decode('"ab\\')`,
	`return json.decode('"\\u12x4"')`,
	`return json.decode('"\\x4"')`,
	`return json.decode('"\\x41\\z\\v\\\'"')`,
	`return json.decode("'it''s'")`,
	`return json.decode("x")`,
	`return json.decode("[1,2\n,x]")`,
	`return json.decode("[")`,
	`return json.decode("]")`,
	`return json.decode("}")`,
	`return json.decode("[]]")`,
	`return json.decode("1,")`,
	`return json.decode(":")`,
	`return json.decode("1 2")`,
	`return json.decode("")`,
	`return json.decode("   ")`,
	`return json.decode("[1 [2]]")`,
	`return json.decode("[1}")`,
	`return json.decode("{\"a\":1]")`,
	`return json.decode("[1,2] x")`,
	`return json.decode("[1 2] x")`,
	`return json.decode("NaN"), json.decode("-Infinity"), json.decode("infinity"), json.decode("nAn")`,
	`return json.decode("[undefined]")`,
	`return json.decode("1.5e3"), json.decode("-0"), json.decode("1E+2"), json.decode("1.")`,
	`return json.decode("truex")`,
	`return json.decode("// c\n[1 /* x */, 2]")`,
	`return json.decode("[1] // c")`,
	`return json.decode("\239\187\191 [1]")`,
	`return json.decode("\194\160[\226\128\168 1]")`,
	`return json.decode('"\\u00e9\\u20ac"')`,
	`return json.decode('"a\nb\tc"')`,
	`return json.decode("[1,null]", json.decode.simple)`,
	`return json.decode("{\"a\":null}", json.decode.simple)`,
	`return json.decode("[1,2,]", true)`,
	`return json.decode("5", true)`,
	`return json.decode("{a:1}", true)`,
	`return json.decode("{1:1}", true)`,
	`return json.decode("[NaN]", true)`,
	`return json.decode("[Infinity]", true)`,
	`return json.decode("[undefined]", true)`,
	`return json.decode("['a']", true)`,
	`return json.decode('["\\x41"]', true)`,
	`return json.decode('["a\nb"]', true)`,
	`return json.decode("[1,2]", json.decode.strict)`,
	`return json.decode("x", {nothrow = true})`,
	`return json.decode("[1]", {nothrow = true})`,
	`return json.decode("[1]", {initialObject = true}), pcall(json.decode, "1", {initialObject = true})`,
	`return json.decode.decode("[3]"), json.decode.getDecoder()("[4]"), type(json.decode)`,
	`return json.decode(json.encode({a={1,2,{b="c"}}, e={}, n=json.util.null}))`,
	`return json.encode(json.decode("[[],{},[1,[]]]"))`,
	`return json.decode(5)`,
	`return pcall(json.decode)`,
	// dkjson encode
	`return dkjson.encode({}), dkjson.encode({a={}}), dkjson.encode({1,2,n=4}), dkjson.encode(0/0), dkjson.encode({1/0})`,
	`return dkjson.encode("\0\1\31\127\128\255\"\\/\b\f\n\r\t\11")`,
	`return dkjson.encode("\194\128\194\159\194\173\194\160\216\128\220\143\225\158\180\226\128\140\226\128\168\226\128\175\226\129\160\239\187\191\239\191\176\239\191\191\226\130\172")`,
	`return dkjson.encode({[1]=1,[3]=3}), dkjson.encode({[1]=1,[20]=2}), dkjson.encode({[0]=1}), dkjson.encode({[2]=2})`,
	`return dkjson.encode({[1.5]=1})`,
	`return dkjson.encode({[true]=1})`,
	`return dkjson.encode({a=print})`,
	`return dkjson.encode(print)`,
	`return dkjson.encode({a=print}, {exception=dkjson.encodeexception})`,
	`local t = {} t[1] = t return dkjson.encode(t)`,
	`local t = {} t[1] = t return dkjson.encode(t, {exception=dkjson.encodeexception})`,
	`local s = {} return dkjson.encode({s, s})`,
	`return dkjson.encode({dkjson.null, n=2}), dkjson.encode(dkjson.null)`,
	`return dkjson.encode(setmetatable({}, {__jsontype="object"})), dkjson.encode(setmetatable({}, {__jsontype="array"}))`,
	`return dkjson.encode({a={b=1}}, {indent=true})`,
	`return dkjson.encode({a={1,2}}, {indent=true, level=2})`,
	`return dkjson.encode({}, {indent=true}), dkjson.encode(setmetatable({}, {__jsontype="object"}), {indent=true})`,
	`return dkjson.encode({b=1,a=2,c=3}, {keyorder={"c","b"}})`,
	`return dkjson.encode(setmetatable({b=1,a=2,c=3}, {__jsonorder={"c","a"}}))`,
	`return dkjson.encode(setmetatable({}, {__tojson=function(self, state) return "X" end}))`,
	`return dkjson.encode({setmetatable({}, {__tojson=function(self, state) return nil, "nope" end})})`,
	`return dkjson.encode({setmetatable({}, {__tojson=function(self, state) return false end})})`,
	`return dkjson.encode({setmetatable({}, {__tojson=function(self, state) dkjson.addnewline(state) return "X" end})}, {indent=true})`,
	`local st = {buffer={"a"}, bufferlen=1} return dkjson.encode({1}, st), st.bufferlen, table.concat(st.buffer)`,
	`local st = {} return dkjson.encode({1}, st), st.buffer, st.bufferlen`,
	`return dkjson.encode(1/3), dkjson.encode(123456789012345), dkjson.encode(-0)`,
	`return dkjson.encode({n=3}), dkjson.encode({n="x"}), dkjson.encode({n=2.5})`,
	`return dkjson.quotestring("a\"b\n"), dkjson.quotestring(5)`,
	`return dkjson.encodeexception("r", 1, {}, "msg")`,
	`return dkjson.version, dkjson.use_lpeg() == dkjson, dkjson.using_lpeg`,
	`local st = {indent=true, level=1, buffer={}, bufferlen=0} dkjson.addnewline(st) return st.bufferlen, table.concat(st.buffer)`,
	`local st = {buffer={}} dkjson.addnewline(st) return st.bufferlen`,
	// dkjson decode
	`return dkjson.decode("[1,2 3 {\"a\":1}]")`,
	`return dkjson.decode("[1,")`,
	`return dkjson.decode("x")`,
	`return dkjson.decode("{null:1}")`,
	`return dkjson.decode("{\"a\":null}", 1, dkjson.null)`,
	`return dkjson.decode("[null,2]")`,
	`return dkjson.decode("[1,2]", 1, nil, nil)`,
	`return dkjson.decode("[1,2]", 1, nil, {__jsontype="o"}, {__jsontype="a"})`,
	`return dkjson.decode("  [1]  ", 3)`,
	`return dkjson.decode("[1] x")`,
	`return dkjson.decode("")`,
	`return dkjson.decode("  ")`,
	`return dkjson.decode('"abc')`,
	`return dkjson.decode('{"a":"b}')`,
	`return dkjson.decode("\n\n  [1,\n x]")`,
	`return dkjson.decode('"\\u00e9\\u20ac\\ud83d\\ude00\\ud83d\\q\\x\\u12"')`,
	`return dkjson.decode('"\\u-001"')`,
	`return dkjson.decode('"\\u 1f "')`,
	`return dkjson.decode('"a\\')`,
	`return dkjson.decode("1.5e3"), dkjson.decode("-0"), dkjson.decode(".5"), dkjson.decode("1."), dkjson.decode("01")`,
	`return dkjson.decode("1.2.3")`,
	`return dkjson.decode("1e")`,
	`return dkjson.decode("-")`,
	`return dkjson.decode("truex")`,
	`return dkjson.decode("true1")`,
	`return dkjson.decode("// c\n[1 /* x */, 2]")`,
	`return dkjson.decode("[1] // c")`,
	`return dkjson.decode("// c")`,
	`return dkjson.decode("/* c")`,
	`return dkjson.decode("\239\187\191[1]")`,
	`return dkjson.decode("{\"a\":1,}"), dkjson.decode("[,1]")`,
	`return dkjson.decode("{[1]:2}")`,
	`return dkjson.decode('"a\nb"')`,
	`return dkjson.decode(5)`,
	`return pcall(dkjson.decode)`,
	`return dkjson.decode(dkjson.encode({a={1,2,{b="c"}}, e={}}))`,
	`return dkjson.encode(dkjson.decode("[[],{},[1,[]]]"))`,
}

// jsonCompareDeviations are the compare cases where pushlua deliberately
// differs from the reference modules, with the reason.
var jsonCompareDeviations = map[string]string{
	`return cjson.encode(0/0)`:                 "OpenResty's message (NaN or Infinity); Debian's 2.1.0 says NaN or Inf",
	`return cjson.encode_number_precision(17)`: "OpenResty's range 1..16; Debian's 2.1.0 allows 1..14",
	`return pcall(cjson_safe.decode)`:          "the function name in the message",
	`return json.encode({[1]=1,[3]=3})`:        "go-lua's # picks another border of a table with holes",
	`return json.encode({[{}]=1})`:             "no position from LuaJSON's generated code",
	`return pcall(json.decode)`:                "the failing function is LPeg's match in LuaJSON",
	`local st = {buffer={"a"}, bufferlen=1} return dkjson.encode({1}, st), st.bufferlen, table.concat(st.buffer)`: "the output is appended as one piece",
	`return dkjson.version, dkjson.use_lpeg() == dkjson, dkjson.using_lpeg`:                                       "dkjson 2.5 (Debian ships 2.6, whose use_lpeg needs LPeg)",
	`return pcall(dkjson.decode)`: "the failing function is string.find in dkjson",
}

// jsonPositionPrefix matches the position prefix of an error raised at
// the case (whose presence depends on tail calls) and of LuaJSON's files.
var jsonPositionPrefix = regexp.MustCompile(`(^error: case:\d+: |/usr/share/lua/5\.2/\S+:\d+: )`)

func jsonStripPosition(s string) string {
	if strings.HasPrefix(s, "error: ") {
		return "error: "
	}
	return ""
}

// TestJSONAgainstRealModules runs jsonCompareCases on go-lua and on the
// reference Lua 5.2 modules (skipped when lua5.2 and Debian's lua-cjson,
// lua-json and lua-dkjson are not installed).
func TestJSONAgainstRealModules(t *testing.T) {
	lua52, err := exec.LookPath("lua5.2")
	if err != nil {
		t.Skip("lua5.2 not installed")
	}
	if out, err := exec.Command(lua52, "-e", `require "cjson" require "json" require "dkjson"`).CombinedOutput(); err != nil {
		t.Skipf("reference modules not installed: %s", out)
	}
	var script strings.Builder
	script.WriteString(jsontest.ShowPrelude)
	script.WriteString("results = {}\nlocal cases = {\n")
	for _, c := range jsonCompareCases {
		script.WriteString("[==[" + c + "]==],\n")
	}
	script.WriteString(`}
for i, src in ipairs(cases) do
  local f = assert(load(src, "=case"))
  results[i] = run(f)
end
`)
	cmd := exec.Command(lua52, "-")
	cmd.Stdin = strings.NewReader(script.String() + "io.write(table.concat(results, '\\0'))\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lua5.2: %v: %s", err, stderr.String())
	}
	want := strings.Split(string(out), "\x00")

	l := jsontest.NewState(t)
	if err := lua.DoString(l, script.String()+"results = table.concat(results, '\\0')\n"); err != nil {
		t.Fatal(err)
	}
	l.Global("results")
	s, _ := l.ToString(-1)
	got := strings.Split(s, "\x00")
	if len(got) != len(jsonCompareCases) || len(want) != len(jsonCompareCases) {
		t.Fatalf("got %d and %d results for %d cases", len(got), len(want), len(jsonCompareCases))
	}
	for i, c := range jsonCompareCases {
		g := jsonPositionPrefix.ReplaceAllStringFunc(got[i], jsonStripPosition)
		w := jsonPositionPrefix.ReplaceAllStringFunc(want[i], jsonStripPosition)
		if g == w {
			continue
		}
		if reason, ok := jsonCompareDeviations[c]; ok {
			t.Logf("%s: deviation (%s):\n  pushlua: %s\n  lua5.2:  %s", c, reason, g, w)
			continue
		}
		t.Errorf("%s:\n  pushlua: %s\n  lua5.2:  %s", c, g, w)
	}
	if os.Getenv("JSON_COMPARE_VERBOSE") != "" {
		for i, c := range jsonCompareCases {
			t.Logf("%s\n  => %s", c, got[i])
		}
	}
}

// jsonBenchSetup defines the payload of a typical push notification (a
// MessageNew event) and the functions the benchmarks call.
const jsonBenchSetup = `
local m = require(...)
local payload = {
  user = "bob@example.org", event = "MessageNew", folder = "INBOX", uid = 4711,
  uidvalidity = 1700000000, unseen = 3, from = "Alice Example <alice@example.com>",
  to = {"bob@example.org", "carol@example.org"}, subject = "Lunch on Friday? 🍕",
  snippet = "Hi Bob,\nare you free for lunch on Friday at 12:30? The place near the station\n",
  keywords = {"\\Recent", "$Important"}, size = 18231, date = "2024-03-01T12:00:00Z",
  flags = {seen = false, flagged = true}, spam = 0.25,
}
local text = m.encode(payload)
function bench_encode() return m.encode(payload) end
function bench_decode() return m.decode(text) end
`

func benchmarkJSON(b *testing.B, fn string) {
	for _, module := range []string{"cjson", "json", "dkjson"} {
		b.Run(module, func(b *testing.B) {
			l := jsontest.NewState(b)
			if err := lua.LoadString(l, jsonBenchSetup); err != nil {
				b.Fatal(err)
			}
			l.PushString(module)
			l.Call(1, 0)
			b.ReportAllocs()
			for b.Loop() {
				l.Global(fn)
				l.Call(0, 1)
				l.Pop(1)
			}
		})
	}
}

func BenchmarkJSONEncodePayload(b *testing.B) { benchmarkJSON(b, "bench_encode") }
func BenchmarkJSONDecodePayload(b *testing.B) { benchmarkJSON(b, "bench_decode") }

// BenchmarkJSONLargeString encodes and decodes a 10 MB string with cjson.
func BenchmarkJSONLargeString(b *testing.B) {
	l := jsontest.NewState(b)
	if err := lua.DoString(l, `
		local cjson = require "cjson"
		local big = string.rep("0123456789abcdef\"\\/\n", 500000)
		function bench_large() return cjson.decode(cjson.encode(big)) end`); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(10_000_000)
	for b.Loop() {
		l.Global("bench_large")
		l.Call(0, 1)
		l.Pop(1)
	}
}

// TestJSONTableKeys checks that the direct reading of a table's keys is in
// use with this go-lua and finds what Next finds.
func TestJSONTableKeys(t *testing.T) {
	l := jsontest.NewState(t)
	if err := lua.DoString(l, `t = {1, 2, nil, 4, a = 1, [2.5] = 2, [true] = 3, [100] = 4, [print] = 5, [{}] = 6}
		t[2] = nil t.a = nil t.b = 7`); err != nil {
		t.Fatal(err)
	}
	l.Global("t")
	direct, ok := json.AppendTableKeysDirect(l.ToValue(-1), nil)
	if !ok {
		t.Fatal("AppendTableKeysDirect does not understand go-lua's tables")
	}
	var next []json.Key
	l.PushNil()
	for l.Next(-2) {
		l.Pop(1)
		next = append(next, json.KeyAt(l, -1))
	}
	json.SortKeys(direct)
	json.SortKeys(next)
	if !slices.Equal(direct, next) {
		t.Errorf("direct keys %v; Next keys %v", direct, next)
	}
	if len(direct) != 8 {
		t.Errorf("got %d keys; want 8", len(direct))
	}
}
