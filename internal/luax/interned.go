package luax

import (
	"sync"

	lua "github.com/Shopify/go-lua"
)

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

// The strings of PushName: each string gets an index for the life of
// the process, the same in every state; a state keeps the Lua strings in
// a table in its registry (under &stringsKey) at those indexes.
var (
	stringsMu  sync.RWMutex
	stringsIdx = map[string]int{}
	stringsKey byte
)

// PushName pushes s as l.PushString does, without boxing it anew after
// the first time in this state: for the names the bindings look up on
// every call (an object's metatable name, "item", a field of an argument
// table). s should be one of a few fixed strings: they are kept for good.
func PushName(l *lua.State, s string) {
	stringsMu.RLock()
	i, ok := stringsIdx[s]
	stringsMu.RUnlock()
	if !ok {
		stringsMu.Lock()
		if i, ok = stringsIdx[s]; !ok {
			i = len(stringsIdx) + 1
			stringsIdx[s] = i
		}
		stringsMu.Unlock()
	}
	l.PushLightUserData(&stringsKey)
	l.RawGet(lua.RegistryIndex)
	if !l.IsTable(-1) {
		l.Pop(1)
		l.NewTable()
		l.PushLightUserData(&stringsKey)
		l.PushValue(-2)
		l.RawSet(lua.RegistryIndex)
	}
	l.RawGetInt(-1, i)
	if l.IsNil(-1) {
		l.Pop(1)
		l.PushString(s)
		l.PushValue(-1)
		l.RawSetInt(-3, i)
	}
	l.Remove(-2)
}

// Field is l.Field(index, k) with k pushed by PushName.
func Field(l *lua.State, index int, k string) {
	index = l.AbsIndex(index)
	PushName(l, k)
	l.Table(index)
}

// MetaTableNamed pushes the metatable registered under name (nil if
// none), as lua.MetaTableNamed does.
func MetaTableNamed(l *lua.State, name string) {
	PushName(l, name)
	l.RawGet(lua.RegistryIndex)
}

// SetMetaTableNamed sets the metatable registered under name on the
// value at the top of the stack, as lua.SetMetaTableNamed does.
func SetMetaTableNamed(l *lua.State, name string) {
	MetaTableNamed(l, name)
	l.SetMetaTable(-2)
}
