-- Tests of string.find, string.match, string.gmatch and string.gsub as
-- scripts see them. Each function test_x runs in a fresh state as the Go
-- subtest TestStringPatternsLua/test_x (strpattern_test.go).

-- show renders all its arguments, strings quoted, as "a", 1, nil.
local function show(...)
  local out = {}
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    if type(v) == "string" then
      out[#out + 1] = '"' .. v .. '"'
    else
      out[#out + 1] = tostring(v)
    end
  end
  return table.concat(out, ", ")
end

-- same checks that a call's results render as want.
local function same(want, ...)
  local got = show(...)
  if got ~= want then
    error("got " .. got .. "; want " .. want, 2)
  end
end

-- fails checks that f(...) raises exactly the message want (called
-- through pcall, Lua adds no position).
local function fails(want, f, ...)
  local ok, msg = pcall(f, ...)
  if ok then
    error("no error; want " .. want, 2)
  end
  if msg ~= want then
    error("got error " .. tostring(msg) .. "; want " .. want, 2)
  end
end

function test_find_plain_text()
  same('4, 5', string.find("alo123alo", "12"))
  same('nil', string.find("alo123alo", "xy"))
  same('1, 0', string.find("", ""))
  same('3, 4', string.find("ab.b", ".b", 1, true))
  same('1, 2', string.find("ab.b", ".b"))            -- '.' is magic here
  same('2, 3', string.find("a+b", "+b", 1, true))
  same('nil', string.find("a+b", "a+b"))               -- '+' repeats 'a'
  same('2, 2', string.find("a(b", "(", 1, true))
  same('2, 3', string.find("a%b", "%b", 1, 1))       -- any true value
  same('1, 1', string.find("a%b", "a", 1, false))
end

function test_find_init()
  same('7, 9', string.find("alo123alo", "alo", 2))
  same('7, 9', string.find("alo123alo", "alo", -3))
  same('1, 3', string.find("alo123alo", "alo", -100))  -- before the start
  same('1, 3', string.find("alo123alo", "alo", 0))
  same('10, 9', string.find("alo123alo", "", 10))      -- just past the end
  same('nil', string.find("alo123alo", "", 11))        -- further
  same('nil', string.find("abc", "a?", 5))
  same('3, 3', string.find("abc", "%a", 3))
  same('3, 3', string.find("abc", "%a", "3"))          -- numeric string
  same('2, 2', string.find("abc", "%a", 2.9))          -- truncated
  same('2, 2', string.find("abc", "b", nil))
  same('nil', string.find("alo123", "^12", 1))
  same('4, 5', string.find("alo123", "^12", 4))        -- '^' anchors at init
end

function test_find_captures()
  same('1, 7, "key", "val"', string.find("key=val", "(%w+)=(%w+)"))
  same('2, 2, 2', string.find("abc", "()b"))
  same('1, 3', string.find("abc", "%a+"))
  fails("unfinished capture", string.find, "abc", "(a")
end

function test_match()
  same('"user", "11@3"', string.match("user=11@3", "^(%w+)=(.+)$"))
  same('"11@3"', string.match("user=11@3", "^user=(.+)$"))
  same('"aaab"', string.match("aaab", ".*b"))
  same('nil', string.match("b", ".+b"))
  same('"xyz"', string.match("alo xyzK", "(%w+)K"))
  same('""', string.match("alo ", "(%w*)$"))
  same('"0123456789", "", 11', string.match("0123456789", "(.+(.?)())"))
  same('"aa"', string.match("aabaa", "a*", 4))
  same('nil', string.match("abc", "x"))
  same('"x."', string.match("ax.b", "x."))            -- match never searches plainly
  fails("unfinished capture", string.match, "abc", "(a")
end

function test_method_calls()
  local s = "hello world"
  same('"hello"', s:match("%a+"))
  same('7, 11', s:find("w%a+"))
  same('"hexxo worxd", 3', s:gsub("l", "x"))
  local n = 0
  for w in s:gmatch("%a+") do n = n + 1 end
  same('2', n)
  same('"b"', ("abc"):match("b"))
end

function test_number_subjects()
  same('"12"', string.match(12345, "^12"))
  same('1, 2', string.find(42, "42"))
  same('"4"', string.match(4, ".*"))                   -- integral numbers print as integers
  same('"2.5"', string.match(2.5, ".*"))
  same('"4x", 1', string.gsub(4, "$", "x"))
  same('"23"', string.match(123, 23))                  -- numeric pattern too
  same('"a1b", 1', string.gsub("a.b", "%.", 1))        -- numeric replacement
end

function test_gmatch()
  local words = {}
  for w in string.gmatch("first second word", "%a+") do words[#words + 1] = w end
  same('"first", "second", "word"', table.unpack(words))

  local pairs_ = {}
  for k, v in string.gmatch("w=200&h=150", "(%w+)=(%w+)") do pairs_[#pairs_ + 1] = k .. ":" .. v end
  same('"w:200", "h:150"', table.unpack(pairs_))

  local pos = {}
  for p in string.gmatch("abc", "()") do pos[#pos + 1] = p end
  same('1, 2, 3, 4', table.unpack(pos))

  local iter = string.gmatch("ab", "%a")
  same('"a"', iter())
  same('"b"', iter())
  same('', iter())
  same('', iter())                                   -- stays done
end

function test_gmatch_empty_matches_lua52()
  -- Lua 5.2 can match an empty string right where a non-empty match
  -- ended (Lua 5.4 cannot).
  local got = {}
  for w in string.gmatch("ab cd", "%a*") do got[#got + 1] = w end
  same('"ab", "", "cd", ""', table.unpack(got))
end

function test_gmatch_caret_is_literal()
  local got = {}
  for w in string.gmatch("^a^a b", "^a") do got[#got + 1] = w end
  same('"^a", "^a"', table.unpack(got))
end

function test_gmatch_errors()
  fails("bad argument #1 to 'string.gmatch' (string expected, got nil)", string.gmatch, nil, "x")
  fails("bad argument #2 to 'string.gmatch' (string expected, got no value)", string.gmatch, "x")
  local iter = string.gmatch("abc", "[a")
  fails("malformed pattern (missing ']')", iter)
  -- Called from Lua code, the error carries its position.
  local ok, msg = pcall(function()
    for _ in string.gmatch("abc", "%") do end
  end)
  assert(not ok)
  assert(msg:find(":%d+: malformed pattern %(ends with '%%'%)$"), msg)
end

function test_gsub_string_replacement()
  same('"hexxo worxd", 3', string.gsub("hello world", "l", "x"))
  same('"hexlo world", 1', string.gsub("hello world", "l", "x", 1))
  same('"hello world", 0', string.gsub("hello world", "l", "x", 0))
  same('"xyz=abc-abc=xyz", 1', string.gsub("abc=xyz", "(%w*)(%p)(%w+)", "%3%2%1-%0"))
  same('"aabbcc", 3', string.gsub("abc", "%w", "%1%0"))
  same('"12o 56o", 4', string.gsub("alo alo", "()[al]", "%1"))
  same('"100%", 1', string.gsub("100", "$", "%%"))
  same('"-a-b-", 3', string.gsub("ab", "", "-"))
  same('"alo alo", 1', string.gsub("  alo alo  ", "^%s*(.-)%s*$", "%1"))
  same('"r", 1', string.gsub("", "^", "r"))
  same('"r", 1', string.gsub("", "$", "r"))
  same('"baa", 1', string.gsub("aaa", "^a", "b"))
  same('"a@b@c", 2', string.gsub("abc", "%w", "%0@", 2.7))   -- n truncated
  same('"xxx", 3', string.gsub("abc", "%w", "x", "5"))
end

function test_gsub_negative_n_lua52()
  -- Lua 5.2 keeps n in a size_t: a negative n replaces everything
  -- (Lua 5.1 and 5.4 replace nothing).
  same('"xxx", 3', string.gsub("abc", "%w", "x", -1))
end

function test_gsub_empty_match_after_match_lua52()
  same('"--", 2', string.gsub("abc", "%w*", "-"))
  same('"-- --", 4', string.gsub("ab c", "%w*", "-"))
end

function test_gsub_table_replacement()
  same('"alo alo", 7', string.gsub("alo alo", ".", {}))
  same('"AAo AAo", 7', string.gsub("alo alo", "(.)", {a = "AA", l = ""}))
  same('"AAo AAo", 4', string.gsub("alo alo", "((.)(.?))", {al = "AA", o = false}))
  same('"256 alo", 7', string.gsub("alo alo", "().", {2, 5, 6}))
  same('"$HOME=/root", 1', string.gsub("$HOME=$HOME", "%$(%w+)$", {HOME = "/root"}))
  local t = setmetatable({}, {__index = function(_, k) return k:upper() end})
  same('"a ALO b HI", 2', string.gsub("a alo b hi", "%w%w+", t))
  same('"1=1", 1', string.gsub("x=1", "x", {x = 1}))        -- numbers are strings
end

function test_gsub_function_replacement()
  same('"um (DOIS) tres (QUATRO)", 2', string.gsub("um (dois) tres (quatro)", "(%(%w+%))", string.upper))
  local seen = {}
  same('"a b", 2', string.gsub("a b", "%a", function(w) seen[#seen + 1] = w end))
  same('"a", "b"', table.unpack(seen))
  same('"(k=v)", 1', string.gsub("k=v", "(%w)=(%w)", function(k, v) return "(" .. k .. "=" .. v .. ")" end))
  same('"1:3,", 1', string.gsub("ab", "()%a+()", function(a, b) return a .. ":" .. b .. "," end))
  same('"x x", 2', string.gsub("a b", "%a", function() return "x", "ignored" end))
  same('"a b", 2', string.gsub("a b", "%a", function() return false end))
  same('"7 7", 2', string.gsub("a b", "%a", function() return 7 end))
  -- Recursion: gsub inside a gsub function.
  local function rev(s)
    return (string.gsub(s, "(.)(.+)", function(c, rest) return rev(rest) .. c end))
  end
  same('"fedcba"', rev("abcdef"))
end

function test_gsub_errors()
  fails("invalid replacement value (a table)", string.gsub, "abc", "b", function() return {} end)
  fails("invalid replacement value (a boolean)", string.gsub, "abc", "b", {b = true})
  fails("invalid use of '%' in replacement string", string.gsub, "abc", "b", "%x")
  fails("invalid use of '%' in replacement string", string.gsub, "abc", "b", "x%")
  fails("invalid capture index", string.gsub, "alo", "(.)", "%2")
  fails("unfinished capture", string.gsub, "alo", "(a", "%1")
  fails("unfinished capture", string.gsub, "alo", "(a", {})
  fails("unfinished capture", string.gsub, "alo", "(a", print)
  same('"xlo", 1', string.gsub("alo", "(a", "x"))           -- the capture is never used
  fails("bad argument #3 to 'string.gsub' (string/function/table expected)", string.gsub, "alo", ".")
  fails("bad argument #3 to 'string.gsub' (string/function/table expected)", string.gsub, "alo", ".", true)
  fails("bad argument #4 to 'string.gsub' (number expected, got string)", string.gsub, "alo", ".", "x", "y")
  fails("bad argument #1 to 'string.gsub' (string expected, got table)", string.gsub, {}, ".", "x")
  fails("bad argument #2 to 'string.gsub' (string expected, got nil)", string.gsub, "alo", nil, "x")
  fails("boom", string.gsub, "alo", ".", function() error("boom", 0) end)
end

function test_argument_errors()
  -- Called through pcall (a Go function), Lua 5.2 names the function by
  -- its global name; called from Lua code, by the name in the call.
  fails("bad argument #1 to 'string.match' (string expected, got nil)", string.match, nil, "x")
  fails("bad argument #1 to 'string.find' (string expected, got no value)", string.find)
  fails("bad argument #2 to 'string.find' (string expected, got boolean)", string.find, "x", true)
  fails("bad argument #3 to 'string.find' (number expected, got string)", string.find, "x", "x", "one")
  fails("bad argument #3 to 'string.match' (number expected, got table)", string.match, "x", "x", {})
  -- Called from Lua code, the error carries its position.
  local ok, msg = pcall(function() return string.match(nil, "x") end)
  assert(not ok)
  assert(msg:find(":%d+: bad argument #1 to 'match' %(string expected, got nil%)$"), msg)
  ok, msg = pcall(function() local s = "abc"; return string.gsub(s, "b") end)
  assert(not ok)
  assert(msg:find(":%d+: bad argument #3 to 'gsub' %(string/function/table expected%)$"), msg)
end

function test_pattern_errors()
  fails("malformed pattern (ends with '%')", string.find, "a", "%")
  fails("malformed pattern (missing ']')", string.find, "a", "[a")
  fails("malformed pattern (missing ']')", string.match, "a", "[^]")
  fails("malformed pattern (missing arguments to '%b')", string.find, "a", "%b")
  fails("missing '[' after '%f' in pattern", string.find, "a", "%f")
  fails("invalid pattern capture", string.match, "alo", ".)")
  fails("invalid capture index %1", string.match, "alo", "(%1)")
  fails("invalid capture index %0", string.gsub, "alo", "(%0)", "a")
  fails("too many captures", string.match, "a", string.rep("()", 33))
  fails("pattern too complex", string.match, string.rep("a", 300), string.rep(".?", 300))
  fails("pattern too complex", string.find, string.rep("a", 30), string.rep("a-", 15) .. "b")
  -- Errors are found lazily, when the matcher gets there.
  same('nil', string.find("b", "a["))
end

function test_frontier_and_balance()
  same('"THE", "quick", "fox"', string.match("THE (quick) fox", "%f[%a](%a+)%W+%f[%a](%a+)%W+%f[%a](%a+)"))
  same('"x[]] x]x] x[[[", 4', string.gsub("[[]] [][] [[[[", "%f[[].", "x"))
  same('"f(a(b)c)"', string.match("x = f(a(b)c) + 1", "%a%b()"))
  same('"alo " alo", 1', string.gsub("alo 'oi' alo", "%b''", '"'))
end

function test_non_ascii_bytes()
  -- Classes are those of the C locale: bytes >= 128 are in none.
  same('nil', string.match("\225\233", "%a"))
  same('"\225\233"', string.match("x\225\233y", "%A+"))
  same('"\200\210"', string.match("a\200\210z", "[\200-\210]+"))
  same('"\0\1\2"', string.match("ab\0\1\2c", "[\0-\2]+"))
end
