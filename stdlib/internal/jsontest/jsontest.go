// Package jsontest holds what the tests of the JSON modules share: a state
// with all of them open (the Lua helpers load cjson, json and dkjson
// together) and show(v), a rendering of Lua values that runs the same on
// go-lua and on the reference Lua 5.2.
package jsontest

import (
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/stdlib/internal/stdtest"
	"github.com/pushlua/pushlua/stdlib/json/cjson"
	"github.com/pushlua/pushlua/stdlib/json/dkjson"
	"github.com/pushlua/pushlua/stdlib/json/jsonlua"
	"github.com/pushlua/pushlua/stdlib/json/luajson"
)

// NewState is a fresh state with the standard libraries and the JSON
// modules.
func NewState(t testing.TB) *lua.State {
	t.Helper()
	return stdtest.NewState(nil, cjson.Open, luajson.Open, dkjson.Open, jsonlua.Open)
}

// ShowPrelude loads the modules into globals and defines show(v), a
// deterministic rendering of Lua values, and run(f), which pcalls f and
// renders its results or "error: <message>". The same code runs on go-lua
// and on the reference Lua 5.2.
const ShowPrelude = `
cjson = require "cjson"
cjson_safe = require "cjson.safe"
json = require "json"
dkjson = require "dkjson"
local function esc(s)
  local out = {}
  for i = 1, #s do
    local b = s:byte(i)
    if b < 32 or b > 126 or b == 92 then out[#out+1] = "\\" .. b else out[#out+1] = string.char(b) end
  end
  return '"' .. table.concat(out) .. '"'
end
function show(v, depth)
  depth = depth or 0
  if depth > 20 then return "..." end
  local t = type(v)
  if t == "string" then return esc(v)
  elseif t == "number" then
    if v ~= v then return "nan" elseif v == 1/0 then return "inf" elseif v == -1/0 then return "-inf" end
    return tostring(v)
  elseif t == "boolean" or t == "nil" then return tostring(v)
  elseif v == cjson.null then return "cjson.null"
  elseif v == json.util.null then return "json.null"
  elseif v == json.util.undefined then return "json.undefined"
  elseif v == dkjson.null then return "dkjson.null"
  elseif t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys+1] = k end
    table.sort(keys, function(a, b)
      if type(a) ~= type(b) then return type(a) < type(b) end
      if type(a) == "number" or type(a) == "string" then return a < b end
      return tostring(a) < tostring(b)
    end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts+1] = show(k, depth+1) .. "=" .. show(v[k], depth+1) end
    local mt = getmetatable(v)
    local prefix = ""
    if mt then prefix = "<" .. tostring(rawget(mt, "__jsontype") or "mt") .. ">" end
    return prefix .. "{" .. table.concat(parts, ",") .. "}"
  end
  return t
end
local function pack(...) return {n = select("#", ...), ...} end
function run(f)
  local r = pack(pcall(f))
  if not r[1] then return "error: " .. tostring(r[2]) end
  local parts = {}
  for i = 2, r.n do parts[#parts+1] = show(r[i]) end
  return table.concat(parts, ", ")
end
`

// Show runs chunk (a function body) in l through run and returns the
// rendering.
func Show(t testing.TB, l *lua.State, chunk string) string {
	t.Helper()
	l.Global("run")
	if l.IsNil(-1) {
		l.Pop(1)
		if err := lua.DoString(l, ShowPrelude); err != nil {
			t.Fatalf("prelude: %v", err)
		}
		l.Global("run")
	}
	if err := lua.LoadString(l, chunk); err != nil {
		t.Fatalf("load %q: %v", chunk, err)
	}
	if err := l.ProtectedCall(1, 1, 0); err != nil {
		t.Fatalf("run %q: %v", chunk, err)
	}
	s, _ := l.ToString(-1)
	l.Pop(1)
	return s
}

// Case is a chunk and what show renders for its results: {chunk, want}
// (an array, so that the tables of cases in other packages stay unkeyed).
type Case [2]string

// RunCases checks each case in a fresh state.
func RunCases(t *testing.T, cases []Case) {
	t.Helper()
	for _, c := range cases {
		chunk, want := c[0], c[1]
		t.Run(chunk, func(t *testing.T) {
			l := NewState(t)
			if got := Show(t, l, chunk); got != want {
				t.Errorf("got %s; want %s", got, want)
			}
		})
	}
}
