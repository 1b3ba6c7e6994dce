-- JSON (json-lua's JSON.lua object API) as push scripts use it: each
-- test_ function runs in a fresh state. The test_ours_* functions cover
-- pushlua's documented differences; the others give the same results with
-- the real JSON.lua 20161109.21 of the json-lua rock on Lua 5.3 (on Lua 5.4
-- its pretty objects fail: string.format rejects its "%0s").

local JSON = require "JSON"

local function eq(got, want)
  if got ~= want then
    error(string.format("got %s; want %s", tostring(got), tostring(want)), 2)
  end
end

-- err_of returns the error f raises, without the "<path>JSON.lua:<line>: "
-- positions the real module's asserts add (pushlua's add none).
local function err_of(f, ...)
  local ok, e = pcall(f, ...)
  if ok then error("no error", 2) end
  while type(e) == "string" do
    local i, j = string.find(e, "JSON.lua:", 1, true)
    if not i then break end
    local k = string.find(e, ": ", j, true)
    e = string.sub(e, k + 2)
  end
  return e
end

function test_module_object()
  eq(type(JSON), "table")
  eq(tostring(JSON), "JSON encode/decode package")
  eq(JSON.VERSION, "20161109.21")
  eq(type(JSON.AUTHOR_NOTE), "string")
  eq(require "JSON", JSON)
  eq(type(JSON.decode), "function")
  eq(type(JSON.encode_pretty), "function")
end

function test_encode_payload()
  local payload = {user = "bob@example.org", uid = 4711, folder = "INBOX", flags = {"\\Seen", "$Label1"}, path = "a/b"}
  eq(JSON:encode(payload), '{"flags":["\\\\Seen","$Label1"],"folder":"INBOX","path":"a/b","uid":4711,"user":"bob@example.org"}')
end

function test_encode_scalars()
  eq(JSON:encode(nil), "null")
  eq(JSON:encode(true), "true")
  eq(JSON:encode(false), "false")
  eq(JSON:encode(3), "3")
  eq(JSON:encode(-0.5), "-0.5")
  eq(JSON:encode(1/0), "1e+9999")
  eq(JSON:encode(-1/0), "-1e+9999")
  eq(JSON:encode(0/0), "null")
  eq(JSON:encode(1e100), "1e+100")
  eq(JSON:encode("a\"b\\c/d\n\r\t\b\f\1\31\127é"), '"a\\"b\\\\c/d\\n\\r\\t\\b\\f\\u0001\\u001f\127é"')
end

function test_encode_tables()
  eq(JSON:encode({}), "[]")
  eq(JSON:encode({1, 2, 3}), "[1,2,3]")
  eq(JSON:encode({1, nil, 3}), "[1,null,3]")
  eq(JSON:encode({[3] = "c"}), '[null,null,"c"]')
  eq(JSON:encode({"one", "two", SOME = "x"}), '{"SOME":"x","1":"one","2":"two"}')
  eq(JSON:encode({[0] = "z", "a"}), '{"0":"z","1":"a"}')
  eq(JSON:encode({[-1] = 1}), '{"-1":1}')
  eq(JSON:encode({b = {c = {}}, a = 1}), '{"a":1,"b":{"c":[]}}')
  local shared = {1}
  eq(JSON:encode({shared, shared}), "[[1],[1]]")
  eq(JSON:encode(JSON:newObject()), "{}")
  eq(JSON:encode(JSON:newArray()), "[]")
  eq(JSON:encode(JSON:newObject({a = 1})), '{"a":1}')
end

function test_encode_errors()
  local t = {}
  t[1] = t
  local e = err_of(function() return JSON:encode(t) end)
  eq(string.sub(e, 1, 13), "table table: ")
  eq(string.sub(e, -21), " is a child of itself")
  eq(err_of(function() return JSON:encode(print) end), "can't convert function to JSON")
  eq(err_of(function() return JSON:encode({[true] = 1}) end), "can't encode table with a key of type boolean")
  eq(err_of(function() return JSON:encode({[1] = "a", ["1"] = "b"}) end),
    "conflict converting table with mixed-type keys into a JSON object: key 1 exists both as a string and a number.")
  eq(err_of(function() return JSON:encode(print, {id = 7}) end), 'can\'t convert function to JSON ({"id":7})')
  eq(err_of(function() return JSON.encode({}) end), "JSON:encode must be called in method format")
  local strict = JSON:new({noKeyConversion = true})
  eq(err_of(function() return strict:encode({"a", b = 1}) end),
    "a table with both numeric and string keys could be an object or array; aborting")
  eq(JSON:encode({"a", b = 1}), '{"b":1,"1":"a"}')
end

