-- forward.lua -- a Dovecot push-notification Lua driver that forwards every
-- push-notification transaction to pushlua (POST /v1/transactions), in
-- pushlua's transaction format (docs/transactions.md): the mail user, the
-- events exactly as Dovecot hands them to Lua, a status snapshot of every
-- mailbox the transaction touched, and the user's
-- /private/vendor/vendor.dovecot/http-notify server METADATA.
--
-- It runs INSIDE Dovecot's mail processes (imap, lmtp), not in pushlua.
--
-- Installation, Dovecot 2.3 (dovecot.conf):
--
--   protocol imap { mail_plugins = $mail_plugins notify push_notification push_notification_lua }
--   protocol lmtp { mail_plugins = $mail_plugins notify push_notification push_notification_lua }
--   imap_metadata = yes                               # optional: METADATA for the gate key
--   mail_attribute_dict = file:%h/dovecot-attributes
--   plugin {
--     push_notification_driver = lua:file=/etc/dovecot/pushlua-forward.lua
--     pushlua_url = http://127.0.0.1:8787/v1/transactions    # required
--     pushlua_token = <secret>          # optional: "Authorization: Bearer <secret>"
--     pushlua_timeout_msecs = 2000      # optional: per attempt (default 2000)
--     pushlua_max_attempts = 1          # optional: attempts on timeouts (default 1)
--   }
--
-- Installation, Dovecot 2.4 (untested against a 2.4 binary; from its source):
--
--   mail_plugins { notify = yes; push_notification = yes; push_notification_lua = yes }
--   push_notification pushlua {
--     driver = lua
--     lua_file = /etc/dovecot/pushlua-forward.lua
--     lua_settings {
--       url = http://127.0.0.1:8787/v1/transactions
--       token = <secret>
--       timeout_msecs = 2000
--       max_attempts = 1
--     }
--   }
--
-- The script must be readable by the mail processes' uid. Each committed
-- transaction is one synchronous POST (Content-Type: application/json, one
-- JSON object) made in dovecot_lua_notify_end_txn: the IMAP reply or the
-- LMTP DATA reply waits for it, which is why the timeout is short. Every
-- failure (bad settings, an unreachable pushlua, a non-2xx answer) is logged
-- as "Error: pushlua forward: ..." and never raised: mail is delivered and
-- IMAP commands succeed whatever happens here. A failed POST is not queued
-- or retried beyond max_attempts: that transaction is lost for pushlua.
--
-- What the forwarder cannot see, or sees differently:
--   * anything Dovecot does not run through the push-notification plugins:
--     mail delivered or changed by something else (another MDA writing the
--     maildir, a protocol or doveadm/dsync without these mail_plugins);
--   * events before Sieve placement: with LMTP + Sieve it sees only the
--     final MessageNew in the mailbox Sieve chose; discarded, redirected or
--     rejected mail produces no event at all;
--   * rolled-back transactions (end_txn(ctx, false)) are not forwarded;
--   * IMAP MOVE arrives as two independent transactions (MessageAppend in
--     the destination, then MessageExpunge in the source: Dovecot begins
--     them interleaved); nothing ties them together;
--   * one transaction per POST: no batching and no ordering guarantee
--     across users beyond the order the mail processes post in;
--   * the status snapshot is taken at end_txn, so a concurrent session may
--     already have changed the mailbox; a mailbox deleted in the
--     transaction (or whose status fails) has no status entry;
--   * with other push_notification drivers configured next to it, Dovecot
--     shares event data between drivers (mailbox events arrive once per
--     driver, keyword lists doubled): the forwarder sends what it gets, so
--     configure it as the only driver and run the others in pushlua;
--   * the mail_user's mail_debug flag (not part of pushlua's format).

local METADATA_KEY = "/private/vendor/vendor.dovecot/http-notify"
local DEFAULT_TIMEOUT_MSECS = 2000
local DEFAULT_MAX_ATTEMPTS = 1
local MAX_DEPTH = 16

