package utf8lib

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/errlib"
	"github.com/pushlua/pushlua/stdlib/internal/stdtest"
	"github.com/pushlua/pushlua/stdlib/mathlib"
	"github.com/pushlua/pushlua/stdlib/oslib"
)

// utf8Cases are expressions whose results, or errors, are the same here as
// in C Lua 5.3. In a want, @ is the position of the case's line.
var utf8Cases = []struct{ expr, want string }{
	{`utf8.char(72, 228, 8364, 128512)`, `"H\195\164\226\130\172\240\159\152\128"`},
	{`utf8.char()`, `""`},
	{`utf8.char(0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF)`, `"\0\127\194\128\223\191\224\160\128\239\191\191\240\144\128\128\244\143\191\191"`},
	{`utf8.char("65")`, `"A"`},
	{`utf8.char(-1)`, `error: @ bad argument #1 to 'char' (value out of range)`},
	{`utf8.char(65, 1.5)`, `error: @ bad argument #2 to 'char' (number has no integer representation)`},
	{`utf8.char({})`, `error: @ bad argument #1 to 'char' (number expected, got table)`},
	{`utf8.codepoint("h\195\164ll\226\130\172", 1, -1)`, `104, 228, 108, 108, 8364`},
	{`utf8.codepoint("h\195\164ll\226\130\172", 2)`, `228`},
	{`utf8.codepoint("h\195\164ll\226\130\172", -3)`, `8364`},
	{`utf8.codepoint("h\195\164ll\226\130\172", 3)`, `error: @ invalid UTF-8 code`},
	{`utf8.codepoint("abc")`, `97`},
	{`utf8.codepoint("abc", 3, 2)`, ``},
	{`utf8.codepoint(123, 2)`, `50`},
	{`utf8.codepoint("")`, `error: @ bad argument #3 to 'codepoint' (out of range)`},
	{`utf8.codepoint("abc", 0)`, `error: @ bad argument #2 to 'codepoint' (out of range)`},
	{`utf8.codepoint("abc", -5)`, `error: @ bad argument #2 to 'codepoint' (out of range)`},
	{`utf8.codepoint("abc", 1, 4)`, `error: @ bad argument #3 to 'codepoint' (out of range)`},
	{`utf8.codepoint("abc", 1.5)`, `error: @ bad argument #2 to 'codepoint' (number has no integer representation)`},
	{`utf8.codepoint()`, `error: @ bad argument #1 to 'codepoint' (string expected, got no value)`},
	{`utf8.codepoint("\255")`, `error: @ invalid UTF-8 code`},
	{`utf8.codepoint("\237\160\128")`, `55296`},
	{`utf8.codepoint("\244\144\128\128")`, `error: @ invalid UTF-8 code`},
	{`utf8.codepoint("\192\128")`, `error: @ invalid UTF-8 code`},
	{`utf8.codepoint("\226\130")`, `error: @ invalid UTF-8 code`},
	{`utf8.len("h\195\164ll\226\130\172")`, `5`},
	{`utf8.len("")`, `0`},
	{`utf8.len("abc\255def")`, `nil, 4`},
	{`utf8.len("h\195\164ll\226\130\172", 3)`, `nil, 3`},
	{`utf8.len("h\195\164ll\226\130\172", -3)`, `1`},
	{`utf8.len("h\195\164ll\226\130\172", 2, 4)`, `2`},
	{`utf8.len("h\195\164ll\226\130\172", 1, -2)`, `5`},
	{`utf8.len("abc", 4)`, `0`},
	{`utf8.len("abc", 5)`, `error: @ bad argument #2 to 'len' (initial position out of string)`},
	{`utf8.len("abc", 0)`, `error: @ bad argument #2 to 'len' (initial position out of string)`},
	{`utf8.len("abc", 1, 4)`, `error: @ bad argument #3 to 'len' (final position out of string)`},
	{`utf8.len("abc", 3, 1)`, `0`},
	{`utf8.len("\237\160\128")`, `1`},
	{`utf8.len("a\128")`, `nil, 2`},
	{`utf8.len("\240\159\152")`, `nil, 1`},
	{`utf8.len(nil)`, `error: @ bad argument #1 to 'len' (string expected, got nil)`},
	{`utf8.offset("h\195\164ll\226\130\172", 3)`, `4`},
	{`utf8.offset("h\195\164ll\226\130\172", 5)`, `6`},
	{`utf8.offset("h\195\164ll\226\130\172", 6)`, `9`},
	{`utf8.offset("h\195\164ll\226\130\172", 7)`, `nil`},
	{`utf8.offset("h\195\164ll\226\130\172", -1)`, `6`},
	{`utf8.offset("h\195\164ll\226\130\172", -5)`, `1`},
	{`utf8.offset("h\195\164ll\226\130\172", -6)`, `nil`},
	{`utf8.offset("h\195\164ll\226\130\172", 0, 3)`, `2`},
	{`utf8.offset("h\195\164ll\226\130\172", 0, 8)`, `6`},
	{`utf8.offset("h\195\164ll\226\130\172", 0, 9)`, `9`},
	{`utf8.offset("h\195\164ll\226\130\172", 1, 3)`, `error: @ initial position is a continuation byte`},
	{`utf8.offset("h\195\164ll\226\130\172", 2, 4)`, `5`},
	{`utf8.offset("h\195\164ll\226\130\172", -1, 4)`, `2`},
	{`utf8.offset("abc", 1, 5)`, `error: @ bad argument #3 to 'offset' (position out of range)`},
	{`utf8.offset("abc", 1, 0)`, `error: @ bad argument #3 to 'offset' (position out of range)`},
	{`utf8.offset("abc", 1, -4)`, `error: @ bad argument #3 to 'offset' (position out of range)`},
	{`utf8.offset("abc", 1, 4)`, `4`},
	{`utf8.offset("", 1)`, `1`},
	{`utf8.offset("", -1)`, `nil`},
	{`utf8.offset("", 0)`, `1`},
	{`utf8.offset("abc")`, `error: @ bad argument #2 to 'offset' (number expected, got no value)`},
	{`utf8.offset("a\128\128b", 0, 3)`, `1`},
	{`codes("h\195\164ll\226\130\172")`, `"1:104 2:228 4:108 5:108 6:8364 "`},
	{`codes("")`, `""`},
	{`codes("a\255b")`, `error: chunk:1: invalid UTF-8 code`},
	{`codes("\128")`, `error: chunk:1: invalid UTF-8 code`},
	{`codes("a\128")`, `error: chunk:1: invalid UTF-8 code`},
	{`codes("\226\130")`, `error: chunk:1: invalid UTF-8 code`},
	{`codes("\195\164\128")`, `error: chunk:1: invalid UTF-8 code`},
	{`utf8.codes()`, `error: @ bad argument #1 to 'codes' (string expected, got no value)`},
	{`#utf8.charpattern > 0`, `true`},
}

