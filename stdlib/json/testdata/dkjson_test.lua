-- dkjson as push scripts use it. Each test_ function runs in a fresh state.

local json = require "dkjson"

local function eq(got, want)
  if got ~= want then
    error(string.format("got %s; want %s", tostring(got), tostring(want)), 2)
  end
end

function test_encode_payload()
  local payload = {user = "bob@example.org", uid = 4711, flags = {"\\Seen"}, path = "a/b"}
  eq(json.encode(payload), '{"flags":["\\\\Seen"],"path":"a/b","uid":4711,"user":"bob@example.org"}')
  eq(json.encode(payload, {keyorder = {"user", "uid"}}),
    '{"user":"bob@example.org","uid":4711,"flags":["\\\\Seen"],"path":"a/b"}')
end

function test_empty_tables_and_jsontype()
  eq(json.encode({}), "[]")
  eq(json.encode(setmetatable({}, {__jsontype = "object"})), "{}")
  local obj = json.decode("{}")
  eq(getmetatable(obj).__jsontype, "object")
  eq(json.encode(obj), "{}")
end

function test_decode_results()
  local v, pos = json.decode('{"a":[1,null,3]}')
  eq(v.a[3], 3)
  eq(v.a[2], nil)
  eq(pos, 17)
  local bad, where, msg = json.decode("[1,2")
  eq(bad, nil)
  eq(where, 5)
  eq(msg, "unterminated array at line 1, column 1")
end

function test_null()
  eq(json.encode({json.null, n = 2}), "[null,null]")
  local v = json.decode("[null]", 1, json.null)
  eq(v[1], json.null)
end

function test_indent()
  eq(json.encode({a = {b = 1}}, {indent = true}), '{\n  "a":{\n    "b":1\n  }\n}')
end

function test_errors_and_exception()
  local ok, err = pcall(json.encode, {f = print})
  eq(ok, false)
  eq(err, "type 'function' is not supported by JSON.")
  eq(json.encode({f = print}, {exception = json.encodeexception}),
    '{"f":"<type \'function\' is not supported by JSON.>"}')
end

function test_tojson()
  local point = setmetatable({x = 1, y = 2}, {__tojson = function(self, state)
    return "[" .. self.x .. "," .. self.y .. "]"
  end})
  eq(json.encode({p = point}), '{"p":[1,2]}')
end
