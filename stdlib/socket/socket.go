package socket

// LuaSocket-compatible modules: socket (socket.core), socket.http,
// socket.url, socket.headers, ltn12 and mime, as LuaSocket 3.x (Debian's
// lua-socket 3.1.0, which calls itself "LuaSocket 3.0.0") has them, minus the
// raw sockets (tcp, udp, select, dns): scripts only need HTTP. HTTP goes
// through the host's shared httpx client and the current call's context.
//
// go-lua can only raise strings, so socket.try raises its message as a
// string and remembers it (per state) for socket.protect, which turns it
// back into `nil, message`; any other error passes through protect.

import (
	"fmt"
	"math"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/errlib"
)

// socketVersion is socket._VERSION of Debian's lua-socket 3.1.0.
const socketVersion = "LuaSocket 3.0.0"

// Open registers the LuaSocket modules in package.preload.
func Open(l *lua.State, h luax.Host) {
	luax.Preload(l, "socket.core", func(l *lua.State) int { return openSocketCore(l, h) })
	luax.Preload(l, "socket", openSocketLua)
	luax.Preload(l, "socket.headers", openSocketHeaders)
	luax.Preload(l, "socket.url", openSocketURL)
	luax.Preload(l, "socket.http", func(l *lua.State) int { return openSocketHTTP(l, h) })
	luax.Preload(l, "ssl.https", func(l *lua.State) int { return openSSLHTTPS(l, h) })
	luax.Preload(l, "ltn12", openLTN12)
	luax.Preload(l, "mime.core", openMimeCore)
	luax.Preload(l, "mime", openMime)
}

// socketCoreFunctions is the Go part of the socket table.
func socketCoreFunctions(h luax.Host) []lua.RegistryFunction {
	return []lua.RegistryFunction{
		{Name: "gettime", Function: func(l *lua.State) int {
			now := h.Now()
			l.PushNumber(float64(now.UnixMicro()) / 1e6)
			return 1
		}},
		{Name: "newtry", Function: socketNewTry},
		{Name: "protect", Function: socketProtect},
		{Name: "skip", Function: socketSkip},
		{Name: "sleep", Function: func(l *lua.State) int {
			n := lua.CheckNumber(l, 1)
			if n <= 0 || math.IsNaN(n) {
				return 0
			}
			d := time.Duration(math.MaxInt64)
			if n < float64(math.MaxInt32) {
				d = time.Duration(n * float64(time.Second))
			}
			t := time.NewTimer(d)
			defer t.Stop()
			ctx, cancel := luax.BlockingContext(h, nil)
			defer cancel()
			select {
			case <-t.C:
			case <-ctx.Done():
				// The runtime's hook raises the deadline error as soon as
				// Lua runs again.
			}
			return 0
		}},
	}
}

// openSocketCore builds the socket table (socket.core).
func openSocketCore(l *lua.State, h luax.Host) int {
	lua.NewLibrary(l, socketCoreFunctions(h))
	l.PushString(socketVersion)
	l.SetField(-2, "_VERSION")
	return 1
}

// chooseLua is LuaSocket's choose(t), which socket.lua (socket.choose) and
// mime.lua (a local) each define: a function that calls t[name](opt1,
// opt2), name defaulting to "default".
const chooseLua = `function(t)
  return function(name, opt1, opt2)
    if type(name) ~= "string" then
      name, opt1, opt2 = "default", name, opt1
    end
    local f = t[name or "nil"]
    if not f then
      error("unknown key (" .. tostring(name) .. ")", 3)
    end
    return f(opt1, opt2)
  end
end`

// socketLua completes the socket table as LuaSocket's socket.lua does
// (without the functions that need raw sockets). It receives the table.
const socketLua = `
local socket = ...
socket.try = socket.newtry()
socket.BLOCKSIZE = 2048
socket.sourcet = {}
socket.sinkt = {}
socket.choose = ` + chooseLua + `
socket.source = socket.choose(socket.sourcet)
socket.sink = socket.choose(socket.sinkt)
return socket
`

// openSocketLua is the opener of "socket": socket.core plus socket.lua.
func openSocketLua(l *lua.State) int {
	sockRequire(l, "socket.core")
	sockRunChunk(l, socketLua, "socket.lua", 1)
	return 1
}