// utf8Script builds a chunk that evaluates each case on its own line and
// returns one result line per case.
func utf8Script(exprs []string) string {
	var b strings.Builder
	b.WriteString(`local out = {} ` +
		`local function quote(s) local r = {} for i = 1, #s do local c = string.byte(s, i) ` +
		`if c < 32 or c > 126 or c == 34 or c == 92 then r[i] = "\\" .. c else r[i] = string.char(c) end end ` +
		`return '"' .. table.concat(r) .. '"' end ` +
		`local function show(...) local t = {} for i = 1, select("#", ...) do local v = select(i, ...) ` +
		`if type(v) == "string" then t[i] = quote(v) else t[i] = tostring(v) end end return table.concat(t, ", ") end ` +
		`local function codes(s) local r = "" for p, c in utf8.codes(s) do r = r .. p .. ":" .. c .. " " end return r end ` +
		`local function run(f) local r = {pcall(f)} ` +
		`if r[1] then out[#out + 1] = show(select(2, pcall(f))) else out[#out + 1] = "error: " .. tostring(r[2]) end end` + "\n")
	for _, e := range exprs {
		fmt.Fprintf(&b, "run(function() return %s end)\n", e)
	}
	b.WriteString(`return table.concat(out, "\n")`)
	return b.String()
}

