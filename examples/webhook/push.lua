-- webhook: a generic JSON webhook signed as Standard Webhooks
-- (https://www.standardwebhooks.com/) sign it: the receiver checks the
-- webhook-signature header with the shared secret and rejects replays by
-- webhook-timestamp and webhook-id.
--
-- Settings (plugin { }): webhook_url, webhook_secret (whsec_<base64 key>).

local cjson = require "cjson"
local mime = require "mime"
local sha256 = require "sha256"

---@param user dovecot.mail_user
function dovecot_lua_notify_begin_txn(user)
  local secret = user:plugin_getenv("webhook_secret") or ""
  return {
    user = user.username,
    url = user:plugin_getenv("webhook_url"),
    key = mime.unb64(secret:gsub("^whsec_", "")) or "",
    events = {},
  }
end

---@param event dovecot.MessageNew
function dovecot_lua_notify_event_message_new(ctx, event)
  table.insert(ctx.events, {
    type = "message.new",
    -- Stable across retries of the same delivery: the receiver
    -- deduplicates on it.
    id = ("msg_%d_%d"):format(event.uid_validity, event.uid),
    data = { user = ctx.user, mailbox = event.mailbox, uid = event.uid,
             from = event.from_address, subject = event.subject or "" },
  })
end

---@param event dovecot.MessageExpunge
function dovecot_lua_notify_event_message_expunge(ctx, event)
  table.insert(ctx.events, {
    type = "message.expunged",
    id = ("exp_%d_%d"):format(event.uid_validity, event.uid),
    data = { user = ctx.user, mailbox = event.mailbox, uid = event.uid },
  })
end

local function send(ctx, ev)
  local now = os.time()
  local body = cjson.encode({ type = ev.type, timestamp = os.date("!%Y-%m-%dT%H:%M:%SZ", now), data = ev.data })
  local signed = ev.id .. "." .. now .. "." .. body
  local req = dovecot.http.client({ request_timeout_msecs = 5000 }):request({ url = ctx.url, method = "POST" })
  req:add_header("Content-Type", "application/json")
  req:add_header("webhook-id", ev.id)
  req:add_header("webhook-timestamp", tostring(now))
  req:add_header("webhook-signature", "v1," .. mime.b64(sha256.hmac(ctx.key, signed)))
  req:set_payload(body)
  local resp = req:submit()
  if resp:status() >= 300 then
    dovecot.i_error(("webhook: %s answered %d %s"):format(ctx.url, resp:status(), resp:reason()))
  end
end

function dovecot_lua_notify_end_txn(ctx, success)
  if not success or not ctx.url then
    return
  end
  for _, ev in ipairs(ctx.events) do
    send(ctx, ev)
  end
end
