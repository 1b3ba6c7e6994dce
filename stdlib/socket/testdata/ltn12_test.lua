-- ltn12

local ltn12 = require("ltn12")

local function collect(src)
  local t = {}
  local snk = ltn12.sink.table(t)
  assert(ltn12.pump.all(src, snk))
  return table.concat(t, "|")
end

function test_module()
  eq(ltn12.BLOCKSIZE, 2048)
  eq(ltn12._VERSION, "LTN12 1.0.3")
  eq(keys(ltn12), "BLOCKSIZE,_VERSION,filter,pump,sink,source")
end

function test_source_string_blocks()
  local s = string.rep("a", 5000)
  local src = ltn12.source.string(s)
  eq(#src(), 2048); eq(#src(), 2048); eq(#src(), 904); eq(src(), nil)
  eq(ltn12.source.string("")(), nil)
  eq(ltn12.source.string(nil)(), nil)
  ltn12.BLOCKSIZE = 2
  eq(collect(ltn12.source.string("abcde")), "ab|cd|e")
end

function test_source_empty_error_table()
  eq(ltn12.source.empty()(), nil)
  local c, e = ltn12.source.error("bad")()
  eq(c, nil); eq(e, "bad")
  eq(collect(ltn12.source.table({"x", "y"})), "x|y")
  fails(ltn12.source.table, "x")
end

function test_source_cat()
  eq(collect(ltn12.source.cat(ltn12.source.string("a"), ltn12.source.empty(), ltn12.source.string("b"))), "a|b")
  local src = ltn12.source.cat(ltn12.source.string("a"), ltn12.source.error("e"))
  eq(src(), "a")
  local c, e = src()
  eq(c, nil); eq(e, "e")
end

function test_source_rewind()
  local src = ltn12.source.rewind(ltn12.source.string("abc"))
  local c = src()
  eq(c, "abc")
  src(c)
  src("x")
  eq(src(), "x"); eq(src(), "abc"); eq(src(), nil)
end

function test_source_simplify()
  local second = function() return "2" end
  local fancy = function() return "1", second end
  local src = ltn12.source.simplify(fancy)
  eq(src(), "1"); eq(src(), "2")
end

local function upper(chunk)
  if chunk then return string.upper(chunk) end
end

-- a filter that doubles each chunk and ends with "!"
local function double()
  return ltn12.filter.cycle(function(ctx, chunk)
    if chunk == nil then return nil, ctx end
    if chunk == "" then return "", ctx end
    return chunk .. chunk, ctx
  end)
end

function test_source_chain()
  eq(collect(ltn12.source.chain(ltn12.source.string("ab"), upper)), "AB")
  eq(collect(ltn12.source.chain(ltn12.source.table({"a", "b"}), upper, double())), "AA|BB")
  local src = ltn12.source.chain(ltn12.source.error("boom"), upper)
  local c, e = src()
  eq(c, nil); eq(e, "boom")
end

function test_source_chain_empty_error()
  local src = ltn12.source.chain(ltn12.source.string("a"), function(c) return c end)
  eq(src(), "a"); eq(src(), nil)
  local e = fails(src)
  eq(endswith(e, "source is empty!"), true, e)
end

function test_filter_cycle()
  local n = 0
  local f = ltn12.filter.cycle(function(ctx, chunk, extra)
    if not chunk then return nil, ctx end
    return chunk .. ctx .. extra, ctx + 1
  end, 0, "!")
  eq(f("a"), "a0!"); eq(f("b"), "b1!"); eq(f(nil), nil)
end

-- split breaks its input in single characters, one per call.
local function split()
  local buffer = ""
  return function(chunk)
    if chunk == nil and buffer == "" then return nil end
    buffer = buffer .. (chunk or "")
    if buffer == "" then return "" end
    local c = string.sub(buffer, 1, 1)
    buffer = string.sub(buffer, 2)
    return c
  end
end

function test_filter_chain()
  local f = ltn12.filter.chain(upper, double())
  eq(f("ab"), "ABAB"); eq(f(nil), nil)
  -- a chained source through a filter that needs several calls per chunk
  eq(collect(ltn12.source.chain(ltn12.source.string("abc"), split())), "a|b|c")
  eq(collect(ltn12.source.chain(ltn12.source.string("abc"), split(), upper)), "A|B|C")
end

function test_sink_table()
  local snk, t = ltn12.sink.table()
  eq(snk("a"), 1); eq(snk(nil), 1)
  eq(#t, 1)
  local mine = {}
  local snk2, t2 = ltn12.sink.table(mine)
  eq(t2, mine)
end

function test_sink_null_error()
  eq(ltn12.sink.null()("x"), 1)
  local r, e = ltn12.sink.error("no")("x")
  eq(r, nil); eq(e, "no")
end

function test_sink_chain()
  local t = {}
  local snk = ltn12.sink.chain(upper, (ltn12.sink.table(t)))
  assert(ltn12.pump.all(ltn12.source.string("ab"), snk))
  eq(table.concat(t), "AB")
  t = {}
  snk = ltn12.sink.chain(upper, double(), (ltn12.sink.table(t)))
  assert(ltn12.pump.all(ltn12.source.table({"a", "b"}), snk))
  -- each chunk is followed by the (empty) flush of the filters
  eq(table.concat(t, "|"), "AA||BB|")
end

function test_sink_simplify()
  local got = {}
  local second
  second = function(c) got[#got + 1] = "2" .. tostring(c); return 1 end
  local fancy = function(c) got[#got + 1] = "1" .. tostring(c); return 1, second end
  local snk = ltn12.sink.simplify(fancy)
  snk("a"); snk("b")
  eq(table.concat(got, ","), "1a,2b")
end

function test_pump()
  local t = {}
  eq(ltn12.pump.step(ltn12.source.string("x"), (ltn12.sink.table(t))), 1)
  local r, e = ltn12.pump.all(ltn12.source.error("src"), ltn12.sink.null())
  eq(r, nil); eq(e, "src")
  r, e = ltn12.pump.all(ltn12.source.string("x"), ltn12.sink.error("snk"))
  eq(r, nil); eq(e, "snk")
  local steps = 0
  local function step(src, snk)
    steps = steps + 1
    return ltn12.pump.step(src, snk)
  end
  eq(ltn12.pump.all(ltn12.source.table({"a", "b"}), ltn12.sink.null(), step), 1)
  eq(steps, 3)
end

function test_file_source_and_sink()
  local name = os.tmpname()
  local f = io.open(name, "w")
  f:write("probe")
  f:close()
  f = io.open(name, "r")
  local probe = f:read(100)
  f:close()
  if probe ~= "probe" then
    os.remove(name)
    skip("io: file:read(n) does not work in this VM")
  end
  local snk = ltn12.sink.file(io.open(name, "w"))
  assert(ltn12.pump.all(ltn12.source.string("file data"), snk))
  eq(collect(ltn12.source.file(io.open(name, "r"))), "file data")
  os.remove(name)
  local c, e = ltn12.source.file(nil, "no such file")()
  eq(c, nil); eq(e, "no such file")
  local r, e2 = ltn12.sink.file(nil)("x")
  eq(r, nil); eq(e2, "unable to open file")
end
