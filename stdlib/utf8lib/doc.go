// Package utf8lib is the utf8 library of Lua 5.3 (lutf8lib.c), which go-lua
// lacks. Open sets the utf8 global and registers it in package.preload.
package utf8lib
