-- mime (base64, wrap, eol, dot)

local mime = require("mime")
local ltn12 = require("ltn12")

function test_b64()
  eq(mime.b64("ab"), "YWI=")
  eq(mime.b64("abc"), "YWJj")
  eq(mime.b64("a"), "YQ==")
  eq(mime.b64(""), nil)
  eq(mime.b64(nil), nil)
  local a, b = mime.b64("abcd", "e")
  eq(a, "YWJj"); eq(b, "de")
  eq(mime.b64("login:pass"), "bG9naW46cGFzcw==")
end

function test_unb64()
  eq(mime.unb64("YWI="), "ab")
  eq(mime.unb64("YW\r\nJj"), "abc")
  eq(mime.unb64("YQ=="), "a")
  eq(mime.unb64(""), nil)
  local a, b = mime.unb64("YWJjZA", "")
  eq(a, "abc"); eq(b, "ZA")
end

function test_filters()
  local t = {}
  assert(ltn12.pump.all(ltn12.source.chain(ltn12.source.string("hello world"), mime.encode("base64")), (ltn12.sink.table(t))))
  eq(table.concat(t), "aGVsbG8gd29ybGQ=")
  t = {}
  assert(ltn12.pump.all(ltn12.source.chain(ltn12.source.string("aGVsbG8gd29ybGQ="), mime.decode("base64")), (ltn12.sink.table(t))))
  eq(table.concat(t), "hello world")
end

function test_wrp_eol_dot()
  local a, n = mime.wrp(3, "abcdef", 3)
  eq(a, "abc\r\ndef"); eq(n, 0)
  a, n = mime.eol(0, "a\nb\r\nc\rd")
  eq(a, "a\r\nb\r\nc\r\nd"); eq(n, 0)
  a, n = mime.dot(2, ".a\r\n.b")
  eq(a, "..a\r\n..b"); eq(n, 0)
  local t = {}
  assert(ltn12.pump.all(ltn12.source.chain(ltn12.source.string("x\ny"), mime.normalize()), (ltn12.sink.table(t))))
  eq(table.concat(t), "x\r\ny")
end
