-- json (LuaJSON, Debian's lua-json) as push scripts use it. Each test_
-- function runs in a fresh state.

local json = require "json"

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
    flags = {"\\Seen"},
    snippet = "a/b",
  }
  eq(json.encode(payload),
    '{"flags":["\\\\Seen"],"mailbox":"INBOX","snippet":"a\\/b","uid":4711,"user":"bob@example.org"}')
end

function test_global_and_null()
  eq(_G.json, json)
  eq(json.encode({json.util.null}), "[null]")
  local v = json.decode('{"a":null}')
  eq(v.a, json.util.null)
end

function test_empty_tables()
  eq(json.encode({}), "{}")
  eq(json.encode(json.decode("[]")), "[]")
  eq(json.encode(json.util.InitArray({})), "[]")
end

function test_lenient_decode()
  local v = json.decode("{a: 1, 'b': [1, 2,], /* c */ c: NaN}")
  eq(v.a, 1)
  eq(v.b[2], 2)
  eq(v.c ~= v.c, true)
end

function test_errors()
  local ok, err = pcall(json.decode, "[1 2]")
  eq(ok, false)
  eq(err, "Value set when one already in slot")
  ok, err = pcall(json.encode, print)
  eq(err, "Failed to encode value, encoders for function deny encoding")
  local v, msg = json.decode("[", {nothrow = true})
  eq(v, nil)
  eq(msg, "Unclosed elements present")
end

function test_strict()
  local ok, err = pcall(json.decode, "[1,]", true)
  eq(err, "Previous value not set")
  eq(json.decode("[1]", json.decode.strict)[1], 1)
end
