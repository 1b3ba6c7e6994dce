-- badge: keep a phone's unread badge right, as Open-Xchange's push does:
-- the user opts in with the server METADATA key
-- /private/vendor/vendor.dovecot/http-notify ("user=<id>"), and every
-- transaction that changes INBOX's unseen count (a delivery, a message
-- read or marked unread, an expunge) sends the new count once.
--
-- Settings (plugin { }): badge_url.

local cjson = require "cjson"

local GATE = "/private/vendor/vendor.dovecot/http-notify"

---@param user dovecot.mail_user
function dovecot_lua_notify_begin_txn(user)
  return { user = user, url = user:plugin_getenv("badge_url"), changed = false }
end

local function inbox(ctx, event)
  if event.mailbox == "INBOX" then
    ctx.changed = true
  end
end

dovecot_lua_notify_event_message_new = inbox
dovecot_lua_notify_event_message_read = inbox
dovecot_lua_notify_event_message_expunge = inbox

---@param event dovecot.FlagsClear
function dovecot_lua_notify_event_flags_clear(ctx, event)
  for _, flag in ipairs(event.flags) do
    if flag == "\\Seen" then
      inbox(ctx, event)
    end
  end
end

function dovecot_lua_notify_end_txn(ctx, success)
  if not success or not ctx.changed or not ctx.url then
    return
  end
  local gate = ctx.user:metadata_get(GATE)
  local id = gate and gate:match("user=([^\t]+)")
  if not id then
    dovecot.i_debug("badge: " .. ctx.user.username .. " has not enabled push")
    return
  end
  local status = ctx.user:mailbox("INBOX"):status(dovecot.storage.STATUS_UNSEEN)
  local req = dovecot.http.client({ request_timeout_msecs = 2000 }):request({ url = ctx.url, method = "PUT" })
  req:add_header("Content-Type", "application/json")
  req:set_payload(cjson.encode({ user = id, folder = "INBOX", unseen = status.unseen }))
  local resp = req:submit()
  if resp:status() >= 300 then
    dovecot.i_error(("badge: %d %s"):format(resp:status(), resp:reason()))
  end
end
