// Package socket is LuaSocket for pushlua's scripts: socket (socket.core),
// socket.url, socket.headers, socket.http, ltn12 and mime, and LuaSec's
// ssl.https, which is socket.http's request engine over TLS and so lives
// here. HTTP goes through the host's shared httpx client (luax.Host.HTTP) and
// the current call's context and deadline. Open registers the modules in
// package.preload.
package socket
