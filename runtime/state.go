package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/bindings"
	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/httpx"
	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib"
	"github.com/pushlua/pushlua/stdlib/errlib"
)

// Budget limits every call from pushlua into Lua (script_init, a handler,
// script_deinit). A call that exceeds it fails with an error that a pcall in
// the script cannot swallow, and its state is discarded and rebuilt.
type Budget struct {
	// Timeout is the wall-clock limit of one call. Default 5s.
	Timeout time.Duration
	// Instructions is the limit of Lua VM instructions of one call.
	// Default 100,000,000.
	Instructions int64
	// Memory is the limit, in bytes, of what the Lua library makes in one
	// call: the strings string.rep, string.format, table.concat,
	// string.gsub, the JSON encoders and io reads build, the tables the
	// JSON decoders build (see luax.MemBudget). A function that would go
	// over it fails before allocating. Default 64 MiB.
	Memory int64
}

// DefaultBudget is the budget used where none is configured.
var DefaultBudget = Budget{Timeout: 5 * time.Second, Instructions: 100_000_000, Memory: 64 << 20}

func (b Budget) withDefaults() Budget {
	if b.Timeout <= 0 {
		b.Timeout = DefaultBudget.Timeout
	}
	if b.Instructions <= 0 {
		b.Instructions = DefaultBudget.Instructions
	}
	if b.Memory <= 0 {
		b.Memory = DefaultBudget.Memory
	}
	return b
}

// parseSize parses a size setting (dconfig.ParseSize).
func parseSize(v string) (int64, error) { return dconfig.ParseSize(v) }

// hookEvery is how many instructions run between two budget checks.
const hookEvery = 1000

// scriptSpec says how to build a state for one script.
type scriptSpec struct {
	Path      string // as resolved from the configuration
	Source    []byte // the file's content, read once per version
	LogPrefix string // "lua: " for a driver script, "" for mail_lua's
	Debug     bool
	AllowExec bool
	Budget    Budget
	Env       bindings.Env     // Store, Getenv and Driver; Host is the State
	HTTP      *httpx.Client    // luax.Host.HTTP
	Now       func() time.Time // luax.Host.Now; nil is time.Now
	Preload   []lua.RegistryFunction
	// Bundled marks pushlua's own driver scripts (dlog, ox): script_init
	// gets the driver arguments as a table and may fail with
	// `return -1, "message"`, and the Lua driver's protocol debug lines
	// ("lua: Calling ...") are not written, as Dovecot's C drivers have none.
	Bundled  bool
	InitArgs map[string]string
	Prepare  func(script string, l *lua.State)
	Inspect  func(script string, l *lua.State)
	// Settings24 marks a script configured with Dovecot 2.4's syntax:
	// script_init gets its lua_settings as a table and its return value is
	// ignored.
	Settings24 bool
}

// State is one prepared Lua state running one script. One goroutine owns it.
type State struct {
	L      *lua.State
	Env    *bindings.Env
	spec   *scriptSpec
	budget Budget

	// What the State hands its modules as their luax.Host: the context
	// and logger of the calls that follow (bind), when their blocking
	// functions must return and their memory budget (arm).
	callCtx   context.Context
	logger    *slog.Logger
	blockedAt time.Time
	mem       *luax.MemBudget

	// The budget of the call in progress.
	instr    int64
	deadline time.Time
	ctx      context.Context
	tripped  string // why the budget ended the call, "" while within it

	// broken is set when the state must not be used again (budget
	// exceeded, Go panic inside a binding).
	broken bool

	// hookFn is s.hook as a value, made once: a method value allocates
	// each time it is taken, and every call sets the hook twice.
	hookFn lua.Hook
	// pending is the push function of the prepare in progress, which
	// runPush runs.
	pending func(l *lua.State)
}

// callFuncsKey is the registry key of a state's table of the Go functions
// every call pushes ([callMessageHandler], [callRunPush]): made once per
// state, pushed from there without allocating a Go closure per call.
var callFuncsKey byte

const (
	callMessageHandler = 1
	callRunPush        = 2
)

// setCallFuncs makes the state's table of callFuncsKey.
func (s *State) setCallFuncs() {
	l := s.L
	l.PushLightUserData(&callFuncsKey)
	l.CreateTable(2, 0)
	l.PushGoFunction(messageHandler)
	l.RawSetInt(-2, callMessageHandler)
	l.PushGoFunction(s.runPush)
	l.RawSetInt(-2, callRunPush)
	l.RawSet(lua.RegistryIndex)
}

