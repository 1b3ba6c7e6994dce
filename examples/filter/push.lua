-- filter: notify about what matters. Deliveries into INBOX (and any other
-- folder but Junk, Spam and Trash) are sent one by one; flag changes are
-- coalesced: a transaction that sets \Seen on 500 messages (a client's
-- "mark all as read") sends one summary, and further flag summaries of
-- the same user within filter_flag_interval seconds are dropped.
--
-- Settings (plugin { }): filter_url, filter_ignore (space-separated
-- mailboxes, default "Junk Spam Trash"), filter_flag_interval (seconds,
-- default 10).
--
-- The interval is remembered per Lua state: pushlua runs a few states
-- per script, so a user may get one summary per state within it.

local cjson = require "cjson"

-- When each user's last flag summary was sent (a local, not a global:
-- it outlives transactions on purpose).
local last_summary = {}

---@param user dovecot.mail_user
function dovecot_lua_notify_begin_txn(user)
  local ignore = {}
  for name in (user:plugin_getenv("filter_ignore") or "Junk Spam Trash"):gmatch("%S+") do
    ignore[name] = true
  end
  return {
    user = user.username,
    url = user:plugin_getenv("filter_url"),
    interval = tonumber(user:plugin_getenv("filter_flag_interval") or "10"),
    ignore = ignore,
    deliveries = {},
    flag_changes = 0,
    mailboxes = {},
  }
end

---@param event dovecot.MessageNew
function dovecot_lua_notify_event_message_new(ctx, event)
  if not ctx.ignore[event.mailbox] then
    table.insert(ctx.deliveries, { mailbox = event.mailbox, uid = event.uid, subject = event.subject or "" })
  end
end

local function flags(ctx, event)
  if not ctx.ignore[event.mailbox] then
    ctx.flag_changes = ctx.flag_changes + 1
    ctx.mailboxes[event.mailbox] = true
  end
end

dovecot_lua_notify_event_flags_set = flags
dovecot_lua_notify_event_flags_clear = function(ctx, event)
  -- Dovecot sends FlagsClear with empty tables for every flag change.
  if #event.flags > 0 or #event.keywords > 0 then
    flags(ctx, event)
  end
end

local function post(ctx, payload)
  local req = dovecot.http.client({ request_timeout_msecs = 5000 }):request({ url = ctx.url, method = "POST" })
  req:add_header("Content-Type", "application/json")
  req:set_payload(cjson.encode(payload))
  local resp = req:submit()
  if resp:status() >= 300 then
    dovecot.i_error(("filter: %d %s"):format(resp:status(), resp:reason()))
  end
end

function dovecot_lua_notify_end_txn(ctx, success)
  if not success or not ctx.url then
    return
  end
  for _, d in ipairs(ctx.deliveries) do
    post(ctx, { user = ctx.user, event = "new", mailbox = d.mailbox, uid = d.uid, subject = d.subject })
  end
  if ctx.flag_changes > 0 then
    local now = os.time()
    local last = last_summary[ctx.user]
    if last and now - last < ctx.interval then
      dovecot.i_debug(("filter: %d flag changes of %s coalesced"):format(ctx.flag_changes, ctx.user))
      return
    end
    last_summary[ctx.user] = now
    local boxes = {}
    for name in pairs(ctx.mailboxes) do
      table.insert(boxes, name)
    end
    table.sort(boxes)
    post(ctx, { user = ctx.user, event = "flags", changes = ctx.flag_changes, mailboxes = boxes })
  end
end
