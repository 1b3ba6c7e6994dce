// Package strlib holds the string-pattern functions of Lua 5.2's string
// library (string.find, string.match, string.gmatch and string.gsub), on the
// VM-free matcher of stdlib/pattern; gsub checks the memory and time budgets
// of the host. Open installs them in go-lua's string table.
package strlib
