// Package dkjson is David Kolf's dkjson 2.5 in its pure-Lua form: the dkjson
// module. Open registers it in package.preload.
package dkjson
