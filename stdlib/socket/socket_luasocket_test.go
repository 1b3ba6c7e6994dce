package socket

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sockRealLua returns the lua5.4 binary if real LuaSocket is installed
// (Debian: apt-get install lua5.4 lua-socket), or skips the test.
func sockRealLua(t *testing.T) string {
	t.Helper()
	lua54, err := exec.LookPath("lua5.4")
	if err != nil {
		t.Skip("lua5.4 not installed")
	}
	if err := exec.Command(lua54, "-e", `require "socket.http"`).Run(); err != nil {
		t.Skip("LuaSocket not installed for lua5.4 (apt-get install lua-socket)")
	}
	return lua54
}

// sockRealDriver runs one test function of a Lua test file under real Lua
// 5.4 with real LuaSocket: arg[1] file, arg[2] function name.
const sockRealDriver = `
local file, name = arg[1], arg[2]
assert(load(PRELUDE))()
dofile(file)
local ok, err = xpcall(_G[name], debug.traceback)
if not ok and string.sub(tostring(err), 1, 6) ~= "SKIP: " then io.stderr:write(tostring(err), "\n") os.exit(1) end
`

// TestSocketLuaFilesAgainstLuaSocket runs the Lua test files of the socket
// modules under real Lua 5.4 and LuaSocket 3.1.0, so the tests pin
// LuaSocket's behaviour and not only ours. Functions named test_ours_*
// cover documented differences and are skipped there.
func TestSocketLuaFilesAgainstLuaSocket(t *testing.T) {
	lua54 := sockRealLua(t)
	srv := sockTestServer(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	globals := map[string]string{
		"TEST_URL":   srv.URL,
		"TEST_HOST":  strings.TrimPrefix(srv.URL, "http://"),
		"CLOSED_URL": closedURL,
	}
	for _, file := range []string{"socket_test.lua", "socket_url_test.lua", "ltn12_test.lua", "socket_mime_test.lua", "socket_http_test.lua"} {
		src, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sockTestFunc.FindAllStringSubmatch(string(src), -1) {
			name := m[1]
			if strings.HasPrefix(name, "test_ours_") {
				continue
			}
			t.Run(file+"/"+name, func(t *testing.T) {
				cmd := exec.Command(lua54, "-", filepath.Join("testdata", file), name)
				var setup strings.Builder
				setup.WriteString("PRELUDE = " + sockLuaQuote(sockPrelude) + "\n")
				for k, v := range globals {
					setup.WriteString(k + " = " + sockLuaQuote(v) + "\n")
				}
				cmd.Stdin = strings.NewReader(setup.String() + sockRealDriver)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("real LuaSocket: %v\n%s", err, out)
				}
			})
		}
	}
}

// sockLuaQuote quotes s as a Lua long-bracket-free string literal.
func sockLuaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString("\\n")
		case c < ' ' || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