// sockRequire pushes require(name).
func sockRequire(l *lua.State, name string) {
	l.Global("require")
	l.PushString(name)
	l.Call(1, 1)
}

// sockRunChunk runs Lua source with the nargs values on top of the stack
// as its arguments, leaving its one result.
func sockRunChunk(l *lua.State, src, name string, nargs int) {
	if err := lua.LoadBuffer(l, src, "@"+name, "t"); err != nil {
		panic(fmt.Sprintf("stdlib: %s does not compile: %v", name, err))
	}
	l.Insert(-nargs - 1)
	l.Call(nargs, 1)
}

// tryRegistryKey names the registry table of messages raised by a try
// function and not yet caught by protect: [raised string] = {message}.
// tryCountKey counts its entries: when a script catches try errors with
// pcall instead of protect, the table is emptied every tryMaxKept entries.
const (
	tryRegistryKey = "pushlua.socket.try"
	tryCountKey    = "pushlua.socket.try.count"
	tryMaxKept     = 64
)

// socketNewTry returns a try function: it returns all its arguments when the
// first is true; otherwise it calls the finalizer and raises the second
// argument for socket.protect.
func socketNewTry(l *lua.State) int {
	l.SetTop(1)
	if l.IsNil(1) {
		l.Pop(1)
		l.PushGoFunction(func(*lua.State) int { return 0 })
	}
	l.PushGoClosure(func(l *lua.State) int {
		if l.ToBoolean(1) {
			return l.Top()
		}
		l.PushValue(lua.UpValueIndex(1))
		l.Call(0, 0)
		l.SetTop(2)
		raiseTry(l)
		return 0
	}, 1)
	return 1
}

// raiseTry raises the value on top of the stack as a try error.
func raiseTry(l *lua.State) {
	msg, ok := "", false
	if l.TypeOf(-1) == lua.TypeString {
		msg, ok = l.ToString(-1)
	}
	if !ok {
		msg = fmt.Sprintf("(socket.try error is a %s value)", lua.TypeNameOf(l, -1))
	}
	l.Field(lua.RegistryIndex, tryCountKey)
	n, _ := l.ToInteger(-1)
	l.Pop(1)
	if n >= tryMaxKept {
		l.NewTable()
		l.SetField(lua.RegistryIndex, tryRegistryKey)
		n = 0
	}
	l.PushInteger(n + 1)
	l.SetField(lua.RegistryIndex, tryCountKey)
	lua.SubTable(l, lua.RegistryIndex, tryRegistryKey)
	l.CreateTable(1, 0)
	l.PushValue(-3)
	l.RawSetInt(-2, 1)
	l.SetField(-2, msg)
	l.Pop(2)
	l.PushString(msg)
	l.Error()
}

// socketProtect returns a function that calls f and turns a try error into
// `nil, message`; other errors pass through.
func socketProtect(l *lua.State) int {
	lua.CheckType(l, 1, lua.TypeFunction)
	l.SetTop(1)
	l.PushGoClosure(protected, 1)
	return 1
}

func protected(l *lua.State) int {
	l.PushValue(lua.UpValueIndex(1))
	l.Insert(1)
	if err := l.ProtectedCall(l.Top()-1, lua.MultipleReturns, 0); err != nil {
		if l.TypeOf(-1) == lua.TypeString {
			msg, _ := l.ToString(-1)
			lua.SubTable(l, lua.RegistryIndex, tryRegistryKey)
			l.Field(-1, msg)
			if l.IsTable(-1) {
				l.PushNil()
				l.SetField(-3, msg)
				l.PushNil()
				l.RawGetInt(-2, 1)
				return 2
			}
			l.Pop(2)
			errlib.ProtectedArgError(l, msg)
		}
		l.Error()
	}
	return l.Top()
}

// socketSkip returns its arguments after the first d+1.
func socketSkip(l *lua.State) int {
	d := lua.CheckInteger(l, 1)
	n := l.Top() - d - 1
	if n < 0 {
		return 0
	}
	return n
}

