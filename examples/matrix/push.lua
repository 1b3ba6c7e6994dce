-- matrix: a message into a Matrix room (client-server API v3,
-- m.room.message) for each new message in INBOX. The transaction id in the
-- URL makes a retried request idempotent.
--
-- Settings (plugin { }): matrix_homeserver, matrix_room (!id:server),
-- matrix_token (an access token of the sending account).

local cjson = require "cjson"
local url = require "socket.url"

---@param user dovecot.mail_user
function dovecot_lua_notify_begin_txn(user)
  return {
    homeserver = user:plugin_getenv("matrix_homeserver"),
    room = user:plugin_getenv("matrix_room"),
    token = user:plugin_getenv("matrix_token"),
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
  if not success or not (ctx.homeserver and ctx.room and ctx.token) then
    return
  end
  local client = dovecot.http.client({ request_timeout_msecs = 5000 })
  for _, msg in ipairs(ctx.messages) do
    local txn = ("pushlua-%d-%d"):format(msg.uid_validity, msg.uid)
    local target = ("%s/_matrix/client/v3/rooms/%s/send/m.room.message/%s"):format(
      ctx.homeserver:gsub("/$", ""), url.escape(ctx.room), txn)
    local req = client:request({ url = target, method = "PUT" })
    req:add_header("Authorization", "Bearer " .. ctx.token)
    req:add_header("Content-Type", "application/json")
    req:set_payload(cjson.encode({
      msgtype = "m.text",
      body = ("New mail for %s from %s: %s"):format(ctx.user, msg.from_address, msg.subject or "(no subject)"),
    }))
    local resp = req:submit()
    if resp:status() ~= 200 then
      dovecot.i_error(("matrix: %d %s"):format(resp:status(), resp:reason()))
    end
  end
end
