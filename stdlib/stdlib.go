// Package stdlib completes go-lua's standard library for the scripts
// pushlua runs: Lua 5.2 string patterns (string.find/match/gmatch/gsub on
// the VM-free matcher in stdlib/pattern), os.date/os.time, utf8 and
// math.type/tointeger, the JSON modules Dovecot scripts use (cjson,
// cjson.safe, json, dkjson, JSON), LuaSocket-compatible socket,
// socket.http, socket.url and ltn12, and LuaSec's ssl.https. It reaches the host only through Env and never
// imports the runtime or the bindings.
package stdlib

import (
	"context"
	"log/slog"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/httpx"
)

// Env is what the modules of one Lua state need from the host. One
// goroutine uses a state and its Env at a time; the runtime sets Ctx and
// Logger before each call into Lua.
type Env struct {
	// Ctx is the context of the current call: blocking functions (HTTP,
	// socket.sleep) give up when it ends.
	Ctx context.Context
	// Logger logs for the current call.
	Logger *slog.Logger
	// Deadline is when the blocking functions of the current call
	// (socket.http, ssl.https, socket.sleep: DNS, connect, TLS, the
	// exchange) must have returned; zero means no limit but Ctx. The
	// runtime sets it a little before the end of the call's time budget,
	// so that the script still has time to handle the "timeout".
	Deadline time.Time
	// Debug is Dovecot's mail_debug: whether the modules write their debug
	// lines (socket.http's requests).
	Debug bool
	// HTTP sends every HTTP request (socket.http); shared by all states.
	HTTP *httpx.Client
	// Now is the clock of os.time, os.date and socket.gettime; default
	// time.Now. Tests and the conformance suite fake time with it.
	Now func() time.Time
	// Mem is the memory budget of the current call (limits.go); nil
	// means no limit. The runtime sets it and resets it before each call.
	Mem *MemBudget
	// Check, when set, is called every few thousand steps by the library
	// functions that can run long without returning to the VM (gsub,
	// table.concat, the JSON encoders); an error ends the function with
	// the error's text raised in Lua. The runtime checks the call's time
	// budget and context with it.
	Check func() error
}

func (e *Env) ctx() context.Context {
	if e.Ctx == nil {
		return context.Background()
	}
	return e.Ctx
}

// blockingCtx returns the context of a blocking function: Ctx, ended at
// Deadline.
func (e *Env) blockingCtx() (context.Context, context.CancelFunc) {
	if e.Deadline.IsZero() {
		return e.ctx(), func() {}
	}
	return context.WithDeadline(e.ctx(), e.Deadline)
}

func (e *Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

func (e *Env) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// module is one stdlib module: one opener, one or more files.
type module struct {
	name string
	open func(l *lua.State, env *Env)
}

// modules is the central list, in opening order.
var modules = []module{
	{"memory budget", openLimits},
	{"string patterns", openStringPatterns},
	{"error values", openErrors},
	{"os", openOS},
	{"io", openIO},
	{"math", openMath},
	{"utf8", openUTF8},
	{"json", openJSON},
	{"socket", openSocket},
}

// Open installs the modules in l: the extensions of the standard tables
// directly, the others as package.preload entries for require. The standard
// libraries must already be open.
func Open(l *lua.State, env *Env) {
	for _, m := range modules {
		m.open(l, env)
	}
}
