// Package oslib provides os.date, os.time and os.difftime as in Lua 5.4 on
// glibc in the C locale, on the host's clock (luax.Host.Now). Open installs
// them in go-lua's os table.
package oslib