// pushCallFunc pushes the function i of the callFuncsKey table.
func (s *State) pushCallFunc(i int) {
	l := s.L
	l.PushLightUserData(&callFuncsKey)
	l.RawGet(lua.RegistryIndex)
	l.RawGetInt(-1, i)
	l.Remove(-2)
}

// runPush runs the pending push of prepare, in protected mode.
func (s *State) runPush(l *lua.State) int {
	lua.CheckStackWithMessage(l, 4, "pushing a call's arguments")
	push := s.pending
	s.pending = nil
	push(l)
	return l.Top()
}

var _ luax.Host = (*State)(nil)

// Context is the context of the calls that follow (luax.Host).
func (s *State) Context() context.Context {
	if s.callCtx == nil {
		return context.Background()
	}
	return s.callCtx
}

// Logger logs for the calls that follow (luax.Host).
func (s *State) Logger() *slog.Logger {
	if s.logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.logger
}

// Deadline is when the blocking functions of the call in progress must
// have returned: a little before the end of its time budget (luax.Host).
func (s *State) Deadline() time.Time { return s.blockedAt }

// Debug is the script's mail_debug (luax.Host).
func (s *State) Debug() bool { return s.spec.Debug }

// HTTP is the client shared by all states (luax.Host).
func (s *State) HTTP() *httpx.Client { return s.spec.HTTP }

// Now is the clock of os.time, os.date and socket.gettime (luax.Host).
func (s *State) Now() time.Time {
	if s.spec.Now == nil {
		return time.Now()
	}
	return s.spec.Now()
}

// Mem is the memory budget of the call in progress (luax.Host); nil
// before the first call.
func (s *State) Mem() *luax.MemBudget { return s.mem }

// readScript reads a script file, with Dovecot's access() error text.
func readScript(path string) ([]byte, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &accessError{path: path, err: err}
	}
	return src, nil
}

// accessError is a script that could not be read, in Dovecot's words
// ("access(path) failed: No such file or directory").
type accessError struct {
	path string
	err  error
}

func (e *accessError) Error() string { return "access(" + e.path + ") failed: " + luax.Strerror(e.err) }

// Unwrap returns the cause without its *fs.PathError (the message names
// the path already): errors.Is(err, fs.ErrNotExist) holds for a missing
// script.
func (e *accessError) Unwrap() error {
	var pe *fs.PathError
	if errors.As(e.err, &pe) {
		return pe.Err
	}
	return e.err
}

// chunkName returns the chunk name of a script: "@path", shortened from the
// front as C Lua does (go-lua would keep the front and cut the end).
func chunkName(path string) string {
	const max = 59 // LUA_IDSIZE - 1
	if len(path) > max {
		return "@..." + path[len(path)-(max-3):]
	}
	return "@" + path
}

// newState builds a state: libraries, sandbox, bindings, then the chunk
// runs. script_init is left to the caller (initScript).
func newState(ctx context.Context, spec *scriptSpec, logger *slog.Logger) (*State, error) {
	env := spec.Env
	env.Script = spec.Path
	env.LogPrefix = spec.LogPrefix
	s := &State{L: lua.NewState(), Env: &env, spec: spec, budget: spec.Budget.withDefaults()}
	s.hookFn = s.hook
	s.setCallFuncs()
	env.Host = s
	s.bind(ctx, logger)
	l := s.L
	lua.OpenLibraries(l)
	s.sandbox()
	stdlib.Open(l, s)
	bindings.Open(l, s.Env)
	if !spec.Bundled {
		// require finds Lua modules beside the script first.
		dir := filepath.Dir(spec.Path)
		l.Global("package")
		l.Field(-1, "path")
		path, _ := l.ToString(-1)
		l.Pop(1)
		l.PushString(filepath.Join(dir, "?.lua") + ";" + filepath.Join(dir, "?", "init.lua") + ";" + path)
		l.SetField(-2, "path")
		l.Pop(1)
	}
	if len(spec.Preload) > 0 {
		for _, m := range spec.Preload {
			luax.Preload(l, m.Name, m.Function)
		}
	}

	if spec.Prepare != nil {
		spec.Prepare(spec.Path, l)
	}
	if spec.Debug && !spec.Bundled {
		logger.Debug(spec.LogPrefix + "Loading " + spec.Path)
	}
	name := chunkName(spec.Path)
	if name != "@"+spec.Path {
		lua.SubTable(l, lua.RegistryIndex, luax.ChunkPaths)
		l.PushString("@" + spec.Path)
		l.SetField(-2, name)
		l.Pop(1)
	}
	if err := lua.LoadBuffer(l, string(spec.Source), name, "bt"); err != nil {
		msg, _ := l.ToString(-1)
		l.Pop(1)
		msg = errlib.ExplainSyntax(spec.Source, msg)
		return nil, &ScriptError{Script: spec.Path, Line: lineOf(spec.Path, msg),
			Message: fmt.Sprintf("lua_load(%s) failed: %s", spec.Path, msg), Err: err}
	}
	if err := s.call(ctx, 0, 0); err != nil {
		return nil, s.scriptError(err, "", fmt.Sprintf("lua_pcall(%s) failed", spec.Path))
	}
	return s, nil
}

