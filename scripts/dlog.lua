-- dlog.lua: Dovecot 2.3's "dlog" push-notification driver
-- (src/plugins/push-notification/push-notification-driver-dlog.c) as a
-- pushlua script. It logs, at Debug level and whatever mail_debug says,
-- every hook the framework calls and every event, with Dovecot's texts.
--
--   push_notification_driver = dlog            Dovecot's output
--   push_notification_driver = dlog:details    also the MessageNew and
--                                              MessageAppend lines (Date,
--                                              From, Snippet, Subject, To)
--
-- Dovecot's dlog registers MessageNew/MessageAppend without asking for any
-- message data, so it prints their lines only when another driver of the
-- transaction asked for it (a lua driver with the handler, the ox driver),
-- as Dovecot does, with Dovecot's date (UTC wall-clock time with the
-- original offset appended). "details" prints all of them always, with the
-- date at its own offset.
local pushlua = require "pushlua"

local log = dovecot.i_debug
local details = false

function script_init(args)
  log("Called init push_notification plugin hook.")
  if pushlua.driver.raw_args ~= nil then
    log("Config string for dlog push_notification driver: " .. pushlua.driver.raw_args)
  end
  details = args ~= nil and args.details ~= nil
  return 0
end

function script_deinit()
  log("Called deinit push_notification plugin hook.")
  log("Called cleanup push_notification plugin hook.")
end

function dovecot_lua_notify_begin_txn(user)
  log("Called begin_txn push_notification plugin hook.")
  return {}
end

function dovecot_lua_notify_end_txn(ctx, success)
  log("Called end_txn push_notification plugin hook.")
end

-- Dovecot calls process_msg once per message and process_mbox once per
-- mailbox, then each event's debug function; a handler sees the events one
-- by one, so the record lines are written when a new record starts.
local function record(ctx, event)
  local key
  if event.uid ~= nil then
    key = event.mailbox .. "\0" .. event.uid
  else
    key = event.mailbox
  end
  if ctx.record == key then
    return
  end
  ctx.record = key
  if event.uid ~= nil then
    log("Called process_msg push_notification plugin hook.")
    log(string.format("Message data: Mailbox [%s], UID [%d], UIDVALIDITY [%d]",
      event.mailbox, event.uid, event.uid_validity))
  else
    log("Called process_mbox push_notification plugin hook.")
    log("Mailbox data: Mailbox [" .. event.mailbox .. "]")
  end
end

local function mailbox_event(name, text)
  return function(ctx, event)
    record(ctx, event)
    log(name .. ": " .. text(event))
  end
end

dovecot_lua_notify_event_mailbox_create = mailbox_event("MailboxCreate", function() return "Mailbox was created" end)
dovecot_lua_notify_event_mailbox_delete = mailbox_event("MailboxDelete", function() return "Mailbox was deleted" end)
dovecot_lua_notify_event_mailbox_rename = mailbox_event("MailboxRename",
  function(e) return "Mailbox was renamed (old name: " .. e.mailbox_old .. ")" end)
dovecot_lua_notify_event_mailbox_subscribe = mailbox_event("MailboxSubscribe", function() return "Mailbox was subscribed to" end)
-- (sic: Dovecot's text says "subscribed" for unsubscribing too)
dovecot_lua_notify_event_mailbox_unsubscribe = mailbox_event("MailboxUnsubscribe", function() return "Mailbox was subscribed to" end)
dovecot_lua_notify_event_message_expunge = mailbox_event("MessageExpunge", function() return "Message was expunged" end)
dovecot_lua_notify_event_message_read = mailbox_event("MessageRead", function() return "Message was flagged as seen" end)
dovecot_lua_notify_event_message_trash = mailbox_event("MessageTrash", function() return "Message was marked as deleted" end)

-- event.flags lists the flags in Dovecot's bit order (Answered, Flagged,
-- Deleted, Seen, Draft); "\Seen" is logged as "Seen".
local function flags_event(name, flag_text, keyword_text)
  return function(ctx, event)
    record(ctx, event)
    for _, flag in ipairs(event.flags or {}) do
      if flag ~= "\\Recent" then
        log(name .. ": " .. string.sub(flag, 2) .. " " .. flag_text)
      end
    end
    for _, kw in ipairs(event.keywords or {}) do
      log(name .. ": " .. keyword_text .. " [" .. kw .. "]")
    end
  end
end

dovecot_lua_notify_event_flags_set = flags_event("FlagsSet", "flag set", "Keyword set")
dovecot_lua_notify_event_flags_clear = flags_event("FlagsClear", "flag cleared", "Keyword clear")

-- iso8601_date_create_tm: the time at its own offset, "+02:00" (the
-- details argument's form).
local function iso8601(date, tz)
  local sign = "+"
  if tz < 0 then
    sign, tz = "-", -tz
  end
  local t = date
  if sign == "+" then t = date + tz * 60 else t = date - tz * 60 end
  return os.date("!%Y-%m-%dT%H:%M:%S", t) .. string.format("%s%02d:%02d", sign, math.floor(tz / 60), tz % 60)
end

-- Dovecot's own form: iso8601_date_create_tm(gmtime(date), tz), the UTC
-- wall-clock time with the original offset appended (spec §7).
local function iso8601_dovecot(date, tz)
  local sign = "+"
  if tz < 0 then
    sign, tz = "-", -tz
  end
  return os.date("!%Y-%m-%dT%H:%M:%S", date) .. string.format("%s%02d:%02d", sign, math.floor(tz / 60), tz % 60)
end

-- The message data flags (spec §2.2) another driver of the transaction
-- asked for: Dovecot fills them in for every driver, and its dlog prints
-- what is there. event.pushlua_data is the runtime's: a Lua driver with a
-- handler for the event asks for everything (255), the ox driver for
-- From, Subject and Snippet (21) when it takes part in the transaction.
local FROM, TO, SUBJECT, DATE, SNIPPET = 1, 2, 4, 8, 16

local function has(flags, bit)
  return math.floor(flags / bit) % 2 == 1
end

local function message_event(name)
  return function(ctx, event)
    record(ctx, event)
    local flags = event.pushlua_data or 0
    if details then
      flags = 255
    elseif flags == 0 then
      return
    end
    if has(flags, DATE) and event.date ~= nil and event.date ~= -1 then
      local date = details and iso8601(event.date, event.tz or 0) or iso8601_dovecot(event.date, event.tz or 0)
      log(name .. ": Date [" .. date .. "]")
    end
    -- An event says "" for a header Dovecot had none of (NULL: no line).
    if has(flags, FROM) and event.from ~= nil and (details or event.from ~= "") then
      log(name .. ": From [" .. event.from .. "]")
    end
    if has(flags, SNIPPET) and event.snippet ~= nil then
      log(name .. ": Snippet [" .. event.snippet .. "]")
    end
    local subject = event.subject_raw or event.subject
    if has(flags, SUBJECT) and subject ~= nil then
      log(name .. ": Subject [" .. subject .. "]")
    end
    if has(flags, TO) and event.to ~= nil and (details or event.to ~= "") then
      log(name .. ": To [" .. event.to .. "]")
    end
  end
end

dovecot_lua_notify_event_message_new = message_event("MessageNew")
dovecot_lua_notify_event_message_append = message_event("MessageAppend")
