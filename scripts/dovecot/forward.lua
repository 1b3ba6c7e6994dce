-- forward.lua -- Dovecot's side of pushlua: a push-notification Lua driver
-- that hands every committed transaction to pushlua in pushlua's format
-- (docs/transactions.md). It runs INSIDE Dovecot's mail processes (imap,
-- lmtp; Lua 5.3/5.4), not in pushlua, and never raises into Dovecot: every
-- failure is logged as "Error: pushlua forward: ..." and mail goes on.
--
-- Two ways to hand over (docs/spool.md):
--  * spool (recommended): with pushlua_spool = DIR each transaction is
--    appended as one JSON line to a file in DIR (one file per mail process,
--    one write(2) per line) and nothing waits on the network. pushlua serve
--    with the same pushlua_spool reads it, and catches up after a stop.
--    When DIR cannot be written the forwarder logs that once per process
--    and POSTs to pushlua_url instead (if set).
--  * HTTP: without pushlua_spool each transaction is one synchronous POST
--    to pushlua_url; the IMAP reply or LMTP delivery waits for it, at most
--    pushlua_timeout_msecs (absolute, retries included). Transactions sent
--    while pushlua is down are lost.
-- Every line and POST carries a stable "id" (pushlua can tell a duplicate).
--
-- Dovecot 2.3 (dovecot.conf; 2.4: the same names without pushlua_ in the
-- driver's lua_settings { }, untested against a 2.4 binary):
--
--   mail_plugins = $mail_plugins notify push_notification push_notification_lua
--   plugin {
--     push_notification_driver = lua:file=/etc/dovecot/pushlua-forward.lua
--     pushlua_spool = /var/spool/pushlua   # owned by the mail uid, 0770
--     pushlua_url = http://127.0.0.1:8787/v1/transactions  # without a spool,
--                                          # or as its fallback
--     pushlua_token = <secret>             # "Authorization: Bearer <secret>"
--     pushlua_timeout_msecs = 2000         # HTTP: the most a POST may take
--     pushlua_max_attempts = 1             # HTTP: attempts within it
--     pushlua_spool_max_bytes = 16777216   # a file is closed at this size
--     pushlua_status = yes                 # yes | all | no (below)
--     pushlua_metadata_cache_secs = 60     # the ox driver's cache_lifetime
--   }
--
-- What is looked up in Dovecot (the costly part), by pushlua_status:
--  * yes (default): what the bundled ox driver needs to say what Dovecot's
--    own ox driver says: the status of each mailbox with a MessageNew (its
--    unseen count), and the /private/vendor/vendor.dovecot/http-notify
--    METADATA, read as the ox driver reads it (a value is kept for
--    metadata_cache_secs per session) and sent with every transaction.
--  * all: the status of every mailbox the transaction touched and a fresh
--    METADATA read per transaction, for scripts that read other mailboxes.
--  * no: neither (pushlua answers mailbox:status() and metadata_get() from
--    its store, or live from doveadm when pushlua_doveadm_url is set).
--
-- What the forwarder cannot see: events Dovecot does not run through the
-- push-notification plugins (other MDAs, doveadm without these plugins);
-- mail Sieve discards, rejects or redirects; rolled-back transactions; the
-- raw Subject header (Dovecot 2.3's Lua gets only the decoded subject, so
-- pushlua's ox sends that where Dovecot's ox sends the raw header).
-- Configure it as the only Lua driver: Dovecot shares event data between
-- drivers.
--
-- Dovecot compiles this file for every Lua state, which is one per mail
-- user: an LMTP delivery makes two (the recipient, and Dovecot's "raw"
-- user, which never has a transaction), an IMAP session one. So what every
-- state compiles is kept small: the event handlers only keep Dovecot's
-- event tables. The code that turns a transaction into pushlua's format
-- and hands it over (MAIN) sits in a long comment that the first end_txn
-- of a state reads from this file and compiles, and the code that only
-- failures, rotation, a process's first file and the HTTP path need
-- (COLD) in another, compiled on first use. Keep the file whole: the
-- comments are code. `pushlua forwarder --compile lua5.4` prints this file
-- as Lua bytecode with both parts precompiled: Dovecot then compiles
-- nothing (README, "Connecting Dovecot").

-- S is this Lua state's (one session's) state, shared with MAIN and COLD:
-- set24 (2.4's lua_settings), conf, proc ({pid, ticks} of the process),
-- spool (the file in use: {f, base, path}), retry (os.time() before which a
-- failed spool is not tried again), md/md_at/md_sid (the METADATA read),
-- user_key/user_json, main and cold (the compiled parts).
local S = { retry = 0, logged = {} }

local function log_error(msg)
  pcall(dovecot.i_error, "pushlua forward: " .. tostring(msg))
end

function script_init(settings)
  S.set24 = type(settings) == "table" and settings or nil
  return 0
end

function script_deinit()
  -- The file stays .open: later Lua states of this process append to it
  -- (docs/spool.md: pushlua closes it once the process is gone).
  if S.spool then
    pcall(S.spool.f.close, S.spool.f)
    S.spool = nil
  end
end

-- The user object stays in ctx only: Dovecot releases ctx after end_txn
-- (a user kept in a global crashes the process at session end). Every
-- event handler keeps the event's table (Dovecot builds a new one for each
-- call); end_txn encodes them all.
function dovecot_lua_notify_begin_txn(user)
  return { user = user, ev = {} }
