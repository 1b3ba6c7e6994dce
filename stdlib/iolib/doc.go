// Package iolib is the io library of Lua 5.2, replacing go-lua's (whose
// reads read nothing): files and modes in io.go, reading and writing in
// io_read.go. Open installs it.
package iolib
