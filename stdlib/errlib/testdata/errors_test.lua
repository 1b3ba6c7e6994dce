-- error values that are not strings reach pcall and xpcall unchanged.

function test_pcall_error_table()
  local ok, e = pcall(error, {code = 1})
  eq(ok, false, "ok")
  eq(type(e), "table", "type")
  eq(e.code, 1, "e.code")
end

function test_error_table_in_function_keeps_identity()
  local t = {code = 2}
  local ok, e = pcall(function() error(t) end)
  eq(ok, false, "ok")
  eq(rawequal(e, t), true, "same table")
end

function test_nested_pcall_and_rethrow()
  local t = {}
  local ok, e = pcall(function()
    local ok2, e2 = pcall(function() error(t) end)
    eq(ok2, false, "inner ok")
    eq(rawequal(e2, t), true, "inner value")
    error(e2) -- rethrow
  end)
  eq(ok, false, "outer ok")
  eq(rawequal(e, t), true, "outer value")
end

function test_deeply_nested()
  local t = {}
  local function f(n)
    if n == 0 then error(t) end
    local ok, e = pcall(f, n - 1)
    error(e)
  end
  local ok, e = pcall(f, 10)
  eq(ok, false, "ok")
  eq(rawequal(e, t), true, "value")
end

function test_xpcall_handler_receives_table()
  local t = {code = 3}
  local got
  local ok, e = xpcall(function() error(t) end, function(err) got = err; return err end)
  eq(ok, false, "ok")
  eq(rawequal(got, t), true, "handler argument")
  eq(rawequal(e, t), true, "result")
end

function test_xpcall_handler_result_of_any_type()
  local ok, e = xpcall(function() error("x", 0) end, function(err) return {msg = err} end)
  eq(ok, false, "ok")
  eq(type(e), "table", "type")
  eq(e.msg, "x", "e.msg")
  ok, e = xpcall(function() error({}) end, function() return 42 end)
  eq(e, 42, "number result")
  ok, e = xpcall(function() error({}) end, function() return nil end)
  eq(e, nil, "nil result")
end

function test_xpcall_handler_gets_runtime_error_string()
  local ok, e = xpcall(function() local x; return x.y end, function(err) return "handled: " .. err end)
  eq(ok, false, "ok")
  eq(startswith(e, "handled: errors_test.lua:"), true, "message " .. tostring(e))
end

function test_xpcall_success_and_arguments()
  local r = {xpcall(function(...) return select("#", ...), ... end, print, 1, nil, 3)}
  eq(r[1], true, "ok")
  eq(r[2], 3, "argument count")
  eq(r[3], 1, "first")
  eq(r[5], 3, "third")
end

function test_pcall_success_returns_all()
  local n = select("#", pcall(function() return 1, nil, 3 end))
  eq(n, 4, "results")
  local ok, a, b, c = pcall(function(...) return ... end, "a", "b", "c")
  eq(ok, true, "ok")
  eq(a .. b .. c, "abc", "results")
end

function test_pcall_and_xpcall_arguments()
  eq(fails(pcall), "bad argument #1 to 'pcall' (value expected)", "pcall()")
  eq(fails(xpcall, print), "bad argument #2 to 'xpcall' (value expected)", "xpcall(f)")
  local ok, e = pcall(pcall)
  eq(ok, false, "pcall(pcall)")
end

function test_error_string_gets_position()
  local ok, e = pcall(function() error("boom") end); local ln = callerline()
  eq(e, "errors_test.lua:" .. ln .. ": boom", "level 1")
  local function f() error("deep", 2) end
  ok, e = pcall(function() f() end); ln = callerline()
  eq(e, "errors_test.lua:" .. ln .. ": deep", "level 2")
  ok, e = pcall(function() error("bare", 0) end)
  eq(e, "bare", "level 0")
  ok, e = pcall(error, "direct")
  eq(e, "direct", "called by pcall: no Lua position")
end

function test_error_nil()
  local r = {pcall(error)}
  eq(r[1], false, "ok")
  eq(r[2], nil, "value")
  local ok, e = pcall(function() error(nil) end)
  eq(ok, false, "ok")
  eq(e, nil, "error(nil)")
end

function test_error_number_stays_a_number()
  -- Lua 5.3.6 and 5.4: only strings get a position.
  local ok, e = pcall(error, 42)
  eq(e, 42, "pcall(error, 42)")
  eq(type(e), "number", "type")
  ok, e = pcall(function() error(42) end)
  eq(e, 42, "error(42) in a function")
  ok, e = pcall(function() error(4.5, 2) end)
  eq(e, 4.5, "with a level")
end

function test_error_boolean_and_function()
  local ok, e = pcall(error, false)
  eq(e, false, "false")
  local f = function() end
  ok, e = pcall(error, f)
  eq(e, f, "function")
end

function test_error_table_with_tostring()
  local mt = {__tostring = function(self) return "E" .. self.code end}
  local t = setmetatable({code = 9}, mt)
  local ok, e = pcall(error, t)
  eq(rawequal(e, t), true, "same table")
  eq(tostring(e), "E9", "tostring")
end

function test_error_level_must_be_integer()
  eq(fails(error, "x", 1.5), "bad argument #2 to 'error' (number has no integer representation)", "level 1.5")
end

function test_assert()
  local t = {}
  local ok, e = pcall(assert, false, t)
  eq(rawequal(e, t), true, "table message")
  local ln
  ok, e = pcall(function() assert(false, "msg") end); ln = callerline()
  eq(e, "errors_test.lua:" .. ln .. ": msg", "string message")
  ok, e = pcall(function() assert(nil) end); ln = callerline()
  eq(e, "errors_test.lua:" .. ln .. ": assertion failed!", "no message")
  ok, e = pcall(assert, false, 7)
  eq(e, 7, "number message")
  eq(select("#", assert(1, 2, 3)), 3, "returns its arguments")
  eq(fails(assert), "bad argument #1 to 'assert' (value expected)", "assert()")
end

function test_many_errors()
  for i = 1, 3000 do
    local t = {i = i}
    local ok, e = pcall(error, t)
    if not rawequal(e, t) then error("error " .. i .. " lost its value") end
  end
end

function test_error_in_message_handler()
  -- As in C Lua, an error inside the handler is an error in error handling;
  -- the call still fails.
  local ok = xpcall(function() error({}) end, function() error({}) end)
  eq(ok, false, "ok")
end
