-- Tests of the dovecot global (spec §5.1–§5.5, §6.4). Every test_* function
-- runs in a fresh state; see TestDovecotLua.

local P = "pushlua(alice@example.com)<t1>: "

function test_raw_keys()
  eq(type(dovecot), "table", "type(dovecot)")
  local has_storage = false
  for k in pairs(dovecot) do
    if k == "storage" then
      has_storage = true
    elseif k ~= "http" then
      fail("unexpected raw key in dovecot: " .. tostring(k))
    end
  end
  eq(has_storage, true, "dovecot.storage is a raw key")
  eq(rawget(dovecot, "i_info"), nil, "rawget(dovecot, 'i_info')")
end

function test_metatable()
  local mt = getmetatable(dovecot)
  eq(sorted_keys(mt), "__index __name clear_flag event has_flag i_debug i_error i_info i_warning restrict_global_variables set_flag", "metatable keys")
  eq(mt.__index, mt, "__index is the metatable")
  eq(mt.__name, "dovecot", "__name")
  for _, name in ipairs({"i_debug", "i_info", "i_warning", "i_error", "event", "has_flag", "set_flag", "clear_flag", "restrict_global_variables"}) do
    eq(type(dovecot[name]), "function", "type(dovecot." .. name .. ")")
  end
end

function test_logging()
  dovecot.i_debug("debug msg")
  dovecot.i_info("info msg")
  dovecot.i_warning("warning msg")
  dovecot.i_error("error msg")
  dovecot.i_info(42)
  dovecot.i_info(1.5)
  dovecot.i_info("two\nlines")
  expect_logs({
    P .. "Debug: debug msg",
    P .. "Info: info msg",
    P .. "Warning: warning msg",
    P .. "Error: error msg",
    P .. "Info: 42",
    P .. "Info: 1.5",
    P .. "Info: two",
    P .. "Info: lines",
  })
end

function test_i_debug_unconditional()
  test_set_debug(false)
  dovecot.i_debug("still logged")
  expect_logs({P .. "Debug: still logged"})
end

function test_logging_errors()
  expect_error("expected 1 arguments, got 0", function() dovecot.i_info() end)
  expect_error("expected 1 arguments, got 2", function() dovecot.i_debug("a", "b") end)
  expect_error(test_where() .. "bad argument #1 to 'i_info' (string expected, got table)", function() dovecot.i_info({}) end)
  expect_error(test_where() .. "bad argument #1 to 'i_warning' (string expected, got boolean)", function() dovecot.i_warning(true) end)
  expect_error(test_where() .. "bad argument #1 to 'i_error' (string expected, got nil)", function() dovecot.i_error(nil) end)
  expect_error(test_where() .. "bad argument #1 to 'i_debug' (string expected, got function)", function() dovecot.i_debug(print) end)
  -- Lua 5.4 names a value by its metatable's __name
  expect_error(test_where() .. "bad argument #1 to 'i_info' (string expected, got struct event)", function() dovecot.i_info(dovecot.event()) end)
  expect_error(test_where() .. "bad argument #1 to 'i_info' (string expected, got dovecot)", function() dovecot.i_info(dovecot) end)
  expect_logs({})
end

function test_flags()
  eq(dovecot.has_flag(6, 2), true, "has_flag(6, 2)")
  eq(dovecot.has_flag(6, 6), true, "has_flag(6, 6)")
  eq(dovecot.has_flag(6, 1), false, "has_flag(6, 1)")
  eq(dovecot.has_flag(6, 3), false, "has_flag(6, 3)")
  eq(dovecot.has_flag(0, 0), true, "has_flag(0, 0)")
  eq(dovecot.set_flag(4, 1), 5, "set_flag(4, 1)")
  eq(dovecot.set_flag(5, 1), 5, "set_flag(5, 1)")
  eq(dovecot.clear_flag(7, 2), 5, "clear_flag(7, 2)")
  eq(dovecot.clear_flag(5, 2), 5, "clear_flag(5, 2)")
  eq(dovecot.clear_flag(-1, 1), -2, "clear_flag(-1, 1)")
  eq(tostring(dovecot.set_flag(4, 1)), "5", "tostring(set_flag(4, 1))")
  local s = dovecot.storage
  local items = dovecot.set_flag(s.STATUS_MESSAGES, s.STATUS_UNSEEN)
  eq(items, 17, "set_flag(STATUS_MESSAGES, STATUS_UNSEEN)")
  eq(dovecot.has_flag(items, s.STATUS_UNSEEN), true, "has_flag(items, STATUS_UNSEEN)")
  eq(dovecot.has_flag(items, s.STATUS_RECENT), false, "has_flag(items, STATUS_RECENT)")
  -- luaL_checkinteger converts numeric strings
  eq(dovecot.has_flag("6", "2"), true, "has_flag('6', '2')")
  eq(dovecot.set_flag(2.0, 1), 3, "set_flag(2.0, 1)")
end

