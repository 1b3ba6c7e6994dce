-- mock_dovecot.lua FORWARD_LUA MODE -- runs scripts/dovecot/forward.lua in
-- the reference Lua 5.4 interpreter against a mock of Dovecot 2.3's (MODE
-- "23", pushlua_status yes) or 2.4's (MODE "24", status all) Lua API, with
-- every number a float as Dovecot pushes them. For each request the forwarder submits it prints two lines:
--   REQUEST <method> <url> <Content-Type> <Authorization> <client settings>
--   <body>
-- and dovecot.i_error lines go to stderr as "ERROR <message>".

local forward_path, mode = arg[1], arg[2]
local is24 = mode == "24"

local responses = {}  -- status codes the next submits return (default 200)

local function settings_text(set)
  local keys = {}
  for k in pairs(set) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. tostring(set[k]) end
  return table.concat(out, ",")
end

dovecot = {
  i_error = function(msg) io.stderr:write("ERROR ", msg, "\n") end,
  storage = {
    STATUS_MESSAGES = 1.0, STATUS_RECENT = 2.0, STATUS_UIDNEXT = 4.0,
    STATUS_UIDVALIDITY = 8.0, STATUS_UNSEEN = 16.0, STATUS_FIRST_UNSEEN_SEQ = 32.0,
    STATUS_KEYWORDS = 64.0, STATUS_HIGHESTMODSEQ = 128.0, STATUS_PERMANENT_FLAGS = 512.0,
    STATUS_FIRST_RECENT_UID = 1024.0, STATUS_HIGHESTPVTMODSEQ = 8192.0,
    MAILBOX_FLAG_READONLY = 1.0,
  },
  http = {
    client = function(set)
      for k in pairs(set) do
        -- 2.4 rejects keys that are no http_client_* setting
        if is24 and k ~= "request_timeout" and k ~= "request_absolute_timeout" and
            k ~= "connect_timeout" and k ~= "request_max_attempts" then
          error("Invalid HTTP client setting: " .. k .. " is unknown setting")
        end
      end
      return {
        request = function(_, r)
          local req = { headers = {}, order = {} }
          req.add_header = function(self, k, v) self.headers[k] = v end
          req.set_payload = function(self, p) self.payload = p end
          req.submit = function(self)
            io.write("REQUEST ", r.method, " ", r.url, " ", tostring(self.headers["Content-Type"]),
              " ", tostring(self.headers["Authorization"]), " ", settings_text(set), "\n")
            io.write(self.payload, "\n")
            local status = table.remove(responses, 1) or 200
            if status == "raise" then error("submit exploded") end
            return { status = function() return status end,
                     reason = function() return "Mock reason" end }
          end
          return req
        end,
      }
    end,
  },
}

dofile(forward_path)

local S = dovecot.storage
local boxes = {
  INBOX = { messages = 2.0, recent = 1.0, unseen = 1.0, uidvalidity = 1795978712.0, uidnext = 3.0,
            first_unseen_seq = 2.0, first_recent_uid = 2.0, highest_modseq = 9007199254740992.0,
            highest_pvt_modseq = 0.0, permanent_flags = 31.0, flags = 31.0,
            permanent_keywords = true, allow_new_keywords = true, nonpermanent_modseqs = false,
            no_modseq_tracking = false, have_guids = true, have_save_guids = true,
            have_only_guid128 = false },
}
local metadata = nil
local user_mt = { __index = {
  plugin_getenv = (not is24) and function(_, k)
    return ({ pushlua_url = "http://127.0.0.1:1/v1/transactions", pushlua_token = "t0k",
              pushlua_timeout_msecs = "1500" })[k]
  end or nil,
  metadata_get = function(_, k)
    assert(k == "/private/vendor/vendor.dovecot/http-notify")
    return metadata
  end,
  mailbox = function(_, name, flags)
    local box = {}
    box.sync = function()
      if boxes[name] == nil then error("mailbox_sync(" .. name .. ") failed: Mailbox doesn't exist: " .. name) end
    end
    box.status = function(_, ...)
      local st = { mailbox = name, keywords = { "$Label1", "$Foo" } }
      for k, v in pairs(boxes[name]) do st[k] = v end
      return st
    end
    box.free = function() end
    box.metadata_get = function(_, k)
      -- user:metadata_get's key as the INBOX attribute it reads
      assert(name == "INBOX" and k == "/private/vendor/vendor.dovecot/pvt/server/vendor/vendor.dovecot/http-notify")
      return metadata
    end
    return box
  end,
}, __name = "struct mail_user" }

