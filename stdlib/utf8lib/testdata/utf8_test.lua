-- The utf8 library.

local s = "h\195\164ll\226\130\172" -- "häll€"

function test_char()
  eq(utf8.char(104, 228, 108, 108, 8364), s, "häll€")
  eq(utf8.char(), "", "no arguments")
end

function test_codepoint()
  local a, b, c = utf8.codepoint(s, 1, 3)
  eq(a, 104, "first")
  eq(b, 228, "second")
  eq(c, nil, "the third starts after byte 3")
  eq(fails(utf8.codepoint, s, 3), "invalid UTF-8 code", "a continuation byte")
end

function test_len()
  eq(utf8.len(s), 5, "len")
  local n, pos = utf8.len("ab\255")
  eq(n, nil, "invalid: nil")
  eq(pos, 3, "invalid: position")
end

function test_offset()
  eq(utf8.offset(s, 5), 6, "5th character")
  eq(utf8.offset(s, -1), 6, "last character")
  eq(utf8.offset(s, 0, 7), 6, "start of the character of byte 7")
end

function test_codes()
  local got = {}
  for p, c in utf8.codes(s) do got[#got + 1] = p .. "=" .. c end
  eq(table.concat(got, " "), "1=104 2=228 4=108 5=108 6=8364", "codes")
  local e = fails(function() for _ in utf8.codes("a\255") do end end); local ln = callerline()
  eq(e, "utf8_test.lua:" .. ln .. ": invalid UTF-8 code", "invalid")
end

function test_require()
  eq(require("utf8"), utf8, "require")
end
