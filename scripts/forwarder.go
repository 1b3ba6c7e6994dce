package scripts

import _ "embed"

//go:embed dovecot/forward.lua
var forwarder []byte

// Forwarder returns the source of dovecot/forward.lua: the push-notification
// Lua driver that runs inside Dovecot (2.3 and 2.4) and hands every
// committed transaction, in pushlua's transaction format, to pushlua:
// appended to a spool directory (docs/spool.md) with pushlua_spool, else
// (and as the spool's fallback) POSTed to pushlua_url. It is not one of
// the drivers pushlua runs itself (Driver does not list it).
func Forwarder() []byte {
	return append([]byte(nil), forwarder...)
}