-- The 2.4 lua_settings table (script_init's argument); nil on Dovecot 2.3,
-- which calls script_init with no argument.
local settings24 = nil
-- Configuration problems are logged once per Lua state (one per user
-- session), not once per transaction.
local warned = {}

local function log_error(msg)
  pcall(dovecot.i_error, "pushlua forward: " .. tostring(msg))
end

local function log_error_once(key, msg)
  if not warned[key] then
    warned[key] = true
    log_error(msg)
  end
end

---------------------------------------------------------------------------
-- JSON encoding (Dovecot's Lua has no JSON module)
---------------------------------------------------------------------------

local ESCAPES = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function escape_char(c)
  local e = ESCAPES[c]
  if e ~= nil then
    return e
  end
  local b = string.byte(c)
  if b < 0x20 or b == 0x7f then
    return string.format("\\u%04x", b)
  end
  return c -- a %c match outside ASCII (not in C's iscntrl, but be safe)
end

-- Bytes >= 0x80 are passed through unchanged: Dovecot's strings are UTF-8
-- (decoded subjects, display names); the receiver validates.
local function json_string(s)
  return '"' .. (string.gsub(s, '[%c"\\]', escape_char)) .. '"'
end

-- Every number Dovecot hands to Lua 5.3/5.4 is a float (uid = 1.0): print
-- whole numbers without ".0".
local function json_number(n)
  if n ~= n or n == math.huge or n == -math.huge then
    return "null"
  end
  if n == math.floor(n) and n >= -2^63 and n < 2^63 then
    return string.format("%d", n)
  end
  return string.format("%.17g", n)
end

-- is_array reports whether t is a sequence 1..n (the empty table is an
-- empty array: Dovecot's empty flags/keywords lists).
local function is_array(t)
  local n = 0
  for k in next, t do
    if type(k) ~= "number" or k < 1 or k ~= math.floor(k) then
      return false
    end
    n = n + 1
  end
  for i = 1, n do
    if rawget(t, i) == nil then
      return false
    end
  end
  return true
end

local encode

-- encode_table returns the JSON text of a plain table. Tables with a
-- metatable are Dovecot objects (mail_user, mailbox, event): not data.
local function encode_table(t, depth)
  if getmetatable(t) ~= nil or depth > MAX_DEPTH then
    return nil
  end
  local parts = {}
  if is_array(t) then
    for i = 1, #t do
      parts[i] = encode(rawget(t, i), depth + 1) or "null"
    end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  for k, v in next, t do
    local kt = type(k)
    if kt == "string" or kt == "number" then
      local ev = encode(v, depth + 1)
      if ev ~= nil then
        local ks = kt == "string" and k or json_number(k)
        parts[#parts + 1] = json_string(ks) .. ":" .. ev
      end
    end
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- encode returns the JSON text of v, or nil for values JSON cannot carry
-- (functions, userdata, objects), which are left out.
encode = function(v, depth)
  local t = type(v)
  if t == "string" then
    return json_string(v)
  elseif t == "number" then
    return json_number(v)
  elseif t == "boolean" then
    return v and "true" or "false"
  elseif t == "table" then
    return encode_table(v, depth or 0)
  end
  return nil
end

-- json_object builds {"k":v,...} from a list of {key, json_text} pairs,
-- keeping their order.
local function json_object(pairs_list)
  local parts = {}
  for _, p in ipairs(pairs_list) do
    parts[#parts + 1] = json_string(p[1]) .. ":" .. p[2]
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

---------------------------------------------------------------------------
-- settings
---------------------------------------------------------------------------

-- setting returns a forwarder setting: 2.4's lua_settings key (name, or
-- pushlua_<name>), else 2.3's plugin setting pushlua_<name>.
local function setting(user, name)
  if settings24 ~= nil then
    local v = settings24[name]
    if v == nil then
      v = settings24["pushlua_" .. name]
    end
    if v ~= nil then
      return tostring(v)
    end
  end
  if user ~= nil then
    local ok, v = pcall(function() return user:plugin_getenv("pushlua_" .. name) end)
    if ok and v ~= nil then
      return tostring(v)
    end
  end
  return nil
end

local function number_setting(user, name, default, min)
  local s = setting(user, name)
  if s == nil or s == "" then
    return default
  end
  local n = tonumber(s)
  if n == nil or n ~= math.floor(n) or n < min then
    log_error_once(name, "invalid pushlua_" .. name .. " '" .. s .. "', using " .. default)
    return default
  end
  return math.floor(n)
end

---------------------------------------------------------------------------
-- collecting the transaction
---------------------------------------------------------------------------

local USER_STRINGS = { "username", "service", "session_id", "home" }
local USER_NUMBERS = { "uid", "gid", "session_create_time" }
local USER_BOOLEANS = { "admin", "anonymous", "autocreated", "nonexistent",
                        "fuzzy_search", "dsyncing", "session_restored" }

-- user_json is the "user" object: the mail_user fields pushlua's format
-- knows (mail_debug is not one of them).
local function user_json(user)
  local fields = {}
  for _, k in ipairs(USER_STRINGS) do
    local v = user[k]
    if type(v) == "string" then
      fields[#fields + 1] = { k, json_string(v) }
    end
  end
  for _, k in ipairs(USER_NUMBERS) do
    local v = user[k]
    if type(v) == "number" and v >= 0 then
      fields[#fields + 1] = { k, json_number(v) }
    end
  end
  for _, k in ipairs(USER_BOOLEANS) do
    local v = user[k]
    if type(v) == "boolean" then
      fields[#fields + 1] = { k, v and "true" or "false" }
    end
  end
  return json_object(fields)
end

function script_init(settings)
  if type(settings) == "table" then
    settings24 = {}
    for k, v in pairs(settings) do
      settings24[k] = v
    end
  end
  return 0
end

function dovecot_lua_notify_begin_txn(user)
  -- The user object stays in ctx only: Dovecot releases ctx after end_txn
  -- (a user kept in a global crashes the process at session end).
  return { user = user, events = {}, boxes = {}, seen = {}, deleted = {} }
end

-- collect keeps one event: its JSON text (every field Dovecot gave, arrays
-- as arrays, absent fields absent) and the mailbox it touched.
local function collect(ctx, event)
  local ok, err = pcall(function()
    if type(ctx) ~= "table" or type(event) ~= "table" then
      return
    end
    local text = encode(event)
    if text == nil then
      return
    end
    ctx.events[#ctx.events + 1] = text
    local box = event.mailbox
    if type(box) == "string" then
      if event.name == "MailboxDelete" then
        ctx.deleted[box] = true
      else
        ctx.deleted[box] = nil
      end
      if not ctx.seen[box] then
        ctx.seen[box] = true
        ctx.boxes[#ctx.boxes + 1] = box
      end
    end
  end)
  if not ok then
    log_error("collecting an event failed: " .. tostring(err))
  end
end

function dovecot_lua_notify_event_message_new(ctx, event) collect(ctx, event) end
function dovecot_lua_notify_event_message_append(ctx, event) collect(ctx, event) end
function dovecot_lua_notify_event_message_expunge(ctx, event) collect(ctx, event) end
function dovecot_lua_notify_event_message_read(ctx, event) collect(ctx, event) end
function dovecot_lua_notify_event_message_trash(ctx, event) collect(ctx, event) end
function dovecot_lua_notify_event_flags_set(ctx, event) collect(ctx, event) end
function dovecot_lua_notify_event_flags_clear(ctx, event) collect(ctx, event) end
function dovecot_lua_notify_event_mailbox_create(ctx, event) collect(ctx, event) end
function dovecot_lua_notify_event_mailbox_delete(ctx, event) collect(ctx, event) end
function dovecot_lua_notify_event_mailbox_rename(ctx, event) collect(ctx, event) end
function dovecot_lua_notify_event_mailbox_subscribe(ctx, event) collect(ctx, event) end
function dovecot_lua_notify_event_mailbox_unsubscribe(ctx, event) collect(ctx, event) end

-- The status fields of pushlua's format (it rejects others; "mailbox",
-- the vname, is the key).
local STATUS_FIELDS = {
  "messages", "recent", "unseen", "uidvalidity", "uidnext",
  "first_unseen_seq", "first_recent_uid", "highest_modseq",
  "highest_pvt_modseq", "permanent_flags", "flags", "keywords",
  "permanent_keywords", "allow_new_keywords", "nonpermanent_modseqs",
  "no_modseq_tracking", "have_guids", "have_save_guids", "have_only_guid128",
}

-- mailbox_status returns the JSON status of one mailbox, or nil when it
-- cannot be read (deleted, no namespace, ...). The mailbox is allocated,
-- synced so that this transaction's changes show, asked and freed, as the
-- reference recordings did (spec/traces). Not MAILBOX_FLAG_READONLY: a
-- read-only box reports no permanent flags or keywords.
local function mailbox_status(user, name)
  local S = dovecot.storage
  local ok, box = pcall(function() return user:mailbox(name) end)
  if not ok or type(box) ~= "table" then
    return nil
  end
  local st
  ok = pcall(function() box:sync() end)
  if ok then
    ok, st = pcall(function()
      return box:status(S.STATUS_MESSAGES, S.STATUS_RECENT, S.STATUS_UIDNEXT,
        S.STATUS_UIDVALIDITY, S.STATUS_UNSEEN, S.STATUS_FIRST_UNSEEN_SEQ,
        S.STATUS_KEYWORDS, S.STATUS_HIGHESTMODSEQ, S.STATUS_PERMANENT_FLAGS,
        S.STATUS_FIRST_RECENT_UID, S.STATUS_HIGHESTPVTMODSEQ)
    end)
  end
  pcall(function() box:free() end)
  if not ok or type(st) ~= "table" then
    return nil
  end
  local fields = {}
  for _, k in ipairs(STATUS_FIELDS) do
    local v = st[k]
    local vt = type(v)
    if vt == "boolean" or (vt == "number" and v >= 0) then
      fields[#fields + 1] = { k, encode(v) }
    elseif vt == "table" then
      local ev = encode(v)
      if ev ~= nil and ev:sub(1, 1) == "[" then
        fields[#fields + 1] = { k, ev }
      end
    end
  end
  return json_object(fields)
end

-- transaction_json builds the transaction object pushlua ingests.
local function transaction_json(ctx)
  local user = ctx.user
  local fields = {
    { "user", user_json(user) },
    { "success", "true" },
    { "events", "[" .. table.concat(ctx.events, ",") .. "]" },
  }
  local status = {}
  for _, box in ipairs(ctx.boxes) do
    if not ctx.deleted[box] then
      local st = mailbox_status(user, box)
      if st ~= nil then
        status[#status + 1] = { box, st }
      end
    end
  end
  if #status > 0 then
    fields[#fields + 1] = { "status", json_object(status) }
  end
  -- JSON null when unset, so that pushlua's store unsets it too; left out
  -- when it cannot be read.
  local ok, value = pcall(function() return user:metadata_get(METADATA_KEY) end)
  if ok and (value == nil or type(value) == "string") then
    local v = value == nil and "null" or json_string(value)
    fields[#fields + 1] = { "metadata", json_object({ { METADATA_KEY, v } }) }
  end
  return json_object(fields)
end

---------------------------------------------------------------------------
-- sending
---------------------------------------------------------------------------

-- new_client makes a dovecot.http client with the settings names of the
-- running Dovecot: 2.3 takes typed *_msecs keys and ignores unknown ones,
-- 2.4 maps each key k onto its setting http_client_k and rejects unknown
-- ones.
local function new_client(timeout_msecs, max_attempts)
  local tries
  if settings24 ~= nil then
    tries = {
      { request_timeout = tostring(timeout_msecs) .. "ms",
        request_max_attempts = tostring(max_attempts) },
      { request_timeout_msecs = timeout_msecs, max_attempts = max_attempts },
    }
  else
    tries = {
      { request_timeout_msecs = timeout_msecs, max_attempts = max_attempts },
      { request_timeout = tostring(timeout_msecs) .. "ms",
        request_max_attempts = tostring(max_attempts) },
    }
  end
  local last
  for _, set in ipairs(tries) do
    local ok, client = pcall(dovecot.http.client, set)
    if ok and client ~= nil then
      return client
    end
    last = client
  end
  log_error_once("client", "HTTP client settings rejected (" .. tostring(last) ..
    "), using the defaults")
  return dovecot.http.client({})
end

-- safe_url is the URL without its userinfo, for log lines.
local function safe_url(url)
  return (string.gsub(url, "^(%a[%w+.-]*://)[^/@]*@", "%1"))
end

local function post(url, token, timeout_msecs, max_attempts, body)
  local client = new_client(timeout_msecs, max_attempts)
  local req = client:request({ url = url, method = "POST" })
  req:add_header("Content-Type", "application/json")
  if token ~= nil and token ~= "" then
    req:add_header("Authorization", "Bearer " .. token)
  end
  req:set_payload(body)
  local resp = req:submit()
  local status = resp:status()
  if type(status) ~= "number" or status < 200 or status > 299 then
    local reason = ""
    pcall(function() reason = resp:reason() end)
    log_error("POST " .. safe_url(url) .. " failed: " .. tostring(status) ..
      " " .. tostring(reason))
  end
end

local function forward(ctx, success)
  if success ~= true then
    return -- rolled back: nothing happened
  end
  if type(ctx) ~= "table" or ctx.user == nil then
    return
  end
  local user = ctx.user
  local url = setting(user, "url")
  if url == nil or url == "" then
    log_error_once("url", "pushlua_url is not set (2.3: plugin { pushlua_url = ... }, " ..
      "2.4: lua_settings { url = ... }); transactions are not forwarded")
    return
  end
  local token = setting(user, "token")
  if token ~= nil and (string.find(token, "[\r\n]") or string.find(token, "\0", 1, true)) then
    -- Dovecot's http client asserts (panics) on CR/LF in a header value.
    log_error_once("token", "pushlua_token contains a line break or NUL; not sent")
    token = nil
  end
  local timeout_msecs = number_setting(user, "timeout_msecs", DEFAULT_TIMEOUT_MSECS, 1)
  local max_attempts = number_setting(user, "max_attempts", DEFAULT_MAX_ATTEMPTS, 1)
  local body = transaction_json(ctx)
  post(url, token, timeout_msecs, max_attempts, body)
end

function dovecot_lua_notify_end_txn(ctx, success)
  local ok, err = pcall(forward, ctx, success)
  if not ok then
    log_error(tostring(err))
  end
  if type(ctx) == "table" then
    ctx.user = nil
  end
end
