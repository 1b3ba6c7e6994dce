package stdlib

import (
	"errors"
	"math"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"
)

// limitsBudget is an opener that gives env a fresh 1 MiB budget and the
// globals memused() and memreset() for the Lua tests.
func limitsBudget(l *lua.State, env *Env) {
	env.Mem = &MemBudget{Limit: 1 << 20}
	l.Register("memused", func(l *lua.State) int {
		l.PushInteger(int(env.Mem.Used()))
		return 1
	})
	l.Register("memreset", func(l *lua.State) int {
		env.Mem.Reset()
		return 0
	})
}

func TestLimitsLua(t *testing.T) {
	errsRunLuaFile(t, "limits_test.lua", &Env{}, limitsBudget, openLimits, openErrors, openStringPatterns, openIO, openJSON, ioTempDir(t))
}

func TestMemBudgetCharge(t *testing.T) {
	b := &MemBudget{Limit: 100}
	for _, c := range []struct {
		n        int64
		ok       bool
		usedThen int64
	}{
		{60, true, 60},
		{41, false, 60},
		{40, true, 100},
		{0, true, 100},
		{1, false, 100},
	} {
		err := b.Charge(c.n)
		if (err == nil) != c.ok || b.Used() != c.usedThen {
			t.Errorf("Charge(%d): got err %v, used %d; want ok %v, used %d", c.n, err, b.Used(), c.ok, c.usedThen)
		}
	}
	if got := b.Remaining(); got != 0 {
		t.Errorf("Remaining: got %d; want 0", got)
	}
	var me *MemError
	if err := b.Charge(7); !errors.As(err, &me) || me.Size != 7 || me.Used != 100 || me.Limit != 100 {
		t.Errorf("Charge(7): got %#v; want a *MemError of 7 bytes with 100 used", err)
	}
	b.Reset()
	if b.Used() != 0 || b.Remaining() != 100 {
		t.Errorf("after Reset: used %d, remaining %d; want 0, 100", b.Used(), b.Remaining())
	}

	var none *MemBudget
	if err := none.Charge(1 << 62); err != nil || none.Remaining() != math.MaxInt64 || none.Used() != 0 {
		t.Errorf("nil budget: got %v, remaining %d", err, none.Remaining())
	}
	unlimited := &MemBudget{}
	if err := unlimited.Charge(1 << 62); err != nil || unlimited.Remaining() != math.MaxInt64 {
		t.Errorf("zero Limit: got %v, remaining %d", err, unlimited.Remaining())
	}
}

func TestMemErrorMessage(t *testing.T) {
	for _, c := range []struct {
		err  MemError
		want string
	}{
		{MemError{Func: "rep", Size: 1 << 40, Limit: 64 << 20},
			"pushlua: call exceeded its memory budget of 64 MiB (pushlua_handler_memory): 'rep' needs 1099511627776 bytes, 0 already used"},
		{MemError{Size: 10, Used: 5, Limit: 1000, Setting: "x_memory"},
			"pushlua: call exceeded its memory budget of 1000 bytes (x_memory): needs 10 bytes, 5 already used"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got %q; want %q", got, c.want)
		}
	}
	for n, want := range map[int64]string{64 << 20: "64 MiB", 1536 << 10: "1536 KiB", 3 << 30: "3 GiB", 1 << 40: "1 TiB", 1000: "1000 bytes", 0: "0 bytes"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d): got %q; want %q", n, got, want)
		}
	}
}

// TestMemBudgetOnExceed: a refused charge tells OnExceed (the runtime ends
// the call with it) before the error is raised, once per refusal.
func TestMemBudgetOnExceed(t *testing.T) {
	var told []string
	env := &Env{Mem: &MemBudget{Limit: 1000, OnExceed: func(msg string) { told = append(told, msg) }}}
	l := errsNewState(env, openLimits, openErrors)
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
	return errsCall(l, 0)
}

// TestCheckCallback: the functions that can run long without returning
// to the VM call Env.Check every checkEvery steps and raise its error.
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
			env := &Env{Check: func() error {
				calls++
				return errors.New("pushlua: call exceeded its time budget of 1s")
			}}
			l := errsNewState(env, openLimits, openErrors, openStringPatterns, openJSON)
			msg, ok := errsCallChunk(l, c.chunk)
			if ok || calls != 1 || !strings.HasSuffix(msg, "pushlua: call exceeded its time budget of 1s") {
				t.Errorf("got %q (ok %v) after %d checks; want the check's error after 1", msg, ok, calls)
			}
			// Below checkEvery steps there is no check.
			calls = 0
			env.Check = func() error { calls++; return nil }
			if msg, ok := errsCallChunk(l, c.chunk); !ok || calls == 0 || calls > 3 {
				t.Errorf("with a passing check: got %q (ok %v) after %d checks; want success after 1 to 3", msg, ok, calls)
			}
		})
	}
}
