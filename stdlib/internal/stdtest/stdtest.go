// Package stdtest holds what the tests of the stdlib modules share: Lua
// test files run function by function as subtests, states with chosen
// modules open, and a message handler like the runtime's.
package stdtest

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/errlib"
)

// prelude is loaded before each Lua test file: eq(got, want [, what])
// fails with "what: got X; want Y".
const prelude = `
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

var testFunc = regexp.MustCompile(`(?m)^function (test_\w+)\s*\(`)

// RunLuaFile runs each global function test_x of testdata/<file> as a
// subtest, in a fresh state with the standard libraries and the given
// openers.
func RunLuaFile(t *testing.T, file string, env *luax.StaticHost, openers ...func(*lua.State, luax.Host)) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	names := testFunc.FindAllStringSubmatch(string(src), -1)
	if len(names) == 0 {
		t.Fatalf("%s has no test_ functions", file)
	}
	for _, m := range names {
		t.Run(m[1], func(t *testing.T) {
			l := NewState(env, openers...)
			l.Register("callerline", callerLine)
			if err := lua.DoString(l, prelude); err != nil {
				t.Fatalf("prelude: %v", err)
			}
			if err := lua.LoadBuffer(l, string(src), "@"+file, "t"); err != nil {
				msg, _ := l.ToString(-1)
				t.Fatalf("load: %s", msg)
			}
			if msg, ok := Call(l, 0); !ok {
				t.Fatalf("running %s: %s", file, msg)
			}
			l.Global(m[1])
			if msg, ok := Call(l, 0); !ok {
				t.Fatal(msg)
			}
		})
	}
}

// callerLine is callerline() for the Lua tests: the line of the code that
// called it.
func callerLine(l *lua.State) int {
	lua.Where(l, 1)
	where, _ := l.ToString(-1)
	where = strings.TrimSuffix(where, ": ")
	n, _ := strconv.Atoi(where[strings.LastIndexByte(where, ':')+1:])
	l.PushInteger(n)
	return 1
}

// NewState returns a state with the standard libraries and the openers.
func NewState(env *luax.StaticHost, openers ...func(*lua.State, luax.Host)) *lua.State {
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

// Call calls the function below the nargs arguments with a message
// handler like the runtime's (TranslateError, then a description of the
// value) and returns the error message, if any.
func Call(l *lua.State, nargs int) (msg string, ok bool) {
	fn := l.Top() - nargs
	l.PushGoFunction(MessageHandler)
	l.Insert(fn)
	err := l.ProtectedCall(nargs, 0, fn)
	if err != nil {
		msg, _ = l.ToString(-1)
	}
	l.SetTop(fn - 1)
	return msg, err == nil
}

// MessageHandler is the runtime's messageHandler with the call it needs
// to make first: TranslateError.
func MessageHandler(l *lua.State) int {
	errlib.TranslateError(l, 1)
	msg := errlib.ErrorText(l)
	l.PushString(msg)
	return 1
}

// Eval runs chunk (which returns one value) in a state with the openers
// (the os, math, utf8 and error modules in their tests) and returns the
// result as a string, or the error message with ok false.
func Eval(t *testing.T, env *luax.StaticHost, chunk string, openers ...func(*lua.State, luax.Host)) (result string, ok bool) {
	t.Helper()
	l := NewState(env, openers...)
	if err := lua.LoadBuffer(l, chunk, "=chunk", "t"); err != nil {
		msg, _ := l.ToString(-1)
		t.Fatalf("load %q: %s", chunk, msg)
	}
	l.PushGoFunction(MessageHandler)
	l.Insert(1)
	if err := l.ProtectedCall(0, 1, 1); err != nil {
		msg, _ := l.ToString(-1)
		return msg, false
	}
	s, _ := lua.ToStringMeta(l, -1)
	return s, true
}

// TempDir is an opener that sets the global TMP to a fresh directory.
func TempDir(t *testing.T) func(*lua.State, luax.Host) {
	return func(l *lua.State, _ luax.Host) {
		l.PushString(t.TempDir())
		l.SetGlobal("TMP")
	}
}

// Run runs chunk in l and fails the test on an error.
func Run(t *testing.T, l *lua.State, chunk string) {
	t.Helper()
	if err := lua.LoadBuffer(l, chunk, "=chunk", "t"); err != nil {
		msg, _ := l.ToString(-1)
		t.Fatalf("load: %s", msg)
	}
	if msg, ok := Call(l, 0); !ok {
		t.Fatal(msg)
	}
}
