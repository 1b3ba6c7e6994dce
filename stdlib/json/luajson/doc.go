// Package luajson is LuaJSON 1.3 (Debian's lua-json): the json module and its
// parts json.util, json.encode and json.decode. Open registers them in
// package.preload.
package luajson
