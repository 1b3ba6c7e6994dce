// Package cjson is lua-cjson 2.1.0 as OpenResty ships it: the cjson and
// cjson.safe modules. Open registers them in package.preload.
package cjson
