package bindings

import lua "github.com/Shopify/go-lua"

// openHTTP is a placeholder until dovecot.http is written; its author
// deletes this file.
func openHTTP(l *lua.State, env *Env) {}