// headersCanonic is socket.headers.canonic: how LuaSocket capitalises the
// names of known header fields it sends.
var headersCanonic = map[string]string{
	"accept": "Accept", "accept-charset": "Accept-Charset", "accept-encoding": "Accept-Encoding",
	"accept-language": "Accept-Language", "accept-ranges": "Accept-Ranges", "action": "Action",
	"alternate-recipient": "Alternate-Recipient", "age": "Age", "allow": "Allow",
	"arrival-date": "Arrival-Date", "authorization": "Authorization", "bcc": "Bcc",
	"cache-control": "Cache-Control", "cc": "Cc", "comments": "Comments", "connection": "Connection",
	"content-description": "Content-Description", "content-disposition": "Content-Disposition",
	"content-encoding": "Content-Encoding", "content-id": "Content-ID",
	"content-language": "Content-Language", "content-length": "Content-Length",
	"content-location": "Content-Location", "content-md5": "Content-MD5",
	"content-range": "Content-Range", "content-transfer-encoding": "Content-Transfer-Encoding",
	"content-type": "Content-Type", "cookie": "Cookie", "date": "Date",
	"diagnostic-code": "Diagnostic-Code", "dsn-gateway": "DSN-Gateway", "etag": "ETag",
	"expect": "Expect", "expires": "Expires", "final-log-id": "Final-Log-ID",
	"final-recipient": "Final-Recipient", "from": "From", "host": "Host", "if-match": "If-Match",
	"if-modified-since": "If-Modified-Since", "if-none-match": "If-None-Match", "if-range": "If-Range",
	"if-unmodified-since": "If-Unmodified-Since", "in-reply-to": "In-Reply-To", "keywords": "Keywords",
	"last-attempt-date": "Last-Attempt-Date", "last-modified": "Last-Modified", "location": "Location",
	"max-forwards": "Max-Forwards", "message-id": "Message-ID", "mime-version": "MIME-Version",
	"original-envelope-id": "Original-Envelope-ID", "original-recipient": "Original-Recipient",
	"pragma": "Pragma", "proxy-authenticate": "Proxy-Authenticate",
	"proxy-authorization": "Proxy-Authorization", "range": "Range", "received": "Received",
	"received-from-mta": "Received-From-MTA", "references": "References", "referer": "Referer",
	"remote-mta": "Remote-MTA", "reply-to": "Reply-To", "reporting-mta": "Reporting-MTA",
	"resent-bcc": "Resent-Bcc", "resent-cc": "Resent-Cc", "resent-date": "Resent-Date",
	"resent-from": "Resent-From", "resent-message-id": "Resent-Message-ID",
	"resent-reply-to": "Resent-Reply-To", "resent-sender": "Resent-Sender", "resent-to": "Resent-To",
	"retry-after": "Retry-After", "return-path": "Return-Path", "sender": "Sender", "server": "Server",
	"smtp-remote-recipient": "SMTP-Remote-Recipient", "status": "Status", "subject": "Subject",
	"te": "TE", "to": "To", "trailer": "Trailer", "transfer-encoding": "Transfer-Encoding",
	"upgrade": "Upgrade", "user-agent": "User-Agent", "vary": "Vary", "via": "Via",
	"warning": "Warning", "will-retry-until": "Will-Retry-Until", "www-authenticate": "WWW-Authenticate",
	"x-mailer": "X-Mailer",
}

// openSocketHeaders is the opener of "socket.headers".
func openSocketHeaders(l *lua.State) int {
	sockRequire(l, "socket")
	l.NewTable()
	l.CreateTable(0, len(headersCanonic))
	for k, v := range headersCanonic {
		l.PushString(v)
		l.SetField(-2, k)
	}
	l.SetField(-2, "canonic")
	l.PushValue(-1)
	l.SetField(-3, "headers")
	return 1
}

// canonicHeader is the name LuaSocket sends for the lower-case name.
func canonicHeader(name string) string {
	if c, ok := headersCanonic[name]; ok {
		return c
	}
	return name
}

// sockString returns the string or number at index as a string, without
// converting the value on the stack.
func sockString(l *lua.State, index int) (string, bool) {
	switch l.TypeOf(index) {
	case lua.TypeString:
		return l.ToString(index)
	case lua.TypeNumber:
		l.PushValue(index)
		s, ok := l.ToString(-1)
		l.Pop(1)
		return s, ok
	}
	return "", false
}

// sockFieldString returns the field of the table at index if it is a
// string or a number.
func sockFieldString(l *lua.State, index int, name string) (string, bool) {
	l.Field(index, name)
	defer l.Pop(1)
	return sockString(l, -1)
}