function test_encode_pretty()
  local data = {city = "Kyoto", climate = {avg_temp = 16, humidity = "high"}, wards = 11, list = {1, 2}}
  eq(JSON:encode_pretty(data), '{\n  "city": "Kyoto",\n  "climate": {\n    "avg_temp": 16,\n    "humidity": "high"\n  },\n  "list": [ 1, 2 ],\n  "wards": 11\n}')
  eq(JSON:encode(data, nil, {pretty = true, indent = "|  "}),
    '{\n|  "city": "Kyoto",\n|  "climate": {\n|  |  "avg_temp": 16,\n|  |  "humidity": "high"\n|  },\n|  "list": [ 1, 2 ],\n|  "wards": 11\n}')
  eq(JSON:encode({a = 1, bbb = {c = 2}}, nil, {pretty = true, indent = " ", align_keys = true}),
    '{\n   "a": 1,\n "bbb": {\n         "c": 2\n        }\n}')
  eq(JSON:encode_pretty({x = 1}, nil, {indent = "  "}), '{"x":1}')
  eq(JSON:encode_pretty(JSON:newObject()), "{\n\n}")
end

function test_decode_values()
  local v = JSON:decode('{"user":"alice","uid":7,"flags":["\\\\Seen"],"ok":true,"no":false,"none":null,"n":-1.5e2}')
  eq(v.user, "alice")
  eq(v.uid, 7)
  eq(v.flags[1], "\\Seen")
  eq(v.ok, true)
  eq(v.no, false)
  eq(v.none, nil)
  eq(v.n, -150)
  eq(getmetatable(v), nil)
  local a = JSON:decode("[1, null, 3]")
  eq(a[1], 1); eq(a[2], nil); eq(a[3], 3)
  eq(JSON:decode("  "), nil)
  eq(JSON:decode(""), nil)
  eq(JSON:decode('"x"'), "x")
  eq(JSON:decode("12 \n"), 12)
  eq(JSON:decode('{"a":1,"a":null}').a, nil)
end

function test_decode_strings()
  eq(JSON:decode('"a\\u00e9\\u20ac\\ud83d\\ude00"'), "a\195\169\226\130\172\240\159\152\128")
  eq(JSON:decode('"\\ud83d"'), "?")
  eq(JSON:decode('"\\/\\q\\"\\\\"'), '/q"\\')
  eq(JSON:decode('"\\u12"'), "u12")
  eq(JSON:decode('"tab\there"'), "tab\there")
  eq(JSON:decode('"\\b\\f\\n\\r\\t"'), "\b\f\n\r\t")
end

function test_decode_strict_types()
  local j = JSON:new({strictTypes = true})
  local v = j:decode('{"a":[],"b":{}}')
  eq(tostring(v), "JSON object")
  eq(tostring(v.a), "JSON array")
  eq(tostring(v.b), "JSON object")
  eq(j:encode(v), '{"a":[],"b":{}}')
  eq(JSON:encode(JSON:decode('{"b":{}}')), '{"b":[]}')
end

function test_decode_errors()
  eq(err_of(function() return JSON:decode('{"a":1 "b":2}') end), "expected comma or '}' at byte 8 of: {\"a\":1 \"b\":2}")
  eq(err_of(function() return JSON:decode("[1 2]") end), "expected comma or ']' at byte 4 of: [1 2]")
  eq(err_of(function() return JSON:decode("12 trailing") end), "trailing garbage at byte 4 of: 12 trailing")
  eq(err_of(function() return JSON:decode("truex") end), "trailing garbage at byte 5 of: truex")
  eq(err_of(function() return JSON:decode("[1,") end), "unclosed '[' at byte 1 of: [1,")
  eq(err_of(function() return JSON:decode("[1, ") end), "unclosed '[' at byte 1 of: [1, ")
  eq(err_of(function() return JSON:decode('{"a":') end), 'unexpected end of string: {"a":')
  eq(err_of(function() return JSON:decode("{a:1}") end), "expected string's opening quote at byte 2 of: {a:1}")
  eq(err_of(function() return JSON:decode('{"a" 1}') end), "expected colon at byte 6 of: {\"a\" 1}")
  eq(err_of(function() return JSON:decode("[") end), "unclosed '[' at byte 1 of: [")
  eq(err_of(function() return JSON:decode("[1") end), "expected comma or ']' at byte 3 of: [1")
  eq(err_of(function() return JSON:decode('{"a":1') end), "expected comma or '}' at byte 7 of: {\"a\":1")
  eq(err_of(function() return JSON:decode("nope") end), "can't parse JSON at byte 1 of: nope")
  eq(err_of(function() return JSON:decode("-") end), "expected number at byte 1 of: -")
  eq(err_of(function() return JSON:decode(nil) end), "nil passed to JSON:decode()")
  eq(err_of(function() return JSON:decode(5) end), "expected string argument to JSON:decode(), got number")
  local quiet = JSON:new()
  function quiet:onDecodeError() end
  local v, e = quiet:decode(5)
  eq(v, nil)
  eq(e, "expected string argument to JSON:decode()")
  eq(err_of(function() return JSON:decode("<html>") end), "HTML passed to JSON:decode(): <html>")
  eq(err_of(function() return JSON:decode("x\0") end), "JSON package groks only UTF-8, sorry: x\0")
  eq(err_of(function() return JSON.decode("{}") end), "JSON:decode must be called in method format")
  -- etc, or options.etc, is added to the message
  eq(err_of(function() return JSON:decode("nope", {line = 3}) end), 'can\'t parse JSON at byte 1 of: nope ({"line":3})')
  eq(err_of(function() return JSON:decode("[nope]", nil, {etc = "x"}) end), 'can\'t parse JSON at byte 2 of: [nope] ("x")')
