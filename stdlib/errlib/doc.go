// Package errlib is the error side of the library: non-string error values
// (error, assert, pcall and xpcall, errors.go), function names in messages and
// tracebacks as C Lua gives them (debug.traceback, FixArgErrorName, Traceback,
// funcname.go) and hints for syntax errors caused by Lua 5.3/5.4 syntax
// (ExplainSyntax, syntax.go). Open installs the functions; the runtime's
// message handler uses TranslateError, FixArgErrorName and Traceback.
package errlib
