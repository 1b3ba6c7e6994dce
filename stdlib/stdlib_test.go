package stdlib

import (
	"os"
	"path/filepath"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/internal/stdtest"
)

// TestIOOpenedByStdlib: stdlib.Open installs the library.
func TestIOOpenedByStdlib(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte("s3cret\nsecond\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := lua.NewState()
	lua.OpenLibraries(l)
	Open(l, &luax.StaticHost{})
	l.PushString(p)
	l.SetGlobal("P")
	stdtest.Run(t, l, `
local f = assert(io.open(P))
assert(f:read("*l") == "s3cret", "token")
f:close()
local n = 0
for line in io.lines(P) do n = n + 1 end
assert(n == 2, "lines")`)
}
