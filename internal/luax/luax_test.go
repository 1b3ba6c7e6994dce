package luax

import (
	"reflect"
	"testing"

	lua "github.com/Shopify/go-lua"
)

func callErr(t *testing.T, l *lua.State, f lua.Function, args ...any) string {
	t.Helper()
	l.PushGoFunction(f)
	for _, a := range args {
		Push(l, a)
	}
	if err := l.ProtectedCall(len(args), 0, 0); err == nil {
		t.Fatalf("no error")
	}
	msg, _ := l.ToString(-1)
	l.Pop(1)
	return msg
}

func TestErrors(t *testing.T) {
	l := lua.NewState()
	lua.OpenLibraries(l)
	tests := []struct {
		name string
		f    lua.Function
		args []any
		want string
	}{
		{"raise has no position", func(l *lua.State) int { Raise(l, "boom %d", 7); return 0 }, nil, "boom 7"},
		{"require args", func(l *lua.State) int { RequireArgs(l, 1); return 0 }, nil, "expected 1 arguments, got 0"},
		{"require args in", func(l *lua.State) int { RequireArgsIn(l, 0, 1); return 0 }, []any{1.0, 2.0}, "expected 0 to 1 arguments, got 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callErr(t, l, tt.f, tt.args...); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestObject(t *testing.T) {
	l := lua.NewState()
	lua.OpenLibraries(l)
	obj := &Object{Name: "struct thing", Methods: []lua.RegistryFunction{{Name: "get", Function: func(l *lua.State) int { return 0 }}}}
	obj.Register(l)
	obj.Push(l, 42)
	if item, ok := obj.Test(l, -1); !ok || item != 42 {
		t.Errorf("Test: got %v, %v", item, ok)
	}
	l.Field(-1, "get")
	if !l.IsFunction(-1) {
		t.Errorf("methods are not reachable through __index")
	}
	l.Pop(2)
	got := callErr(t, l, func(l *lua.State) int { obj.Check(l, 1); return 0 }, map[string]any{})
	if want := "Bad argument #1, expected struct thing got table"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

func TestPushToGo(t *testing.T) {
	l := lua.NewState()
	v := map[string]any{"s": "x", "n": 1.5, "b": true, "list": []any{"a", 2.0}, "empty": []any{}, "nested": map[string]any{"k": "v"}}
	Push(l, v)
	if got := ToGo(l, -1); !reflect.DeepEqual(got, v) {
		t.Errorf("got %#v; want %#v", got, v)
	}
	PushStrings(l, []string{"a", "b"})
	if got := ToGo(l, -1); !reflect.DeepEqual(got, []any{"a", "b"}) {
		t.Errorf("strings: got %#v", got)
	}
}

// nestedArrays returns depth arrays, one inside the other, around "core".
func nestedArrays(depth int) any {
	var v any = "core"
	for range depth {
		v = []any{v}
	}
	return v
}

// pushProtected pushes v inside a protected call on a fresh state and
// returns the error, or the pushed value converted back.
func pushProtected(v any) (any, error) {
	l := lua.NewState()
	l.PushGoFunction(func(l *lua.State) int {
		Push(l, v)
		return 1
	})
	if err := l.ProtectedCall(0, 1, 0); err != nil {
		msg, _ := l.ToString(-1)
		return nil, &pushError{msg}
	}
	return ToGo(l, -1), nil
}

type pushError struct{ msg string }

func (e *pushError) Error() string { return e.msg }

func TestPushNesting(t *testing.T) {
	deepMap := any("core")
	for range 65 {
		deepMap = map[string]any{"k": deepMap}
	}
	tests := []struct {
		name    string
		v       any
		wantErr string
	}{
		// 40 levels overflowed go-lua's initial 40-slot stack before Push
		// checked the stack.
		{"40 arrays", nestedArrays(40), ""},
		{"MaxDepth arrays", nestedArrays(MaxDepth), ""},
		{"MaxDepth+1 arrays", nestedArrays(MaxDepth + 1), "value nested deeper than 64 levels"},
		{"1000 arrays", nestedArrays(1000), "value nested deeper than 64 levels"},
		{"65 maps", deepMap, "value nested deeper than 64 levels"},
		{"wide", []any{nestedArrays(30), nestedArrays(30), map[string]any{"a": nestedArrays(50)}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pushProtected(tt.v)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got error %q; want none", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Fatalf("got error %v; want %q", err, tt.wantErr)
			case tt.wantErr == "" && !reflect.DeepEqual(got, tt.v):
				t.Errorf("round trip: got %#v; want %#v", got, tt.v)
			}
		})
	}
}

// ToGo on a table nested deeper than MaxDepth, built by Lua, stops at
// MaxDepth without raising (the traversal needs two stack slots a level).
func TestToGoDeepTable(t *testing.T) {
	l := lua.NewState()
	lua.OpenLibraries(l)
	if err := lua.DoString(l, `local t = "core"; for i = 1, 200 do t = {t} end; deep = t`); err != nil {
		t.Fatal(err)
	}
	l.Global("deep")
	v := ToGo(l, -1)
	depth := 0
	for {
		a, ok := v.([]any)
		if !ok {
			break
		}
		depth++
		v = a[0]
	}
	if depth != MaxDepth || v != "<table: too deep>" {
		t.Errorf("got %d levels, then %#v; want %d, then \"<table: too deep>\"", depth, v, MaxDepth)
	}
}

func TestPushStringsGrowsStack(t *testing.T) {
	l := lua.NewState()
	l.PushGoFunction(func(l *lua.State) int {
		// Fill the stack the function got, then push more lists.
		for i := range 100 {
			PushStrings(l, []string{"a", string(rune('a' + i%26))})
		}
		return l.Top()
	})
	if err := l.ProtectedCall(0, lua.MultipleReturns, 0); err != nil {
		msg, _ := l.ToString(-1)
		t.Fatalf("got error %q", msg)
	}
	if got := l.Top(); got != 100 {
		t.Fatalf("got %d values; want 100", got)
	}
	if got := ToGo(l, 100); !reflect.DeepEqual(got, []any{"a", "v"}) {
		t.Errorf("last list: got %#v", got)
	}
}
