-- Pattern matching cases of the Lua 5.2 test suite (pm.lua of the 5.2.2
-- tests, Copyright (C) 1994-2015 Lua.org, PUC-Rio, MIT license), adapted
-- for pushlua: run by TestLua52PatternSuite in strpattern_test.go on go-lua
-- with stdlib's string.find/match/gmatch/gsub.
--
-- Adaptations:
--   * the Latin-1 letters of the original are written as decimal escapes
--     (\225 is 'a' with an acute accent), so this file is plain ASCII;
--   * the cases are grouped in sections and the global helpers of the
--     original are locals;
--   * nothing needed dropping: the original uses neither
--     string.format('%q') nor locales nor coroutines, which go-lua lacks,
--     and its "big strings" part (guarded by _soft there) runs here.

-- find returns the substring string.find finds, or nil.
local function find(s, p)
  local i, e = string.find(s, p)
  if i then return string.sub(s, i, e) end
end

-- find1 finds what p matches in s by turning p into a pattern with
-- position captures around it and string.match.
local function find1(s, p)
  p = string.gsub(p, "%%([0-9])", function (d) return "%" .. (d + 1) end)
  p = string.gsub(p, "^(^?)", "%1()", 1)
  p = string.gsub(p, "($?)$", "()%1", 1)
  local t = {string.match(s, p)}
  return string.sub(s, t[1], t[#t] - 1)
end

do -- string.find positions
  local a, b = string.find('', '')    -- empty patterns are tricky
  assert(a == 1 and b == 0)
  a, b = string.find('alo', '')
  assert(a == 1 and b == 0)
  a, b = string.find('a\0o a\0o a\0o', 'a', 1)   -- first position
  assert(a == 1 and b == 1)
  a, b = string.find('a\0o a\0o a\0o', 'a\0o', 2)   -- starts in the middle
  assert(a == 5 and b == 7)
  a, b = string.find('a\0o a\0o a\0o', 'a\0o', 9)
  assert(a == 9 and b == 11)
  a, b = string.find('a\0a\0a\0a\0\0ab', '\0ab', 2)  -- finds at the end
  assert(a == 9 and b == 11)
  a, b = string.find('a\0a\0a\0a\0\0ab', 'b')    -- last position
  assert(a == 11 and b == 11)
  assert(string.find('a\0a\0a\0a\0\0ab', 'b\0') == nil)   -- checks the end
  assert(string.find('', '\0') == nil)
  assert(string.find('alo123alo', '12') == 4)
  assert(string.find('alo123alo', '^12') == nil)
end

do -- '.' with quantifiers
  assert(string.match("aaab", ".*b") == "aaab")
  assert(string.match("aaa", ".*a") == "aaa")
  assert(string.match("b", ".*b") == "b")
  assert(string.match("aaab", ".+b") == "aaab")
  assert(string.match("aaa", ".+a") == "aaa")
  assert(not string.match("b", ".+b"))
  assert(string.match("aaab", ".?b") == "ab")
  assert(string.match("aaa", ".?a") == "aa")
  assert(string.match("b", ".?b") == "b")
end

do -- classes, quantifiers and anchors
  assert(find('aloALO', '%l*') == 'alo')
  assert(find('aLo_ALO', '%a*') == 'aLo')
  assert(find("  \n\r*&\n\r   xuxu  \n\n", "%g%g%g+") == "xuxu")
  assert(find('aaab', 'a*') == 'aaa')
  assert(find('aaa', '^.*$') == 'aaa')
  assert(find('aaa', 'b*') == '')
  assert(find('aaa', 'ab*a') == 'aa')
  assert(find('aba', 'ab*a') == 'aba')
  assert(find('aaab', 'a+') == 'aaa')
  assert(find('aaa', '^.+$') == 'aaa')
  assert(find('aaa', 'b+') == nil)
  assert(find('aaa', 'ab+a') == nil)
  assert(find('aba', 'ab+a') == 'aba')
  assert(find('a$a', '.$') == 'a')
  assert(find('a$a', '.%$') == 'a$')
  assert(find('a$a', '.$.') == 'a$a')
  assert(find('a$a', '$$') == nil)
  assert(find('a$b', 'a$') == nil)
  assert(find('a$a', '$') == '')
  assert(find('', 'b*') == '')
  assert(find('aaa', 'bb*') == nil)
  assert(find('aaab', 'a-') == '')
  assert(find('aaa', '^.-$') == 'aaa')
  assert(find('aabaaabaaabaaaba', 'b.*b') == 'baaabaaabaaab')
  assert(find('aabaaabaaabaaaba', 'b.-b') == 'baaab')
  assert(find('alo xo', '.o$') == 'xo')
  assert(find(' \n isto \233 assim', '%S%S*') == 'isto')
  assert(find(' \n isto \233 assim', '%S*$') == 'assim')
  assert(find(' \n isto \233 assim', '[a-z]*$') == 'assim')
  assert(find('um caracter ? extra', '[^%sa-z]') == '?')
  assert(find('', 'a?') == '')
  assert(find('\225', '\225?') == '\225')
  assert(find('\225bl', '\225?b?l?') == '\225bl')
  assert(find('  \225bl', '\225?b?l?') == '')
  assert(find('aa', '^aa?a?a') == 'aa')
  assert(find(']]]\225b', '[^]]') == '\225')
  assert(find("0alo alo", "%x*") == "0a")
  assert(find("alo alo", "%C+") == "alo alo")
end

do -- back-references
  assert(find1('alo alx 123 b\0o b\0o', '(..*) %1') == "b\0o b\0o")
  assert(find1('axz123= 4= 4 34', '(.+)=(.*)=%2 %1') == '3= 4= 4 3')
  assert(find1('=======', '^(=*)=%1$') == '=======')
  assert(string.match('==========', '^([=]*)=%1$') == nil)
end

do -- sets, checked against all 256 bytes
  local function range(i, j)
    if i <= j then
      return i, range(i + 1, j)
    end
  end
  local abc = string.char(range(0, 255))
  assert(string.len(abc) == 256)

  -- strset returns the bytes that p matches, in order.
  local function strset(p)
    local res = {s = ''}
    string.gsub(abc, p, function (c) res.s = res.s .. c end)
    return res.s
  end

  assert(string.len(strset('[\200-\210]')) == 11)
  assert(strset('[a-z]') == "abcdefghijklmnopqrstuvwxyz")
  assert(strset('[a-z%d]') == strset('[%da-uu-z]'))
  assert(strset('[a-]') == "-a")
  assert(strset('[^%W]') == strset('[%w]'))
  assert(strset('[]%%]') == '%]')
  assert(strset('[a%-z]') == '-az')
  assert(strset('[%^%[%-a%]%-b]') == '-[]^ab')
  assert(strset('%Z') == strset('[\1-\255]'))
  assert(strset('.') == strset('[\1-\255%z]'))
end

do -- captures
  assert(string.match("alo xyzK", "(%w+)K") == "xyz")
  assert(string.match("254 K", "(%d*)K") == "")
  assert(string.match("alo ", "(%w*)$") == "")
  assert(string.match("alo ", "(%w+)$") == nil)
  assert(string.find("(\225lo)", "%(\225") == 1)
  local a, b, c, d, e = string.match("\226lo alo", "^(((.).).* (%w*))$")
  assert(a == '\226lo alo' and b == '\226l' and c == '\226' and d == 'alo' and e == nil)
  a, b, c, d = string.match('0123456789', '(.+(.?)())')
  assert(a == '0123456789' and b == '' and c == 11 and d == nil)
end

do -- gsub with strings
  assert(string.gsub('\252lo \252lo', '\252', 'x') == 'xlo xlo')
  assert(string.gsub('alo \250lo  ', ' +$', '') == 'alo \250lo')  -- trim
  assert(string.gsub('  alo alo  ', '^%s*(.-)%s*$', '%1') == 'alo alo')  -- double trim
  assert(string.gsub('alo  alo  \n 123\n ', '%s+', ' ') == 'alo alo 123 ')
  local t = "ab\231 d"
  local a, b = string.gsub(t, '(.)', '%1@')
  assert('@' .. a == string.gsub(t, '', '@') and b == 5)
  a, b = string.gsub('ab\231d', '(.)', '%0@', 2)
  assert(a == 'a@b@\231d' and b == 2)
  assert(string.gsub('alo alo', '()[al]', '%1') == '12o 56o')
  assert(string.gsub("abc=xyz", "(%w*)(%p)(%w+)", "%3%2%1-%0") ==
         "xyz=abc-abc=xyz")
  assert(string.gsub("abc", "%w", "%1%0") == "aabbcc")
  assert(string.gsub("abc", "%w+", "%0%1") == "abcabc")
  assert(string.gsub('\225\233\237', '$', '\0\243\250') == '\225\233\237\0\243\250')
  assert(string.gsub('', '^', 'r') == 'r')
  assert(string.gsub('', '$', 'r') == 'r')
end

do -- gsub with functions
  assert(string.gsub("um (dois) tres (quatro)", "(%(%w+%))", string.upper) ==
         "um (DOIS) tres (QUATRO)")

  local function setglobal(n, v) rawset(_G, n, v) end
  string.gsub("a=roberto,roberto=a", "(%w+)=(%w%w*)", setglobal)
  assert(_G.a == "roberto" and _G.roberto == "a")

  local function f(a, b) return string.gsub(a, '.', b) end
  assert(string.gsub("trocar tudo em |teste|b| \233 |beleza|al|", "|([^|]*)|([^|]*)|", f) ==
         "trocar tudo em bbbbb \233 alalalalalal")

  local function dostring(s) return load(s)() or "" end
  assert(string.gsub("alo $a=1$ novamente $return a$", "$([^$]*)%$", dostring) ==
         "alo  novamente 1")

  local x = string.gsub("$x=string.gsub('alo', '.', string.upper)$ assim vai para $return x$",
                        "$([^$]*)%$", dostring)
  assert(x == ' assim vai para ALO')

  local t = {}
  local s = 'a alo jose  joao'
  local r = string.gsub(s, '()(%w+)()', function (a, w, b)
    assert(string.len(w) == b - a)
    t[a] = b - a
  end)
  assert(s == r and t[1] == 1 and t[3] == 3 and t[7] == 4 and t[13] == 4)
end

do -- %b
  local function isbalanced(s)
    return string.find(string.gsub(s, "%b()", ""), "[()]") == nil
  end
  assert(isbalanced("(9 ((8))(\0) 7) \0\0 a b ()(c)() a"))
  assert(not isbalanced("(9 ((8) 7) a b (\0 c) a"))
  assert(string.gsub("alo 'oi' alo", "%b''", '"') == 'alo " alo')
end

do -- gsub calls functions once per match, and honours n
  local t = {"apple", "orange", "lime"; n = 0}
  assert(string.gsub("x and x and x", "x", function () t.n = t.n + 1; return t[t.n] end)
         == "apple and orange and lime")

  t = {n = 0}
  string.gsub("first second word", "%w%w*", function (w) t.n = t.n + 1; t[t.n] = w end)
  assert(t[1] == "first" and t[2] == "second" and t[3] == "word" and t.n == 3)

  t = {n = 0}
  assert(string.gsub("first second word", "%w+",
         function (w) t.n = t.n + 1; t[t.n] = w end, 2) == "first second word")
  assert(t[1] == "first" and t[2] == "second" and t[3] == nil)
end

do -- errors
  assert(not pcall(string.gsub, "alo", "(.", print))
  assert(not pcall(string.gsub, "alo", ".)", print))
  assert(not pcall(string.gsub, "alo", "(.", {}))
  assert(not pcall(string.gsub, "alo", "(.)", "%2"))
  assert(not pcall(string.gsub, "alo", "(%1)", "a"))
  assert(not pcall(string.gsub, "alo", "(%0)", "a"))
end

do -- bug since 2.5 (C-stack overflow)
  local function f(size)
    local s = string.rep("a", size)
    local p = string.rep(".?", size)
    return pcall(string.match, s, p)
  end
  local r, m = f(80)
  assert(r and #m == 80)
  r, m = f(200000)
  assert(not r and string.find(m, "too complex"))
end

do -- big strings (under "if not _soft" in the original)
  local a = string.rep('a', 300000)
  assert(string.find(a, '^a*.?$'))
  assert(not string.find(a, '^a*.?b$'))
  assert(string.find(a, '^a-.?$'))

  -- bug in 5.1.2
  a = string.rep('a', 10000) .. string.rep('b', 10000)
  assert(not pcall(string.gsub, a, 'b'))
end

do -- recursive nest of gsubs
  local function rev(s)
    return string.gsub(s, "(.)(.+)", function (c, s1) return rev(s1) .. c end)
  end
  local x = "abcdef"
  assert(rev(rev(x)) == x)
end

do -- gsub with tables
  assert(string.gsub("alo alo", ".", {}) == "alo alo")
  assert(string.gsub("alo alo", "(.)", {a = "AA", l = ""}) == "AAo AAo")
  assert(string.gsub("alo alo", "(.).", {a = "AA", l = "K"}) == "AAo AAo")
  assert(string.gsub("alo alo", "((.)(.?))", {al = "AA", o = false}) == "AAo AAo")
  assert(string.gsub("alo alo", "().", {2, 5, 6}) == "256 alo")

  local t = {}
  setmetatable(t, {__index = function (t, s) return string.upper(s) end})
  assert(string.gsub("a alo b hi", "%w%w+", t) == "a ALO b HI")
end

do -- gmatch
  local a = 0
  for i in string.gmatch('abcde', '()') do assert(i == a + 1); a = i end
  assert(a == 6)

  local t = {n = 0}
  for w in string.gmatch("first second word", "%w+") do
    t.n = t.n + 1; t[t.n] = w
  end
  assert(t[1] == "first" and t[2] == "second" and t[3] == "word")

  t = {3, 6, 9}
  for i in string.gmatch("xuxx uu ppar r", "()(.)%2") do
    assert(i == table.remove(t, 1))
  end
  assert(#t == 0)

  t = {}
  for i, j in string.gmatch("13 14 10 = 11, 15= 16, 22=23", "(%d+)%s*=%s*(%d+)") do
    t[i] = j
  end
  a = 0
  for k, v in pairs(t) do assert(k + 1 == v + 0); a = a + 1 end
  assert(a == 3)
end

do -- %f (frontiers)
  assert(string.gsub("aaa aa a aaa a", "%f[%w]a", "x") == "xaa xa x xaa x")
  assert(string.gsub("[[]] [][] [[[[", "%f[[].", "x") == "x[]] x]x] x[[[")
  assert(string.gsub("01abc45de3", "%f[%d]", ".") == ".01abc.45de.3")
  assert(string.gsub("01abc45 de3x", "%f[%D]%w", ".") == "01.bc45 de3.")
  assert(string.gsub("function", "%f[\1-\255]%w", ".") == ".unction")
  assert(string.gsub("function", "%f[^\1-\255]", ".") == "function.")

  assert(string.find("a", "%f[a]") == 1)
  assert(string.find("a", "%f[^%z]") == 1)
  assert(string.find("a", "%f[^%l]") == 2)
  assert(string.find("aba", "%f[a%z]") == 3)
  assert(string.find("aba", "%f[%z]") == 4)
  assert(not string.find("aba", "%f[%l%z]"))
  assert(not string.find("aba", "%f[^%l%z]"))

  local i, e = string.find(" alo aalo allo", "%f[%S].-%f[%s].-%f[%S]")
  assert(i == 2 and e == 5)
  local k = string.match(" alo aalo allo", "%f[%S](.-%f[%s].-%f[%S])")
  assert(k == 'alo ')

  local a = {1, 5, 9, 14, 17,}
  for k in string.gmatch("alo alo th02 is 1hat", "()%f[%w%d]") do
    assert(table.remove(a, 1) == k)
  end
  assert(#a == 0)
end

do -- malformed patterns
  local function malform(p, m)
    m = m or "malformed"
    local r, msg = pcall(string.find, "a", p)
    assert(not r and string.find(msg, m))
  end
  malform("[a")
  malform("[]")
  malform("[^]")
  malform("[a%]")
  malform("[a%")
  malform("%b")
  malform("%ba")
  malform("%")
  malform("%f", "missing")
end

do -- \0 in patterns
  assert(string.match("ab\0\1\2c", "[\0-\2]+") == "\0\1\2")
  assert(string.match("ab\0\1\2c", "[\0-\0]+") == "\0")
  assert(string.find("b$a", "$\0?") == 2)
  assert(string.find("abc\0efg", "%\0") == 4)
  assert(string.match("abc\0efg\0\1e\1g", "%b\0\1") == "\0efg\0\1e\1")
  assert(string.match("abc\0\0\0", "%\0+") == "\0\0\0")
  assert(string.match("abc\0\0\0", "%\0%\0?") == "\0\0")

  -- magic char after \0
  assert(string.find("abc\0\0", "\0.") == 4)
  assert(string.find("abcx\0\0abc\0abc", "x\0\0abc\0a.") == 4)
end

return 'OK'
