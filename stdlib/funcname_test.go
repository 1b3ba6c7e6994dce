package stdlib

import "testing"

// TestFuncNameLua runs testdata/funcname_test.lua with every module open.
func TestFuncNameLua(t *testing.T) {
	errsRunLuaFile(t, "funcname_test.lua", nil, Open)
}
