-- spool_mock.lua FORWARD_LUA SCENARIO DIR -- runs scripts/dovecot/forward.lua
-- in the reference Lua 5.4 as several Lua states of one process (Dovecot
-- makes one per mail user: an LMTP process one per delivery) against a mock
-- of Dovecot 2.3's API, with pushlua_spool = DIR. Each state gets its own
-- globals, as in Dovecot; they share the process (pid, locale, files).
-- On stdout: "POST <body>" for each request the forwarder submits (its
-- fallback), "ERROR <message>" for dovecot.i_error, and "DONE" at the end.

local forward_path, scenario, dir = arg[1], arg[2], arg[3]

local settings = {
  pushlua_spool = dir,
  pushlua_url = "http://127.0.0.1:1/v1/transactions",
}
if scenario == "rotate" then
  settings.pushlua_spool_max_bytes = "1300"
elseif scenario == "nourl" then
  settings.pushlua_url = nil
end

dovecot = {
  i_error = function(msg) io.write("ERROR ", msg, "\n") end,
  storage = {
    STATUS_MESSAGES = 1.0, STATUS_RECENT = 2.0, STATUS_UIDNEXT = 4.0,
    STATUS_UIDVALIDITY = 8.0, STATUS_UNSEEN = 16.0, STATUS_FIRST_UNSEEN_SEQ = 32.0,
    STATUS_KEYWORDS = 64.0, STATUS_HIGHESTMODSEQ = 128.0, STATUS_PERMANENT_FLAGS = 512.0,
    STATUS_FIRST_RECENT_UID = 1024.0, STATUS_HIGHESTPVTMODSEQ = 8192.0,
  },
  http = {
    client = function()
      return {
        request = function()
          local req = {}
          req.add_header = function() end
          req.set_payload = function(self, p) self.payload = p end
          req.submit = function(self)
            io.write("POST ", self.payload, "\n")
            return { status = function() return 204 end, reason = function() return "No Content" end }
          end
          return req
        end,
      }
    end,
  },
}

local unseen = 0
local user_mt = { __index = {
  plugin_getenv = function(_, k) return settings[k] end,
  metadata_get = function() return "user=1@1" end,
  mailbox = function(_, name)
    return {
      sync = function() end,
      free = function() end,
      metadata_get = function() return "user=1@1" end,
      status = function()
        return { mailbox = name, messages = unseen + 0.0, unseen = unseen + 0.0, uidvalidity = 7.0,
                 uidnext = unseen + 1.0, keywords = {} }
      end,
    }
  end,
}, __name = "struct mail_user" }

-- state loads the forwarder into a fresh set of globals: one Lua state.
local function state()
  local env = setmetatable({}, { __index = _G })
  env._G = env
  assert(loadfile(forward_path, "t", env))()
  assert(env.script_init() == 0)
  return env
end

local delivered = 0

-- closed_unchanged prints "CHANGED <file>" when a closed (.jsonl) file grew
-- after it was closed.
local closed = {}
function closed_unchanged()
  local ls = io.popen("ls " .. dir .. " 2>/dev/null")
  for name in ls:lines() do
    if name:match("%.jsonl$") then
      local f = io.open(dir .. "/" .. name)
      local size = f and f:seek("end")
      if f then f:close() end
      if size and closed[name] and closed[name] ~= size then
        io.write("CHANGED ", name, "\n")
      end
      closed[name] = closed[name] or size
    end
  end
  ls:close()
end

-- deliver runs one MessageNew transaction in state st.
local function deliver(st, who)
  delivered = delivered + 1
  unseen = unseen + 1
  local user = setmetatable({ username = who .. "@example.com", service = "lmtp",
    session_id = "s" .. delivered, uid = 1000.0, gid = 1000.0 }, user_mt)
  local ctx = st.dovecot_lua_notify_begin_txn(user)
  st.dovecot_lua_notify_event_message_new(ctx, { name = "MessageNew", mailbox = "INBOX",
    uid = delivered + 0.0, uid_validity = 7.0, date = 0.0, tz = 0.0, from = "", to = "",
    subject = "message " .. delivered, snippet = string.rep("x", who == "alice" and 300 or 20), flags = {}, keywords = {},
    from_address = "", from_display_name = "", to_address = "", to_display_name = "" })
  st.dovecot_lua_notify_end_txn(ctx, true)
  closed_unchanged()
end

if scenario == "states" or scenario == "rotate" then
  -- Two states alive at once (LMTP keeps the first recipient's user while
  -- it delivers to the next) and later ones, interleaved.
  local a, b = state(), state()
  for i = 1, 6 do
    deliver(a, "alice")
    deliver(b, "bob")
  end
  a.script_deinit()
  local c = state()
  deliver(c, "carol")
  deliver(b, "bob")
  b.script_deinit()
  c.script_deinit()
elseif scenario == "full" then
  -- The file this process's marker names is /dev/full: the write fails.
  local stat = io.open("/proc/self/stat"):read("*l")
  local pid, rest = stat:match("^(%d+) .*%) (.*)$")
  local ticks = select(20, table.unpack((function() local t = {} for w in rest:gmatch("%S+") do t[#t + 1] = w end return t end)()))
  local base = "pl-" .. pid .. "-1700000000-0000abcd"
  assert(os.execute("ln -s /dev/full " .. dir .. "/" .. base .. ".open"))
  local m = assert(io.open(dir .. "/.pl-" .. pid .. "-" .. ticks, "w"))
  m:write(base, "\n")
  m:close()
  local a = state()
  deliver(a, "alice") -- the fallback
  deliver(a, "alice") -- this state does not retry at once: the fallback again
  a.script_deinit()
  local b = state()
  deliver(b, "bob") -- a new state starts a new file
  b.script_deinit()
else -- "nodir", "nourl": the directory is missing
  for _ = 1, 3 do
    local s = state()
    deliver(s, "alice")
    s.script_deinit()
  end
end
io.write("DONE\n")
