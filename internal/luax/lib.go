package luax

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"

	lua "github.com/Shopify/go-lua"
)

// Preload registers a module opener under name in package.preload, where
// require finds it: the one way bindings, stdlib and the runtime make a
// module loadable.
func Preload(l *lua.State, name string, open lua.Function) {
	lua.SubTable(l, lua.RegistryIndex, "_PRELOAD")
	l.PushGoFunction(open)
	l.SetField(-2, name)
	l.Pop(1)
}

// GlobalTable pushes the global table name (a library such as math or
// os), first making it an empty table when it is not one, and reports
// whether it did.
func GlobalTable(l *lua.State, name string) (created bool) {
	l.Global(name)
	if l.IsTable(-1) {
		return false
	}
	l.Pop(1)
	l.NewTable()
	l.PushValue(-1)
	l.SetGlobal(name)
	return true
}

// RaiseWhere raises msg with the position of the Lua code that called the
// running Go function, like luaL_error (and error(msg, 2) in a Lua module);
// unlike lua.Errorf it does not interpret % in msg. It never returns.
func RaiseWhere(l *lua.State, msg string) {
	lua.Where(l, 1)
	l.PushString(msg)
	l.Concat(2)
	l.Error()
}

// NewMetaTable pushes the metatable registered under name (creating it),
// with the functions set in it as closures over the nup values on top of
// the stack (which it pops), __index pointing to the metatable itself and
// __name holding name: a class of Lua objects whose methods are the
// functions.
func NewMetaTable(l *lua.State, name string, funcs []lua.RegistryFunction, nup int) {
	lua.NewMetaTable(l, name)
	if nup > 0 {
		l.Insert(-(nup + 1))
	}
	lua.SetFunctions(l, funcs, uint8(nup))
	l.PushValue(-1)
	l.SetField(-2, "__index")
	l.PushString(name)
	l.SetField(-2, "__name")
}

// CString cuts s at its first NUL, as a C string (Dovecot seeing a Lua
// string through one) would end there.
func CString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// Strerror renders err as C's strerror would: the text of its errno with
// the first letter capitalised ("No such file or directory"), the error
// under an *fs.PathError, or err's own text.
func Strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg := errno.Error()
		if msg != "" && 'a' <= msg[0] && msg[0] <= 'z' {
			msg = string(msg[0]-'a'+'A') + msg[1:]
		}
		return msg
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
