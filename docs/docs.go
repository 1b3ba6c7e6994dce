// Package docs embeds the documents the pushlua binary itself reads: the
// Lua API reference, from which `pushlua stubs` writes editor definitions.
package docs

import _ "embed"

// LuaAPI is lua-api.md, the reference of the Lua API.
//
//go:embed lua-api.md
var LuaAPI []byte

// LuaAPIName is LuaAPI's path in the repository, for error messages.
const LuaAPIName = "docs/lua-api.md"
