-- forwarder_compile.lua FORWARDER NAME: writes to stdout the forwarder
-- (scripts/dovecot/forward.lua, at the path FORWARDER) as one binary chunk
-- of the Lua running this program, for `pushlua forwarder --compile`.
--
-- Dovecot then loads the chunk instead of compiling the script's text in
-- every Lua state (two per LMTP delivery). The forwarder's own code stays
-- what the text says: its MAIN and COLD parts are compiled from their long
-- comments with their lines in the text, each dumped, and set as the
-- strings of the text's "local BIN" line (on that one line, so no line
-- moves), which part() then loads; the whole is compiled and dumped with
-- its debug information, so an error names NAME and the line in the text
-- (`pushlua forwarder` prints it).
local path, name = arg[1], arg[2]
if _VERSION ~= "Lua 5.3" and _VERSION ~= "Lua 5.4" then
  error(_VERSION .. " is not Lua 5.3 or 5.4", 0)
end
local f = assert(io.open(path, "rb"))
local text = f:read("*a")
f:close()

-- lit: s as a Lua string literal on one line (%q would keep newlines)
local function lit(s)
  return '"' .. string.gsub(s, '[%c"\\\128-\255]', function(c)
    return string.format("\\%03d", string.byte(c))
  end) .. '"'
end

-- dump: the part NAME compiled as part() compiles the text (the opening
-- line a line comment, the lines where they are in the file)
local function dump(part)
  local open = "\n--[===[" .. part .. "\n"
  local i = string.find(text, open, 1, true)
  local j = i and string.find(text, "\n]===]", i, true)
  if j == nil then
    error(path .. ": the " .. part .. " part is missing", 0)
  end
  local line = select(2, string.gsub(string.sub(text, 1, i), "\n", "")) + 1
  local code = string.rep("\n", line - 1) .. "--" .. string.sub(text, i + 1, j)
  return string.dump(assert(load(code, "@" .. name)))
end

local at = string.find(text, "\nlocal BIN -- ", 1, true)
if at == nil then
  error(path .. ": no \"local BIN -- \" line (not pushlua's forwarder?)", 0)
end
local eol = string.find(text, "\n", at + 1, true)
local src = string.sub(text, 1, at) ..
  "local BIN = { MAIN = " .. lit(dump("MAIN")) .. ", COLD = " .. lit(dump("COLD")) .. " }" ..
  string.sub(text, eol)
io.write(string.dump(assert(load(src, "@" .. name))))