// initScript runs script_init() with Dovecot 2.3's rules: it is optional,
// takes no arguments and must return the integer 0. A bundled driver's
// script_init gets its driver arguments as a table (as Dovecot 2.4 hands
// lua_settings) and reports a failure as `return -1, "message"`.
func (s *State) initScript(ctx context.Context) error {
	l := s.L
	if s.spec.Debug && !s.spec.Bundled {
		s.logger.Debug(s.spec.LogPrefix + "Calling script_init")
	}
	// A raw lookup: a script that made _G strict (restrict_global_variables)
	// and has no script_init must not raise here, outside any protected call.
	if !hasFunction(l, "script_init") {
		return nil
	}
	nargs := 0
	if s.spec.Bundled || s.spec.Settings24 {
		nargs = 1
	}
	err := s.invoke(ctx, func(l *lua.State) {
		pushGlobal(l, "script_init")
		if nargs == 1 {
			l.CreateTable(0, len(s.spec.InitArgs))
			for k, v := range s.spec.InitArgs {
				l.PushString(v)
				l.SetField(-2, k)
			}
		}
	}, 2)
	if err != nil {
		return s.scriptError(err, "script_init", fmt.Sprintf("lua_pcall(script_init, %d, 1) failed", nargs))
	}
	defer l.Pop(2)
	if s.spec.Settings24 {
		return nil
	}
	n, ok := l.ToNumber(-2)
	switch {
	case !ok || l.TypeOf(-2) != lua.TypeNumber:
		return &ScriptError{Script: s.spec.Path, Func: "script_init", Message: "script_init() returned non-number"}
	case n != 0:
		if msg, ok := l.ToString(-1); ok && s.spec.Bundled && l.TypeOf(-1) == lua.TypeString {
			return &ScriptError{Script: s.spec.Path, Func: "script_init", Message: msg}
		}
		return &ScriptError{Script: s.spec.Path, Func: "script_init", Message: "Script init failed"}
	}
	return nil
}

// deinit runs script_deinit() if the script defines it; an error is logged
// as Dovecot does.
func (s *State) deinit(ctx context.Context, logger *slog.Logger) {
	if s.broken {
		return
	}
	s.bind(ctx, logger)
	if !hasFunction(s.L, "script_deinit") {
		return
	}
	if err := s.invoke(ctx, func(l *lua.State) { pushGlobal(l, "script_deinit") }, 0); err != nil {
		se := s.scriptError(err, "script_deinit", "lua_pcall(script_deinit, 0, 0) failed")
		logger.Error(s.spec.LogPrefix + "script_deinit() failed: " + se.Error())
	}
}

// bind sets the context and logger of the calls that follow.
func (s *State) bind(ctx context.Context, logger *slog.Logger) {
	s.callCtx, s.logger = ctx, logger
}

// callError is a failed call into Lua.
type callError struct {
	msg    string // the error value with its traceback
	budget bool   // the budget ended the call
}

func (e *callError) Error() string { return e.msg }

func (s *State) scriptError(err error, fn, what string) *ScriptError {
	msg := err.Error()
	m, tb := splitTraceback(msg)
	return &ScriptError{Script: s.spec.Path, Line: lineOf(s.spec.Path, m), Func: fn,
		Message: what + ": " + m, Traceback: tb, Err: err}
}

