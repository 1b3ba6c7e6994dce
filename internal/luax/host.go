package luax

import (
	"context"
	"log/slog"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/httpx"
)

// Host is what the Lua modules of one state (the bindings and the stdlib
// modules) need from the program that runs it: the runtime's State
// implements it. One goroutine uses a state and its host at a time; the
// per-call values (Context, Logger, Deadline, Mem) change before each call
// into Lua, so modules ask for them when they run, never when they open.
type Host interface {
	// Context is the context of the current call: blocking functions
	// (HTTP, socket.sleep, the store) give up when it ends.
	Context() context.Context
	// Logger logs for the current call; the runtime scopes it to the
	// transaction's user and id.
	Logger() *slog.Logger
	// Deadline is when the blocking functions of the current call (DNS,
	// connect, TLS, an HTTP exchange, socket.sleep) must have returned;
	// zero means no limit but Context. The runtime sets it a little
	// before the end of the call's time budget, so that the script still
	// has time to handle the timeout.
	Deadline() time.Time
	// Debug is Dovecot's mail_debug: whether debug lines are written.
	Debug() bool
	// HTTP sends every HTTP request (socket.http, dovecot.http); shared by
	// all states.
	HTTP() *httpx.Client
	// Now is the clock of os.time, os.date and socket.gettime. Tests and
	// the conformance suite fake time with it.
	Now() time.Time
	// Mem is the memory budget of the current call; nil means no limit.
	Mem() *MemBudget
	// Check is called every CheckEvery steps by the library functions
	// that can run long without returning to the VM (gsub, table.concat,
	// the JSON codecs); an error ends the function with the error's text
	// raised in Lua. The runtime checks the call's time budget and
	// context with it.
	Check() error
}

// CheckEvery is how many steps (matches, values) a long-running library
// function makes between two calls of Host.Check.
const CheckEvery = 4096

// CheckTime calls h.Check and raises its error in l.
func CheckTime(l *lua.State, h Host) {
	if err := h.Check(); err != nil {
		RaiseWhere(l, err.Error())
	}
}

// BlockingContext returns the context of a blocking function: the host's
// context, ended at its Deadline (with cause, when not nil).
func BlockingContext(h Host, cause error) (context.Context, context.CancelFunc) {
	d := h.Deadline()
	if d.IsZero() {
		return h.Context(), func() {}
	}
	if cause != nil {
		return context.WithDeadlineCause(h.Context(), d, cause)
	}
	return context.WithDeadline(h.Context(), d)
}

// hostRegistryKey is where SetHost keeps the host of a state.
const hostRegistryKey = "pushlua.host"

// SetHost records h as the host of l, for the library functions that are
// not closures over it (HostOf).
func SetHost(l *lua.State, h Host) {
	l.PushUserData(h)
	l.SetField(lua.RegistryIndex, hostRegistryKey)
}

// HostOf returns the host SetHost recorded in l, or a StaticHost with no
// limits when there is none.
func HostOf(l *lua.State) Host {
	Field(l, lua.RegistryIndex, hostRegistryKey)
	h, _ := l.ToUserData(-1).(Host)
	l.Pop(1)
	if h == nil {
		return noHost
	}
	return h
}

// MemOf returns the memory budget of the current call of l (nil: none).
func MemOf(l *lua.State) *MemBudget {
	return HostOf(l).Mem()
}

var noHost = &StaticHost{}

// StaticHost is a Host whose values are set once: tests, tools and the
// documentation examples run modules with it. Its zero value has no
// limits: context.Background, a logger that discards, the real clock, no
// HTTP client, no memory budget and no check.
type StaticHost struct {
	Ctx        context.Context
	Log        *slog.Logger
	Until      time.Time // Deadline
	DebugLines bool      // Debug
	Client     *httpx.Client
	Clock      func() time.Time // Now; nil is time.Now
	Budget     *MemBudget
	CheckFunc  func() error // Check; nil never fails
}

var _ Host = (*StaticHost)(nil)

// Context returns Ctx, or context.Background.
func (h *StaticHost) Context() context.Context {
	if h.Ctx == nil {
		return context.Background()
	}
	return h.Ctx
}

// Logger returns Log, or a logger that discards.
func (h *StaticHost) Logger() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

// Deadline returns Until.
func (h *StaticHost) Deadline() time.Time { return h.Until }

// Debug returns DebugLines.
func (h *StaticHost) Debug() bool { return h.DebugLines }

// HTTP returns Client.
func (h *StaticHost) HTTP() *httpx.Client { return h.Client }

// Now returns Clock(), or time.Now().
func (h *StaticHost) Now() time.Time {
	if h.Clock == nil {
		return time.Now()
	}
	return h.Clock()
}

// Mem returns Budget.
func (h *StaticHost) Mem() *MemBudget { return h.Budget }

// Check returns CheckFunc(), or nil.
func (h *StaticHost) Check() error {
	if h.CheckFunc == nil {
		return nil
	}
	return h.CheckFunc()
}
