package stdlib

import (
	"errors"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/errlib"
	"github.com/pushlua/pushlua/stdlib/internal/stdtest"
	"github.com/pushlua/pushlua/stdlib/iolib"
	"github.com/pushlua/pushlua/stdlib/limits"
	"github.com/pushlua/pushlua/stdlib/strlib"
)

// limitsBudget is an opener that gives env a fresh 1 MiB budget and the
// globals memused() and memreset() for the Lua tests.
func limitsBudget(l *lua.State, h luax.Host) {
	env := h.(*luax.StaticHost)
	env.Budget = &luax.MemBudget{Limit: 1 << 20}
	l.Register("memused", func(l *lua.State) int {
		l.PushInteger(int(env.Budget.Used()))
		return 1
	})
	l.Register("memreset", func(l *lua.State) int {
		env.Budget.Reset()
		return 0
	})
}

func TestLimitsLua(t *testing.T) {
	stdtest.RunLuaFile(t, "limits_test.lua", &luax.StaticHost{}, limitsBudget, limits.Open, errlib.Open, strlib.Open, iolib.Open, openJSON, stdtest.TempDir(t))
}

// TestMemBudgetOnExceed: a refused charge tells OnExceed (the runtime ends
// the call with it) before the error is raised, once per refusal.
func TestMemBudgetOnExceed(t *testing.T) {
	var told []string
	env := &luax.StaticHost{Budget: &luax.MemBudget{Limit: 1000, OnExceed: func(msg string) { told = append(told, msg) }}}
	l := stdtest.NewState(env, limits.Open, errlib.Open)
	msg, ok := errsCallChunk(l, `local ok, e = pcall(string.rep, "x", 2000); assert(not ok); return e`)
	if !ok || len(told) != 1 || !strings.Contains(told[0], "'rep' needs 2000 bytes") {
		t.Fatalf("got %q (ok %v), told %q", msg, ok, told)
	}
	if _, ok := errsCallChunk(l, `return string.rep("x", 10)`); !ok || len(told) != 1 {
		t.Errorf("a charge within the budget told OnExceed: %q", told)
	}
}

// errsCallChunk runs chunk and returns its error message, if any.
func errsCallChunk(l *lua.State, chunk string) (string, bool) {
	if err := lua.LoadString(l, chunk); err != nil {
		return err.Error(), false
	}
	return stdtest.Call(l, 0)
}

// TestCheckCallback: the functions that can run long without returning
// to the VM call Host.Check every luax.CheckEvery steps and raise its error.
func TestCheckCallback(t *testing.T) {
	for _, c := range []struct{ name, chunk string }{
		{"gsub", `string.gsub(string.rep("a", 10000), "a", "b")`},
		{"concat", `local t = {}; for i = 1, 10000 do t[i] = "x" end; table.concat(t)`},
		{"cjson.encode", `local t = {}; for i = 1, 10000 do t[i] = i end; require("cjson").encode(t)`},
		{"dkjson.encode", `local t = {}; for i = 1, 10000 do t[i] = i end; require("dkjson").encode(t)`},
		{"json.encode", `local t = {}; for i = 1, 10000 do t[i] = i end; require("json").encode(t)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			env := &luax.StaticHost{CheckFunc: func() error {
				calls++
				return errors.New("pushlua: call exceeded its time budget of 1s")
			}}
			l := stdtest.NewState(env, limits.Open, errlib.Open, strlib.Open, openJSON)
			msg, ok := errsCallChunk(l, c.chunk)
			if ok || calls != 1 || !strings.HasSuffix(msg, "pushlua: call exceeded its time budget of 1s") {
				t.Errorf("got %q (ok %v) after %d checks; want the check's error after 1", msg, ok, calls)
			}
			// Below checkEvery steps there is no check.
			calls = 0
			env.CheckFunc = func() error { calls++; return nil }
			if msg, ok := errsCallChunk(l, c.chunk); !ok || calls == 0 || calls > 3 {
				t.Errorf("with a passing check: got %q (ok %v) after %d checks; want success after 1 to 3", msg, ok, calls)
			}
		})
	}
}
