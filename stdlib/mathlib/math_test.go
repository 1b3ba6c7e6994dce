package mathlib

import (
	"testing"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/errlib"
	"github.com/pushlua/pushlua/stdlib/internal/stdtest"
	"github.com/pushlua/pushlua/stdlib/oslib"
	"github.com/pushlua/pushlua/stdlib/utf8lib"
)

func TestMathFunctions(t *testing.T) {
	tests := []struct{ chunk, want string }{
		{`return math.type(1)`, "integer"},
		{`return math.type(-0.0)`, "integer"},
		{`return math.type(2^53)`, "integer"},
		{`return math.type(-2^63)`, "integer"},
		{`return math.type(2^63)`, "float"},
		{`return math.type(1.5)`, "float"},
		{`return math.type(1/0)`, "float"},
		{`return math.type(0/0)`, "float"},
		{`return math.type("1")`, "nil"},
		{`return math.type(nil)`, "nil"},
		{`return math.type({})`, "nil"},
		{`return math.tointeger(3)`, "3"},
		{`return math.tointeger(3.0)`, "3"},
		{`return math.tointeger(3.5)`, "nil"},
		{`return math.tointeger("8")`, "8"},
		{`return math.tointeger(" 0x10 ")`, "16"},
		{`return math.tointeger("8.5")`, "nil"},
		{`return math.tointeger("x")`, "nil"},
		{`return math.tointeger({})`, "nil"},
		{`return math.tointeger(2^63)`, "nil"},
		{`return math.tointeger(1/0)`, "nil"},
		{`return string.format("%.0f", math.maxinteger)`, "9007199254740991"},
		{`return string.format("%.0f", math.mininteger)`, "-9007199254740991"},
		{`return math.type(math.maxinteger)`, "integer"},
		{`return math.maxinteger + 1 > math.maxinteger`, "true"},
		{`return string.format("%d", math.maxinteger)`, "9007199254740991"},
		{`return math.ult(1, 2)`, "true"},
		{`return math.ult(2, 1)`, "false"},
		{`return math.ult(1, -1)`, "true"},
		{`return math.ult(-1, 1)`, "false"},
		{`return math.ult(-2, -1)`, "true"},
		{`return math.ult("1", 2)`, "true"},
		{`return math.atan(1) == math.pi / 4`, "true"},
		{`return math.atan(1, -1) == 3 * math.pi / 4`, "true"},
		{`return math.atan(0, -1) == math.pi`, "true"},
		{`return math.floor(3.7)`, "3"}, // go-lua's own functions are still there
	}
	for _, tt := range tests {
		t.Run(tt.chunk, func(t *testing.T) {
			got, ok := eval(t, nil, tt.chunk)
			if !ok || got != tt.want {
				t.Errorf("got %q (ok %v); want %q", got, ok, tt.want)
			}
		})
	}
}

func TestMathErrors(t *testing.T) {
	tests := []struct{ chunk, want string }{
		{`return math.type()`, "chunk:1: bad argument #1 to 'type' (value expected)"},
		{`return math.tointeger()`, "chunk:1: bad argument #1 to 'tointeger' (value expected)"},
		{`return math.ult(1.5, 2)`, "chunk:1: bad argument #1 to 'ult' (number has no integer representation)"},
		{`return math.ult(1, "x")`, "chunk:1: bad argument #2 to 'ult' (number expected, got string)"},
		{`return math.ult(1)`, "chunk:1: bad argument #2 to 'ult' (number expected, got no value)"},
		{`return math.atan()`, "chunk:1: bad argument #1 to 'atan' (number expected, got no value)"},
	}
	for _, tt := range tests {
		t.Run(tt.chunk, func(t *testing.T) {
			got, ok := eval(t, nil, tt.chunk)
			if ok || got != tt.want {
				t.Errorf("got %q (ok %v); want error %q", got, ok, tt.want)
			}
		})
	}
}

func TestMathLua(t *testing.T) {
	stdtest.RunLuaFile(t, "math_test.lua", nil, errlib.Open, Open)
}

// eval runs chunk in a state with the error, os, math and utf8 modules
// (stdtest.Eval).
func eval(t *testing.T, env *luax.StaticHost, chunk string) (string, bool) {
	t.Helper()
	return stdtest.Eval(t, env, chunk, errlib.Open, oslib.Open, Open, utf8lib.Open)
}
