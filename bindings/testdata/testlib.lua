-- testlib.lua: the assertions every Lua test file of the bindings uses.
-- The Go harness (runLuaTests) loads it before each test file, as globals.

function fail(msg)
  error(msg, 3)
end

function eq(got, want, what)
  if got ~= want then
    fail(string.format("%s: got %s; want %s", what or "value", tostring(got), tostring(want)))
  end
end

-- expect_error checks the exact message of an error without position
-- (Dovecot's own messages).
function expect_error(want, f, ...)
  local ok, err = pcall(f, ...)
  if ok then
    fail(string.format("no error; want %q", want))
  end
  if err ~= want then
    fail(string.format("got error %q; want %q", tostring(err), want))
  end
end

-- expect_error_at checks an error raised by Lua's own argument checks:
-- "<file>.lua:<line>: " and then want.
function expect_error_at(want, f)
  local ok, err = pcall(f)
  if ok then
    fail(string.format("no error; want %q", want))
  end
  local s = tostring(err)
  local dot = string.find(s, ".lua:", 1, true)
  local rest = dot and string.sub(s, dot + 5) or ""
  local colon = string.find(rest, ": ", 1, true)
  if not colon or not tonumber(string.sub(rest, 1, colon - 1)) or string.sub(rest, colon + 2) ~= want then
    fail(string.format("got error %q; want <file>:<line>: %q", s, want))
  end
end

-- expect_logs compares the log lines written since the last call.
function expect_logs(want)
  local got = test_logs()
  local g, w = table.concat(got, "\n"), table.concat(want, "\n")
  if #got ~= #want or g ~= w then
    fail(string.format("got logs\n%s\nwant\n%s", g, w))
  end
end

function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = tostring(k)
  end
  table.sort(keys)
  return table.concat(keys, " ")
end

-- dump shows a table with sorted keys; array values inline.
function dump(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "table" then
      v = "{" .. table.concat(v, ",") .. "}"
    end
    parts[#parts + 1] = string.format("%s=%s", k, tostring(v))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end
