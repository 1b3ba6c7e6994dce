// Package bindings owns the `dovecot` global that Dovecot 2.3 gives Lua
// scripts (spec §5–§6 of ../shared/spec/dovecot-2.3.md): logging,
// dovecot.event(), the flag helpers, restrict_global_variables,
// dovecot.storage, and the mail_user and mailbox objects. It reaches the
// host only through Env; it never imports the runtime.
package bindings

import (
	"context"
	"log/slog"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/httpx"
	"github.com/pushlua/pushlua/internal/store"
)

// Env is what the bindings of one Lua state need from the host. The runtime
// owns it; one goroutine uses a state and its Env at a time, so the fields
// that change per call (Ctx, Logger) are plain fields set before each call
// into Lua.
type Env struct {
	// Script is the path of the script the state runs.
	Script string
	// LogPrefix is the prefix of the script's own log event: "lua: " for a
	// push-notification driver script, "" for the mail_lua fallback.
	LogPrefix string
	// Debug is Dovecot's mail_debug: whether debug-level event logs
	// (event:log_debug) are written. dovecot.i_debug is unconditional.
	Debug bool
	// Store is the persistent mailbox status and METADATA view.
	Store store.Store
	// Getenv returns a plugin {} setting (user:plugin_getenv).
	Getenv func(name string) (string, bool)
	// HTTP sends the requests of dovecot.http; shared by all states.
	HTTP *httpx.Client
	// Driver is the push-notification driver the state runs as
	// (require "pushlua").driver.
	Driver DriverInfo

	// Ctx is the context of the current call.
	Ctx context.Context
	// Logger logs for the current call; the runtime scopes it to the
	// transaction's user and id (logx.KeyUser, logx.KeyTxn).
	Logger *slog.Logger
}

func (e *Env) ctx() context.Context {
	if e.Ctx == nil {
		return context.Background()
	}
	return e.Ctx
}

func (e *Env) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// module is one binding module: one file, one opener.
type module struct {
	name string
	open func(l *lua.State, env *Env)
}

// modules is the central list, in opening order: the dovecot global first,
// then what hangs off it.
var modules = []module{
	{"dovecot", openDovecot},
	{"event", openEvent},
	{"storage", openStorage},
	{"http", openHTTP},
	{"mail_user", openMailUser},
	{"mailbox", openMailbox},
	{"pushlua", openPushlua},
}

// Open installs the dovecot global and registers the object metatables in
// l. The standard libraries must already be open.
func Open(l *lua.State, env *Env) {
	for _, m := range modules {
		m.open(l, env)
	}
}
