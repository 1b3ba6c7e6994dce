-- record.lua: a pushlua script for the end-to-end test. It writes every
-- transaction it gets, as the Lua tables the handlers saw, to the file
-- named by the plugin setting record_file: one JSON object per line in
-- pushlua's own transaction format, so the test can parse it back.
local json = require("dkjson")
local S = dovecot.storage
local ALL = S.STATUS_MESSAGES + S.STATUS_RECENT + S.STATUS_UNSEEN + S.STATUS_UIDNEXT + S.STATUS_UIDVALIDITY
local KEY = "/private/vendor/vendor.dovecot/http-notify"

local EVENTS = { "flags_clear", "flags_set", "mailbox_create", "mailbox_delete", "mailbox_rename",
  "mailbox_subscribe", "mailbox_unsubscribe", "message_append", "message_expunge", "message_new",
  "message_read", "message_trash" }

function dovecot_lua_notify_begin_txn(user)
  return { user = user, events = {}, boxes = {}, order = {} }
end

for _, name in ipairs(EVENTS) do
  _G["dovecot_lua_notify_event_" .. name] = function(ctx, event)
    table.insert(ctx.events, event)
    if not ctx.boxes[event.mailbox] then
      ctx.boxes[event.mailbox] = true
      table.insert(ctx.order, event.mailbox)
    end
  end
end


function dovecot_lua_notify_end_txn(ctx, success)
  local u = ctx.user
  local status = {}
  for _, name in ipairs(ctx.order) do
    local ok, st = pcall(function() return u:mailbox(name):status(ALL) end)
    if ok then
      status[name] = { messages = st.messages, recent = st.recent, unseen = st.unseen,
        uidnext = st.uidnext, uidvalidity = st.uidvalidity }
    end
  end
  local rec = {
    user = { username = u.username, service = u.service, session_id = u.session_id, home = u.home,
      uid = u.uid, gid = u.gid, session_create_time = u.session_create_time },
    success = success, events = ctx.events,
    metadata = { [KEY] = u:metadata_get(KEY) or json.null },
  }
  if next(status) ~= nil then rec.status = status end
  local f = assert(io.open(u:plugin_getenv("record_file"), "a"))
  f:write(json.encode(rec), "\n")
  f:close()
end
