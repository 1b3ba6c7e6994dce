-- Tests of dovecot.event() and the event objects (spec §5.4). Every test_*
-- function runs in a fresh state; see TestEventLua.

local P = "pushlua(alice@example.com)<t1>: "

function test_object_shape()
  local e = dovecot.event()
  eq(type(e), "table", "type(event)")
  eq(sorted_keys(e), "item", "event raw keys")
  eq(type(e.item), "userdata", "type(event.item)")
  local mt = getmetatable(e)
  eq(sorted_keys(mt), "__index __name add_int add_str add_timeval append_log_prefix inc_int log_debug log_error log_info log_warning passthrough_event replace_log_prefix set_always_log_source set_name", "event metatable keys")
  eq(mt.__name, "struct event", "event __name")
  eq(mt.__index, mt, "event __index")
  eq(getmetatable(dovecot.event(e)), mt, "child event metatable")

  local pt = e:passthrough_event()
  eq(sorted_keys(pt), "item", "passthrough raw keys")
  eq(type(pt.item), "userdata", "type(passthrough.item)")
  local ptmt = getmetatable(pt)
  eq(sorted_keys(ptmt), "__index __name add_int add_str add_timeval append_log_prefix inc_int log_debug log_error log_info log_warning replace_log_prefix set_always_log_source set_name", "passthrough metatable keys")
  eq(ptmt.__name, "struct event_passthrough", "passthrough __name")
  eq(ptmt.__index, ptmt, "passthrough __index")
  eq(pt.passthrough_event, nil, "passthrough.passthrough_event")
end

function test_log_levels()
  local e = dovecot.event()
  e:log_debug("debug msg")
  e:log_info("info msg")
  e:log_warning("warning msg")
  e:log_error("error msg")
  e:log_info(42)
  expect_logs({
    P .. "Debug: lua: debug msg",
    P .. "Info: lua: info msg",
    P .. "Warning: lua: warning msg",
    P .. "Error: lua: error msg",
    P .. "Info: lua: 42",
  })
end

function test_log_debug_suppressed_without_debug()
  test_set_debug(false)
  local e = dovecot.event()
  eq(e:log_debug("hidden"), e, "log_debug returns the event")
  e:passthrough_event():log_debug("hidden too")
  e:log_info("shown")
  dovecot.i_debug("i_debug is unconditional")
  expect_logs({
    P .. "Info: lua: shown",
    P .. "Debug: i_debug is unconditional",
  })
end

function test_chaining()
  local e = dovecot.event()
  local r = e:set_name("my_event"):add_str("s", "v"):add_int("i", 1):add_timeval("t", 1700000000)
    :inc_int("i", 2):append_log_prefix("pfx: "):set_always_log_source()
  eq(rawequal(r, e), true, "setters return the event")
  eq(rawequal(e:log_info("msg"), e), true, "log_info returns the event")
  eq(rawequal(e:replace_log_prefix("R: "), e), true, "replace_log_prefix returns the event")
  local pt = e:passthrough_event()
  local r2 = pt:set_name("pt"):add_str("s", "w"):add_int("n", 3):add_timeval("t", 1):inc_int("n", 1)
    :append_log_prefix("p: "):set_always_log_source()
  eq(rawequal(r2, pt), true, "passthrough setters return the passthrough")
  eq(rawequal(pt:log_info("x"), pt), true, "passthrough log_info returns the passthrough")
  expect_logs({P .. "Info: lua: pfx: msg", "R: Info: p: x"})
end

function test_prefixes()
  local e = dovecot.event()
  e:append_log_prefix("pfx: ")
  e:log_warning("after append prefix")
  local child = dovecot.event(e)
  child:log_info("child inherits")
  child:append_log_prefix("child: ")
  child:log_info("child appends")
  -- an event has one prefix: setting it again replaces it
  e:append_log_prefix("second: ")
  e:log_info("again")
  child:log_info("parent changed")
  expect_logs({
    P .. "Warning: lua: pfx: after append prefix",
    P .. "Info: lua: pfx: child inherits",
    P .. "Info: lua: pfx: child: child appends",
    P .. "Info: lua: second: again",
    P .. "Info: lua: second: child: parent changed",
  })
end

function test_replace_log_prefix()
  local e = dovecot.event()
  e:replace_log_prefix("REPL: "):log_error("x")
  local child = dovecot.event(e):append_log_prefix("c: ")
  child:log_info("y")
  -- append after replace makes it an appended prefix again
  e:append_log_prefix("a: "):log_info("z")
  local other = dovecot.event():append_log_prefix("o: ")
  local grandchild = dovecot.event(other):replace_log_prefix("")
  grandchild:log_info("empty replacement")
  expect_logs({
    "REPL: Error: x",
    "REPL: Info: c: y",
    P .. "Info: lua: a: z",
    "Info: empty replacement",
  })
