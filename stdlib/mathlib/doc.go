// Package mathlib adds Lua 5.3's math functions to go-lua's math table
// (math.type, math.tointeger, math.ult, math.maxinteger, math.mininteger and
// the two-argument math.atan). Open installs them.
package mathlib
