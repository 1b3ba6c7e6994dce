package scripts

import _ "embed"

//go:embed dovecot/forward.lua
var forwarder []byte

// Forwarder returns the source of dovecot/forward.lua: the push-notification
// Lua driver that runs inside Dovecot (2.3 and 2.4) and POSTs every
// committed transaction, in pushlua's transaction format, to pushlua. It is
// not one of the drivers pushlua runs itself (Driver does not list it).
func Forwarder() []byte {
	return append([]byte(nil), forwarder...)
}
