// Package jsonlua is the object API of Jeffrey Friedl's JSON.lua as the
// json-lua rock installs it: the JSON module. Open registers it in
// package.preload.
package jsonlua
