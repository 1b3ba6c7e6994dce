-- gotify: a Gotify (https://gotify.net) message for each new message in
-- INBOX, with the application token in the X-Gotify-Key header (not in
-- the URL, which would end up in logs).
--
-- Settings (plugin { }): gotify_url (the server), gotify_token (an
-- application token), gotify_priority (default 5).

local cjson = require "cjson"

---@param user dovecot.mail_user
function dovecot_lua_notify_begin_txn(user)
  return {
    url = user:plugin_getenv("gotify_url"),
    token = user:plugin_getenv("gotify_token"),
    priority = tonumber(user:plugin_getenv("gotify_priority") or "5"),
    user = user.username,
    messages = {},
  }
end

---@param event dovecot.MessageNew
function dovecot_lua_notify_event_message_new(ctx, event)
  if event.mailbox == "INBOX" then
    table.insert(ctx.messages, event)
  end
end

function dovecot_lua_notify_end_txn(ctx, success)
  if not success or not ctx.url or not ctx.token then
    return
  end
  local client = dovecot.http.client({ request_timeout_msecs = 5000 })
  for _, msg in ipairs(ctx.messages) do
    local req = client:request({ url = ctx.url:gsub("/$", "") .. "/message", method = "POST" })
    req:add_header("X-Gotify-Key", ctx.token)
    req:add_header("Content-Type", "application/json")
    req:set_payload(cjson.encode({
      title = "New mail for " .. ctx.user,
      message = (msg.from_address ~= "" and msg.from_address or "unknown sender") .. ": " .. (msg.subject or "(no subject)"),
      priority = ctx.priority,
    }))
    local resp = req:submit()
    if resp:status() ~= 200 then
      dovecot.i_error(("gotify: %d %s"):format(resp:status(), resp:reason()))
    end
  end
end
