// Package luax holds small helpers over github.com/Shopify/go-lua that the
// bindings, the stdlib modules and the runtime share: Dovecot-style errors
// without a position prefix, argument-count checks, wrapped objects
// ({item=userdata} tables with a named metatable), and conversion of Go
// values to Lua.
package luax

import (
	"fmt"
	"slices"

	lua "github.com/Shopify/go-lua"
)

// Raise raises a Lua error with the formatted message and no `file:line:`
// prefix, like Dovecot's dluaL_error. It never returns.
func Raise(l *lua.State, format string, args ...any) {
	l.PushString(fmt.Sprintf(format, args...))
	l.Error()
	panic("unreachable")
}

// RequireArgs raises `expected <n> arguments, got <m>` unless the function
// got exactly n arguments (DLUA_REQUIRE_ARGS).
func RequireArgs(l *lua.State, n int) {
	if got := l.Top(); got != n {
		Raise(l, "expected %d arguments, got %d", n, got)
	}
}

// RequireArgsIn raises `expected <x> to <y> arguments, got <m>` unless the
// function got between x and y arguments (DLUA_REQUIRE_ARGS_IN).
func RequireArgsIn(l *lua.State, x, y int) {
	if got := l.Top(); got < x || got > y {
		Raise(l, "expected %d to %d arguments, got %d", x, y, got)
	}
}

// Object describes a kind of wrapped object: a Lua table with an `item`
// field holding a userdata, and a metatable registered under Name (for
// example "struct mail_user") whose __index is the metatable itself.
type Object struct {
	Name    string
	Methods []lua.RegistryFunction
}

// Register creates the metatable in the registry. Methods go into the
// metatable, __index points to it and __name holds the name.
func (o *Object) Register(l *lua.State) {
	NewMetaTable(l, o.Name, o.Methods, 0)
	l.Pop(1)
}

// Push pushes a new object table {item=<userdata holding item>} with the
// registered metatable. The caller may set more fields on it.
func (o *Object) Push(l *lua.State, item any) {
	l.CreateTable(0, 4)
	PushName(l, "item")
	l.PushUserData(item)
	l.RawSet(-3)
	SetMetaTableNamed(l, o.Name)
}

// Check returns the item of the object at index, raising Dovecot's
// `Bad argument #<n>, expected <name> got <type>` when the value is not such
// an object.
func (o *Object) Check(l *lua.State, index int) any {
	if item, ok := o.Test(l, index); ok {
		return item
	}
	Raise(l, "Bad argument #%d, expected %s got %s", index, o.Name, lua.TypeNameOf(l, index))
	return nil
}

// Test returns the item of the object at index and whether it is one.
func (o *Object) Test(l *lua.State, index int) (any, bool) {
	if !l.IsTable(index) || !l.MetaTable(index) {
		return nil, false
	}
	MetaTableNamed(l, o.Name)
	same := l.RawEqual(-1, -2)
	l.Pop(2)
	if !same {
		return nil, false
	}
	Field(l, index, "item")
	item := l.ToUserData(-1)
	l.Pop(1)
	return item, item != nil
}

// Push pushes a Go value: nil, bool, string, the numeric kinds (as Lua
// numbers), []string, []any and map[string]any (as tables, keys in sorted
// order). Other values are pushed as their fmt %v string.
//
// Push makes room on the Lua stack for every level it descends (the stack
// does not grow by itself) and refuses values whose tables nest deeper than
// MaxDepth: both raise a Lua error, so Push must run inside a protected call
// (a Go function called from Lua, or one started with ProtectedCall).
func Push(l *lua.State, v any) {
	push(l, v, 0)
}

func push(l *lua.State, v any, depth int) {
	switch v := v.(type) {
	case nil:
		l.PushNil()
	case bool:
		l.PushBoolean(v)
	case string:
		l.PushString(v)
	case float64:
		l.PushNumber(v)
	case int:
		l.PushNumber(float64(v))
	case int64:
		l.PushNumber(float64(v))
	case uint32:
		l.PushNumber(float64(v))
	case uint64:
		l.PushNumber(float64(v))
	case []string:
		PushStrings(l, v)
	case []any:
		enter(l, depth)
		l.CreateTable(len(v), 0)
		for i, x := range v {
			push(l, x, depth+1)
			l.RawSetInt(-2, i+1)
		}
	case map[string]any:
		enter(l, depth)
		l.CreateTable(0, len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if v[k] == nil {
				continue
			}
			push(l, v[k], depth+1)
			l.SetField(-2, k)
		}
	default:
		l.PushString(fmt.Sprint(v))
	}
}

// enter checks, before a table at depth (0 for the outermost) is pushed,
// that it is within MaxDepth and that the stack has room for it and for
// one value inside it.
func enter(l *lua.State, depth int) {
	if depth >= MaxDepth {
		Raise(l, "value nested deeper than %d levels", MaxDepth)
	}
	lua.CheckStackWithMessage(l, 2, "pushing a nested value")
}

// PushStrings pushes an array table of strings ({} for none). Like Push, it
// raises a Lua error when the stack cannot grow.
func PushStrings(l *lua.State, s []string) {
	lua.CheckStackWithMessage(l, 2, "pushing a string list")
	l.CreateTable(len(s), 0)
	for i, x := range s {
		l.PushString(x)
		l.RawSetInt(-2, i+1)
	}
}

// ChunkPaths is the registry field of the table that maps a shortened
// chunk name ("@..." and the end of the path, as C Lua prints it) to the
// script's whole one ("@" and the path): debug.getinfo gives the whole
// one, as C Lua's does.
const ChunkPaths = "pushlua.chunkpaths"
