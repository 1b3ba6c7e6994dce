-- ox.lua: Dovecot 2.3's "ox" push-notification driver
-- (src/plugins/push-notification/push-notification-driver-ox.c) as a
-- pushlua script: for each new message delivered (MessageNew) into INBOX of
-- a user who enabled it through server METADATA, it PUTs a JSON
-- notification to Open-Xchange's REST endpoint.
--
--   push_notification_driver = ox:url=http://login:pass@node1:8009/preliminary/http-notify/v1/notify
--
-- Arguments (spec §8.1): url (required; userinfo gives Basic auth),
-- cache_lifetime (Dovecot time syntax, default 60s), max_retries (default
-- 1: two attempts, only after timeouts and lost connections),
-- timeout_msecs (default 2000; plain integers only, anything else silently
-- means the default), user_from_metadata (present: send the user= value of
-- the METADATA instead of the login name).
--
-- The gate is the user's server METADATA
-- /private/vendor/vendor.dovecot/http-notify, TAB-separated key=value pairs
-- of which user= names the OX user. It is read for every transaction (the
-- transaction's own value wins); cache_lifetime is checked and logged as
-- Dovecot does, and applied inside Dovecot by the forwarder
-- (pushlua_metadata_cache_secs), which knows the sessions.
local pushlua = require "pushlua"

local METADATA_KEY = "/private/vendor/vendor.dovecot/http-notify"
local INTERNAL_KEY = "/private/vendor/vendor.dovecot/pvt/server/vendor/vendor.dovecot/http-notify"

local config = {}
local client
local log = dovecot.event()

-- str_to_uint: digits only, else the default.
local function uint_arg(v, default)
  if v == nil or v == "" or string.find(v, "[^0-9]") then
    return default
  end
  return tonumber(v)
end

function script_init(args)
  args = args or {}
  local url = args.url
  if url == nil then
    return -1, "Driver requires the url parameter"
  end
  local probe = dovecot.http.client({})
  local ok, err = pcall(probe.request, probe, { url = url, method = "PUT" })
  if not ok then
    -- Dovecot prints the URL as configured; pushlua masks its password
    -- (dovecot.http's error masks it too).
    local shown = pushlua.redact_url(url)
    local prefix = "Failed to parse url " .. shown .. ": "
    if string.sub(err, 1, #prefix) == prefix then
      err = string.sub(err, #prefix + 1)
    end
    return -1, "Failed to parse OX REST URL " .. shown .. ": " .. err
  end
  config.url = url
  config.cache_lifetime = 60
  if args.cache_lifetime ~= nil then
    local secs, terr = pushlua.parse_time(args.cache_lifetime)
    if secs == nil then
      return -1, "Failed to parse OX cache_lifetime " .. args.cache_lifetime .. ": " .. terr
    end
    config.cache_lifetime = secs
  end
  config.max_retries = uint_arg(args.max_retries, 1)
  config.timeout_msecs = uint_arg(args.timeout_msecs, 2000)
  config.user_from_metadata = args.user_from_metadata ~= nil
  -- Dovecot logs the URL as configured, password included; pushlua does not.
  log:log_debug("Using URL " .. pushlua.redact_url(url))
  log:log_debug(string.format("Using cache lifetime: %d", config.cache_lifetime))
  client = dovecot.http.client({
    max_attempts = config.max_retries + 1,
    request_timeout_msecs = config.timeout_msecs,
  })
  return 0
end

-- t_strsplit_tabescaped: TAB-separated, \001 escapes inside elements.
local UNESCAPE = { ["1"] = "\001", t = "\t", r = "\r", n = "\n", ["0"] = "\0" }

local function unescape(s)
  if string.find(s, "\001", 1, true) == nil then
    return s
  end
  local out, i = {}, 1
  while true do
    local j = string.find(s, "\001", i, true)
    if j == nil then
      out[#out + 1] = string.sub(s, i)
      break
    end
    out[#out + 1] = string.sub(s, i, j - 1)
    local c = string.sub(s, j + 1, j + 1)
    out[#out + 1] = UNESCAPE[c] or c
    i = j + 2
  end
  return table.concat(out)
end

local function metadata_user(value)
  local user
  local i = 1
  while i <= #value + 1 do
    local j = string.find(value, "\t", i, true) or (#value + 1)
    local element = unescape(string.sub(value, i, j - 1))
    local eq = string.find(element, "=", 1, true)
    if eq ~= nil and string.sub(element, 1, eq - 1) == "user" then
      user = string.sub(element, eq + 1)
    end
    i = j + 1
  end
  return user
end

-- The METADATA value, read afresh for every transaction. Dovecot caches
-- it per driver instance, that is per mail user session (spec §8.2); in
-- pushlua that cache is the forwarder's: inside Dovecot it reads the key
-- as the ox driver would (at most once per pushlua_metadata_cache_secs per
-- session) and every transaction carries what it read, so the value a
-- transaction carries is the one Dovecot's ox saw, and it always wins.
-- Without one, metadata_get reads the store (or doveadm). A value from an
-- earlier transaction is never used: a user who unset or changed the key
-- is never notified with the old one.
local function lookup(user)
  local ok, value = pcall(user.metadata_get, user, METADATA_KEY)
  if not ok then
    log:log_error("Skipped because unable to get attribute: " .. tostring(value))
    return nil
  end
  if value == nil then
    log:log_debug("Skipped because not active (" .. INTERNAL_KEY .. " METADATA not set)")
    return nil
  end
  return value
end

function dovecot_lua_notify_begin_txn(user)
  local value = lookup(user)
  return { user = user, value = value, active = value ~= nil }
end

function dovecot_lua_notify_end_txn(ctx, success)
end

-- Dovecot's begin_txn checks the mailbox and the user= value; a handler
-- learns the mailbox from the first event.
local function accept(ctx, event)
  if ctx.checked then
    return ctx.active
  end
  ctx.checked = true
  if not ctx.active then
    return false
  end
  if event.mailbox ~= "INBOX" then
    log:log_debug("Skipped because " .. event.mailbox .. " is not a watched mailbox")
    ctx.active = false
    return false
  end
  ctx.ox_user = metadata_user(ctx.value)
  if ctx.ox_user == nil then
    log:log_error("No user provided in config")
    ctx.active = false
    return false
  end
  if ctx.user.mail_debug then
    log:log_debug("User (" .. ctx.ox_user .. ")")
    log:log_debug("Handling MessageNew event")
  end
  return true
end

local function sync_status(box)
  box:sync()
  return box:status(dovecot.storage.STATUS_UNSEEN)
end

-- process_msg: the INBOX status is read for every message of an accepted
-- transaction, MessageNew or not.
local function message(ctx, event)
  if not accept(ctx, event) then
    return false
  end
  local key = event.mailbox .. "\0" .. event.uid
  if ctx.record == key then
    return true
  end
  ctx.record = key
  ctx.unseen = nil
  local box = ctx.user:mailbox(event.mailbox, dovecot.storage.MAILBOX_FLAG_READONLY)
  local ok, status = pcall(sync_status, box)
  box:free()
  if ok then
    ctx.unseen = status.unseen
    if ctx.user.mail_debug then
      log:log_debug(string.format("Got status of mailbox '%s': (unseen: %d)", event.mailbox, status.unseen))
    end
  else
    log:log_error("mailbox_sync(" .. event.mailbox .. ") failed: " .. tostring(status))
  end
  return true
end

local function notify(ctx, event)
  local user = ctx.user.username
  if config.user_from_metadata then
    user = ctx.ox_user
  end
  local body = { '{"user":', pushlua.json_string(user),
    ',"event":"messageNew","folder":', pushlua.json_string(event.mailbox),
    string.format(',"imap-uidvalidity":%d,"imap-uid":%d', event.uid_validity, event.uid) }
  -- Dovecot omits From when the message has no From header; the event
  -- table says "" then.
  if event.from ~= nil and event.from ~= "" then
    body[#body + 1] = ',"from":' .. pushlua.json_string(event.from)
  end
  -- OX gets the raw Subject header, which a source may pass as subject_raw.
  local subject = event.subject_raw or event.subject
  if subject ~= nil then
    body[#body + 1] = ',"subject":' .. pushlua.json_string(subject)
  end
  if event.snippet ~= nil then
    body[#body + 1] = ',"snippet":' .. pushlua.json_string(event.snippet)
  end
  if ctx.unseen ~= nil then
    body[#body + 1] = string.format(',"unseen":%d', ctx.unseen)
  end
  body[#body + 1] = "}"
  local json = table.concat(body)

  -- The debug lines are built only with mail_debug (log_debug's own
  -- condition): the JSON body is copied into one.
  local debug = ctx.user.mail_debug
  if debug then
    log:log_debug("Sending notification: " .. json)
  end
  local req = client:request({ url = config.url, method = "PUT" })
  req:add_header("Content-Type", "application/json; charset=utf-8")
  -- lib-http sends "Expect: 100-continue" with every payload of a Lua
  -- request; the OX driver's requests have none. Naming the header
  -- suppresses the implicit one, removing it sends none.
  req:add_header("Expect", "100-continue")
  req:remove_header("Expect")
  req:set_payload(json)
  local resp = req:submit()
  local status = resp:status()
  local sent = math.floor(status / 100) == 2
  if sent and not debug then
    return
  end
  local message = resp:reason()
  if status < 9000 then
    message = string.format("%d %s", status, message)
  end
  if sent then
    log:log_debug("Notification sent successfully: " .. message)
  else
    log:log_error("Error when sending notification: " .. message)
  end
end

function dovecot_lua_notify_event_message_new(ctx, event)
  if message(ctx, event) then
    notify(ctx, event)
  end
end

for _, name in ipairs({ "message_append", "message_expunge", "message_read", "message_trash",
    "flags_set", "flags_clear" }) do
  _G["dovecot_lua_notify_event_" .. name] = message
end

for _, name in ipairs({ "mailbox_create", "mailbox_delete", "mailbox_rename",
    "mailbox_subscribe", "mailbox_unsubscribe" }) do
  _G["dovecot_lua_notify_event_" .. name] = accept
end
