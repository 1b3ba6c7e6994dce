package luax

import (
	"fmt"
	"slices"

	lua "github.com/Shopify/go-lua"
)

// MaxDepth bounds ToGo's recursion (cyclic or absurdly deep tables).
const MaxDepth = 64

// ToGo converts the Lua value at index to Go: nil, bool, float64, string;
// a table whose keys are exactly 1..n becomes []any (an empty table too),
// any other table map[string]any (keys converted with fmt, non-string and
// non-number keys skipped). Functions, userdata and threads become the
// string "<type>". Metamethods are not consulted.
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
		if depth >= MaxDepth {
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
