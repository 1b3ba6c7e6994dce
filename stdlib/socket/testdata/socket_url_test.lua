-- socket.url

local url = require("socket.url")

local function parsed(u, default)
  local p = url.parse(u, default)
  local out = {}
  for _, k in ipairs{"scheme", "authority", "userinfo", "user", "password", "host", "port", "path", "params", "query", "fragment"} do
    if p[k] ~= nil then out[#out + 1] = k .. "=" .. tostring(p[k]) end
  end
  return table.concat(out, " ")
end

function test_escape()
  eq(url.escape("Sender One <sender1@example.org>"), "Sender%20One%20%3csender1%40example%2eorg%3e")
  eq(url.escape("a-b.c_d~"), "a%2db%2ec_d%7e")
  eq(url.escape("Grüße"), "Gr%c3%bc%c3%9fe")
  eq(url.escape(""), "")
  eq(url.escape(12), "12")
  eq(url.escape("\0\255"), "%00%ff")
end

function test_unescape()
  eq(url.unescape("a%20b%2Ec%2e"), "a b.c.")
  eq(url.unescape("%41%2x%4a%"), "A%2xJ%")
  eq(url.unescape("100%"), "100%")
  eq(url.unescape(url.escape("x y\1\255")), "x y\1\255")
end

function test_parse_full()
  eq(parsed("http://user:p%40ss@www.example.com:8080/a/b;p=1?q=2&r#frag"),
    "scheme=http authority=user:p%40ss@www.example.com:8080 userinfo=user:p%40ss user=user password=p%40ss " ..
    "host=www.example.com port=8080 path=/a/b params=p=1 query=q=2&r fragment=frag")
end

function test_parse_ipv6()
  eq(parsed("http://[::1]:8080/x"), "scheme=http authority=[::1]:8080 host=::1 port=8080 path=/x")
  eq(parsed("http://[fe80::1]/"), "scheme=http authority=[fe80::1] host=fe80::1 path=/")
end

function test_parse_partial()
  eq(parsed("/just/a/path?x"), "path=/just/a/path query=x")
  eq(parsed("mailto:joe@example.com"), "scheme=mailto path=joe@example.com")
  eq(parsed("//host"), "authority=host host=host")
  eq(parsed("http://host:"), "scheme=http authority=host: host=host port=")
  eq(parsed("http://u@h"), "scheme=http authority=u@h userinfo=u user=u host=h")
end

-- LuaSocket 3.1.0 ends the authority at "/" only (3.x master also at "?" and "#").
function test_ours_parse_authority_ends_at_query()
  eq(parsed("http://host?x=1"), "scheme=http authority=host host=host query=x=1")
  eq(parsed("http://host#f"), "scheme=http authority=host host=host fragment=f")
end

function test_parse_defaults()
  eq(parsed("http://h", {path = "/", scheme = "ftp", port = 21}), "scheme=http authority=h host=h port=21 path=/")
  local p = url.parse("x", {extra = true})
  eq(p.extra, true)
end

function test_parse_invalid()
  local p, e = url.parse("")
  eq(p, nil); eq(e, "invalid url")
  p, e = url.parse(nil)
  eq(p, nil); eq(e, "invalid url")
end

function test_build()
  eq(url.build{scheme = "http", host = "h", port = 8080, path = "/a", params = "p", query = "q", fragment = "f"},
    "http://h:8080/a;p?q#f")
  eq(url.build{scheme = "http", host = "::1", port = 80, path = "/x", user = "u", password = "p"}, "http://u:p@[::1]:80/x")
  eq(url.build{scheme = "http", authority = "a@b:1", path = "/"}, "http://a@b:1/")
  eq(url.build{host = "h", userinfo = "ui"}, "//ui@h")
  eq(url.build{}, "")
  local u = "http://user:pw@example.com:81/a/b;c?d#e"
  eq(url.build(url.parse(u)), u)
end

function test_absolute_rfc_examples()
  local base = "http://a/b/c/d;p?q"
  local cases = {
    {"g:h", "g:h"}, {"g", "http://a/b/c/g"}, {"./g", "http://a/b/c/g"}, {"g/", "http://a/b/c/g/"},
    {"/g", "http://a/g"}, {"//g", "http://g"}, {"?y", "http://a/b/c/d;p?y"}, {"g?y", "http://a/b/c/g?y"},
    {"#s", "http://a/b/c/d;p?q#s"}, {"g#s", "http://a/b/c/g#s"}, {"g?y#s", "http://a/b/c/g?y#s"},
    {";x", "http://a/b/c/d;x"}, {"g;x", "http://a/b/c/g;x"}, {"g;x?y#s", "http://a/b/c/g;x?y#s"},
    {".", "http://a/b/c/"}, {"./", "http://a/b/c/"}, {"..", "http://a/b/"}, {"../", "http://a/b/"},
    {"../g", "http://a/b/g"}, {"../..", "http://a/"}, {"../../", "http://a/"}, {"../../g", "http://a/g"},
    {"../../../g", "http://a/g"}, {"../../../../g", "http://a/g"}, {"/./g", "http://a/g"},
    {"/../g", "http://a/g"}, {"g.", "http://a/b/c/g."}, {".g", "http://a/b/c/.g"}, {"g..", "http://a/b/c/g.."},
    {"..g", "http://a/b/c/..g"}, {"./../g", "http://a/b/g"}, {"./g/.", "http://a/b/c/g/"},
    {"g/./h", "http://a/b/c/g/h"}, {"g/../h", "http://a/b/c/h"}, {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
    {"g;x=1/../y", "http://a/b/c/y"}, {"", "http://a/b/c/d;p?q"},
  }
  for _, c in ipairs(cases) do
    eq(url.absolute(base, c[1]), c[2], "absolute(" .. c[1] .. ")")
  end
end

function test_absolute_table_base_and_nil()
  -- the authority (not the host) of a table base is used
  eq(url.absolute({scheme = "https", host = "h", path = "/x/y"}, "z"), "https:/x/z")
  eq(url.absolute({scheme = "https", authority = "h", path = "/x/y"}, "z"), "https://h/x/z")
  eq(url.absolute(nil, "x/../y"), "y")
  eq(url.absolute("http://a//b/c", "../d"), "http://a//d")
end

function test_parse_path()
  local p = url.parse_path("/a%20b//c/")
  eq(#p, 2); eq(p[1], "a b"); eq(p[2], "c"); eq(p.is_absolute, 1); eq(p.is_directory, 1)
  p = url.parse_path("x")
  eq(#p, 1); eq(p.is_absolute, nil); eq(p.is_directory, nil)
  eq(#url.parse_path(nil), 0)
end

function test_build_path()
  eq(url.build_path({"a b", "c/d", is_absolute = 1, is_directory = 1}), "/a%20b/c%2Fd/")
  eq(url.build_path({"a b", "c"}, true), "a b/c")
  eq(url.build_path({"-_.!~*'():@&=+$,"}), "-_.!~*'():@&=+$,")
  eq(url.build_path({}), "")
  eq(url.build_path({is_absolute = true}), "/")
end

function test_version()
  eq(url._VERSION, "URL 1.0.3")
end
