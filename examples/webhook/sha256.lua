-- sha256.lua: SHA-256 and HMAC-SHA256 in plain Lua 5.2 (bit32), for
-- scripts that sign what they send. pushlua has no crypto module; this
-- runs in pushlua and in Dovecot alike. `local sha256 = require "sha256"`
-- finds it beside the script.

local band, bor, bxor, bnot = bit32.band, bit32.bor, bit32.bxor, bit32.bnot
local rrotate, rshift = bit32.rrotate, bit32.rshift
local char, rep, byte = string.char, string.rep, string.byte

local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

local M32 = 2 ^ 32

local function be32(n)
  return char(band(rshift(n, 24), 255), band(rshift(n, 16), 255), band(rshift(n, 8), 255), band(n, 255))
end

local function block(msg, i, H)
  local w = {}
  for j = 1, 16 do
    local a, b, c, d = byte(msg, i + (j - 1) * 4, i + (j - 1) * 4 + 3)
    w[j] = ((a * 256 + b) * 256 + c) * 256 + d
  end
  for j = 17, 64 do
    local v15, v2 = w[j - 15], w[j - 2]
    local s0 = bxor(rrotate(v15, 7), rrotate(v15, 18), rshift(v15, 3))
    local s1 = bxor(rrotate(v2, 17), rrotate(v2, 19), rshift(v2, 10))
    w[j] = (w[j - 16] + s0 + w[j - 7] + s1) % M32
  end
  local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
  for j = 1, 64 do
    local S1 = bxor(rrotate(e, 6), rrotate(e, 11), rrotate(e, 25))
    local ch = bxor(band(e, f), band(bnot(e), g))
    local t1 = (h + S1 + ch + K[j] + w[j]) % M32
    local S0 = bxor(rrotate(a, 2), rrotate(a, 13), rrotate(a, 22))
    local maj = bxor(band(a, b), band(a, c), band(b, c))
    local t2 = (S0 + maj) % M32
    h, g, f, e, d, c, b, a = g, f, e, (d + t1) % M32, c, b, a, (t1 + t2) % M32
  end
  H[1], H[2], H[3], H[4] = (H[1] + a) % M32, (H[2] + b) % M32, (H[3] + c) % M32, (H[4] + d) % M32
  H[5], H[6], H[7], H[8] = (H[5] + e) % M32, (H[6] + f) % M32, (H[7] + g) % M32, (H[8] + h) % M32
end

local M = {}

--- The SHA-256 digest of s, 32 bytes.
---@param s string
---@return string
function M.sum(s)
  local len = #s
  local bits = len * 8
  -- (119 - len % 64) % 64 is (55 - len) % 64 without a negative operand:
  -- go-lua's % truncates negative numbers (-17 for -145 % 64) where Lua
  -- floors (47).
  s = s .. "\128" .. rep("\0", (119 - len % 64) % 64) .. be32(math.floor(bits / M32)) .. be32(bits % M32)
  local H = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
  for i = 1, #s, 64 do
    block(s, i, H)
  end
  local out = {}
  for i = 1, 8 do
    out[i] = be32(H[i])
  end
  return table.concat(out)
end

--- HMAC-SHA256 of msg with key, 32 bytes.
---@param key string
---@param msg string
---@return string
function M.hmac(key, msg)
  if #key > 64 then
    key = M.sum(key)
  end
  key = key .. rep("\0", 64 - #key)
  local ipad, opad = {}, {}
  for i = 1, 64 do
    local k = byte(key, i)
    ipad[i] = char(bxor(k, 0x36))
    opad[i] = char(bxor(k, 0x5c))
  end
  return M.sum(table.concat(opad) .. M.sum(table.concat(ipad) .. msg))
end

--- The bytes of s in lower-case hex.
---@param s string
---@return string
function M.hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", byte(c)) end))
end

return M
