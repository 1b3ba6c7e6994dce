package luax

import lua "github.com/Shopify/go-lua"

// Interned is a fixed list of strings kept in each Lua state's registry,
// so that the tables built for every transaction (the event table, the
// mail_user object, a mailbox status) take their keys, and their most
// common values, from there: go-lua boxes a Go string each time it is
// pushed (twice for a SetField key), and a pushed Lua string is a copy of
// the boxed one.
type Interned struct {
	Strs []string
}

// Push pushes the state's table of the strings (1-based, in order),
// making it on first use.
func (in *Interned) Push(l *lua.State) {
	l.PushLightUserData(in)
	l.RawGet(lua.RegistryIndex)
	if l.IsTable(-1) {
		return
	}
	l.Pop(1)
	l.CreateTable(len(in.Strs), 0)
	for i, s := range in.Strs {
		l.PushString(s)
		l.RawSetInt(-2, i+1)
	}
	l.PushLightUserData(in)
	l.PushValue(-2)
	l.RawSet(lua.RegistryIndex)
}
