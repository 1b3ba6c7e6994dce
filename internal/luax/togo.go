package luax

import (
	"fmt"
	"slices"

	lua "github.com/Shopify/go-lua"
)

// MaxDepth bounds how deep tables nest in Push (deeper values raise a Lua
// error) and in ToGo (deeper tables become "<table: too deep>", as cyclic
// ones do).
const MaxDepth = 64

// ToGo converts the Lua value at index to Go: nil, bool, float64, string;
// a table whose keys are exactly 1..n becomes []any (an empty table too),
// any other table map[string]any (keys converted with fmt, non-string and
// non-number keys skipped). Functions, userdata and threads become the
// string "<type>". Metamethods are not consulted. ToGo never raises.
func ToGo(l *lua.State, index int) any {
	return toGo(l, l.AbsIndex(index), 0)
}

func toGo(l *lua.State, index, depth int) any {
	switch l.TypeOf(index) {
	case lua.TypeNil, lua.TypeNone:
		return nil
	case lua.TypeBoolean:
		return l.ToBoolean(index)
	case lua.TypeNumber:
		n, _ := l.ToNumber(index)
		return n
	case lua.TypeString:
		s, _ := l.ToString(index)
		return s
	case lua.TypeTable:
		// The traversal holds a key and a value per level; a stack that
		// cannot grow is treated as too deep, without raising.
		if depth >= MaxDepth || !l.CheckStack(3) {
			return "<table: too deep>"
		}
		return tableToGo(l, index, depth)
	default:
		return "<" + lua.TypeNameOf(l, index) + ">"
	}
}

func tableToGo(l *lua.State, index, depth int) any {
	m := map[string]any{}
	var ints []int
	allInts := true
	for l.PushNil(); l.Next(index); l.Pop(1) {
		var key string
		switch l.TypeOf(-2) {
		case lua.TypeString:
			key, _ = l.ToString(-2)
			allInts = false
		case lua.TypeNumber:
			n, _ := l.ToNumber(-2)
			if n >= 1 && n == float64(int(n)) {
				ints = append(ints, int(n))
			} else {
				allInts = false
			}
			key = fmt.Sprint(n)
		default:
			continue
		}
		m[key] = toGo(l, l.AbsIndex(-1), depth+1)
	}
	if allInts {
		slices.Sort(ints)
		seq := true
		for i, n := range ints {
			if n != i+1 {
				seq = false
				break
			}
		}
		if seq {
			out := make([]any, len(ints))
			for i := range ints {
				out[i] = m[fmt.Sprint(float64(i+1))]
			}
			return out
		}
	}
	return m
}
