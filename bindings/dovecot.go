package bindings

import (
	"fmt"
	"log/slog"
	"math"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

// dovecotMethods is the registration table of the "dovecot" metatable, in
// Dovecot's order (lua_dovecot_methods in dlua-dovecot.c). The functions
// live in the metatable, not in the dovecot table; they reach the Env
// through upvalue 1.
var dovecotMethods = []lua.RegistryFunction{
	{Name: "i_debug", Function: dovecotIDebug},
	{Name: "i_info", Function: dovecotIInfo},
	{Name: "i_warning", Function: dovecotIWarning},
	{Name: "i_error", Function: dovecotIError},
	{Name: "event", Function: newEvent},
	{Name: "has_flag", Function: dovecotHasFlag},
	{Name: "set_flag", Function: dovecotSetFlag},
	{Name: "clear_flag", Function: dovecotClearFlag},
	{Name: "restrict_global_variables", Function: dovecotRestrictGlobalVariables},
}

// strictGlobalsMethods is the registration table of the _G metatable that
// dovecot.restrict_global_variables(true) installs.
var strictGlobalsMethods = []lua.RegistryFunction{
	{Name: "__index", Function: strictGlobalIndex},
	{Name: "__newindex", Function: strictGlobalNewIndex},
}

// openDovecot sets the dovecot global (spec §5.1): a table with no raw
// fields of its own (storage and http are added later), whose metatable is
// registered as "dovecot", holds the functions, __name and an __index that
// points to the metatable itself.
func openDovecot(l *lua.State, env *Env) {
	l.NewTable()
	l.PushUserData(env)
	luax.NewMetaTable(l, "dovecot", dovecotMethods, 1)
	l.SetMetaTable(-2)
	l.SetGlobal("dovecot")
}

// dovecotEnv returns the Env a dovecot function was registered with.
func dovecotEnv(l *lua.State) *Env {
	env, _ := l.ToUserData(lua.UpValueIndex(1)).(*Env)
	if env == nil {
		env = &Env{}
	}
	return env
}

// dovecotLog is i_debug, i_info, i_warning and i_error: exactly one string
// or number, logged with the user's prefix and no "lua: ". Debug is
// unconditional, as i_debug is in Dovecot 2.3.
func dovecotLog(l *lua.State, fname string, level slog.Level) int {
	luax.RequireArgs(l, 1)
	msg := luaCheckString(l, 1, fname, false)
	env := dovecotEnv(l)
	env.logger().Log(env.ctx(), level, msg)
	return 0
}

func dovecotIDebug(l *lua.State) int   { return dovecotLog(l, "i_debug", slog.LevelDebug) }
func dovecotIInfo(l *lua.State) int    { return dovecotLog(l, "i_info", slog.LevelInfo) }
func dovecotIWarning(l *lua.State) int { return dovecotLog(l, "i_warning", slog.LevelWarn) }
func dovecotIError(l *lua.State) int   { return dovecotLog(l, "i_error", slog.LevelError) }

// dovecotFlagArgs checks the two integer arguments of the flag helpers.
func dovecotFlagArgs(l *lua.State, fname string) (value, flag int64) {
	luax.RequireArgs(l, 2)
	return luaCheckInteger(l, 1, fname, false), luaCheckInteger(l, 2, fname, false)
}

func dovecotHasFlag(l *lua.State) int {
	value, flag := dovecotFlagArgs(l, "has_flag")
	l.PushBoolean(value&flag == flag)
	return 1
}

func dovecotSetFlag(l *lua.State) int {
	value, flag := dovecotFlagArgs(l, "set_flag")
	l.PushNumber(float64(value | flag))
	return 1
}

func dovecotClearFlag(l *lua.State) int {
	value, flag := dovecotFlagArgs(l, "clear_flag")
	l.PushNumber(float64(value &^ flag))
	return 1
}

// dovecotRestrictGlobalVariables sets _G's metatable: the strict one for a
// true value, an empty table otherwise.
func dovecotRestrictGlobalVariables(l *lua.State) int {
	luax.RequireArgs(l, 1)
	restrict := l.ToBoolean(1)
	l.Global("_G")
	l.NewTable()
	if restrict {
		lua.SetFunctions(l, strictGlobalsMethods, 0)
	}
	l.SetMetaTable(-2)
	l.Pop(1)
	return 0
}

// strictGlobalIndex raises on reading an undeclared global. The message is
// Dovecot's, wording included.
func strictGlobalIndex(l *lua.State) int {
	luax.RequireArgs(l, 2)
	name := luaCheckString(l, 2, "index", false)
	luax.Raise(l, "attempt to write to read undeclared global variable %s", name)
	return 0
}

// strictGlobalNewIndex lets a script define global functions and raises on
// any other new global.
func strictGlobalNewIndex(l *lua.State) int {
	luax.RequireArgs(l, 3)
	if l.TypeOf(3) == lua.TypeFunction {
		l.RawSet(1)
		return 0
	}
	name := luaCheckString(l, 2, "newindex", false)
	luax.Raise(l, "attempt to write to undeclared global variable %s", name)
	return 0
}

// Argument checks with Lua 5.4's messages. go-lua cannot name the called
// function in `bad argument` errors (its Info "n" reads the instruction
// after the call, so every name comes out as '?'), so each binding passes
// its own Lua name, and whether scripts call it as a method (obj:f(...)),
// in which case Lua does not count self in the argument number.

// luaArgError raises `<file>:<line>: bad argument #<n> to '<fname>'
// (<extra>)` like luaL_argerror.
func luaArgError(l *lua.State, arg int, fname string, method bool, extra string) {
	if method {
		arg--
		if arg == 0 {
			luax.RaiseWhere(l, fmt.Sprintf("calling '%s' on bad self (%s)", fname, extra))
		}
	}
	luax.RaiseWhere(l, fmt.Sprintf("bad argument #%d to '%s' (%s)", arg, fname, extra))
}

// luaTypeError raises luaL_typeerror's `<want> expected, got <type>`; the
// type is the value's metatable __name when it has one, as in Lua 5.4.
func luaTypeError(l *lua.State, arg int, fname string, method bool, want string) {
	got := lua.TypeNameOf(l, arg)
	if lua.MetaField(l, arg, "__name") {
		if l.TypeOf(-1) == lua.TypeString {
			got, _ = l.ToString(-1)
		}
		l.Pop(1)
	}
	luaArgError(l, arg, fname, method, want+" expected, got "+got)
}

// luaCheckString is luaL_checkstring: a string, or a number converted to
// one.
func luaCheckString(l *lua.State, arg int, fname string, method bool) string {
	if s, ok := l.ToValue(arg).(string); ok {
		return s // l.ToString would box s again to store it back
	}
	s, ok := l.ToString(arg)
	if !ok {
		luaTypeError(l, arg, fname, method, "string")
	}
	return s
}

// luaCheckInteger is Lua 5.4's luaL_checkinteger: a number, or a string
// convertible to one, with an exact integer value. go-lua's CheckInteger
// would truncate 1.5; this raises `number has no integer representation`.
func luaCheckInteger(l *lua.State, arg int, fname string, method bool) int64 {
	n, ok := l.ToNumber(arg)
	if !ok {
		luaTypeError(l, arg, fname, method, "number")
	}
	if n != math.Trunc(n) || n < -(1<<63) || n >= 1<<63 {
		luaArgError(l, arg, fname, method, "number has no integer representation")
	}
	return int64(n)
}