end

function test_custom_handlers()
  local j = JSON:new()
  local seen
  function j:onDecodeError(message, text, location, etc)
    seen = message .. "|" .. tostring(location) .. "|" .. tostring(etc)
    error("custom: " .. message, 0)
  end
  eq(err_of(function() return j:decode("[1 2]", "E") end), "custom: expected comma or ']'")
  eq(seen, "expected comma or ']'|4|E")
  -- trailing garbage can be allowed
  local lax = JSON:new()
  function lax:onTrailingGarbage(text, location, value, etc) return value end
  eq(lax:decode("[1] junk")[1], 1)
  -- the default handlers raise through JSON.assert when set
  local k = JSON:new()
  k.assert = function(ok, msg) error("assert: " .. msg, 0) end
  eq(err_of(function() return k:encode(print) end), "assert: can't convert function to JSON")
  -- a new object does not change JSON
  eq(err_of(function() return JSON:decode("x") end), "can't parse JSON at byte 1 of: x")
end

function test_ours_handler_that_returns()
  local j = JSON:new()
  function j:onDecodeError() end
  local v, e = j:decode("[1 2]")
  eq(v, nil)
  eq(e, "expected comma or ']'")
  function j:onEncodeError() end
  eq(j:encode({print}), nil)
end

function test_ours_nesting_bound()
  local deep = string.rep("[", 1001) .. string.rep("]", 1001)
  eq(err_of(function() return JSON:decode(deep) end), "pushlua: JSON nested deeper than 1000 levels at byte 1001 of: " .. deep)
  local t = {}
  for _ = 1, 1001 do t = {t} end
  eq(err_of(function() return JSON:encode(t) end), "pushlua: table nested deeper than 1000 levels")
end

function test_ours_string_errors()
  -- JSON.lua 20161109.21 fails on its own nil options table here
  eq(err_of(function() return JSON:decode('"abc') end), "unclosed string at byte 1 of: \"abc")
  eq(err_of(function() return JSON:decode('["abc') end), "unclosed string at byte 2 of: [\"abc")
end

function test_encode_options()
  eq(JSON:encode({a = "N", b = {"N", 1}}, nil, {null = "N"}), '{"a":null,"b":[null,1]}')
  eq(JSON:encode({["N"] = 1}, nil, {null = "N"}), '{"N":1}')
  eq(JSON:encode("a\226\128\168b", nil, {stringsAreUtf8 = true}), '"a\\u2028b"')
  eq(JSON:encode("a\226\128\168b"), '"a\226\128\168b"')
  eq(JSON:encode({1, {2, 3}}, nil, {pretty = true, indent = "  ", array_newline = true}), "[\n  1,\n  [\n    2,\n    3\n  ]\n]")
  eq(JSON:encode({a = {1, 2}}, nil, {pretty = true, indent = "  ", array_newline = true}), '{\n  "a": [\n    1,\n    2\n  ]\n}')
  eq(JSON:encode_pretty({1, 2}, nil, true), "[ 1, 2 ]")
end

function test_numbers_as_objects()
  local j = JSON:new({decodeNumbersAsObjects = true})
  local v = j:decode('{"big":12345678901234567890123,"x":1.50}')
  eq(tostring(v.big), "12345678901234567890123")
  eq(tostring(v.x), "1.50")
  eq(v.x + 1, 2.5)
  eq(v.x * 2, 3)
  eq(v.x .. "!", "1.50!")
  eq(v.x < 2, true)
  eq(j:encode(v), '{"big":12345678901234567890123,"x":1.50}')
  eq(JSON:forceString(v.x), "1.50")
  eq(JSON:forceNumber(v.x), 1.5)
  eq(JSON:forceNumber("7"), 7)
  eq(JSON:forceString(7), "7")
  eq(tostring(JSON:asNumber("0.10")), "0.10")
  eq(JSON:asNumber(v.x), v.x)
  eq(JSON:encode({JSON:asNumber("3.000")}), "[3.000]")
  local s = JSON:decode('[123456789012, 1.5, 2e3]', nil, {decodeIntegerStringificationLength = 10})
  eq(s[1], "123456789012")
  eq(s[2], 1.5)
  eq(s[3], "2e3")
  s = JSON:decode('[1.123456, 1.5]', nil, {decodeDecimalStringificationLength = 5})
  eq(s[1], "1.123456")
  eq(s[2], 1.5)
end
