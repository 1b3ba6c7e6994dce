// Package bindings owns the `dovecot` global that Dovecot 2.3 gives Lua
// scripts (spec §5–§6 of ../shared/spec/dovecot-2.3.md): logging,
// dovecot.event(), the flag helpers, restrict_global_variables,
// dovecot.storage, and the mail_user and mailbox objects. It reaches the
// host only through Env; it never imports the runtime.
package bindings

import (
	"context"
	"errors"
	"log/slog"
	"time"

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
	// Settings24 marks a script configured with Dovecot 2.4's syntax (a
	// push_notification NAME { } block): dovecot.http.client takes 2.4's
	// setting names only and fails on an unknown one, and set_payload has
	// 2.4's optional sync argument, as in 2.4.
	Settings24 bool

	// Ctx is the context of the current call.
	Ctx context.Context
	// Deadline is when the blocking functions of the current call
	// (dovecot.http's submit: DNS, connect, TLS, the exchange) must have
	// returned; zero means no limit but Ctx. The runtime sets it a little
	// before the end of the call's time budget, so that the script still
	// has time to handle the failure (status 9008).
	Deadline time.Time
	// Charge, when set, charges n bytes that the binding fname makes for
	// the script (an HTTP response body) to the call's memory budget, and
	// raises the budget's error in l when they do not fit.
	Charge func(l *lua.State, fname string, n int64)
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

// errCallBudget is the cause of the context blockingCtx returns once
// Deadline has passed.
var errCallBudget = errors.New("the call's time budget is used up")

// blockingCtx returns the context of a blocking function: Ctx, ended at
// Deadline with the cause errCallBudget.
func (e *Env) blockingCtx() (context.Context, context.CancelFunc) {
	if e.Deadline.IsZero() {
		return e.ctx(), func() {}
	}
	return context.WithDeadlineCause(e.ctx(), e.Deadline, errCallBudget)
}

// charge charges n bytes made by fname to the call's memory budget.
func (e *Env) charge(l *lua.State, fname string, n int64) {
	if e.Charge != nil {
		e.Charge(l, fname, n)
	}
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
