-- cjson as push scripts use it. Each test_ function runs in a fresh state.

local cjson = require "cjson"

local function eq(got, want)
  if got ~= want then
    error(string.format("got %s; want %s", tostring(got), tostring(want)), 2)
  end
end

function test_encode_payload()
  local payload = {
    user = "bob@example.org",
    mailbox = "INBOX",
    uid = 4711,
    unseen = 3,
    flags = {"\\Seen", "$Important"},
    snippet = "Lunch at 12/1?\n",
  }
  eq(cjson.encode(payload),
    '{"flags":["\\\\Seen","$Important"],"mailbox":"INBOX","snippet":"Lunch at 12\\/1?\\n",' ..
    '"uid":4711,"unseen":3,"user":"bob@example.org"}')
end

function test_integral_numbers_have_no_fraction()
  eq(cjson.encode({1, 2.0, 1e3, 1700000000, 0.5}), "[1,2,1000,1700000000,0.5]")
end

function test_round_trip()
  local v = cjson.decode(cjson.encode({a = {1, 2, {b = "c"}}, d = false}))
  eq(v.a[3].b, "c")
  eq(v.a[2], 2)
  eq(v.d, false)
end

function test_null()
  local v = cjson.decode('{"x":null,"y":[null]}')
  eq(v.x, cjson.null)
  eq(v.y[1], cjson.null)
  eq(cjson.encode({x = cjson.null}), '{"x":null}')
end

function test_empty_table()
  eq(cjson.encode({}), "{}")
  cjson.encode_empty_table_as_object(false)
  eq(cjson.encode({}), "[]")
  eq(cjson.encode({list = {}}), '{"list":[]}')
end

function test_errors()
  local ok, err = pcall(cjson.encode, {f = print})
  eq(ok, false)
  eq(err, "Cannot serialise function: type not supported")
  ok, err = pcall(cjson.decode, "{")
  eq(err, "Expected object key string but found T_END at character 2")
end

function test_safe()
  local safe = require "cjson.safe"
  local v, err = safe.decode("[1,")
  eq(v, nil)
  eq(err, "Expected value but found T_END at character 4")
  eq(safe.encode({1}), "[1]")
end

function test_unicode()
  eq(cjson.decode('"\\u00e9\\ud83d\\ude00"'), "\195\169\240\159\152\128")
  eq(cjson.encode("\195\169"), '"\195\169"')
end
