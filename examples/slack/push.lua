-- slack: a message in a Slack or Mattermost channel through an incoming
-- webhook (both take {"text": ...}; Mattermost also honours "username"),
-- one per transaction, listing the new messages of INBOX.
--
-- Settings (plugin { }): slack_webhook_url, slack_username (optional).

local cjson = require "cjson"

---@param user dovecot.mail_user
function dovecot_lua_notify_begin_txn(user)
  return {
    url = user:plugin_getenv("slack_webhook_url"),
    username = user:plugin_getenv("slack_username"),
    user = user.username,
    lines = {},
  }
end

-- Slack's mrkdwn treats &, < and > specially.
local function escape(s)
  return (s:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"))
end

---@param event dovecot.MessageNew
function dovecot_lua_notify_event_message_new(ctx, event)
  if event.mailbox == "INBOX" then
    table.insert(ctx.lines, ("• *%s* from %s"):format(escape(event.subject or "(no subject)"), escape(event.from_address)))
  end
end

function dovecot_lua_notify_end_txn(ctx, success)
  if not success or not ctx.url or #ctx.lines == 0 then
    return
  end
  local text = ("%d new message%s for %s\n%s"):format(#ctx.lines, #ctx.lines == 1 and "" or "s", ctx.user, table.concat(ctx.lines, "\n"))
  local req = dovecot.http.client({ request_timeout_msecs = 5000 }):request({ url = ctx.url, method = "POST" })
  req:add_header("Content-Type", "application/json")
  req:set_payload(cjson.encode({ text = text, username = ctx.username }))
  local resp = req:submit()
  if resp:status() ~= 200 then
    dovecot.i_error(("slack: %d %s"):format(resp:status(), resp:reason()))
  end
end
