-- socket (socket.core and socket.lua)

function test_version()
  local socket = require("socket")
  eq(socket._VERSION, "LuaSocket 3.0.0")
  eq(require("socket.core"), socket, "socket.core is the socket table")
  eq(socket.BLOCKSIZE, 2048)
end

function test_ours_gettime_uses_env_clock()
  local socket = require("socket")
  eq(socket.gettime(), 1700000000.25)
end

function test_sleep()
  local socket = require("socket")
  eq(select("#", socket.sleep(0.001)), 0, "sleep returns nothing")
  socket.sleep(-1)
  socket.sleep(0)
  eq(endswith(fails(socket.sleep), "number expected, got no value)"), true)
end

function test_skip()
  local socket = require("socket")
  local a, b = socket.skip(1, "x", "y", "z")
  eq(a, "y"); eq(b, "z")
  eq(select("#", socket.skip(3, "x", "y")), 0)
  eq(select("#", socket.skip(0, "x", "y")), 2)
end

function test_try_returns_its_arguments()
  local socket = require("socket")
  local a, b, c = socket.try(1, "two", 3)
  eq(a, 1); eq(b, "two"); eq(c, 3)
end

function test_protect_catches_try()
  local socket = require("socket")
  local f = socket.protect(function(x)
    socket.try(x, "failed: " .. tostring(x))
    return "ok", x
  end)
  local r, e = f(false)
  eq(r, nil); eq(e, "failed: false")
  local a, b = f(7)
  eq(a, "ok"); eq(b, 7)
end

function test_protect_passes_other_errors()
  local socket = require("socket")
  local f = socket.protect(function() error("real error") end)
  local e = fails(f)
  eq(endswith(e, "real error"), true, e)
end

function test_newtry_runs_finalizer()
  local socket = require("socket")
  local finalized = 0
  local try = socket.newtry(function() finalized = finalized + 1 end)
  local f = socket.protect(function() try(nil, "closed") end)
  local r, e = f()
  eq(r, nil); eq(e, "closed"); eq(finalized, 1)
  eq(try(true), true)
  eq(finalized, 1)
end

function test_ours_try_outside_protect_raises_message()
  local socket = require("socket")
  local e = fails(socket.try, nil, "timeout")
  eq(e, "timeout")
end

function test_choose()
  local socket = require("socket")
  local pick = socket.choose({default = function(a) return "d" .. tostring(a) end, x = function(a, b) return a .. b end})
  eq(pick("x", "1", "2"), "12")
  eq(pick(5), "d5")
  local e = fails(pick, "nope")
  eq(endswith(e, "unknown key (nope)"), true, e)
end

function test_submodules_set_fields()
  local socket = require("socket")
  local http = require("socket.http")
  local url = require("socket.url")
  eq(socket.http, http); eq(socket.url, url)
  eq(socket.headers.canonic["te"], "TE")
  eq(socket.headers.canonic["content-md5"], "Content-MD5")
end

function test_ours_try_errors_caught_by_pcall_do_not_pile_up()
  local socket = require("socket")
  for i = 1, 200 do
    local ok, e = pcall(socket.try, nil, "msg " .. i)
    eq(ok, false)
    eq(e, "msg " .. i)
  end
  local r, e = socket.protect(function() socket.try(nil, "last") end)()
  eq(r, nil); eq(e, "last")
end

function test_protect_returns_non_string_errors()
  local socket = require("socket")
  local t = {}
  local r, e = socket.protect(function() socket.try(false, t) end)()
  eq(r, nil); eq(e, t)
  r, e = socket.protect(function() socket.try(nil) end)()
  eq(r, nil); eq(e, nil)
end
