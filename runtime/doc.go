// Package runtime owns the life of pushlua's Lua states and the dispatch of
// transactions to them: it builds the driver list from a Dovecot-style
// configuration (push_notification_driver, push_notification_driver2, ...),
// loads each Lua script into prepared states (chunk, then script_init),
// runs every transaction through the drivers with Dovecot 2.3's Lua driver
// protocol (begin_txn, one call per event, end_txn), enforces a time and
// instruction budget on every call into Lua, keeps the transactions of one
// user in order while different users run in parallel, and runs
// script_deinit when it closes.
package runtime
