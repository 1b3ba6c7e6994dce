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
