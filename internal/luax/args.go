package luax

// Argument checks of the Lua library functions, with the function named as
// C Lua names it: go-lua's lua.ArgumentError names every Go function '?',
// so each function passes its own Lua name.

import (
	"fmt"
	"math"
	"strconv"

	lua "github.com/Shopify/go-lua"
)

// FormatNumber formats n as Lua 5.2 (and go-lua) does: %.14g.
func FormatNumber(n float64) string {
	return strconv.FormatFloat(n, 'g', 14, 64)
}

// ArgError raises `<where>bad argument #<arg> to '<fname>' (<extra>)`
// like luaL_argerror.
func ArgError(l *lua.State, arg int, fname, extra string) {
	RaiseWhere(l, fmt.Sprintf("bad argument #%d to '%s' (%s)", arg, fname, extra))
}

// TypeError raises luaL_typeerror's `<want> expected, got <type>`.
func TypeError(l *lua.State, arg int, fname, want string) {
	got := lua.TypeNameOf(l, arg)
	if lua.MetaField(l, arg, "__name") {
		if l.TypeOf(-1) == lua.TypeString {
			got, _ = l.ToString(-1)
		}
		l.Pop(1)
	}
	ArgError(l, arg, fname, want+" expected, got "+got)
}

// CheckString is luaL_checkstring: a string, or a number converted to one.
func CheckString(l *lua.State, arg int, fname string) string {
	s, ok := l.ToString(arg)
	if !ok {
		TypeError(l, arg, fname, "string")
	}
	return s
}

// OptString is luaL_optstring.
func OptString(l *lua.State, arg int, fname, def string) string {
	if l.IsNoneOrNil(arg) {
		return def
	}
	return CheckString(l, arg, fname)
}

// CheckInteger is Lua 5.3's luaL_checkinteger: a number, or a string
// convertible to one, with an exact integer value (go-lua's CheckInteger
// would truncate 1.5).
func CheckInteger(l *lua.State, arg int, fname string) int64 {
	n, ok := l.ToNumber(arg)
	if !ok {
		TypeError(l, arg, fname, "number")
	}
	i, ok := FloatToInteger(n)
	if !ok {
		ArgError(l, arg, fname, "number has no integer representation")
	}
	return i
}

// OptInteger is luaL_optinteger.
func OptInteger(l *lua.State, arg int, fname string, def int64) int64 {
	if l.IsNoneOrNil(arg) {
		return def
	}
	return CheckInteger(l, arg, fname)
}

// FloatToInteger converts n to an integer when Lua 5.3 could: it is integral
// and within the range of a 64-bit integer.
func FloatToInteger(n float64) (int64, bool) {
	if n != math.Trunc(n) || n < -(1<<63) || n >= 1<<63 {
		return 0, false
	}
	return int64(n), true
}

// TruncInteger is Lua 5.2's (and go-lua's) conversion of a number argument
// to an integer: truncated towards zero (2.5 is 2, where Lua 5.3 would
// fail), NaN as 0, clamped to ±2^62.
func TruncInteger(n float64) int64 {
	switch {
	case math.IsNaN(n):
		return 0
	case n >= 1<<62:
		return 1 << 62
	case n <= -(1 << 62):
		return -(1 << 62)
	}
	return int64(n)
}

// RelativePosition is lstrlib's posrelat: a negative position counts from
// the end of a string of length n; one before the start becomes 0.
func RelativePosition(pos int64, n int) int64 {
	switch {
	case pos >= 0:
		return pos
	case -pos > int64(n):
		return 0
	default:
		return int64(n) + pos + 1
	}
}