local function new_user(service)
  return setmetatable({ username = "alice@example.com", service = service,
    session_id = "sess\"1", home = "/home/alice", uid = 1000.0, gid = 1000.0,
    session_create_time = 1764000000.0, mail_debug = true, nonexistent = false,
    anonymous = false, autocreated = false, fuzzy_search = false, dsyncing = false,
    admin = false, session_restored = false }, user_mt)
end

if is24 then
  assert(script_init({ url = "http://127.0.0.1:2/v1/transactions", token = "t24",
                       timeout_msecs = "700", max_attempts = "2", status = "all" }) == 0)
else
  assert(script_init() == 0)
end

-- 1: a delivery with every MessageNew field, odd bytes included
local ctx = dovecot_lua_notify_begin_txn(new_user("lmtp"))
dovecot_lua_notify_event_message_new(ctx, {
  name = "MessageNew", mailbox = "INBOX", uid = 2.0, uid_validity = 1795978712.0,
  date = 1709641800.0, tz = -480.0,
  from = "=?UTF-8?Q?J=C3=B6rg?= <joerg@example.org>", to = "\"Q \\\"x\\\"\" <a@b>, c@d",
  subject = "Grüße “World”\n\t\"q\" \\ \0\1\31\127 raw:\255\254", snippet = "snip ✓",
  message_id = "<id@x>", from_address = "joerg@example.org", from_display_name = "Jörg",
  to_address = "a@b", to_display_name = "Q \"x\"", flags = {}, keywords = { "$Label1" } })
dovecot_lua_notify_end_txn(ctx, true)

-- 2: flag changes, then a rolled-back transaction (not sent)
metadata = "user=11@3"
ctx = dovecot_lua_notify_begin_txn(new_user("imap"))
dovecot_lua_notify_event_flags_clear(ctx, { name = "FlagsClear", mailbox = "INBOX", uid = 1.0,
  uid_validity = 1795978712.0, flags = {}, flags_old = { "\\Recent" }, keywords = {}, keywords_old = {} })
dovecot_lua_notify_event_flags_set(ctx, { name = "FlagsSet", mailbox = "INBOX", uid = 1.0,
  uid_validity = 1795978712.0, flags = { "\\Seen" }, keywords = {} })
dovecot_lua_notify_event_message_read(ctx, { name = "MessageRead", mailbox = "INBOX", uid = 1.0,
  uid_validity = 1795978712.0 })
dovecot_lua_notify_end_txn(ctx, true)
ctx = dovecot_lua_notify_begin_txn(new_user("imap"))
dovecot_lua_notify_event_message_append(ctx, { name = "MessageAppend", mailbox = "INBOX", uid = 3.0 })
dovecot_lua_notify_end_txn(ctx, false)

-- 3: rename into a mailbox whose status fails, answered 500
responses = { 500 }
ctx = dovecot_lua_notify_begin_txn(new_user("imap"))
dovecot_lua_notify_event_mailbox_rename(ctx, { name = "MailboxRename", mailbox = "Missing", mailbox_old = "Old" })
dovecot_lua_notify_end_txn(ctx, true)

-- 4: a deleted mailbox (no status asked), submit raising
boxes.Work = { messages = 0.0 }
responses = { "raise" }
ctx = dovecot_lua_notify_begin_txn(new_user("imap"))
dovecot_lua_notify_event_mailbox_delete(ctx, { name = "MailboxDelete", mailbox = "Work" })
dovecot_lua_notify_end_txn(ctx, true)

-- 5: odd ctx values never raise
dovecot_lua_notify_event_message_new(nil, { name = "MessageNew" })
dovecot_lua_notify_end_txn(nil, true)
dovecot_lua_notify_end_txn("x", true)
io.write("DONE\n")
