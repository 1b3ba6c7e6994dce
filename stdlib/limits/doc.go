// Package limits holds the library functions that can make a large string
// or table in one step (string.rep, string.format, string.upper/lower/
// reverse/char, table.concat, table.insert), replaced by versions that charge
// the call's memory budget (luax.MemBudget, from the host) before
// allocating. Open installs them and records the host in the state
// (luax.SetHost) for the library functions that are not closures over it.
package limits
