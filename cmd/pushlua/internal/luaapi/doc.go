// Package luaapi owns the description of the Lua API pushlua gives
// scripts: it probes a real pushlua state for every name pushlua
// registers (Probe), reads the reference docs/lua-api.md (Parse), and
// writes lua-language-server definition files from the two (Stubs). Its
// tests keep the reference and the registered names equal.
package luaapi
