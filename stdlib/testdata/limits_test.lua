-- The memory budget (limits.go). Each test runs with a budget of 1 MiB;
-- memused() is what the call has been charged, memreset() starts over.
-- Big strings are made with the `..` operator, which is not charged.

local MiB = 1024 * 1024

-- big(n) returns a string of 2^n bytes without charging the budget.
local function big(n, c)
  local s = c or "y"
  for _ = 1, n do s = s .. s end
  return s
end

-- budget(e) checks e is the budget's error for fname needing size bytes
-- with used already charged.
local function budget(e, fname, size, used)
  -- Built with .. and tostring: string.format would be charged.
  local want = "pushlua: call exceeded its memory budget of 1 MiB (pushlua_handler_memory): '" .. fname ..
    "' needs " .. tostring(size) .. " bytes, " .. tostring(used) .. " already used"
  if not string.find(e, want, 1, true) then
    error("got " .. e .. "; want it to contain " .. want, 2)
  end
end

function test_rep()
  eq(string.rep("ab", 3), "ababab")
  eq(string.rep("ab", 3, ","), "ab,ab,ab")
  eq(string.rep("ab", 1, ","), "ab")
  eq(string.rep("ab", 0), "")
  eq(string.rep("ab", -1, ","), "")
  eq(string.rep("", 1e9), "")
  eq(("x"):rep(4), "xxxx")
  eq(string.rep("x", 2.9), "xx", "a fraction is truncated, as in Lua 5.2")
  eq(string.rep("x", "3"), "xxx")
  eq(memused(), 6 + 8 + 2 + 4 + 2 + 3, "charged")
  memreset()
  eq(#string.rep("x", 1024, "--"), 1024 + 1023 * 2)
  eq(memused(), 3070, "charged with separators")
  local e = fails(string.rep)
  eq(e, "bad argument #1 to 'rep' (string expected, got no value)")
  eq(fails(string.rep, "x", "y"), "bad argument #2 to 'rep' (number expected, got string)")
end

function test_rep_huge_fails_without_allocating()
  local e = fails(function() return string.rep("x", 2^40) end)
  budget(e, "rep", 2^40, 0)
  eq(startswith(e, "limits_test.lua:"), true, "position in " .. e)
  eq(memused(), 0, "nothing charged")
  -- Beyond any address space: still a clean error.
  e = fails(function() return string.rep("xy", 2^62) end)
  eq(e:match("resulting string too large") ~= nil, true, e)
end

function test_rep_cumulative()
  local t = {}
  for i = 1, 3 do t[i] = string.rep("z", 300 * 1024) end
  eq(memused(), 900 * 1024)
  local e = fails(string.rep, "z", 300 * 1024)
  budget(e, "rep", 300 * 1024, 900 * 1024)
  eq(memused(), 900 * 1024, "a refused charge records nothing")
end

function test_concat()
  eq(table.concat({}), "")
  eq(table.concat({"a", "b", "c"}), "abc")
  eq(table.concat({"a", 2, 3.5}, ", "), "a, 2, 3.5")
  eq(table.concat({"a", "b", "c"}, "-", 2), "b-c")
  eq(table.concat({"a", "b", "c"}, "-", 2, 2), "b")
  eq(table.concat({"a", "b", "c"}, "-", 3, 2), "")
  eq(table.concat({"a", "b", "c"}, "-", 1.5, 2.5), "a-b")
  eq(memused(), 3 + 9 + 3 + 1 + 3, "charged")
  eq(fails(table.concat, {"a", {}, "c"}):match("invalid value %(at index 2%) in table for 'concat'") ~= nil, true)
  eq(fails(table.concat, {"a"}, "", 1, 2):match("invalid value %(at index 2%) in table for 'concat'") ~= nil, true)
  eq(fails(table.concat, "x"), "bad argument #1 to 'concat' (table expected, got string)")
end

function test_concat_too_large()
  -- The same 64 KiB string 20 times: 1.25 MiB, refused before copying.
  local s = big(16)
  local t = {}
  for i = 1, 20 do t[i] = s end
  local e = fails(table.concat, t)
  budget(e, "concat", 17 * 65536, 0)
  eq(memused(), 0)
  -- A huge separator.
  t = {"a", "b", "c"}
  e = fails(table.concat, t, big(19))
  budget(e, "concat", 2 + 2 * 2^19, 0)
  -- What fits is charged.
  t = {s, s, s}
  eq(#table.concat(t), 3 * 65536)
  eq(memused(), 3 * 65536)
end

function test_format()
  eq(string.format("%5s|%-3d|%q|%5.1f|%%|%x", "ab", 7, 'a"b', 2.5, 255), '   ab|7  |"a\\"b"|  2.5|%|ff')
  eq(memused(), #'   ab|7  |"a\\"b"|  2.5|%|ff', "charged")
  memreset()
  local s = big(18) -- 256 KiB
  eq(#string.format("%s%s%s", s, s, s), 3 * 2^18)
  eq(memused(), 3 * 2^18)
  local e = fails(string.format, "%s%s", s, s)
  budget(e, "format", 2^19, 3 * 2^18)
  -- %q counts its escapes.
  memreset()
  e = fails(string.format, "%q", big(19, "\n"))
  budget(e, "format", 2 + 2 * 2^19, 0)
  eq(memused(), 0)
end

function test_gsub()
  local s, n = string.gsub("hello world", "o", "%0%0")
  eq(s, "helloo woorld")
  eq(n, 2)
  eq(memused(), #"helloo woorld")
  memreset()
  -- Each match replaced by 64 KiB: refused as the replacements grow.
  local r = big(16)
  local e = fails(string.gsub, string.rep("a", 40), "a", r)
  eq(e:match("'gsub' needs") ~= nil, true, e)
  e = fails(string.gsub, string.rep("a", 40), "a", function() return r end)
  eq(e:match("'gsub' needs") ~= nil, true, e)
  e = fails(string.gsub, string.rep("a", 40), "a", {a = r})
  eq(e:match("'gsub' needs") ~= nil, true, e)
  -- A template repeating a big match.
  memreset()
  e = fails(string.gsub, big(17), ".+", "%0%0%0%0%0%0%0%0")
  eq(e:match("'gsub' needs") ~= nil, true, e)
  -- A big subject without replacements fits.
  memreset()
  eq(#string.gsub(big(19), "x", "z"), 2^19)
  eq(memused(), 2^19)
end

function test_insert()
  local t = {}
  for i = 1, 1000 do table.insert(t, i) end
  eq(#t, 1000)
  eq(memused(), 1000 * 32)
  table.insert(t, 1, 0)
  eq(t[1], 0)
  eq(t[1001], 1000)
  local e = fails(function() while true do table.insert(t, true) end end)
  eq(e:match("'insert' needs 32 bytes") ~= nil, true, e)
end

function test_json_encoders()
  local s = big(16)
  local t = {}
  for i = 1, 20 do t[i] = s end
  for _, m in ipairs{{"cjson", "cjson.encode"}, {"dkjson", "dkjson.encode"}, {"json", "json.encode"}} do
    memreset()
    local json = require(m[1])
    local e = fails(json.encode, t)
    eq(e:match("'" .. m[2] .. "' needs") ~= nil, true, e)
    -- Shared subtables: 2^6 copies of a 64 KiB string.
    memreset()
    local d = {s}
    for _ = 1, 6 do d = {d, d} end
    e = fails(json.encode, d)
    eq(e:match("'" .. m[2] .. "' needs") ~= nil, true, e)
    -- One string bigger than the budget: refused before it is copied.
    memreset()
    e = fails(json.encode, {big(21)})
    eq(e:match("'" .. m[2] .. "' needs 2097155 bytes, 0 already used") ~= nil, true, e)
    -- What fits is charged.
    memreset()
    eq(json.encode({"a", "b"}), '["a","b"]')
    eq(memused(), 9, m[1])
  end
  -- cjson.safe raises too: the budget is not an encoding error.
  memreset()
  local e = fails(require("cjson.safe").encode, t)
  eq(e:match("'cjson.encode' needs") ~= nil, true, e)
end

function test_json_decoders()
  -- 10000 empty arrays: 30 KB of text, far more as tables.
  local text = "[" .. string.rep("[],", 9999) .. "[]]"
  for _, m in ipairs{{"cjson", "cjson.decode"}, {"dkjson", "dkjson.decode"}, {"json", "json.decode"}} do
    memreset()
    local e = fails(require(m[1]).decode, text)
    eq(e:match("'" .. m[2] .. "' needs") ~= nil, true, e)
    memreset()
    local v = require(m[1]).decode('{"k": ["ab", 1]}')
    eq(v.k[1], "ab")
    eq(memused() > 0 and memused() < 1024, true, m[1] .. " charged " .. memused())
  end
  -- Strings count their length.
  memreset()
  local e = fails(require("cjson").decode, '["' .. big(20) .. '"]')
  eq(e:match("'cjson.decode' needs 1048576 bytes") ~= nil, true, e)
end

function test_io_reads()
  local p = TMP .. "/big"
  local f = assert(io.open(p, "wb"))
  local s = big(16)
  for _ = 1, 20 do assert(f:write(s)) end -- 1.25 MiB, one line
  assert(f:write("\nend\n"))
  f:close()
  eq(memused(), 0, "writes are not charged")
  for _, fmt in ipairs{"*a", "*l", "*L", 2^30} do
    memreset()
    f = assert(io.open(p, "rb"))
    local e = fails(f.read, f, fmt)
    eq(e:match("'read' needs 10%d%d%d%d%d bytes, 0 already used") ~= nil, true, tostring(fmt) .. ": " .. e)
    f:close()
  end
  memreset()
  local e = fails(function() for _ in io.lines(p) do end end)
  eq(e:match("'for iterator' needs") ~= nil, true, e)
  -- Reads that fit are charged what they return.
  memreset()
  f = assert(io.open(p, "rb"))
  eq(#f:read(10), 10)
  f:seek("set", 20 * 65536)
  eq(f:read("*l"), "")
  eq(f:read("*L"), "end\n")
  f:close()
  eq(memused(), 14)
end

function test_copying_string_functions()
  local s = big(19) -- 512 KiB, not charged
  memreset()
  eq(#string.upper(s), #s)
  eq(memused(), #s, "upper charged")
  local e = fails(string.lower, s .. s)
  budget(e, "lower", 2 * #s, #s)
  memreset()
  eq(string.reverse("abc"), "cba")
  eq(string.char(104, 105), "hi")
  eq(memused(), 3 + 2, "reverse and char charged")
  e = fails(string.upper)
  eq(e, "bad argument #1 to 'upper' (string expected, got no value)")
  -- a loop that keeps what upper makes is stopped by the budget
  memreset()
  local keep = {}
  e = fails(function() for i = 1, 100 do keep[i] = s:upper() end end)
  budget(e, "upper", #s, 2 * #s)
end

function test_jsonlua()
  local JSON = require "JSON"
  local s = big(16)
  local t = {}
  for i = 1, 20 do t[i] = s end
  memreset()
  local e = fails(function() return JSON:encode(t) end)
  eq(e:match("'JSON:encode' needs") ~= nil, true, e)
  memreset()
  e = fails(function() return JSON:encode({big(21)}) end)
  eq(e:match("'JSON:encode' needs 2097155 bytes, 0 already used") ~= nil, true, e)
  memreset()
  eq(JSON:encode({"a", "b"}), '["a","b"]')
  eq(memused(), 9, "charged")
  memreset()
  e = fails(function() return JSON:decode("[" .. string.rep("[],", 9999) .. "[]]") end)
  eq(e:match("'JSON:decode' needs") ~= nil, true, e)
end