function test_flag_errors()
  expect_error("expected 2 arguments, got 1", function() dovecot.has_flag(1) end)
  expect_error("expected 2 arguments, got 0", function() dovecot.set_flag() end)
  expect_error("expected 2 arguments, got 3", function() dovecot.clear_flag(1, 2, 3) end)
  expect_error(test_where() .. "bad argument #1 to 'has_flag' (number has no integer representation)", function() dovecot.has_flag(6.5, 1) end)
  expect_error(test_where() .. "bad argument #2 to 'set_flag' (number has no integer representation)", function() dovecot.set_flag(1, 0.5) end)
  expect_error(test_where() .. "bad argument #2 to 'set_flag' (number expected, got string)", function() dovecot.set_flag(1, "x") end)
  expect_error(test_where() .. "bad argument #1 to 'clear_flag' (number expected, got nil)", function() dovecot.clear_flag(nil, 1) end)
  expect_error(test_where() .. "bad argument #2 to 'has_flag' (number has no integer representation)", function() dovecot.has_flag(1, "1.5") end)
end

function test_restrict_global_variables()
  dovecot.restrict_global_variables(true)
  local mt = getmetatable(_G)
  eq(sorted_keys(mt), "__index __newindex", "strict _G metatable keys")
  expect_error("attempt to write to read undeclared global variable undeclared_global", function() return undeclared_global end)
  expect_error("attempt to write to undeclared global variable new_global", function() new_global = 1 end)
  expect_error("attempt to write to undeclared global variable new_table", function() new_table = {} end)
  eq(rawget(_G, "new_global"), nil, "new_global after the failed write")
  expect_error("attempt to write to read undeclared global variable 1", function() return _G[1] end)
  local key = {}
  expect_error(test_where() .. "bad argument #2 to 'index' (string expected, got table)", function() return _G[key] end)
  -- functions may still be defined, and existing globals used
  function new_function() return "ok" end
  eq(rawget(_G, "new_function"), new_function, "new_function is rawset")
  eq(new_function(), "ok", "new_function()")
  eq(type(print), "function", "type(print)")
  -- false reverts to an empty metatable
  dovecot.restrict_global_variables(false)
  eq(sorted_keys(getmetatable(_G)), "", "metatable keys after false")
  eq(undeclared_global, nil, "undeclared_global after false")
  new_global = 1
  eq(new_global, 1, "new_global after false")
  -- any true value restricts, nil and false do not
  dovecot.restrict_global_variables(1)
  expect_error("attempt to write to read undeclared global variable other", function() return other end)
  dovecot.restrict_global_variables(nil)
  eq(other, nil, "other after nil")
end

function test_restrict_global_variables_errors()
  expect_error("expected 1 arguments, got 0", function() dovecot.restrict_global_variables() end)
  expect_error("expected 1 arguments, got 2", function() dovecot.restrict_global_variables(true, false) end)
end

function test_event_errors()
  expect_error("expected 0 to 1 arguments, got 2", function() dovecot.event(nil, nil) end)
  expect_error("Bad argument #1, expected struct event got number", function() dovecot.event(5) end)
  expect_error("Bad argument #1, expected struct event got table", function() dovecot.event({}) end)
  expect_error("Bad argument #1, expected struct event got nil", function() dovecot.event(nil) end)
end

function test_storage()
  local s = dovecot.storage
  local want = {
    STATUS_MESSAGES = 1, STATUS_RECENT = 2, STATUS_UIDNEXT = 4, STATUS_UIDVALIDITY = 8,
    STATUS_UNSEEN = 16, STATUS_FIRST_UNSEEN_SEQ = 32, STATUS_KEYWORDS = 64,
    STATUS_HIGHESTMODSEQ = 128, STATUS_PERMANENT_FLAGS = 512,
    STATUS_FIRST_RECENT_UID = 1024, STATUS_HIGHESTPVTMODSEQ = 8192,
    MAILBOX_FLAG_READONLY = 1, MAILBOX_FLAG_SAVEONLY = 2, MAILBOX_FLAG_DROP_RECENT = 4,
    MAILBOX_FLAG_NO_INDEX_FILES = 16, MAILBOX_FLAG_KEEP_LOCKED = 32,
    MAILBOX_FLAG_IGNORE_ACLS = 256, MAILBOX_FLAG_AUTO_CREATE = 4096,
    MAILBOX_FLAG_AUTO_SUBSCRIBE = 8192,
    MAILBOX_SYNC_FLAG_FULL_READ = 1, MAILBOX_SYNC_FLAG_FULL_WRITE = 2,
    MAILBOX_SYNC_FLAG_FAST = 4, MAILBOX_SYNC_FLAG_NO_EXPUNGES = 8,
    MAILBOX_SYNC_FLAG_FIX_INCONSISTENT = 64, MAILBOX_SYNC_FLAG_EXPUNGE = 128,
    MAILBOX_SYNC_FLAG_FORCE_RESYNC = 256,
    MAILBOX_ATTRIBUTE_PREFIX_DOVECOT = "vendor/vendor.dovecot/",
    MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT = "vendor/vendor.dovecot/pvt/",
    MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER = "vendor/vendor.dovecot/pvt/server/",
  }
  local n = 0
  for k, v in pairs(s) do
    n = n + 1
    eq(v, want[k], "dovecot.storage." .. tostring(k))
  end
  eq(n, 29, "number of dovecot.storage keys")
  for k, v in pairs(want) do
    eq(rawget(s, k), v, "rawget(dovecot.storage, " .. k .. ")")
  end
  local mt = getmetatable(s)
  eq(sorted_keys(mt), "__index __name", "storage metatable keys")
  eq(mt.__name, "storage", "storage __name")
  eq(mt.__index, mt, "storage __index")
end
