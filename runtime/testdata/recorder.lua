-- recorder.lua: records every call of the Lua push-notification driver
-- protocol into the test's sink (require "pushlua_test_sink"), so that the
-- test can compare pushlua's calls with the ones real Dovecot 2.3.19 made
-- (testdata/traces/recorder.jsonl).
local sink = require("pushlua_test_sink")

local EVENTS = { "flags_clear", "flags_set", "mailbox_create", "mailbox_delete",
  "mailbox_rename", "mailbox_subscribe", "mailbox_unsubscribe", "message_append",
  "message_expunge", "message_new", "message_read", "message_trash" }

local function keys_of(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function user_fields(user)
  local t = {}
  for k, v in pairs(user) do
    if k ~= "item" then t[k] = v end
  end
  return t
end

local S = dovecot.storage
local BASIC = { S.STATUS_MESSAGES, S.STATUS_RECENT, S.STATUS_UNSEEN, S.STATUS_UIDVALIDITY, S.STATUS_UIDNEXT }

local function probe(user, name)
  local box = user:mailbox(name)
  local r = { name = name, tostring = tostring(box), vname = box.vname }
  r.sync_ok = pcall(box.sync, box)
  r.status_basic = box:status(table.unpack(BASIC))
  local all = {}
  for _, k in ipairs(keys_of(S)) do
    if string.sub(k, 1, 7) == "STATUS_" then all[#all + 1] = S[k] end
  end
  r.status_all = box:status(table.unpack(all))
  box:free()
  return r
end

function script_init(...)
  sink.record({ call = "script_init", nargs = select("#", ...) })
  return 0
end

function dovecot_lua_notify_begin_txn(user, ...)
  sink.record({
    call = "dovecot_lua_notify_begin_txn", nargs = 1 + select("#", ...),
    user = user_fields(user), user_tostring = tostring(user),
    user_metatable_keys = keys_of(getmetatable(user)),
    custom = user:plugin_getenv("recorder_custom_setting"),
    not_configured = user:plugin_getenv("this_setting_does_not_exist"),
    var_expand = user:var_expand("u=%u n=%n d=%d s=%s h=%h"),
    ox_key = user:metadata_get("/private/vendor/vendor.dovecot/http-notify"),
  })
  return { user = user, mailboxes = {}, order = {} }
end

for _, ev in ipairs(EVENTS) do
  local fname = "dovecot_lua_notify_event_" .. ev
  _G[fname] = function(ctx, event, ...)
    if not ctx.mailboxes[event.mailbox] then
      ctx.mailboxes[event.mailbox] = true
      ctx.order[#ctx.order + 1] = event.mailbox
    end
    sink.record({ call = fname, nargs = 2 + select("#", ...), ctx_type = type(ctx), event = event })
  end
end

function dovecot_lua_notify_end_txn(ctx, success, ...)
  local status = {}
  for _, name in ipairs(ctx.order) do status[#status + 1] = probe(ctx.user, name) end
  sink.record({ call = "dovecot_lua_notify_end_txn", nargs = 2 + select("#", ...),
    ctx_type = type(ctx), success = success, success_type = type(success), mailbox_status = status })
end
