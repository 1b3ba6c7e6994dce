-- Library functions are named as C Lua names them: in an argument error
-- by the calling instruction (Lua 5.2 to 5.4 agree), else by their name in
-- package.loaded; in a traceback first by that name (Lua 5.4), as
-- "[C]: in function 'socket.url.escape'", never "[Go]: in ?".
-- (socket.url.escape and socket.http.request are Lua code in LuaSocket and
-- Go here: this is what C Lua prints for a C function in their place.)

local url = require "socket.url"
local http = require "socket.http"

function test_called_by_name()
  local e = fails(function() url.escape() end)
  eq(e, "funcname_test.lua:12: bad argument #1 to 'escape' (string expected, got no value)", "message")
end

function test_called_from_pcall()
  -- no calling instruction: package.loaded names it (go-lua searched _G only)
  local ok, e = pcall(url.escape)
  eq(e, "bad argument #1 to 'socket.url.escape' (string expected, got no value)", "message")
end

function test_tail_call()
  -- C Lua names a C function in a tail call from the instruction too
  local e = fails(function() return url.escape() end)
  eq(e, "funcname_test.lua:24: bad argument #1 to 'escape' (string expected, got no value)", "message")
end

function test_global_function_keeps_its_plain_name()
  local ok, e = pcall(tostring)
  eq(e, "bad argument #1 to 'tostring' (value expected)", "message")
end

function test_http_request_under_socket_protect()
  -- socket.http.request runs inside socket.protect's wrapper: the wrapper
  -- is what the script called, so the message names it, with the caller's
  -- position.
  local e = fails(function() http.request(nil, "x") end)
  eq(e, "funcname_test.lua:37: bad argument #1 to 'request' (table expected, got nil)", "message")
  local ok
  ok, e = pcall(http.request, nil)
  eq(e, "bad argument #1 to 'socket.http.request' (table expected, got nil)", "from pcall")
end

function test_xpcall_handler_sees_the_name()
  local seen
  xpcall(function() url.escape() end, function(m) seen = m; return m end)
  eq(seen, "funcname_test.lua:46: bad argument #1 to 'escape' (string expected, got no value)", "message")
end

function test_traceback_names_library_functions()
  local ok, tb = xpcall(function() url.escape() end, debug.traceback)
  local want = "funcname_test.lua:51: bad argument #1 to 'escape' (string expected, got no value)\n" ..
    "stack traceback:\n\t[C]: in function 'socket.url.escape'\n\tfuncname_test.lua:51: in function <funcname_test.lua:51>\n" ..
    "\t[C]: in function 'xpcall'\n"
  eq(string.sub(tb, 1, #want), want, "traceback")
  eq(string.find(tb, "[Go]", 1, true), nil, "no [Go] frame")
  eq(string.find(tb, "in ?\n", 1, true), nil, "no unnamed frame")
end

function test_traceback_level_and_message()
  local function inner() return debug.traceback("here", 1) end
  local tb = inner()
  eq(string.match(tb, "^[^\n]*\n[^\n]*\n[^\n]*"), "here\nstack traceback:\n\tfuncname_test.lua:61: in function 'inner'",
    "level 1 starts at the caller")
  eq(debug.traceback(42), 42, "a non-string message is returned as it is")
end

function test_getinfo_levels_and_functions()
  local function here() return debug.getinfo(1, "Sl") end
  local i = here()
  eq(i.source, "@funcname_test.lua", "source of level 1")
  eq(i.short_src, "funcname_test.lua", "short_src")
  eq(i.what, "Lua", "what")
  eq(i.currentline, 69, "currentline")
  eq(i.linedefined, 69, "linedefined")
  local f = debug.getinfo(here)
  eq(f.func, here, "func of a function value")
  eq(f.linedefined, 69, "linedefined of a function value")
  eq(f.currentline, -1, "no current line for a function value")
  eq(debug.getinfo(print, "S").what, "Go", "a library function")
  eq(debug.getinfo(1000), nil, "a level past the stack")
  eq(pcall(debug.getinfo, 1, "x"), false, "an unknown option is an error")
  eq(debug.getinfo(1, "n").namewhat ~= nil, true, "n gives namewhat")
end
