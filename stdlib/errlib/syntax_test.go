package errlib

import (
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"
)

// syntaxLoadError returns go-lua's message for a source that fails to load.
func syntaxLoadError(t *testing.T, src string) string {
	t.Helper()
	l := lua.NewState()
	if err := lua.LoadBuffer(l, src, "@x.lua", "t"); err == nil {
		t.Fatalf("%q loaded; want a syntax error", src)
	}
	msg, _ := l.ToString(-1)
	return msg
}

func TestSyntaxHints(t *testing.T) {
	tests := []struct {
		name, src, hint string
	}{
		{"integer division", "local a, b = 7, 2\nreturn a // b",
			"line 2 uses the Lua 5.3 integer division operator '//', which pushlua's Lua 5.2 does not have; write math.floor(a / b) instead"},
		{"band", "return 6 & 3", "line 1 uses the Lua 5.3 bitwise operator '&', which pushlua's Lua 5.2 does not have; write bit32.band(a, b) instead"},
		{"bor", "x = 1\ny = x | 4", "line 2 uses the Lua 5.3 bitwise operator '|', which pushlua's Lua 5.2 does not have; write bit32.bor(a, b) instead"},
		{"bxor", "x = a ~ b", "line 1 uses the Lua 5.3 bitwise xor operator '~', which pushlua's Lua 5.2 does not have; write bit32.bxor(a, b) instead"},
		{"bxor after call", "x = f(a) ~ 0xff", "line 1 uses the Lua 5.3 bitwise xor operator '~', which pushlua's Lua 5.2 does not have; write bit32.bxor(a, b) instead"},
		{"bnot", "x = ~a", "line 1 uses the Lua 5.3 bitwise not operator '~', which pushlua's Lua 5.2 does not have; write bit32.bnot(a) instead"},
		{"bnot in call", "f(1, ~a)", "line 1 uses the Lua 5.3 bitwise not operator '~', which pushlua's Lua 5.2 does not have; write bit32.bnot(a) instead"},
		{"shl", "return 1 << 4", "line 1 uses the Lua 5.3 shift operator '<<', which pushlua's Lua 5.2 does not have; write bit32.lshift(a, n) instead"},
		{"shr", "return 256 >> 4", "line 1 uses the Lua 5.3 shift operator '>>', which pushlua's Lua 5.2 does not have; write bit32.rshift(a, n) instead"},
		{"const", "local x <const> = 5", "line 1 uses the Lua 5.4 attribute <const>, which pushlua's Lua 5.2 does not have; write the declaration without it"},
		{"const second name", "local a, b <const> = 1, 2", "line 1 uses the Lua 5.4 attribute <const>, which pushlua's Lua 5.2 does not have; write the declaration without it"},
		{"close", "do\n  local f <close> = io.open('x')\nend", "line 2 uses the Lua 5.4 attribute <close>, which pushlua's Lua 5.2 does not have; write the declaration without it and close the value yourself"},
		{"after strings and comments",
			"-- a // b & c | d\n--[==[ x ~ y\n << ]==]\nlocal s = 'a // b' .. \"c & d\" .. [[\n~ ]] .. [=[ | ]=]\nlocal t = \"\\\"|\" .. 'it\\'s ~'\nreturn s // 2",
			"line 7 uses the Lua 5.3 integer division operator '//', which pushlua's Lua 5.2 does not have; write math.floor(a / b) instead"},
		{"after ~=", "if a ~= b then x = 1 end\nreturn a ~ b", "line 2 uses the Lua 5.3 bitwise xor operator '~', which pushlua's Lua 5.2 does not have; write bit32.bxor(a, b) instead"},
		{"after goto and labels", "goto done\n::done::\nreturn 1 // 1", "line 3 uses the Lua 5.3 integer division operator '//', which pushlua's Lua 5.2 does not have; write math.floor(a / b) instead"},
		{"string with \\z", "local s = 'a\\z\n  // b'\nreturn s | 1", "line 3 uses the Lua 5.3 bitwise operator '|', which pushlua's Lua 5.2 does not have; write bit32.bor(a, b) instead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := syntaxLoadError(t, tt.src)
			want := msg + " (hint: " + tt.hint + ")"
			if got := ExplainSyntax([]byte(tt.src), msg); got != want {
				t.Errorf("got %q; want %q", got, want)
			}
		})
	}
}

func TestSyntaxNoHint(t *testing.T) {
	tests := []struct{ name, src string }{
		{"plain error", "x = = 1"},
		{"operators only in strings", "x = 'a // b & c | d ~ e << f >> g'\nx = = 1"},
		{"operators only in comments", "-- a // b\n--[[ a & b\n| c ]] x = = 1"},
		{"operators only in long strings", "x = [==[ a ~ b ]] << ]==]\nx = = 1"},
		{"not equal", "if a ~= b then end\nx = = 1"},
		{"comparison with names const and close", "if a <const> b then end\nif a <close> b then end\nx = = 1"},
		{"construct after the error", "x = = 1\nreturn a // b"},
		{"unfinished string", "x = 'a // b\nreturn 1"},
		// go-lua's LoadBuffer, which the runtime uses, rejects a #! line.
		{"shebang", "#!/usr/bin/lua\nreturn 1 & 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := syntaxLoadError(t, tt.src)
			if got := ExplainSyntax([]byte(tt.src), msg); got != msg {
				t.Errorf("got %q; want the message unchanged, %q", got, msg)
			}
		})
	}
}

// TestSyntaxMessageWithoutLine hints at the first construct when the message
// names no line.
func TestSyntaxMessageWithoutLine(t *testing.T) {
	got := ExplainSyntax([]byte("return 1 // 2"), "syntax error")
	if want := "syntax error (hint: line 1 uses the Lua 5.3 integer division operator '//'"; !strings.HasPrefix(got, want) {
		t.Errorf("got %q; want it to start with %q", got, want)
	}
	if got := ExplainSyntax([]byte("return 1"), "syntax error"); got != "syntax error" {
		t.Errorf("got %q; want %q", got, "syntax error")
	}
}
