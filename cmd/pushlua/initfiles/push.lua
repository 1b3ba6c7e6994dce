-- push.lua: POST a JSON notification for every new message in INBOX.
-- The handlers are Dovecot 2.3's Lua push-notification API; the same
-- script runs inside Dovecot. docs/lua-api.md has the whole API, and the
-- annotations below give your editor completion (see .luarc.json).

local cjson = require "cjson"

---@param user dovecot.mail_user
function dovecot_lua_notify_begin_txn(user)
  return { user = user.username, url = user:plugin_getenv("push_url"), messages = {} }
end

---@param event dovecot.MessageNew
function dovecot_lua_notify_event_message_new(ctx, event)
  if event.mailbox == "INBOX" then
    table.insert(ctx.messages, { uid = event.uid, from = event.from_address, subject = event.subject or "" })
  end
end

---@param success boolean
function dovecot_lua_notify_end_txn(ctx, success)
  if not success then
    return
  end
  for _, msg in ipairs(ctx.messages) do
    local body = cjson.encode({ user = ctx.user, uid = msg.uid, from = msg.from, subject = msg.subject })
    if not ctx.url then
      dovecot.i_info("push: new mail for " .. ctx.user .. ": " .. body)
    else
      local client = dovecot.http.client({ request_timeout_msecs = 2000 })
      local req = client:request({ url = ctx.url, method = "POST" })
      req:add_header("Content-Type", "application/json")
      req:set_payload(body)
      local resp = req:submit()
      if resp:status() >= 300 then
        dovecot.i_error("push: " .. ctx.url .. " answered " .. resp:status() .. " " .. resp:reason())
      end
    end
  end
end
