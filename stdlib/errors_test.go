package stdlib

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

// errsPrelude is loaded before each Lua test file: eq(got, want [, what])
// fails with "what: got X; want Y".
const errsPrelude = `
local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end
function eq(got, want, what)
  if got ~= want then
    error(string.format("%s: got %s; want %s", what or "value", show(got), show(want)), 2)
  end
end
-- startswith(s, prefix)
function startswith(s, prefix)
  return type(s) == "string" and string.sub(s, 1, #prefix) == prefix
end
-- fails(f, ...) calls f and returns its error message, failing if it
-- succeeds.
function fails(f, ...)
  local ok, e = pcall(f, ...)
  if ok then error("call succeeded; want an error", 2) end
  return e
end
`

var errsTestFunc = regexp.MustCompile(`(?m)^function (test_\w+)\s*\(`)

// errsRunLuaFile runs each global function test_x of testdata/<file> as a
// subtest, in a fresh state with the standard libraries and the given
// openers.
func errsRunLuaFile(t *testing.T, file string, env *luax.StaticHost, openers ...func(*lua.State, luax.Host)) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	names := errsTestFunc.FindAllStringSubmatch(string(src), -1)
	if len(names) == 0 {
		t.Fatalf("%s has no test_ functions", file)
	}
	for _, m := range names {
		t.Run(m[1], func(t *testing.T) {
			l := errsNewState(env, openers...)
			l.Register("callerline", errsCallerLine)
			if err := lua.DoString(l, errsPrelude); err != nil {
				t.Fatalf("prelude: %v", err)
			}
			if err := lua.LoadBuffer(l, string(src), "@"+file, "t"); err != nil {
				msg, _ := l.ToString(-1)
				t.Fatalf("load: %s", msg)
			}
			if msg, ok := errsCall(l, 0); !ok {
				t.Fatalf("running %s: %s", file, msg)
			}
			l.Global(m[1])
			if msg, ok := errsCall(l, 0); !ok {
				t.Fatal(msg)
			}
		})
	}
}

// errsCallerLine is callerline() for the Lua tests: the line of the code that
// called it.
func errsCallerLine(l *lua.State) int {
	lua.Where(l, 1)
	where, _ := l.ToString(-1)
	where = strings.TrimSuffix(where, ": ")
	n, _ := strconv.Atoi(where[strings.LastIndexByte(where, ':')+1:])
	l.PushInteger(n)
	return 1
}

// errsNewState returns a state with the standard libraries and the openers.
func errsNewState(env *luax.StaticHost, openers ...func(*lua.State, luax.Host)) *lua.State {
	if env == nil {
		env = &luax.StaticHost{}
	}
	l := lua.NewState()
	lua.OpenLibraries(l)
	for _, open := range openers {
		open(l, env)
	}
	return l
}

// errsCall calls the function below the nargs arguments with a message
// handler like the runtime's (TranslateError, then a description of the
// value) and returns the error message, if any.
func errsCall(l *lua.State, nargs int) (msg string, ok bool) {
	fn := l.Top() - nargs
	l.PushGoFunction(errsMessageHandler)
	l.Insert(fn)
	err := l.ProtectedCall(nargs, 0, fn)
	if err != nil {
		msg, _ = l.ToString(-1)
	}
	l.SetTop(fn - 1)
	return msg, err == nil
}

// errsMessageHandler is the runtime's messageHandler with the call it needs
// to make first: TranslateError.
func errsMessageHandler(l *lua.State) int {
	TranslateError(l, 1)
	msg, ok := l.ToString(1)
	if !ok || l.TypeOf(1) != lua.TypeString && l.TypeOf(1) != lua.TypeNumber {
		if lua.CallMeta(l, 1, "__tostring") {
			msg, _ = l.ToString(-1)
		} else {
			msg = fmt.Sprintf("(error object is a %s value)", lua.TypeNameOf(l, 1))
		}
	}
	l.PushString(msg)
	return 1
}

// errsEval runs chunk (which returns one value) in a state with the os, math,
// utf8 and error modules and returns the result as a string, or the error
// message with ok false.
func errsEval(t *testing.T, env *luax.StaticHost, chunk string) (result string, ok bool) {
	t.Helper()
	l := errsNewState(env, openErrors, openOS, openMath, openUTF8)
	if err := lua.LoadBuffer(l, chunk, "=chunk", "t"); err != nil {
		msg, _ := l.ToString(-1)
		t.Fatalf("load %q: %s", chunk, msg)
	}
	l.PushGoFunction(errsMessageHandler)
	l.Insert(1)
	if err := l.ProtectedCall(0, 1, 1); err != nil {
		msg, _ := l.ToString(-1)
		return msg, false
	}
	s, _ := lua.ToStringMeta(l, -1)
	return s, true
}

func TestErrorsLua(t *testing.T) {
	errsRunLuaFile(t, "errors_test.lua", nil, openErrors)
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
			l := errsNewState(nil, openErrors)
			if err := lua.LoadBuffer(l, tt.chunk, "=chunk", "t"); err != nil {
				t.Fatal(err)
			}
			msg, ok := errsCall(l, 0)
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
			l := errsNewState(nil, openErrors)
			if err := lua.LoadBuffer(l, tt.chunk, "=chunk", "t"); err != nil {
				t.Fatal(err)
			}
			if l.ProtectedCall(0, 0, 0) == nil {
				t.Fatal("chunk succeeded")
			}
			msg, _ := l.ToString(-1)
			l.Pop(1)
			if got := DescribeError(l, msg+tt.suffix); got != tt.want {
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
	l := errsNewState(nil, openErrors)
	for i := 0; i < 3*errorValuesKept; i++ {
		if err := lua.LoadString(l, `error({})`); err != nil {
			t.Fatal(err)
		}
		if l.ProtectedCall(0, 0, 0) == nil {
			t.Fatal("chunk succeeded")
		}
		l.Pop(1)
	}
	if n := errsCountValues(l); n != errorValuesKept {
		t.Errorf("got %d error values kept; want %d", n, errorValuesKept)
	}
}

// TestErrorLimitGoProtectedCall documents the limitation: Go code that calls
// ProtectedCall itself (not through pcall/xpcall) receives the placeholder
// string, and must call TranslateError to get the value.
func TestErrorLimitGoProtectedCall(t *testing.T) {
	l := errsNewState(nil, openErrors)
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
	if !TranslateError(l, -1) {
		t.Fatal("TranslateError: got false; want true")
	}
	l.Field(-1, "code")
	if n, _ := l.ToNumber(-1); n != 5 {
		t.Errorf("got code %v; want 5", n)
	}
	// A forged placeholder, or one already released, is left alone.
	l.PushString(s)
	if TranslateError(l, -1) {
		t.Error("TranslateError of a released placeholder: got true; want false")
	}
}

// errsCountValues counts the values kept in the registry.
func errsCountValues(l *lua.State) int {
	pushErrorValues(l)
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
	if _, ok := absoluteStackIndex(errsNewState(nil), 1); !ok {
		t.Fatal("absoluteStackIndex: got ok false; want true (did go-lua's State or callInfo change?)")
	}
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("fallback=%v", fallback), func(t *testing.T) {
			if fallback {
				xpcallStackIndex = func(*lua.State, int) (int, bool) { return 0, false }
				defer func() { xpcallStackIndex = absoluteStackIndex }()
			}
			l := errsNewState(nil, openErrors)
			if err := lua.LoadBuffer(l, chunk, "=chunk", "t"); err != nil {
				t.Fatal(err)
			}
			l.PushGoFunction(errsMessageHandler)
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
