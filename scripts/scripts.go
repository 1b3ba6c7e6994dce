// Package scripts holds the Lua scripts pushlua bundles, embedded in the
// binary: Dovecot 2.3's dlog and OX push-notification drivers rewritten as
// Lua scripts (dlog.lua, ox.lua). They use only the Lua API user scripts
// have — the dovecot.* bindings, the stdlib modules and the small `pushlua`
// module — so they double as examples of how to write a driver.
package scripts

import (
	"embed"
	"io/fs"
)

//go:embed *.lua
var files embed.FS

// FS is the bundled scripts, by file name ("dlog.lua", "ox.lua").
var FS fs.FS = files

// Driver returns the source of the bundled driver script for a driver name
// (lower case), and whether there is one.
func Driver(name string) ([]byte, bool) {
	src, err := fs.ReadFile(files, name+".lua")
	return src, err == nil
}
