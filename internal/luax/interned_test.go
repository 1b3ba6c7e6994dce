package luax

import (
	"testing"

	lua "github.com/Shopify/go-lua"
)

// TestPushName checks that the interned strings are the strings, in
// every state, and that the lookups built on them see what the plain
// ones see.
func TestPushName(t *testing.T) {
	for range 2 { // a second state finds the indexes taken
		l := lua.NewState()
		for _, s := range []string{"item", "struct x", "item", ""} {
			top := l.Top()
			PushName(l, s)
			if got, ok := l.ToValue(-1).(string); !ok || got != s || l.Top() != top+1 {
				t.Fatalf("PushName(%q) pushed %v (top %d -> %d); want the string", s, l.ToValue(-1), top, l.Top())
			}
			l.Pop(1)
		}

		MetaTableNamed(l, "struct x")
		if !l.IsNil(-1) {
			t.Errorf("MetaTableNamed of an unregistered name pushed %v; want nil", l.ToValue(-1))
		}
		l.Pop(1)
		(&Object{Name: "struct x"}).Register(l)
		(&Object{Name: "struct x"}).Push(l, 42)
		if item, ok := (&Object{Name: "struct x"}).Test(l, -1); !ok || item != 42 {
			t.Errorf("Test of a pushed object = %v, %v; want 42, true", item, ok)
		}
		if _, ok := (&Object{Name: "struct y"}).Test(l, -1); ok {
			t.Errorf("Test with another name accepted the object")
		}
		Field(l, -1, "item")
		if l.ToUserData(-1) != 42 {
			t.Errorf("Field(item) = %v; want the userdata 42", l.ToValue(-1))
		}
		l.SetTop(0)
	}
}
