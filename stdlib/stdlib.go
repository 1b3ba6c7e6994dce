// Package stdlib completes go-lua's standard library for the scripts
// pushlua runs. Each Lua module is a package under stdlib/ that exports an
// opener, Open(l, host); this package keeps the one ordered list of them
// (modules) and opens them all (Open):
//
//	stdlib/limits        the memory budget of string.rep/format, table.concat/insert...
//	stdlib/strlib        string.find/match/gmatch/gsub on the VM-free stdlib/pattern
//	stdlib/errlib        non-string error values, pcall/xpcall, tracebacks, syntax hints
//	stdlib/oslib         os.date, os.time, os.difftime
//	stdlib/iolib         the io library of Lua 5.2
//	stdlib/mathlib       math.type, math.tointeger and the rest of Lua 5.3's math
//	stdlib/utf8lib       utf8
//	stdlib/json/cjson    cjson, cjson.safe
//	stdlib/json/luajson  json, json.util, json.encode, json.decode (LuaJSON)
//	stdlib/json/dkjson   dkjson
//	stdlib/json/jsonlua  JSON (JSON.lua)
//	stdlib/socket        socket, socket.url, socket.http, mime, ltn12, ssl.https
//
// stdlib/json holds what the JSON modules share. The modules reach the host
// only through luax.Host and never import the runtime or the bindings.
package stdlib

import (
	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/errlib"
	"github.com/pushlua/pushlua/stdlib/iolib"
	"github.com/pushlua/pushlua/stdlib/json/cjson"
	"github.com/pushlua/pushlua/stdlib/json/dkjson"
	"github.com/pushlua/pushlua/stdlib/json/jsonlua"
	"github.com/pushlua/pushlua/stdlib/json/luajson"
	"github.com/pushlua/pushlua/stdlib/limits"
	"github.com/pushlua/pushlua/stdlib/mathlib"
	"github.com/pushlua/pushlua/stdlib/oslib"
	"github.com/pushlua/pushlua/stdlib/socket"
	"github.com/pushlua/pushlua/stdlib/strlib"
	"github.com/pushlua/pushlua/stdlib/utf8lib"
)

// module is one stdlib module: one opener, one or more files.
type module struct {
	name string
	open func(l *lua.State, h luax.Host)
}

// modules is the central list, in opening order.
var modules = []module{
	{"memory budget", limits.Open},
	{"string patterns", strlib.Open},
	{"error values", errlib.Open},
	{"os", oslib.Open},
	{"io", iolib.Open},
	{"math", mathlib.Open},
	{"utf8", utf8lib.Open},
	{"json", openJSON},
	{"socket", socket.Open},
}

// openJSON registers the JSON modules: cjson and cjson.safe, json
// (LuaJSON), dkjson and JSON (JSON.lua).
func openJSON(l *lua.State, h luax.Host) {
	for _, open := range []func(*lua.State, luax.Host){cjson.Open, luajson.Open, dkjson.Open, jsonlua.Open} {
		open(l, h)
	}
}

// Open installs the modules in l: the extensions of the standard tables
// directly, the others as package.preload entries for require. The standard
// libraries must already be open. h is the state's host (luax.SetHost
// records it in l); nil is a luax.StaticHost with no limits.
func Open(l *lua.State, h luax.Host) {
	if h == nil {
		h = &luax.StaticHost{}
	}
	for _, m := range modules {
		m.open(l, h)
	}
}
