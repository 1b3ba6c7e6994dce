package strlib

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/stdlib/internal/stdtest"
	"github.com/pushlua/pushlua/stdlib/pattern"
)

// newPatternState returns a state with go-lua's standard libraries and
// the string pattern functions.
func newPatternState(t testing.TB) *lua.State {
	t.Helper()
	return stdtest.NewState(nil, Open)
}

// strpatternCall calls the global function name with no arguments in
// protected mode and returns its error message, if any.
func strpatternCall(l *lua.State, name string) error {
	l.Global(name)
	if err := l.ProtectedCall(0, 0, 0); err != nil {
		return err
	}
	return nil
}

var strpatternTestFunc = regexp.MustCompile(`(?m)^function (test_\w+)\(`)

// TestStringPatternsLua runs each function test_x of
// testdata/strpattern_test.lua as a subtest, in a fresh state.
func TestStringPatternsLua(t *testing.T) {
	const file = "testdata/strpattern_test.lua"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	names := strpatternTestFunc.FindAllStringSubmatch(string(src), -1)
	if len(names) == 0 {
		t.Fatalf("%s has no test_ functions", file)
	}
	for _, name := range names {
		t.Run(name[1], func(t *testing.T) {
			l := newPatternState(t)
			if err := lua.DoFile(l, file); err != nil {
				t.Fatalf("loading %s: %v", file, err)
			}
			if err := strpatternCall(l, name[1]); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestLua52PatternSuite runs testdata/pm.lua, our adaptation of the
// pattern matching tests of the Lua 5.2 test suite.
func TestLua52PatternSuite(t *testing.T) {
	l := newPatternState(t)
	if err := lua.LoadFile(l, "testdata/pm.lua", "t"); err != nil {
		t.Fatal(err)
	}
	if err := l.ProtectedCall(0, 1, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.ToString(-1); got != "OK" {
		t.Errorf("pm.lua returned %q; want \"OK\"", got)
	}
}

func TestOpenStringPatterns(t *testing.T) {
	l := newPatternState(t)
	// The functions are in the string table and, through the string
	// metatable's __index, methods of strings; the rest of the library
	// stays.
	tests := []struct {
		code string
		want string
	}{
		{`return type(string.find), type(string.match), type(string.gmatch), type(string.gsub)`, "function function function function"},
		{`return ("x=1"):match("(%w)=(%d)")`, "x 1"},
		{`return string.rep("ab", 2), string.upper("x"), ("abc"):sub(2)`, "abab X bc"},
		{`return getmetatable("").__index == string`, "true"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			top := l.Top()
			if err := lua.DoString(l, tt.code); err != nil {
				t.Fatal(err)
			}
			var got []string
			for i := top + 1; i <= l.Top(); i++ {
				s, _ := lua.ToStringMeta(l, i)
				got = append(got, s)
				l.Pop(1)
			}
			l.SetTop(top)
			if strings.Join(got, " ") != tt.want {
				t.Errorf("%s = %s; want %s", tt.code, strings.Join(got, " "), tt.want)
			}
		})
	}
}

func TestStringPatternErrorPosition(t *testing.T) {
	tests := []struct {
		code, want string
	}{
		{"local x = 1\nreturn string.match('a', '[a')", "chunk:2: malformed pattern (missing ']')"},
		{"return string.gsub('a', 'a')", "chunk:1: bad argument #3 to 'gsub' (string/function/table expected)"},
		{"for w in string.gmatch('a', '%') do end", "chunk:1: malformed pattern (ends with '%')"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			l := newPatternState(t)
			if err := lua.LoadBuffer(l, tt.code, "@chunk", "t"); err != nil {
				t.Fatal(err)
			}
			err := l.ProtectedCall(0, 0, 0)
			got := "<nil>"
			if err != nil {
				got = strings.TrimPrefix(err.Error(), "runtime error: ")
			}
			if got != tt.want {
				t.Errorf("running %q: error = %s; want %s", tt.code, got, tt.want)
			}
		})
	}
}

// The differential test runs the same few hundred calls through pushlua's
// functions and the Debian lua5.4 interpreter and compares what they print.
// Lua 5.4 differs from 5.2 in ways the generator steers around:
//   - after a non-empty match, 5.4's gmatch and gsub do not accept an
//     empty match at its end (5.2 does): such calls are not generated
//     (found by running the pattern package's Iterator and Gsub);
//   - a replacement %n past the captures is "invalid capture index" in
//     5.2 and "invalid capture index %n ..." in 5.4: messages are compared
//     without the index;
//   - a negative n in gsub replaces nothing in 5.4 and everything in 5.2,
//     gmatch takes an init argument in 5.4, and non-integral positions are
//     errors in 5.4: none are generated;
//   - positions are integers in 5.4 and floats in go-lua: they are printed
//     with %d.
func TestStringPatternsAgainstLua54(t *testing.T) {
	lua54, err := exec.LookPath("lua5.4")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("lua5.4 is not on PATH, and CI must install it (apt-get install lua5.4): %v", err)
		}
		t.Skip("lua5.4 is not on PATH (apt-get install lua5.4); skipping the differential test")
	}
	cases := diffCases(rand.New(rand.NewPCG(5, 2)), 600)
	script := diffPrelude + strings.Join(cases, "\n") + "\n"

	dir := t.TempDir()
	path := filepath.Join(dir, "diff.lua")
	if err := os.WriteFile(path, []byte("emit = function(s) io.write(s, '\\n') end\n"+script), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(lua54, path)
	cmd.Stderr = &stderr
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("lua5.4 %s: %v\n%s", path, err, stderr.String())
	}

	var got strings.Builder
	l := newPatternState(t)
	l.Register("emit", func(l *lua.State) int {
		s, _ := l.ToString(1)
		got.WriteString(s)
		got.WriteByte('\n')
		return 0
	})
	if err := lua.LoadBuffer(l, script, "@diff.lua", "t"); err != nil {
		t.Fatal(err)
	}
	if err := l.ProtectedCall(0, 0, 0); err != nil {
		t.Fatal(err)
	}

	gotLines := strings.Split(diffNormalize(got.String()), "\n")
	wantLines := strings.Split(diffNormalize(string(want)), "\n")
	if len(gotLines) != len(wantLines) {
		t.Fatalf("pushlua printed %d lines, lua5.4 %d", len(gotLines), len(wantLines))
	}
	errs, nils := 0, 0
	for _, line := range wantLines {
		switch {
		case strings.HasPrefix(line, "error: "):
			errs++
		case line == "nil":
			nils++
		}
	}
	t.Logf("%d calls: %d errors, %d without a match", len(cases), errs, nils)
	failures := 0
	for i := range gotLines {
		if gotLines[i] != wantLines[i] {
			failures++
			if failures <= 20 {
				t.Errorf("%s\n  got  %s\n  want %s", cases[i], gotLines[i], wantLines[i])
			}
		}
	}
	if failures > 0 {
		t.Errorf("%d of %d calls differ from lua5.4", failures, len(cases))
	}
}

// diffPrelude defines what the generated calls use: R prints the results
// of a pcall canonically, G collects all the matches of gmatch, T and F
// are gsub replacements.
const diffPrelude = `
local function esc(v)
  if type(v) == "number" then
    if v == math.floor(v) then return string.format("%d", v) end
    return tostring(v)
  elseif type(v) ~= "string" then
    return tostring(v)
  end
  local out = {}
  for i = 1, #v do
    local b = string.byte(v, i)
    if b < 32 or b > 126 or b == 34 or b == 92 then
      out[#out + 1] = "\\" .. b .. ";"
    else
      out[#out + 1] = string.char(b)
    end
  end
  return '"' .. table.concat(out) .. '"'
end
function R(ok, ...)
  if not ok then return "error: " .. tostring((...)) end
  local parts = {}
  for i = 1, select('#', ...) do parts[#parts + 1] = esc((select(i, ...))) end
  return table.concat(parts, ", ")
end
function G(s, p)
  local it = string.gmatch(s, p)
  local parts = {}
  for _ = 1, 50 do
    local t = table.pack(it())
    if t.n == 0 then break end
    parts[#parts + 1] = R(true, table.unpack(t, 1, t.n))
  end
  return table.concat(parts, " | ")
end
T = {a = "<A>", ab = "<AB>", ["1"] = "<1>", [" "] = false}
function F(...)
  local t = table.pack(...)
  if t[1] == "a" then return nil end
  local parts = {}
  for i = 1, t.n do parts[i] = esc(t[i]) end
  return "{" .. table.concat(parts, ",") .. "}"
end
`

var (
	diffPosition = regexp.MustCompile(`error: \S*?:\d+: `)
	diffCapIndex = regexp.MustCompile(`invalid capture index( %\d+)?( in replacement string)?`)
)

func diffNormalize(out string) string {
	out = diffPosition.ReplaceAllString(out, "error: ")
	out = diffCapIndex.ReplaceAllString(out, "invalid capture index")
	return strings.TrimSuffix(out, "\n")
}

// diffCases returns n lines of Lua that each emit the results of one call.
func diffCases(r *rand.Rand, n int) []string {
	var cases []string
	for len(cases) < n {
		s := diffSubject(r)
		p := diffPattern(r)
		sl, pl := diffLiteral(s), diffLiteral(p)
		if r.IntN(20) == 0 && !strings.ContainsAny(s, "\x00.") {
			// A number as the subject.
			sl = strconv.Itoa(r.IntN(2000))
			s = sl
		}
		var call string
		switch r.IntN(7) {
		case 0, 1:
			call = "string.find, " + sl + ", " + pl + diffInit(r, len(s))
			if r.IntN(6) == 0 {
				if !strings.Contains(call, pl+", ") {
					call += ", 1"
				}
				call += ", true"
			}
		case 2, 3:
			call = "string.match, " + sl + ", " + pl + diffInit(r, len(s))
		case 4:
			if diffEmptyAfterMatch(s, p, false) {
				continue
			}
			call = "G, " + sl + ", " + pl
		default:
			if diffEmptyAfterMatch(s, p, true) {
				continue
			}
			repls := []string{`"<%0>"`, `"%1"`, `"[%1|%2]"`, `"%%"`, `"x"`, `""`, `T`, `F`}
			call = "string.gsub, " + sl + ", " + pl + ", " + repls[r.IntN(len(repls))]
			if r.IntN(3) == 0 {
				call += ", " + strconv.Itoa(r.IntN(3))
			}
		}
		cases = append(cases, "emit(R(pcall("+call+")))")
	}
	return cases
}

func diffInit(r *rand.Rand, n int) string {
	inits := []int{1, 2, -1, -3, 0, n, n + 1, n + 2, 100, -100}
	if r.IntN(3) == 0 {
		return ""
	}
	return ", " + strconv.Itoa(inits[r.IntN(len(inits))])
}

func diffSubject(r *rand.Rand) string {
	pieces := []string{"a", "a", "b", "ab", "c", "A", "1", "22", " ", "=", "(", ")", "[", "]", "%", ".", "-", "\x00", "\xc8", "x", "_", "\t"}
	var b strings.Builder
	for range r.IntN(13) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func diffPattern(r *rand.Rand) string {
	classes := []string{
		"a", "b", "1", " ", "=", "x", "%.", "%%", "%(", "%-", ".", ".",
		"%a", "%d", "%s", "%w", "%p", "%u", "%l", "%x", "%c", "%g", "%z",
		"%A", "%D", "%S", "%W", "%P",
		"[ab]", "[^a ]", "[a-c1]", "[%d=]", "[%a_]", "[]]", "[^%s]", "[-a]", "[\x00-\x20]",
	}
	var b strings.Builder
	if r.IntN(5) == 0 {
		b.WriteByte('^')
	}
	open, closed, quantified := 0, 0, 0
	for range 1 + r.IntN(6) {
		switch r.IntN(12) {
		case 0:
			if open < 3 {
				b.WriteByte('(')
				open++
			}
		case 1:
			if open > 0 {
				b.WriteByte(')')
				open--
				closed++
			}
		case 2:
			b.WriteString("()")
			closed++
		case 3:
			switch {
			case closed > 0 && r.IntN(2) == 0:
				fmt.Fprintf(&b, "%%%d", 1+r.IntN(closed))
			case r.IntN(2) == 0:
				b.WriteString([]string{"%b()", "%b[]", "%bab"}[r.IntN(3)])
			default:
				b.WriteString([]string{"%f[%w]", "%f[%W]", "%f[a]", "%f[%z]", "%f[^%s]"}[r.IntN(5)])
			}
		default:
			b.WriteString(classes[r.IntN(len(classes))])
			if quantified < 3 && r.IntN(2) == 0 {
				b.WriteByte("*+-?"[r.IntN(4)])
				quantified++
			}
		}
	}
	for ; open > 0 && r.IntN(8) != 0; open-- {
		b.WriteByte(')')
	}
	if r.IntN(5) == 0 {
		b.WriteByte('$')
	}
	if r.IntN(20) == 0 {
		b.WriteString([]string{"[a", "%", "%b", "%f", ")", "%9", "[^]"}[r.IntN(7)])
	}
	return b.String()
}

// diffLiteral writes s as a Lua string literal.
func diffLiteral(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 32 || c > 126 || c == '"' || c == '\\' {
			fmt.Fprintf(&b, "\\%03d", c)
		} else {
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// diffEmptyAfterMatch reports whether gmatch (or gsub) of p over s finds
// an empty match where a non-empty match ended, where Lua 5.2 and 5.4
// differ.
func diffEmptyAfterMatch(s, p string, gsub bool) bool {
	found := false
	prevEnd, prevNonEmpty := -1, false
	check := func(m pattern.Match) {
		if m.Start == m.End && m.Start == prevEnd && prevNonEmpty {
			found = true
		}
		prevEnd, prevNonEmpty = m.End, m.End > m.Start
	}
	if gsub {
		_, _, _ = pattern.Gsub(s, p, -1, func(m pattern.Match) (string, bool, error) {
			check(m)
			return "", true, nil
		})
		return found
	}
	it := pattern.NewIterator(s, p)
	for range 50 {
		m, ok, err := it.Next()
		if !ok || err != nil {
			break
		}
		check(m)
	}
	return found
}

func BenchmarkStringMatch(b *testing.B) {
	l := newPatternState(b)
	if err := lua.DoString(l, `local match = string.match
		function parse() return match("user=11@3", "^user=(.+)$") end`); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		l.Global("parse")
		l.Call(0, 1)
		if s, _ := l.ToString(-1); s != "11@3" {
			b.Fatalf("parse() = %q; want \"11@3\"", s)
		}
		l.Pop(1)
	}
}