end

function test_passthrough()
  local e = dovecot.event():append_log_prefix("pfx: ")
  e:passthrough_event():log_info("passthrough log_info")
  local pt = e:passthrough_event():append_log_prefix("pt: ")
  pt:log_warning("w")
  e:log_info("the event keeps its prefix")
  -- unfinished passthrough events are fine (Dovecot would panic)
  e:passthrough_event()
  e:passthrough_event():log_error("e")
  local r = dovecot.event():passthrough_event():replace_log_prefix("PT: ")
  r:log_info("replaced")
  expect_logs({
    P .. "Info: lua: pfx: passthrough log_info",
    P .. "Warning: lua: pfx: pt: w",
    P .. "Info: lua: pfx: the event keeps its prefix",
    P .. "Error: lua: pfx: e",
    "PT: Info: replaced",
  })
end

function test_always_log_source_keeps_the_line()
  local e = dovecot.event():set_always_log_source()
  e:log_info("msg")
  expect_logs({P .. "Info: lua: msg"})
end

function test_add_str_accepts_numbers()
  local e = dovecot.event()
  e:add_str("k", 5)
  e:add_str(7, "v")
  e:add_int("n", "12")
  e:add_timeval("t", 0)
end

function test_argument_counts()
  local e = dovecot.event()
  local pt = e:passthrough_event()
  expect_error("expected 2 arguments, got 1", function() e:append_log_prefix() end)
  expect_error("expected 2 arguments, got 3", function() e:replace_log_prefix("a", "b") end)
  expect_error("expected 2 arguments, got 1", function() e:set_name() end)
  expect_error("expected 1 arguments, got 2", function() e:set_always_log_source(true) end)
  expect_error("expected 3 arguments, got 2", function() e:add_str("k") end)
  expect_error("expected 3 arguments, got 4", function() e:add_int("k", 1, 2) end)
  expect_error("expected 3 arguments, got 2", function() e:add_timeval("k") end)
  expect_error("expected 3 arguments, got 1", function() e:inc_int() end)
  expect_error("expected 2 arguments, got 1", function() e:log_debug() end)
  expect_error("expected 2 arguments, got 1", function() e:log_info() end)
  expect_error("expected 2 arguments, got 3", function() e:log_warning("a", "b") end)
  expect_error("expected 2 arguments, got 1", function() e:log_error() end)
  expect_error("expected 1 arguments, got 2", function() e:passthrough_event(1) end)
  expect_error("expected 2 arguments, got 1", function() pt:log_info() end)
  expect_error("expected 3 arguments, got 2", function() pt:add_int("k") end)
  expect_error("expected 1 arguments, got 0", function() e.set_always_log_source() end)
  expect_logs({})
end

function test_type_errors()
  local e = dovecot.event()
  local pt = e:passthrough_event()
  expect_error("Bad argument #1, expected struct event got number", function() e.log_info(5, "x") end)
  expect_error("Bad argument #1, expected struct event got table", function() e.log_info({}, "x") end)
  expect_error("Bad argument #1, expected struct event got string", function() e.set_name("x", "y") end)
  expect_error("Bad argument #1, expected struct event got nil", function() pt.log_info(nil, "x") end)
  expect_error("Bad argument #1, expected struct event got table", function() pt.add_str({item = e.item}, "k", "v") end)
  expect_error(test_where() .. "bad argument #2 to 'add_int' (number expected, got string)", function() e:add_int("k", "str") end)
  expect_error(test_where() .. "bad argument #2 to 'add_int' (number has no integer representation)", function() e:add_int("k", 1.5) end)
  expect_error(test_where() .. "bad argument #2 to 'inc_int' (number has no integer representation)", function() e:inc_int("k", 0.25) end)
  expect_error(test_where() .. "bad argument #2 to 'add_timeval' (number expected, got table)", function() e:add_timeval("k", {}) end)
  expect_error(test_where() .. "bad argument #1 to 'add_str' (string expected, got table)", function() e:add_str({}, "v") end)
  expect_error(test_where() .. "bad argument #2 to 'add_str' (string expected, got nil)", function() e:add_str("k", nil) end)
  expect_error(test_where() .. "bad argument #1 to 'log_info' (string expected, got table)", function() e:log_info({}) end)
  expect_error(test_where() .. "bad argument #1 to 'append_log_prefix' (string expected, got boolean)", function() e:append_log_prefix(true) end)
  expect_error(test_where() .. "bad argument #2 to 'add_int' (number expected, got string)", function() pt:add_int("k", "str") end)
  expect_error(test_where() .. "bad argument #1 to 'log_error' (string expected, got nil)", function() pt:log_error(nil) end)
  expect_logs({})
end
