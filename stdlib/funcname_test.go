package stdlib

import (
	"testing"

	"github.com/pushlua/pushlua/stdlib/internal/stdtest"
)

// TestFuncNameLua runs testdata/funcname_test.lua with every module open.
func TestFuncNameLua(t *testing.T) {
	stdtest.RunLuaFile(t, "funcname_test.lua", nil, Open)
}
