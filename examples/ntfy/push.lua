-- ntfy: a phone notification through ntfy (https://ntfy.sh or your own
-- server) for each new message in INBOX: the title is the sender, the
-- body the subject, a click opens the webmail.
--
-- Settings (plugin { }): ntfy_url (server and topic), ntfy_token
-- (optional access token), ntfy_click (optional URL).

---@param user dovecot.mail_user
function dovecot_lua_notify_begin_txn(user)
  return {
    url = user:plugin_getenv("ntfy_url"),
    token = user:plugin_getenv("ntfy_token"),
    click = user:plugin_getenv("ntfy_click"),
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
  if not success or not ctx.url then
    return
  end
  local client = dovecot.http.client({ request_timeout_msecs = 5000 })
  for _, msg in ipairs(ctx.messages) do
    local req = client:request({ url = ctx.url, method = "POST" })
    local from = msg.from_display_name ~= "" and msg.from_display_name or msg.from_address
    req:add_header("Title", "Mail from " .. from)
    req:add_header("Tags", "envelope")
    if ctx.token then
      req:add_header("Authorization", "Bearer " .. ctx.token)
    end
    if ctx.click then
      req:add_header("Click", ctx.click)
    end
    req:set_payload(msg.subject or "(no subject)")
    local resp = req:submit()
    if resp:status() ~= 200 then
      dovecot.i_error(("ntfy: %d %s"):format(resp:status(), resp:reason()))
    end
  end
end
