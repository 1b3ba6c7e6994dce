package runtime

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// stalledListener accepts connections on 127.0.0.1 and never answers (nor
// reads, nor closes them until the test ends): an endpoint that hangs at
// any stage, TLS handshake included.
func stalledListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

// TestStalledEndpoint: with pushlua_handler_timeout = 1s and an endpoint
// that accepts and never answers, each HTTP API returns its timeout
// inside Lua within the budget (+100 ms, measured in the script around the
// call), the handler goes on to log it, the worker is free and the next
// transaction runs. Before, socket.http held the handler for 60 s and
// dovecot.http for 120 s.
func TestStalledEndpoint(t *testing.T) {
	addr := stalledListener(t)
	const budget = time.Second
	tests := []struct {
		name string
		call string // Lua: sets res (a string) from a request to URL
		want string // res
	}{
		{"socket.http", `local http = require "socket.http"
			local b, err = http.request(URL .. "/push")
			res = tostring(b) .. " " .. tostring(err)`, "nil timeout"},
		{"socket.http with a long http.TIMEOUT", `local http = require "socket.http"
			http.TIMEOUT = 3600
			local b, err = http.request{url = URL .. "/push", method = "POST", source = require("ltn12").source.string("{}")}
			res = tostring(b) .. " " .. tostring(err)`, "nil timeout"},
		{"dovecot.http", `local c = dovecot.http.client({request_timeout_msecs = 60000, max_attempts = 2})
			local req = c:request({url = URL .. "/push", method = "POST"})
			req:set_payload("{}")
			local resp = req:submit()
			res = resp:status() .. " " .. resp:reason():sub(1, 32)`, "9008 Absolute request timeout expired"},
		{"ssl.https (stalled TLS handshake)", `local https = require "ssl.https"
			local b, err = https.request{url = "https://" .. ADDR .. "/push", verify = "none"}
			res = tostring(b) .. " " .. tostring(err)`, "nil timeout"},
		{"socket.sleep", `local socket = require "socket"
			socket.sleep(3600)
			res = "slept"`, "slept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := fmt.Sprintf(`URL = %q
ADDR = %q
local socket = require "socket"
function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new(ctx, e)
  if e.uid == 2 then dovecot.i_info("next transaction ran") return end
  local t0 = socket.gettime()
  %s
  dovecot.i_info(string.format("returned in Lua after %%d ms: %%s", math.floor((socket.gettime() - t0) * 1000), res))
end
function dovecot_lua_notify_end_txn() end
`, "http://"+addr, addr, tt.call)
			te := newTestEngine(t, map[string]string{
				"pushlua.conf": luaConf("pushlua_handler_timeout = 1s"),
				"script.lua":   script,
			}, func(o *Options) { o.Jobs = 1 })
			if errs := te.InitErrors(); len(errs) > 0 {
				t.Fatalf("init: %v", errs)
			}
			start := time.Now()
			res := te.run(t,
				`{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`,
				`{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 2}]}`,
			)
			elapsed := time.Since(start)
			lines := te.Logs.Lines()
			var inLua time.Duration = -1
			for _, l := range lines {
				if rest, ok := strings.CutPrefix(l, "Info: returned in Lua after "); ok {
					ms, text, _ := strings.Cut(rest, " ms: ")
					n, _ := strconv.Atoi(ms)
					inLua = time.Duration(n) * time.Millisecond
					if text != tt.want {
						t.Errorf("the call returned %q in Lua; want %q", text, tt.want)
					}
				}
			}
			if inLua < 0 {
				t.Fatalf("the handler did not get the call's result:\n%s", strings.Join(lines, "\n"))
			}
			if inLua > budget+100*time.Millisecond {
				t.Errorf("the call returned after %v; want within the %v budget + 100ms", inLua, budget)
			}
			if res[0].Errors != 0 {
				t.Errorf("the stalled transaction: %d errors; want 0 (the script handled the timeout)\n%s", res[0].Errors, strings.Join(lines, "\n"))
			}
			if !hasLine(lines, "Info: next transaction ran") || res[1].Errors != 0 {
				t.Errorf("the next transaction did not run:\n%s", strings.Join(lines, "\n"))
			}
			// Generous: the point is that the worker is not held for the
			// endpoint's or the client's timeouts (60 s and more).
			if elapsed > 10*time.Second {
				t.Errorf("both transactions took %v", elapsed)
			}
		})
	}
}
