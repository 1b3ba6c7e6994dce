// Package bindings owns the `dovecot` global that Dovecot 2.3 gives Lua
// scripts (spec §5–§6 of ../shared/spec/dovecot-2.3.md): logging,
// dovecot.event(), the flag helpers, restrict_global_variables,
// dovecot.storage, and the mail_user and mailbox objects. It reaches the
// host only through luax.Host (Env.Host); it never imports the runtime.
package bindings

import (
	"context"
	"errors"
	"log/slog"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/httpx"
	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/internal/store"
)

// Env is what the bindings of one Lua state need: the host (the runtime's
// State, through luax.Host: the call's context, logger, deadline, memory
// budget, HTTP client and mail_debug) and the settings of the script that
// only the bindings use. One goroutine uses a state and its Env at a time.
type Env struct {
	// Host is the program running the state; nil is a luax.StaticHost
	// with no limits.
	Host luax.Host
	// Script is the path of the script the state runs.
	Script string
	// LogPrefix is the prefix of the script's own log event: "lua: " for a
	// push-notification driver script, "" for the mail_lua fallback.
	LogPrefix string
	// Store is the persistent mailbox status and METADATA view.
	Store store.Store
	// Getenv returns a plugin {} setting (user:plugin_getenv).
	Getenv func(name string) (string, bool)
	// Driver is the push-notification driver the state runs as
	// (require "pushlua").driver.
	Driver DriverInfo
	// Settings24 marks a script configured with Dovecot 2.4's syntax (a
	// push_notification NAME { } block): dovecot.http.client takes 2.4's
	// setting names only and fails on an unknown one, and set_payload has
	// 2.4's optional sync argument, as in 2.4.
	Settings24 bool
}

var noHost = &luax.StaticHost{}

func (e *Env) host() luax.Host {
	if e.Host == nil {
		return noHost
	}
	return e.Host
}

// ctx is the context of the current call.
func (e *Env) ctx() context.Context { return e.host().Context() }

// logger logs for the current call; the runtime scopes it to the
// transaction's user and id (logx.KeyUser, logx.KeyTxn).
func (e *Env) logger() *slog.Logger { return e.host().Logger() }

// debug is Dovecot's mail_debug: whether debug-level event logs
// (event:log_debug) are written. dovecot.i_debug is unconditional.
func (e *Env) debug() bool { return e.host().Debug() }

// http sends the requests of dovecot.http; shared by all states.
func (e *Env) http() *httpx.Client { return e.host().HTTP() }

// errCallBudget is the cause of the context blockingCtx returns once
// the host's Deadline has passed.
var errCallBudget = errors.New("the call's time budget is used up")

// blockingCtx returns the context of a blocking function (dovecot.http's
// submit: DNS, connect, TLS, the exchange): the call's context, ended at
// the host's Deadline with the cause errCallBudget, so that the script
// still has time to handle the failure (status 9008).
func (e *Env) blockingCtx() (context.Context, context.CancelFunc) {
	return luax.BlockingContext(e.host(), errCallBudget)
}

// charge charges n bytes that the binding fname makes for the script (an
// HTTP response body) to the call's memory budget, and raises the budget's
// error in l when they do not fit.
func (e *Env) charge(l *lua.State, fname string, n int64) {
	e.host().Mem().ChargeIn(l, fname, n)
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
