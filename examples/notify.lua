-- notify.lua: an example push-notification script in Dovecot 2.3's Lua
-- driver API. It runs unchanged under Dovecot and under pushlua.
--
-- For every transaction it collects the new messages, then logs one line
-- per message together with the INBOX unseen count, and whether the user
-- enabled notifications through server METADATA. It also builds the JSON
-- payload a push endpoint would get (dkjson, one of the JSON modules pushlua
-- ships) and picks the OX user id out of the METADATA value with a Lua
-- pattern (string.match).

local json = require("dkjson")
local greeting

function script_init()
  greeting = "new mail"
  return 0
end

function dovecot_lua_notify_begin_txn(user)
  greeting = user:plugin_getenv("notify_greeting") or greeting
  return { user = user, messages = {} }
end

function dovecot_lua_notify_event_message_new(ctx, event)
  table.insert(ctx.messages, event)
end

function dovecot_lua_notify_event_message_append(ctx, event)
  table.insert(ctx.messages, event)
end

function dovecot_lua_notify_event_message_read(ctx, event)
  dovecot.i_info(string.format("%s read uid %d in %s", tostring(ctx.user), event.uid, event.mailbox))
end

function dovecot_lua_notify_end_txn(ctx, success)
  if not success or #ctx.messages == 0 then
    return
  end
  local enabled = ctx.user:metadata_get("/private/vendor/vendor.dovecot/http-notify")
  local status = ctx.user:mailbox("INBOX"):status(dovecot.storage.STATUS_UNSEEN)
  for _, msg in ipairs(ctx.messages) do
    dovecot.i_info(string.format("%s for %s: %s from %s (%s, uid %d, %d unseen)%s",
      greeting, ctx.user.username, msg.subject or "(no subject)",
      msg.from_address, msg.mailbox, msg.uid, status.unseen,
      enabled and "" or " [push not enabled]"))
    if enabled then
      local payload = json.encode({
        user = enabled:match("user=([^\t]+)") or ctx.user.username,
        folder = msg.mailbox, uid = msg.uid, unseen = status.unseen,
        subject = msg.subject,
      }, { keyorder = { "user", "folder", "uid", "subject", "unseen" } })
      dovecot.i_info("payload " .. payload)
    end
  end
end
