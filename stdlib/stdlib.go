// Package stdlib completes go-lua's standard library for the scripts
// pushlua runs: Lua 5.2 string patterns (string.find/match/gmatch/gsub on
// the VM-free matcher in stdlib/pattern), os.date/os.time, utf8 and
// math.type/tointeger, the JSON modules Dovecot scripts use (cjson,
// cjson.safe, json, dkjson, JSON), LuaSocket-compatible socket,
// socket.http, socket.url and ltn12, and LuaSec's ssl.https. It reaches the
// host only through luax.Host and never imports the runtime or the
// bindings.
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
	{"cjson", cjson.Open},
	{"json (LuaJSON)", luajson.Open},
	{"dkjson", dkjson.Open},
	{"JSON (JSON.lua)", jsonlua.Open},
	{"socket", socket.Open},
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