// messageHandler turns an error value into "msg\nstack traceback:..." like
// lua.c's msghandler, with library functions named as C Lua names them
// (errlib.FixArgErrorName, errlib.Traceback): level 1 is the function that
// raised the error.
func messageHandler(l *lua.State) int {
	errlib.TranslateError(l, 1)
	if f, ok := lua.Stack(l, 1); ok && l.TypeOf(1) == lua.TypeString {
		msg, _ := l.ToString(1)
		if fixed := errlib.FixArgErrorName(l, f, msg); fixed != msg {
			l.PushString(fixed)
			l.Replace(1)
		}
	}
	msg := errlib.ErrorText(l)
	top := l.Top()
	if !traceback(l, msg) {
		// go-lua cannot describe a frame that stopped on its first
		// instruction; keep the message without the traceback.
		l.SetTop(top)
		l.PushString(msg)
	}
	return 1
}

func traceback(l *lua.State, msg string) bool {
	tb, ok := errlib.Traceback(l, msg, 1)
	if ok {
		l.PushString(tb)
	}
	return ok
}

// invoke calls a function with arguments, both pushed by push, which runs
// in protected mode first: a push that raises (a value nested too deep, a
// stack that cannot grow, a metamethod) fails this call only. Then the
// function runs as call runs it, leaving nresults results.
func (s *State) invoke(ctx context.Context, push func(l *lua.State), nresults int) error {
	nargs, err := s.prepare(push)
	if err != nil {
		return err
	}
	return s.call(ctx, nargs, nresults)
}