func TestUTF8Functions(t *testing.T) {
	var exprs []string
	for _, c := range utf8Cases {
		exprs = append(exprs, c.expr)
	}
	got, ok := eval(t, nil, utf8Script(exprs))
	if !ok {
		t.Fatal(got)
	}
	lines := strings.Split(got, "\n")
	if len(lines) != len(utf8Cases) {
		t.Fatalf("got %d results; want %d", len(lines), len(utf8Cases))
	}
	for i, c := range utf8Cases {
		want := strings.ReplaceAll(c.want, "@", fmt.Sprintf("chunk:%d:", i+2))
		if lines[i] != want {
			t.Errorf("%s: got %s; want %s", c.expr, lines[i], want)
		}
	}
}

// TestUTF8MatchesLua53 runs the same cases in Debian's lua5.3.
func TestUTF8MatchesLua53(t *testing.T) {
	lua53, err := exec.LookPath("lua5.3")
	if err != nil {
		t.Skip("lua5.3 is not on PATH (apt-get install lua5.3 to compare utf8 with C Lua)")
	}
	var exprs []string
	for _, c := range utf8Cases {
		exprs = append(exprs, c.expr)
	}
	script := utf8Script(exprs)
	cmd := exec.Command(lua53, "-")
	// The same chunk name as eval's, and the result printed.
	cmd.Stdin = strings.NewReader("io.write((load(" + fmt.Sprintf("%q", script) + ", '=chunk'))())")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lua5.3: %v: %s", err, stderr.String())
	}
	want := strings.Split(string(out), "\n")
	got, ok := eval(t, nil, script)
	if !ok {
		t.Fatal(got)
	}
	for i, g := range strings.Split(got, "\n") {
		if i >= len(want) || g != want[i] {
			t.Errorf("%s: got %s; want %s (lua5.3)", exprs[i], g, want[min(i, len(want)-1)])
		}
	}
}

// TestUTF8Beyond53 covers what comes from Lua 5.4: characters up to
// 0x7FFFFFFF and the lax flag.
func TestUTF8Beyond53(t *testing.T) {
	tests := []struct{ chunk, want string }{
		{`return utf8.char(0x7FFFFFFF) == "\253\191\191\191\191\191"`, "true"},
		{`return utf8.char(0x110000) == "\244\144\128\128"`, "true"},
		{`return utf8.char(0x80000000)`, "chunk:1: bad argument #1 to 'char' (value out of range)"},
		{`return utf8.len("\244\144\128\128")`, "nil"},
		{`return utf8.len("\244\144\128\128", 1, -1, true)`, "1"},
		{`return utf8.codepoint("\253\191\191\191\191\191", 1, 1, true)`, "2147483647"},
		{`local r = {} for p, c in utf8.codes("a\244\144\128\128", true) do r[#r+1] = c end return table.concat(r, ",")`, "97,1114112"},
		{`return utf8.charpattern == "[\0-\x7F\xC2-\xFD][\x80-\xBF]*"`, "true"},
		{`return require("utf8") == utf8`, "true"},
	}
	for _, tt := range tests {
		t.Run(tt.chunk, func(t *testing.T) {
			got, _ := eval(t, nil, tt.chunk)
			if got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

// TestUTF8Require checks that require finds the module even after a script
// removed it from package.loaded.
func TestUTF8Require(t *testing.T) {
	l := stdtest.NewState(nil, Open)
	err := lua.DoString(l, `
assert(package.loaded.utf8 == utf8)
package.loaded.utf8 = nil
local u = require("utf8")
assert(u ~= utf8 and u.char(65) == "A")`)
	if err != nil {
		t.Fatal(err)
	}
}

func TestUTF8Lua(t *testing.T) {
	stdtest.RunLuaFile(t, "utf8_test.lua", nil, errlib.Open, Open)
}

// eval runs chunk in a state with the error, os, math and utf8 modules
// (stdtest.Eval).
func eval(t *testing.T, env *luax.StaticHost, chunk string) (string, bool) {
	t.Helper()
	return stdtest.Eval(t, env, chunk, errlib.Open, oslib.Open, mathlib.Open, Open)
}
