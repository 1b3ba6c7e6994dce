package socket

import lua "github.com/Shopify/go-lua"

// openLTN12 is the opener of "ltn12": Diego Nehab's LTN12 sources, sinks,
// filters and pumps with the behaviour of LuaSocket's ltn12 1.0.3. It is
// plain Lua (no string patterns) run from ltn12Lua.
func openLTN12(l *lua.State) int {
	sockRunChunk(l, ltn12Lua, "ltn12.lua", 0)
	return 1
}

// ltn12Lua implements the module. Chunks are strings; a source returns the
// next chunk, nil at the end or nil plus an error; a sink takes a chunk (nil
// at the end) and an error and returns 1 or nil plus an error; a filter
// maps a chunk to a chunk, "" meaning "give me more", nil ending the stream.
const ltn12Lua = `
local M = {filter = {}, source = {}, sink = {}, pump = {}}
local filter, source, sink, pump = M.filter, M.source, M.sink, M.pump
local insert, remove, unpack = table.insert, table.remove, table.unpack or unpack
local select, assert, error, type = select, assert, error, type

M.BLOCKSIZE = 2048
M._VERSION = "LTN12 1.0.3"

-- filter.cycle turns a low-level filter low(ctx, chunk, extra) -> out, ctx
-- into a filter that keeps ctx between calls.
function filter.cycle(low, ctx, extra)
  assert(low)
  return function(chunk)
    local out
    out, ctx = low(ctx, chunk, extra)
    return out
  end
end

-- filter.chain feeds the output of each filter to the next. A filter that
-- answers "" is asked again by going back to the one before it; "live" is
-- the first filter that has not yet ended.
function filter.chain(...)
  local filters, count = {...}, select("#", ...)
  local live, at = 1, 1
  local again = ""
  return function(chunk)
    again = chunk and again
    while true do
      local f = filters[at]
      if at == live then
        chunk = f(chunk)
        if chunk == "" or live == count then
          return chunk
        elseif chunk then
          at = at + 1
        else
          live = live + 1
          at = live
        end
      else
        chunk = f(chunk or "")
        if chunk == "" then
          at = at - 1
          chunk = again
        elseif not chunk then
          error("filter returned inappropriate nil")
        elseif at == count then
          return chunk
        else
          at = at + 1
        end
      end
    end
  end
end

local function nothing() return nil end

function source.empty()
  return nothing
end

function source.error(err)
  return function() return nil, err end
end

function source.file(handle, io_err)
  if not handle then
    return source.error(io_err or "unable to open file")
  end
  return function()
    local chunk = handle:read(M.BLOCKSIZE)
    if not chunk then handle:close() end
    return chunk
  end
end

-- source.simplify turns a fancy source (one that may answer chunk, newsource)
-- into a simple one.
function source.simplify(src)
  assert(src)
  return function()
    local chunk, other = src()
    src = other or src
    if chunk then return chunk end
    return nil, other
  end
end

function source.string(s)
  if not s then return source.empty() end
  local pos = 1
  return function()
    local chunk = string.sub(s, pos, pos + M.BLOCKSIZE - 1)
    pos = pos + M.BLOCKSIZE
    if chunk == "" then return nil end
    return chunk
  end
end

function source.table(t)
  assert(type(t) == "table")
  local i = 0
  return function()
    i = i + 1
    return t[i]
  end
end

-- source.rewind returns a source that can be given chunks back: src(chunk)
-- pushes chunk, src() returns the pushed chunks (last first) before new ones.
function source.rewind(src)
  assert(src)
  local pushed = {}
  return function(chunk)
    if chunk then
      insert(pushed, chunk)
      return
    end
    chunk = remove(pushed)
    if chunk then return chunk end
    return src()
  end
end

-- source.chain passes a source through filters.
function source.chain(src, f, ...)
  if ... then f = filter.chain(f, ...) end
  assert(src and f)
  local input, output = "", ""
  local feeding = true
  return function()
    if not output then error("source is empty!", 2) end
    while true do
      local err
      if feeding then
        input, err = src()
        if err then return nil, err end
        output = f(input)
        if not output then
          if input then error("filter returned inappropriate nil") end
          return nil
        elseif output ~= "" then
          feeding = false
          if input then input = "" end
          return output
        end
      else
        output = f(input)
        if output == "" then
          if input ~= "" then error('filter returned ""') end
          feeding = true
        elseif not output then
          if input then error("filter returned inappropriate nil") end
          return nil
        else
          return output
        end
      end
    end
  end
end

-- source.cat returns the chunks of several sources one after the other.
function source.cat(...)
  local sources = {...}
  local src = remove(sources, 1)
  return function()
    while src do
      local chunk, err = src()
      if chunk then return chunk end
      if err then return nil, err end
      src = remove(sources, 1)
    end
  end
end

function sink.table(t)
  t = t or {}
  return function(chunk, err)
    if chunk then insert(t, chunk) end
    return 1
  end, t
end

-- sink.simplify turns a fancy sink (one that may answer 1, newsink) into a
-- simple one.
function sink.simplify(snk)
  assert(snk)
  return function(chunk, err)
    local ok, other = snk(chunk, err)
    if not ok then return nil, other end
    snk = other or snk
    return 1
  end
end

function sink.file(handle, io_err)
  if not handle then
    return sink.error(io_err or "unable to open file")
  end
  return function(chunk, err)
    if chunk then return handle:write(chunk) end
    handle:close()
    return 1
  end
end

local function discard() return 1 end

function sink.null()
  return discard
end

function sink.error(err)
  return function() return nil, err end
end

-- sink.chain passes what is written through filters before the sink.
function sink.chain(f, snk, ...)
  if ... then
    local all = {f, snk, ...}
    snk = remove(all, #all)
    f = filter.chain(unpack(all))
  end
  assert(f and snk)
  return function(chunk, err)
    if chunk == "" then return 1 end
    local out = f(chunk)
    local last = chunk and ""
    while true do
      local ok, serr = snk(out, err)
      if not ok then return nil, serr end
      if out == last then return 1 end
      out = f(last)
    end
  end
end

function pump.step(src, snk)
  local chunk, serr = src()
  local ok, kerr = snk(chunk, serr)
  if chunk and ok then return 1 end
  return nil, serr or kerr
end

function pump.all(src, snk, step)
  assert(src and snk)
  step = step or pump.step
  while true do
    local ok, err = step(src, snk)
    if not ok then
      if err then return nil, err end
      return 1
    end
  end
end

return M
`
