package mathlib

// The Lua 5.3 additions to the math table: math.type, math.tointeger,
// math.ult, math.maxinteger and math.mininteger, and the two-argument
// math.atan.
//
// go-lua has one number type, float64, so the integer subtype of Lua 5.3 is
// emulated from the value: a finite number with an integral value within the
// range of a 64-bit integer is an "integer". Note that real Dovecot on Lua
// 5.4 pushes its numbers (uid, date...) as floats, where math.type says
// "float"; here they are integral, so they say "integer". What scripts do
// with math.type is mostly to check that a value is a whole number (before
// string.format("%d") or an array index), which this answers right.
//
// math.maxinteger and math.mininteger are ±(2^53 - 1), the largest integers
// below which every integer is exact in a float64; ±2^63 would round
// maxinteger up to 2^63, which is not an integer (math.type would say
// "float", string.format("%d") would overflow, and maxinteger + 1 ==
// maxinteger). Scripts use them as "larger/smaller than any count" bounds,
// which holds for every exact integer here.

import (
	"math"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

const (
	mathMaxInteger = 1<<53 - 1
	mathMinInteger = -(1<<53 - 1)
)

var mathLibrary = []lua.RegistryFunction{
	{Name: "atan", Function: mathAtan},
	{Name: "tointeger", Function: mathToInteger},
	{Name: "type", Function: mathType},
	{Name: "ult", Function: mathUlt},
}

// Open adds the Lua 5.3 functions and constants to the global math
// table.
func Open(l *lua.State, _ luax.Host) {
	luax.GlobalTable(l, "math")
	lua.SetFunctions(l, mathLibrary, 0)
	l.PushNumber(mathMaxInteger)
	l.SetField(-2, "maxinteger")
	l.PushNumber(mathMinInteger)
	l.SetField(-2, "mininteger")
	// go-lua sets math.huge to the largest finite float; Lua's is HUGE_VAL.
	l.PushNumber(math.Inf(1))
	l.SetField(-2, "huge")
	l.Pop(1)
}

// mathType is math.type(x): "integer", "float", or nil when x is not a
// number (strings included, as in Lua).
func mathType(l *lua.State) int {
	if l.TypeOf(1) != lua.TypeNumber {
		if l.TypeOf(1) == lua.TypeNone {
			luax.ArgError(l, 1, "type", "value expected")
		}
		l.PushNil()
		return 1
	}
	n, _ := l.ToNumber(1)
	if _, ok := luax.FloatToInteger(n); ok {
		l.PushString("integer")
	} else {
		l.PushString("float")
	}
	return 1
}

// mathToInteger is math.tointeger(x): x as an integer when it is a number or
// a string convertible to one with an integral value, otherwise nil.
func mathToInteger(l *lua.State) int {
	if l.TypeOf(1) == lua.TypeNone {
		luax.ArgError(l, 1, "tointeger", "value expected")
	}
	var n float64
	ok := false
	if t := l.TypeOf(1); t == lua.TypeNumber || t == lua.TypeString {
		n, ok = l.ToNumber(1)
	}
	if i, isInt := luax.FloatToInteger(n); ok && isInt {
		l.PushNumber(float64(i))
	} else {
		l.PushNil()
	}
	return 1
}

// mathUlt is math.ult(m, n): whether m < n as unsigned 64-bit integers.
func mathUlt(l *lua.State) int {
	m := luax.CheckInteger(l, 1, "ult")
	n := luax.CheckInteger(l, 2, "ult")
	l.PushBoolean(uint64(m) < uint64(n))
	return 1
}

// mathAtan is Lua 5.3's math.atan(y [, x]), which absorbed math.atan2.
func mathAtan(l *lua.State) int {
	y := checkNumberArg(l, 1, "atan")
	x := 1.0
	if !l.IsNoneOrNil(2) {
		x = checkNumberArg(l, 2, "atan")
	}
	l.PushNumber(math.Atan2(y, x))
	return 1
}

// checkNumberArg is luaL_checknumber.
func checkNumberArg(l *lua.State, arg int, fname string) float64 {
	n, ok := l.ToNumber(arg)
	if !ok {
		luax.TypeError(l, arg, fname, "number")
	}
	return n
}