end

local function handler(ctx, e)
  local ev = type(ctx) == "table" and ctx.ev
  if ev and type(e) == "table" then
    ev[#ev + 1] = e
  end
end

for _, name in ipairs({ "message_new", "message_append", "message_expunge", "message_read",
    "message_trash", "flags_set", "flags_clear", "mailbox_create", "mailbox_delete",
    "mailbox_rename", "mailbox_subscribe", "mailbox_unsubscribe" }) do
  _G["dovecot_lua_notify_event_" .. name] = handler
end

-- part compiles the code of this file's long comment --[===[NAME ... ]===]
-- (MAIN or COLD below) with this file's name and line numbers. The numbers
-- are where the part starts in this file as shipped (byte offset, length
-- up to its "]===]", line; TestForwarderParts checks them, -update writes
-- them); in an edited file part looks for it. The opening line becomes a
-- line comment ("--" in front), so only the part's own text is copied.
-- In the bytecode pushlua forwarder --compile makes of this file, BIN
-- holds both parts already compiled, with this file's line numbers.
local BIN -- the parts precompiled (pushlua forwarder --compile: then this file is bytecode)
local function part(name)
  if BIN then
    return assert(load(BIN[name], "=" .. name, "b"))
  end
  local at, len, line = 20108, 5403, 520 -- COLD
  if name == "MAIN" then
    at, len, line = 9906, 10123, 206
  end
  local path = string.sub(debug.getinfo(1, "S").source, 2)
  local f = assert(io.open(path, "r"))
  f:seek("set", at)
  local code, close = f:read(len, 5)
  local open = "--[===[" .. name .. "\n"
  if close ~= "]===]" or string.sub(code, 1, #open) ~= open then
    f:seek("set")
    local text = f:read("a")
    at = string.find(text, "\n" .. open, 1, true)
    local j = at and string.find(text, "\n]===]", at, true)
    if j == nil then
      f:close()
      error(path .. ": the " .. name .. " part is missing")
    end
    code, line = string.sub(text, at + 1, j), select(2, string.gsub(string.sub(text, 1, at), "\n", "")) + 1
  end
  f:close()
  local pre = string.rep("\n", line - 1) .. "--"
  return assert(load(function()
    local p = pre
    pre, code = code, nil
    return p
  end, "@" .. path))
end

local function run(ctx, success)
  S.main = S.main or part("MAIN")(S, log_error, part)
  S.main(ctx, success)
end

function dovecot_lua_notify_end_txn(ctx, success)
  local ok, err = pcall(run, ctx, success)
  if not ok then
    log_error(err)
  end
  if type(ctx) == "table" then
    ctx.user = nil
  end
end

-- MAIN: the transaction in pushlua's format (docs/transactions.md), the
-- lookups of pushlua_status, and the spool (docs/spool.md). It returns the
-- function end_txn calls.
--
-- JSON: Dovecot's Lua has none. Bytes >= 0x80 pass through (Dovecot's
-- strings are UTF-8, pushlua checks); Dovecot pushes every number as a
-- float (uid = 1.0) and whole ones are printed as integers; a table with a
-- metatable is a Dovecot object (user, mailbox), not data; Dovecot's own
-- tables are arrays of strings, and {} is an empty array.
--
-- Settings: 2.4's lua_settings key (name, or pushlua_<name>), else 2.3's
-- plugin setting pushlua_<name>; unset when empty.
--
-- status_json: the status of one mailbox (allocated, synced so that this
-- transaction shows, asked, freed), or nil when it cannot be read; and,
-- when with_md is set and the mailbox is INBOX, ok and the METADATA value
-- read through the same open mailbox. Not MAILBOX_FLAG_READONLY: a
-- read-only box reports no permanent flags or keywords. pushlua_status yes
-- reads the METADATA when Dovecot's ox driver would (it keeps a value, not
-- its absence, for metadata_cache_secs per session), all every time; the
-- transaction carries null when it is unset (pushlua unsets it too) and
-- nothing when it cannot be read.
--
-- The spool: process() reads this process's pid and start time (clock
-- ticks since boot) from /proc/self/stat once per state. The marker
-- DIR/.pl-<pid>-<ticks> names the file the process appends to, so that
-- every Lua state of the process continues it. Writes are unbuffered: one
-- f:write of a whole line is one write(2) (glibc ignores setvbuf's size
-- unless given a buffer, and splits a line longer than its 4 KiB one). A
-- file that reached pushlua_spool_max_bytes is full for every state of the
-- process alike (sizes only grow): the line that crossed the size was its
-- last. A process's first file drops COLD again, so that the full garbage
-- collection Dovecot runs after every transaction of an IMAP session has
-- less to go through.
--[===[MAIN
local S, log_error, part = ...
local KEY = "/private/vendor/vendor.dovecot/http-notify"
local INBOX_KEY = "/private/vendor/vendor.dovecot/pvt/server/vendor/vendor.dovecot/http-notify"
local format, find, gsub, sub, concat, type = string.format, string.find, string.gsub, string.sub, table.concat, type
local toint = math.tointeger or function(n) return n == math.floor(n) and n or nil end

local function log_once(key, msg)
  if not S.logged[key] then
    S.logged[key] = true
    log_error(msg)
  end
end

local ESC = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
              ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function esc(c)
  return ESC[c] or format("\\u%04x", string.byte(c))
end
local keys = {} -- '"k":' of the few distinct keys
-- val: the JSON of v, nil for what is not data
local function val(v)
  local t = type(v)
  if t == "string" then
    return '"' .. (find(v, '[%c"\\]') and gsub(v, '[%c"\\]', esc) or v) .. '"'
  elseif t == "number" then
    local i = toint(v)
    return i and format("%d", i) or v == v and v ~= math.huge and v ~= -math.huge and format("%.17g", v) or "null"
  elseif t == "boolean" then
    return tostring(v)
  elseif t ~= "table" or getmetatable(v) ~= nil then
    return nil
  end
  local p, n = {}, 0
  if v[1] ~= nil or next(v) == nil then
    for i = 1, #v do
      p[i] = val(v[i]) or "null"
    end
    return "[" .. concat(p, ",") .. "]"
  end
  for k, x in pairs(v) do
    local e = type(k) == "string" and val(x)
    if e then
      local kj = keys[k]
      if kj == nil then
        kj = val(k) .. ":"
        keys[k] = kj
      end
      n = n + 1
      p[n] = kj .. e
    end
  end
  return "{" .. concat(p, ",") .. "}"
end
-- fields: the fields of t named in the list (a string) that hold data
local function fields(t, list)
  local p = {}
  for k in string.gmatch(list, "%S+") do
    local v = t[k]
    local e = (type(v) ~= "number" or v >= 0) and val(v)
    if e then
      p[#p + 1] = '"' .. k .. '":' .. e
    end
  end
  return "{" .. concat(p, ",") .. "}"
end

-- read_conf: the settings, checked
local function read_conf(user)
  local c = {}
  for name in string.gmatch("url token timeout_msecs max_attempts spool spool_max_bytes status metadata_cache_secs", "%S+") do
    local v = S.set24 and (S.set24[name] or S.set24["pushlua_" .. name])
    if v == nil then
      local ok, r = pcall(user.plugin_getenv, user, "pushlua_" .. name)
      v = ok and r or nil
    end
    c[name] = v ~= nil and v ~= "" and tostring(v) or nil
  end
  for name, d in pairs({ timeout_msecs = 2000, max_attempts = 1, spool_max_bytes = 16777216, metadata_cache_secs = 60 }) do
    local s = c[name]
    local n = tonumber(s)
    local min = name == "metadata_cache_secs" and 0 or 1
    if s ~= nil and (n == nil or n ~= math.floor(n) or n < min) then
      log_once(name, "invalid pushlua_" .. name .. " '" .. s .. "', using " .. d)
      n = nil
    end
    c[name] = n and math.floor(n) or d
  end
  if c.token ~= nil and find(c.token, "[%z\r\n]") then
    -- Dovecot's http client panics on CR/LF in a header value.
    log_once("token", "pushlua_token contains a line break or NUL; not sent")
    c.token = nil
  end
  local st = c.status or "yes"
  if st ~= "yes" and st ~= "all" and st ~= "no" then
    log_once("status", "invalid pushlua_status '" .. st .. "' (yes, all or no), using yes")
    st = "yes"
  end
  c.status = st
  c.spool = c.spool and gsub(c.spool, "/+$", "")
  return c
end

-- status_json: see above
local function status_json(user, name, with_md)
  local D = dovecot.storage
  local ok, box = pcall(user.mailbox, user, name)
  if not ok or type(box) ~= "table" then
    return nil
  end
  local st, md_ok, value
  ok = pcall(box.sync, box)
  if ok then
    ok, st = pcall(box.status, box, D.STATUS_MESSAGES, D.STATUS_RECENT, D.STATUS_UIDNEXT,
      D.STATUS_UIDVALIDITY, D.STATUS_UNSEEN, D.STATUS_FIRST_UNSEEN_SEQ, D.STATUS_KEYWORDS,
      D.STATUS_HIGHESTMODSEQ, D.STATUS_PERMANENT_FLAGS, D.STATUS_FIRST_RECENT_UID,
      D.STATUS_HIGHESTPVTMODSEQ)
    if with_md and name == "INBOX" then
      md_ok, value = pcall(box.metadata_get, box, INBOX_KEY)
    end
  end
  pcall(box.free, box)
  return ok and type(st) == "table" and fields(st, "messages recent unseen uidvalidity uidnext " ..
    "first_unseen_seq first_recent_uid highest_modseq highest_pvt_modseq permanent_flags flags keywords " ..
    "permanent_keywords allow_new_keywords nonpermanent_modseqs no_modseq_tracking have_guids " ..
    "have_save_guids have_only_guid128") or nil, md_ok, value
end

-- body: the transaction (without its id) as pushlua ingests it
local function body(c, ctx)
  local user = ctx.user
  -- boxes: the mailboxes whose status is read, in the order they first
  -- appear, and by name whether to read it: yes, those with a MessageNew;
  -- all, those the transaction did not end by deleting.
  local ev, n, boxes = {}, 0, nil
  for _, e in ipairs(ctx.ev) do
    local j = val(e)
    if j then
      n = n + 1
      ev[n] = j
      local box = e.mailbox
      if c.status ~= "no" and type(box) == "string" then
        boxes = boxes or {}
        local read = boxes[box]
        if read == nil then
          boxes[#boxes + 1] = box
        end
        if c.status == "all" then
          boxes[box] = e.name ~= "MailboxDelete"
        else
          boxes[box] = read == true or e.name == "MessageNew"
        end
      end
    end
  end
  local sid = user.session_id or user.username
  -- In Dovecot a Lua state serves one mail user, so the user object is the
  -- same every time (the key is for pushlua's own tests, which run many).
  local ukey = tostring(user.username) .. "\n" .. tostring(sid)
  if S.user_key ~= ukey then
    S.user_key, S.user_json = ukey, fields(user, "username service session_id home uid gid " ..
      "session_create_time admin anonymous autocreated nonexistent fuzzy_search dsyncing session_restored")
  end
  local out = { '{"user":', S.user_json, ',"success":true,"events":[', concat(ev, ","), "]" }
  local now = os.time()
  local want_md = c.status == "all" or
    (c.status == "yes" and not (S.md_sid == sid and S.md_at and S.md_at + c.metadata_cache_secs > now))
  local md_ok, value
  local st = {}
  for _, box in ipairs(boxes or st) do
    if boxes[box] then
      local j, ok, v = status_json(user, box, want_md and md_ok == nil)
      if ok ~= nil then
        md_ok, value = ok, v
      end
      if j then
        st[#st + 1] = val(box) .. ":" .. j
      end
    end
  end
  if #st > 0 then
    out[#out + 1] = ',"status":{' .. concat(st, ",") .. "}"
  end
  if want_md and md_ok == nil then
    md_ok, value = pcall(user.metadata_get, user, KEY)
  end
  if c.status == "yes" then
    if not want_md then
      md_ok, value = true, S.md -- what the ox driver has kept
    elseif md_ok then
      S.md, S.md_at, S.md_sid = value, value ~= nil and now or nil, sid
    end
  end
  if md_ok and (value == nil or type(value) == "string") then
    out[#out + 1] = ',"metadata":{"' .. KEY .. '":' .. (value == nil and "null" or val(value)) .. "}"
  end
  out[#out + 1] = "}"
  return concat(out)
end

local function process()
  if S.proc == nil then
    S.proc = false
    local f = io.open("/proc/self/stat", "r")
    if f then
      -- field 22 (starttime): 19 fields after the ") " that ends field 2
      local pid, ticks = string.match(f:read("*l") or "", "^(%d+) .*%) " .. string.rep("%S+ ", 19) .. "(%d+)")
      f:close()
      if pid then
        S.proc = { pid = pid, ticks = ticks }
      end
    end
  end
  return S.proc
end
local function use(f, base, path)
  f:setvbuf("no")
  return { f = f, base = base, path = path }
end
local function marker(c, p)
  return c.spool .. "/.pl-" .. p.pid .. "-" .. p.ticks
end
-- current opens the file the marker names, if it is still .open
local function current(c, p)
  local m = io.open(marker(c, p), "r")
  if m == nil then
    return nil
  end
  local base = m:read("*l")
  m:close()
  if base == nil or not find(base, "^pl%-%d+%-%d+%-%x+$") then
    return nil
  end
  local path = c.spool .. "/" .. base .. ".open"
  local f = io.open(path, "r+")
  return f and use(f, base, path)
end

local function cold()
  if S.cold == nil then
    process()
    S.cold = part("COLD")(S, use, marker, current, log_error, log_once)
  end
  return S.cold
end

-- to_spool appends the transaction as one line; true when it is there
local function to_spool(c, text)
  if os.time() < S.retry then
    return false
  end
  local p = process()
  if not p then
    return cold().fail(c, "cannot read /proc/self/stat (the spool needs Linux)")
  end
  local err
  if S.spool == nil then
    S.spool = current(c, p)
    if S.spool == nil then
      S.spool, err = cold().create(c, p)
      if S.spool then
        S.cold = nil
      end
    end
  end
  for _ = 1, 3 do
    local s = S.spool
    if s == nil then
      break
    end
    local pos
    pos, err = s.f:seek("end")
    if pos == nil then
      err = s.path .. ": " .. tostring(err)
      break
    end
    if pos >= c.spool_max_bytes then
      err = cold().full(c, p)
    else
      local ok
      ok, err = s.f:write('{"id":"' .. sub(s.base, 4) .. "-" .. pos .. '",' .. sub(text, 2) .. "\n")
      if ok then
        return true
      end
      err = "writing " .. s.path .. ": " .. tostring(err)
      cold().close(s, true)
      break
    end
  end
  return cold().fail(c, err)
end

return function(ctx, success)
  if success ~= true or type(ctx) ~= "table" or ctx.user == nil or ctx.ev == nil then
    return -- rolled back: nothing happened
  end
  S.conf = S.conf or read_conf(ctx.user)
  local c = S.conf
  if c.spool == nil and c.url == nil then
    log_once("url", "neither pushlua_spool nor pushlua_url is set (2.3: plugin { pushlua_url = ... }, " ..
      "2.4: lua_settings { url = ... }); transactions are not forwarded")
    return
  end
  local text = body(c, ctx)
  local too_long = c.spool ~= nil and #text > 1048000 -- the spool's lines end at 1 MiB
  if c.spool and not too_long and to_spool(c, text) then
    return
  end
  cold().post(c, text, too_long)
end
]===]

-- COLD: failures, rotation, a process's first file and the HTTP path.

--[===[COLD
local S, use, marker, current, log_error, log_once = ...
local format, sub = string.format, string.sub
local C = {}

-- uniq8 is 8 hex digits that no other Lua state of this process gets: the
-- process's CPU time in microseconds (its states run one after the other).
-- Not math.random: Lua seeds it from the time and the state's address,
-- and an LMTP process makes many states a second at one address.
local function uniq8()
  return format("%08x", math.floor(os.clock() * 1e6) % 4294967296)
end

-- log_once_per_process logs msg unless a Lua state of this process already
-- did: an LMTP process makes a state per delivery, and states share nothing
-- but the process, so the mark is the C library's LC_MONETARY locale
-- category (nothing in Dovecot or Lua uses it), switched to C.UTF-8 while
-- LC_CTYPE is not. One mark: for one message.
local function log_once_per_process(key, msg)
  if S.logged[key] then
    return
  end
  S.logged[key] = true
  local ok, cur, ctype = pcall(function()
    return os.setlocale(nil, "monetary"), os.setlocale(nil, "ctype")
  end)
  if ok and cur == "C.UTF-8" and ctype ~= cur then
    return
  end
  if ok and ctype ~= "C.UTF-8" then
    pcall(os.setlocale, "C.UTF-8", "monetary")
  end
  log_error(msg)
end

-- create starts a new file and points the process's marker at it.
function C.create(c, p)
  local base = format("pl-%s-%d-%s", p.pid, os.time(), uniq8())
  local path = c.spool .. "/" .. base .. ".open"
  local f, err = io.open(path, "a")
  if f == nil then
    return nil, err
  end
  local m = io.open(marker(c, p), "w")
  if m then
    m:write(base, "\n")
    m:close()
  end
  return use(f, base, path)
end

-- close closes a file: renamed to .jsonl, pushlua reads it to its end and
-- deletes it (a last line without its "\n", left by a write that failed,
-- is skipped).
function C.close(s, failed)
  pcall(s.f.close, s.f)
  os.rename(s.path, sub(s.path, 1, -6) .. ".jsonl")
  if failed then
    S.spool = nil
  end
end

-- full: the file reached pushlua_spool_max_bytes. Continue the one another
-- state of this process started since, else close it and start the next.
function C.full(c, p)
  local s = current(c, p)
  if s and s.base ~= S.spool.base then
    pcall(S.spool.f.close, S.spool.f)
    S.spool = s
    return
  end
  if s then
    s.f:close()
  end
  local new, err = C.create(c, p)
  C.close(S.spool)
  S.spool = new
  return err
end

-- fail: the spool cannot be used; try again in a minute, say so once per
-- process.
function C.fail(c, err)
  if S.spool then
    pcall(S.spool.f.close, S.spool.f)
    S.spool = nil
  end
  S.retry = os.time() + 60
  log_once_per_process("spool", "cannot use the spool directory " .. c.spool .. ": " ..
    tostring(err) .. "; " .. (c.url and "POSTing to pushlua_url instead" or
    "transactions are lost (no pushlua_url)") .. " (logged once per process)")
  return false
end

-- client: the settings names of the running Dovecot (2.3 takes typed
-- *_msecs keys and ignores unknown ones, 2.4 maps k to http_client_k and
-- rejects unknown ones). The absolute timeout bounds the whole request:
-- retries, connects and a stale keep-alive connection included.
local function client(c)
  if S.client then
    return S.client
  end
  local each = math.max(1, math.floor(c.timeout_msecs / c.max_attempts))
  local t23 = { request_absolute_timeout_msecs = c.timeout_msecs, request_timeout_msecs = each,
                connect_timeout_msecs = each, max_attempts = c.max_attempts }
  local t24 = { request_absolute_timeout = c.timeout_msecs .. "ms", request_timeout = each .. "ms",
                connect_timeout = each .. "ms", request_max_attempts = tostring(c.max_attempts) }
  local last
  for _, set in ipairs(S.set24 and { t24, t23 } or { t23, t24 }) do
    local ok, cl = pcall(dovecot.http.client, set)
    if ok and cl ~= nil then
      S.client = cl
      return cl
    end
    last = cl
  end
  log_once("client", "HTTP client settings rejected (" .. tostring(last) .. "), using the defaults")
  S.client = dovecot.http.client({})
  return S.client
end

-- post sends one transaction (ids <pid>-<ticks>-<uniq8>-h<n>). Dovecot
-- 2.3's Lua sends every payload with "Expect: 100-continue" (2.4's does
-- not); pushlua answers 100 at once, and the absolute timeout bounds the
-- wait for a frozen one.
function C.post(c, text, too_long)
  if too_long then
    log_error("a transaction of " .. #text .. " bytes is over the spool's 1 MiB line limit; " ..
      (c.url and "POSTing it" or "it is lost (no pushlua_url)"))
  end
  if c.url == nil then
    return
  end
  if S.http_id == nil then
    local p = S.proc or { pid = "0", ticks = "0" }
    S.http_id, S.seq = p.pid .. "-" .. p.ticks .. "-" .. uniq8() .. "-h", 0
  end
  S.seq = S.seq + 1
  local req = client(c):request({ url = c.url, method = "POST" })
  req:add_header("Content-Type", "application/json")
  if c.token then
    req:add_header("Authorization", "Bearer " .. c.token)
  end
  req:set_payload('{"id":"' .. S.http_id .. S.seq .. '",' .. sub(text, 2))
  local resp = req:submit()
  local status = resp:status()
  if type(status) ~= "number" or status < 200 or status > 299 then
    local ok, reason = pcall(resp.reason, resp)
    log_error("POST " .. string.gsub(c.url, "^(%a[%w+.-]*://)[^/@]*@", "%1") .. " failed: " ..
      tostring(status) .. " " .. (ok and tostring(reason) or ""))
  end
end

return C
]===]