// prepare runs push in protected mode, leaving what it pushed (a function
// and its arguments) on the stack, and returns the number of arguments.
// On failure the stack is as before and the error is a *callError.
func (s *State) prepare(push func(l *lua.State)) (nargs int, err error) {
	l := s.L
	base := l.Top()
	defer func() {
		if r := recover(); r != nil {
			// A Go panic that go-lua did not turn into a Lua error (it
			// recovers error values only): the state may be inconsistent.
			s.broken = true
			nargs, err = 0, &callError{msg: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	s.pending = push
	s.pushCallFunc(callRunPush)
	if e := l.ProtectedCall(0, lua.MultipleReturns, 0); e != nil {
		s.pending = nil
		msg, _ := l.ToString(-1)
		l.SetTop(base)
		if re, ok := e.(goruntime.Error); ok {
			s.broken = true
			msg = "internal error: " + re.Error()
		}
		return 0, &callError{msg: msg}
	}
	return l.Top() - base - 1, nil
}

// call calls the function below the nargs arguments on the stack in
// protected mode, under the budget, leaving nresults results. On failure it
// returns a *callError whose message carries the traceback.
func (s *State) call(ctx context.Context, nargs, nresults int) (err error) {
	l := s.L
	fn := l.Top() - nargs
	s.pushCallFunc(callMessageHandler)
	l.Insert(fn)
	s.arm(ctx)
	defer func() {
		s.disarm()
		if r := recover(); r != nil {
			// A Go panic that go-lua did not turn into a Lua error: the
			// state may be inconsistent, so it is discarded.
			s.broken = true
			err = &callError{msg: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	if e := l.ProtectedCall(nargs, nresults, fn); e != nil {
		msg, _ := l.ToString(-1)
		l.SetTop(fn - 1)
		if re, ok := e.(goruntime.Error); ok {
			// A Go runtime error inside go-lua or a binding: the error
			// value on the stack is not reliable and neither is the state.
			s.broken = true
			msg = "internal error: " + re.Error()
		}
		ce := &callError{msg: msg}
		if s.tripped != "" {
			ce.budget = true
			s.broken = true
		}
		return ce
	}
	l.Remove(fn)
	return nil
}

func (s *State) arm(ctx context.Context) {
	s.ctx = ctx
	s.instr = 0
	s.tripped = ""
	s.deadline = time.Now().Add(s.budget.Timeout)
	// Blocking calls (HTTP, DNS, connect, TLS, socket.sleep) end a little
	// before the budget does, so the script can handle their timeout.
	block := s.deadline.Add(-blockingReserve(s.budget.Timeout))
	s.blockedAt = block
	if s.mem == nil {
		s.mem = &luax.MemBudget{Limit: s.budget.Memory, OnExceed: s.memoryExceeded}
	}
	s.mem.Reset()
	lua.SetDebugHook(s.L, s.hookFn, lua.MaskCount, hookEvery)
}

// blockingReserve is how long before the end of a call's time budget its
// blocking functions give up: a twentieth of the budget, at most 100 ms.
func blockingReserve(timeout time.Duration) time.Duration {
	return min(timeout/20, 100*time.Millisecond)
}

// Check is the library's check of the time budget and the context from
// inside a function that runs long without returning to the VM
// (luax.Host.Check): an error once the call is over either, which then
// ends it as the hook would.
func (s *State) Check() error {
	if s.mem == nil {
		// Not armed yet: code a Prepare hook runs before the first call
		// has no budget to check.
		return nil
	}
	if s.tripped == "" {
		if s.tripped = s.overTime(); s.tripped == "" {
			return nil
		}
		lua.SetDebugHook(s.L, s.hookFn, lua.MaskCount, 1)
	}
	return errors.New(s.tripped)
}

// overTime says why the call is over its time budget or canceled, or "".
func (s *State) overTime() string {
	switch {
	case time.Now().After(s.deadline):
		return fmt.Sprintf("pushlua: call exceeded its time budget of %s", s.budget.Timeout)
	case s.ctx != nil && s.ctx.Err() != nil:
		return "pushlua: call canceled: " + s.ctx.Err().Error()
	}
	return ""
}

// memoryExceeded is told by the library when a function would have gone
// over the memory budget; the function raises the error itself. As with
// the other budgets, the call then ends at the next instruction even if
// the script caught the error.
func (s *State) memoryExceeded(msg string) {
	if s.tripped == "" {
		s.tripped = msg
		lua.SetDebugHook(s.L, s.hookFn, lua.MaskCount, 1)
	}
}

func (s *State) disarm() {
	lua.SetDebugHook(s.L, nil, 0, 0)
	s.ctx = nil
}

// hook enforces the budget. Once it has tripped it fires at every
// instruction, so a script's own pcall cannot catch the error for long: the
// first instruction after the pcall raises it again.
func (s *State) hook(l *lua.State, _ lua.Debug) {
	if s.tripped == "" {
		s.instr += hookEvery
		if s.instr > s.budget.Instructions {
			s.tripped = fmt.Sprintf("pushlua: call exceeded its budget of %d instructions", s.budget.Instructions)
		} else if s.tripped = s.overTime(); s.tripped == "" {
			return
		}
		lua.SetDebugHook(l, s.hookFn, lua.MaskCount, 1)
	}
	// Level 0 is the Lua function running when the hook fired: the error
	// points at the line the script was executing.
	l.PushString(currentLine(l) + s.tripped)
	l.Error()
}

// currentLine returns "file:line: " of the running Lua function, or of its
// definition when go-lua cannot tell the current line (it fails on a tight
// loop's single instruction), or "".
func currentLine(l *lua.State) string {
	f, ok := lua.Stack(l, 0)
	if !ok {
		return ""
	}
	if line := frameLine(l, f); line > 0 {
		if d, ok := lua.Info(l, "S", f); ok {
			return fmt.Sprintf("%s:%d: ", d.ShortSource, line)
		}
	}
	if d, ok := lua.Info(l, "S", f); ok && d.LineDefined > 0 {
		return fmt.Sprintf("%s:%d: ", d.ShortSource, d.LineDefined)
	}
	return ""
}

func frameLine(l *lua.State, f lua.Frame) (line int) {
	defer func() {
		if recover() != nil {
			line = 0
		}
	}()
	d, _ := lua.Info(l, "l", f)
	return d.CurrentLine
}

// sandbox replaces the standard functions a script must not use in a
// long-running engine: os.exit cannot end the process, print logs at Info,
// os.execute and io.popen are off unless allowed.
func (s *State) sandbox() {
	l := s.L
	l.Register("print", func(l *lua.State) int {
		n := l.Top()
		parts := make([]string, n)
		for i := 1; i <= n; i++ {
			parts[i-1], _ = lua.ToStringMeta(l, i)
			l.Pop(1)
		}
		s.logger.Info(strings.Join(parts, "\t"))
		return 0
	})
	deny := func(lib, fn, why string) {
		l.Global(lib)
		l.PushGoFunction(func(l *lua.State) int {
			lua.Errorf(l, "%s.%s is not allowed in pushlua%s", lib, fn, why)
			return 0
		})
		l.SetField(-2, fn)
		l.Pop(1)
	}
	deny("os", "exit", " (a script cannot end the engine)")
	if !s.spec.AllowExec {
		deny("os", "execute", " (set pushlua_allow_exec = yes to allow it)")
		deny("io", "popen", " (set pushlua_allow_exec = yes to allow it)")
	}
}
