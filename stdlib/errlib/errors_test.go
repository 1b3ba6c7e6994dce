package errlib_test

import (
	"fmt"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/stdlib/errlib"
	"github.com/pushlua/pushlua/stdlib/internal/stdtest"
)

func TestErrorsLua(t *testing.T) {
	stdtest.RunLuaFile(t, "errors_test.lua", nil, errlib.Open)
}

// TestErrorTranslateError runs chunks that raise uncaught errors under a
// message handler like the runtime's.
func TestErrorTranslateError(t *testing.T) {
	tests := []struct {
		name, chunk, want string
	}{
		{"table", `error({})`, "(error object is a table value)"},
		{"tostring", `error(setmetatable({}, {__tostring = function() return "custom" end}))`, "custom"},
		{"number", `error(42)`, "42"},
		{"nil", `error()`, "(error object is a nil value)"},
		{"boolean", `error(false)`, "(error object is a boolean value)"},
		{"string", `error("boom")`, "chunk:1: boom"},
		{"string level 0", `error("boom", 0)`, "boom"},
		{"rethrown", `local ok, e = pcall(error, {}); error(e)`, "(error object is a table value)"},
		{"assert", `assert(false, {})`, "(error object is a table value)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := stdtest.NewState(nil, errlib.Open)
			if err := lua.LoadBuffer(l, tt.chunk, "=chunk", "t"); err != nil {
				t.Fatal(err)
			}
			msg, ok := stdtest.Call(l, 0)
			if ok {
				t.Fatal("chunk succeeded")
			}
			if msg != tt.want {
				t.Errorf("got %q; want %q", msg, tt.want)
			}
			if n := errsCountValues(l); n != 0 {
				t.Errorf("got %d error values kept after the call; want 0", n)
			}
		})
	}
}

// TestErrorDescribeError covers a host that only has the message: a
// placeholder alone, and one at the start of a traceback.
func TestErrorDescribeError(t *testing.T) {
	tests := []struct {
		name, chunk, suffix, want string
	}{
		{"table", `error({})`, "", "(error object is a table value)"},
		{"tostring", `error(setmetatable({}, {__tostring = function() return "custom" end}))`, "", "custom"},
		{"failing tostring", `error(setmetatable({}, {__tostring = function() error("no") end}))`, "", "(error object is a table value)"},
		{"number", `error(7)`, "", "7"},
		{"traceback", `error({})`, "\nstack traceback:\n\t[C]: in ?", "(error object is a table value)\nstack traceback:\n\t[C]: in ?"},
		{"string", `error("plain", 0)`, "", "plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := stdtest.NewState(nil, errlib.Open)
			if err := lua.LoadBuffer(l, tt.chunk, "=chunk", "t"); err != nil {
				t.Fatal(err)
			}
			if l.ProtectedCall(0, 0, 0) == nil {
				t.Fatal("chunk succeeded")
			}
			msg, _ := l.ToString(-1)
			l.Pop(1)
			if got := errlib.DescribeError(l, msg+tt.suffix); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
			if n := errsCountValues(l); n != 0 {
				t.Errorf("got %d error values kept; want 0", n)
			}
		})
	}
}

// TestErrorValuesBounded raises many table errors that nothing translates
// (Go code calling ProtectedCall itself): the state keeps a bounded number.
func TestErrorValuesBounded(t *testing.T) {
	l := stdtest.NewState(nil, errlib.Open)
	for i := 0; i < 3*errlib.ErrorValuesKept; i++ {
		if err := lua.LoadString(l, `error({})`); err != nil {
			t.Fatal(err)
		}
		if l.ProtectedCall(0, 0, 0) == nil {
			t.Fatal("chunk succeeded")
		}
		l.Pop(1)
	}
	if n := errsCountValues(l); n != errlib.ErrorValuesKept {
		t.Errorf("got %d error values kept; want %d", n, errlib.ErrorValuesKept)
	}
}

// TestErrorLimitGoProtectedCall documents the limitation: Go code that calls
// ProtectedCall itself (not through pcall/xpcall) receives the placeholder
// string, and must call TranslateError to get the value.
func TestErrorLimitGoProtectedCall(t *testing.T) {
	l := stdtest.NewState(nil, errlib.Open)
	if err := lua.LoadString(l, `error({code = 5})`); err != nil {
		t.Fatal(err)
	}
	if l.ProtectedCall(0, 0, 0) == nil {
		t.Fatal("chunk succeeded")
	}
	s, _ := l.ToString(-1)
	if l.TypeOf(-1) != lua.TypeString || !strings.HasPrefix(s, "(error object is a table value) [pushlua:") {
		t.Fatalf("got %s %q; want the placeholder string", lua.TypeNameOf(l, -1), s)
	}
	if !errlib.TranslateError(l, -1) {
		t.Fatal("TranslateError: got false; want true")
	}
	l.Field(-1, "code")
	if n, _ := l.ToNumber(-1); n != 5 {
		t.Errorf("got code %v; want 5", n)
	}
	// A forged placeholder, or one already released, is left alone.
	l.PushString(s)
	if errlib.TranslateError(l, -1) {
		t.Error("TranslateError of a released placeholder: got true; want false")
	}
}

// errsCountValues counts the values kept in the registry.
func errsCountValues(l *lua.State) int {
	errlib.PushErrorValues(l)
	n := 0
	for l.PushNil(); l.Next(-2); l.Pop(1) {
		if l.IsTable(-1) {
			n++
		}
	}
	l.Pop(1)
	return n
}

// TestErrorXpcallHandlerStack checks that xpcall's message handler runs
// where the error happened (a traceback taken there shows the failed
// function), and that the fallback, used if go-lua's internals change,
// still hands the handler the error value.
func TestErrorXpcallHandlerStack(t *testing.T) {
	const chunk = `
local function inner()
  error({code = 1})
end
local got
local ok, tb = xpcall(inner, function(e)
  got = e
  return debug.traceback("handler", 1)
end)
assert(not ok)
assert(got.code == 1, "handler argument")
return tb`
	if _, ok := errlib.AbsoluteStackIndex(stdtest.NewState(nil), 1); !ok {
		t.Fatal("absoluteStackIndex: got ok false; want true (did go-lua's State or callInfo change?)")
	}
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("fallback=%v", fallback), func(t *testing.T) {
			if fallback {
				defer errlib.SetXpcallStackIndex(func(*lua.State, int) (int, bool) { return 0, false })()
			}
			l := stdtest.NewState(nil, errlib.Open)
			if err := lua.LoadBuffer(l, chunk, "=chunk", "t"); err != nil {
				t.Fatal(err)
			}
			l.PushGoFunction(stdtest.MessageHandler)
			l.Insert(1)
			if err := l.ProtectedCall(0, 1, 1); err != nil {
				msg, _ := l.ToString(-1)
				t.Fatal(msg)
			}
			tb, _ := l.ToString(-1)
			if inner := strings.Contains(tb, "chunk:3:"); inner == fallback {
				t.Errorf("traceback mentions the failed line chunk:3: got %v; want %v\n%s", inner, !fallback, tb)
			}
		})
	}
}
