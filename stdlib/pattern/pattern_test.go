package pattern

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// show renders a Find result the way Lua prints string.find's results:
// 1-based start and inclusive end, then the captures (strings quoted,
// positions as 1-based numbers), "nil" for no match, "error: <msg>".
func show(s string, m Match, ok bool, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	if !ok {
		return "nil"
	}
	out := []string{strconv.Itoa(m.Start + 1), strconv.Itoa(m.End)}
	for _, c := range m.Captures {
		out = append(out, showCapture(s, c))
	}
	return strings.Join(out, " ")
}

func showCapture(s string, c Capture) string {
	switch c.Kind {
	case Position:
		return strconv.Itoa(c.Start + 1)
	case Unfinished:
		return "<unfinished>"
	}
	return strconv.Quote(s[c.Start:c.End])
}

func TestFind(t *testing.T) {
	tests := []struct {
		name    string
		s, pat  string
		init    int
		want    string
		comment string
	}{
		// literals and '.'
		{"empty pattern", "", "", 0, "1 0", ""},
		{"empty pattern in text", "alo", "", 0, "1 0", ""},
		{"literal", "alo123alo", "12", 0, "4 5", ""},
		{"literal at init", "alo123alo", "alo", 1, "7 9", ""},
		{"literal missing", "alo", "x", 0, "nil", ""},
		{"zero bytes", "a\x00o a\x00o", "a\x00o", 1, "5 7", ""},
		{"dot", "abc", "b.", 0, "2 3", ""},
		{"dot needs a byte", "ab", "b.", 0, "nil", ""},
		{"init at end", "abc", "", 3, "4 3", ""},
		{"init clamped", "abc", "c", 10, "nil", ""},

		// classes
		{"%a", "12ab", "%a+", 0, "3 4", ""},
		{"%A", "ab12", "%A+", 0, "3 4", ""},
		{"%c", "a\x01\x7fb", "%c+", 0, "2 3", ""},
		{"%C", "\x01ab\x02", "%C+", 0, "2 3", ""},
		{"%d", "ab123c", "%d+", 0, "3 5", ""},
		{"%D", "12ab3", "%D+", 0, "3 4", ""},
		{"%g", " \tab! \n", "%g+", 0, "3 5", ""},
		{"%G", "ab \t\ncd", "%G+", 0, "3 5", ""},
		{"%l", "ABcdE", "%l+", 0, "3 4", ""},
		{"%L", "abCDe", "%L+", 0, "3 4", ""},
		{"%p", "ab!?,c", "%p+", 0, "3 5", ""},
		{"%P", "!!ab!", "%P+", 0, "3 4", ""},
		{"%s", "ab \t\n\v\f\rc", "%s+", 0, "3 8", ""},
		{"%S", "  ab  ", "%S+", 0, "3 4", ""},
		{"%u", "abCDe", "%u+", 0, "3 4", ""},
		{"%U", "ABcdE", "%U+", 0, "3 4", ""},
		{"%w", "!!a1Z!", "%w+", 0, "3 5", ""},
		{"%W", "ab!?c", "%W+", 0, "3 4", ""},
		{"%x", "xyz0aFgh", "%x+", 0, "4 6", ""},
		{"%X", "0aFgh", "%X+", 0, "4 5", ""},
		{"%z", "ab\x00\x00c", "%z+", 0, "3 4", ""},
		{"%Z", "\x00ab\x00", "%Z+", 0, "2 3", ""},
		{"escaped magic", "a.b%c", "%.b%%", 0, "2 4", ""},
		{"escaped letterless byte", "a]b", "%]", 0, "2 2", ""},
		{"high bytes are in no class", "\xe1\xe9", "%a", 0, "nil", ""},
		{"high bytes are in complements", "\xe1\xe9", "%A+", 0, "1 2", ""},

		// sets
		{"set", "xxbca", "[abc]+", 0, "3 5", ""},
		{"set range", "09az", "[a-z]+", 0, "3 4", ""},
		{"set class", "ab_1-", "[%d_]+", 0, "3 4", ""},
		{"set complement", "abc123", "[^%a]+", 0, "4 6", ""},
		{"set with ]", "a]]b", "[]]+", 0, "2 3", ""},
		{"complement of ]", "]]]\xe1b", "[^]]", 0, "4 4", ""},
		{"set with trailing -", "x-a", "[a-]+", 0, "2 3", ""},
		{"set with escaped ]", "a]%", "[%]%%]+", 0, "2 3", ""},
		{"set with escaped -", "b-az", "[a%-z]+", 0, "2 4", ""},
		{"set of high bytes", "a\xc8\xd2\xd3", "[\xc8-\xd2]+", 0, "2 3", ""},
		{"set with zero bytes", "ab\x00\x01\x02c", "[\x00-\x02]+", 0, "3 5", ""},
		{"set with ^ not first", "a^b", "[b^]+", 0, "2 3", ""},

		// quantifiers
		{"star greedy", "aaab", "a*", 0, "1 3", ""},
		{"star empty", "bbb", "a*", 0, "1 0", ""},
		{"star backtracks", "aaa", "a*a", 0, "1 3", ""},
		{"plus", "baaa", "a+", 0, "2 4", ""},
		{"plus needs one", "bbb", "a+", 0, "nil", ""},
		{"minus lazy", "aaab", "a-", 0, "1 0", ""},
		{"minus expands", "aabaaabaaab", "b.-b", 0, "3 7", ""},
		{"star vs minus", "aabaaabaaab", "b.*b", 0, "3 11", ""},
		{"question present", "ab", "a?b", 0, "1 2", ""},
		{"question absent", "b", "a?b", 0, "1 1", ""},
		{"question backtracks", "aaa", ".?a", 0, "1 2", ""},
		{"quantifier on set", "xabba", "[ab]*a", 0, "2 5", ""},
		{"quantifier on class", "12ab", "%d+%a", 0, "1 3", ""},
		{"literal star first", "a*b", "*b", 0, "2 3", "'*' with nothing before is a literal"},

		// anchors
		{"anchor", "alo123", "^12", 0, "nil", ""},
		{"anchor at init", "alo123", "^12", 3, "4 5", ""},
		{"anchor matches", "alo", "^a", 0, "1 1", ""},
		{"dollar", "alo xo", ".o$", 0, "5 6", ""},
		{"dollar only", "a$a", "$", 0, "4 3", ""},
		{"dollar literal mid", "a$a", ".$.", 0, "1 3", ""},
		{"dollar dollar", "a$a", "$$", 0, "nil", "the first '$' is literal, then end"},
		{"escaped dollar", "a$a", ".%$", 0, "1 2", ""},
		{"caret mid is literal", "a^b", "a^b", 0, "1 3", ""},
		{"full anchors", "aaa", "^.-$", 0, "1 3", ""},

		// captures
		{"capture", "alo xyzK", "(%w+)K", 0, `5 8 "xyz"`, ""},
		{"empty capture", "254 K", "(%d*)K", 4, `5 5 ""`, ""},
		{"nested captures", "\xe1lo alo", "^(((.).).* (%w*))$", 0, `1 7 "\xe1lo alo" "\xe1l" "\xe1" "alo"`, ""},
		{"position capture", "0123456789", "(.+(.?)())", 0, `1 10 "0123456789" "" 11`, ""},
		{"position captures", "abc", "()b()", 0, "2 2 2 3", ""},
		{"unfinished capture", "abc", "(a", 0, "1 1 <unfinished>", "reported when the value is used"},
		{"32 captures", strings.Repeat("a", 32), strings.Repeat("(a)", 32), 0, "1 32" + strings.Repeat(` "a"`, 32), ""},

		// back-references
		{"backref", "alo alx 123 b\x00o b\x00o", "(..*) %1", 0, `13 19 "b\x00o"`, ""},
		{"two backrefs", "axz123= 4= 4 34", "(.+)=(.*)=%2 %1", 0, `6 14 "3" " 4"`, ""},
		{"backref anchored", "=======", "^(=*)=%1$", 0, `1 7 "==="`, ""},
		{"backref fails", "==========", "^([=]*)=%1$", 0, "nil", ""},
		{"backref to position never matches", "aa", "()a%1", 0, "nil", ""},
		{"backref too long", "abab", "(ab)%1%1", 0, "nil", ""},

		// %b
		{"balance", "x(a(b)c)y", "%b()", 0, "2 8", ""},
		{"balance unclosed", "x(a(b)c", "%b()", 0, "4 6", ""},
		{"balance never closed", "x((a)", "%b()", 0, "3 5", ""},
		{"balance none", "x((a", "%b()", 0, "nil", ""},
		{"balance same chars", "alo 'oi' alo", "%b''", 0, "5 8", ""},
		{"balance zero bytes", "abc\x00efg\x00\x01e\x01g", "%b\x00\x01", 0, "4 11", ""},

		// %f
		{"frontier", "THE (quick) fox", "%f[%a]%a+", 5, "6 10", ""},
		{"frontier at start", "a", "%f[a]", 0, "1 0", ""},
		{"frontier at end", "aba", "%f[%z]", 0, "4 3", "the subject ends with a virtual zero byte"},
		{"frontier complement", "a", "%f[^%l]", 0, "2 1", ""},
		{"frontier none", "aba", "%f[%l%z]", 0, "nil", ""},
		{"frontier words", " alo aalo allo", "%f[%S].-%f[%s].-%f[%S]", 0, "2 5", ""},

		// laziness: an error is found only when the matcher gets there
		{"lazy missing ]", "b", "a[", 0, "nil", ""},
		{"lazy ends with %", "b", "a%", 0, "nil", ""},

		// errors
		{"ends with %", "a", "%", 0, "error: malformed pattern (ends with '%')", ""},
		{"ends with % in set", "a", "[a%", 0, "error: malformed pattern (missing ']')", ""},
		{"missing ]", "a", "[a", 0, "error: malformed pattern (missing ']')", ""},
		{"empty set", "a", "[]", 0, "error: malformed pattern (missing ']')", ""},
		{"empty complement", "a", "[^]", 0, "error: malformed pattern (missing ']')", ""},
		{"escaped ] only", "a", "[a%]", 0, "error: malformed pattern (missing ']')", ""},
		{"%b without arguments", "a", "%b", 0, "error: malformed pattern (missing arguments to '%b')", ""},
		{"%b with one argument", "a", "%ba", 0, "error: malformed pattern (missing arguments to '%b')", ""},
		{"%f without set", "a", "%f", 0, "error: missing '[' after '%f' in pattern", ""},
		{"%f with class", "a", "%fa", 0, "error: missing '[' after '%f' in pattern", ""},
		{"%f with open set", "a", "%f[a", 0, "error: malformed pattern (missing ']')", ""},
		{"close without open", "alo", ".)", 0, "error: invalid pattern capture", ""},
		{"backref to open capture", "alo", "(%1)", 0, "error: invalid capture index %1", ""},
		{"backref %0", "alo", "(%0)", 0, "error: invalid capture index %0", ""},
		{"backref past captures", "alo", "(a)%2", 0, "error: invalid capture index %2", ""},
		{"33 captures", "a", strings.Repeat("()", 33), 0, "error: too many captures", ""},
		{"too deep", strings.Repeat("a", 300), strings.Repeat(".?", 300), 0, "error: pattern too complex", ""},
		{"deep enough", strings.Repeat("a", 80), strings.Repeat(".?", 80), 0, "1 80", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok, err := Find(tt.s, tt.pat, tt.init)
			if got := show(tt.s, m, ok, err); got != tt.want {
				t.Errorf("Find(%q, %q, %d) = %s; want %s %s", tt.s, tt.pat, tt.init, got, tt.want, tt.comment)
			}
		})
	}
}

func TestFindErrorsAreSentinels(t *testing.T) {
	tests := []struct {
		pat  string
		want error
	}{
		{"%", ErrEndsWithEscape},
		{"[a", ErrMissingBracket},
		{"%b", ErrMissingBalanceArgs},
		{"%f", ErrMissingFrontierBracket},
		{")", ErrInvalidPatternCapture},
		{"%1", ErrInvalidCaptureIndex},
		{strings.Repeat("()", 33), ErrTooManyCaptures},
		{strings.Repeat("a-", 201), ErrTooComplex},
	}
	for _, tt := range tests {
		t.Run(tt.pat, func(t *testing.T) {
			_, _, err := Find("a", tt.pat, 0)
			if !errors.Is(err, tt.want) {
				t.Errorf("Find(\"a\", %q) error = %v; want %v", tt.pat, err, tt.want)
			}
		})
	}
}

func TestClassesMatchCLocale(t *testing.T) {
	// The reference is <ctype.h> in the C locale, written out by hand.
	ref := map[byte]func(c int) bool{
		'a': func(c int) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' },
		'c': func(c int) bool { return c < 32 || c == 127 },
		'd': func(c int) bool { return '0' <= c && c <= '9' },
		'g': func(c int) bool { return 33 <= c && c <= 126 },
		'l': func(c int) bool { return 'a' <= c && c <= 'z' },
		'p': func(c int) bool { return strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", rune(c)) },
		's': func(c int) bool { return c == ' ' || 9 <= c && c <= 13 },
		'u': func(c int) bool { return 'A' <= c && c <= 'Z' },
		'w': func(c int) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' },
		'x': func(c int) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' },
		'z': func(c int) bool { return c == 0 },
	}
	for cl, in := range ref {
		for c := 0; c < 256; c++ {
			if got, want := matchClass(byte(c), cl), in(c); got != want {
				t.Errorf("matchClass(%d, %q) = %v; want %v", c, cl, got, want)
			}
			upper := cl - 'a' + 'A'
			if got, want := matchClass(byte(c), upper), !in(c); got != want {
				t.Errorf("matchClass(%d, %q) = %v; want %v", c, upper, got, want)
			}
		}
	}
}

func TestMatchValues(t *testing.T) {
	tests := []struct {
		s, pat string
		want   string
	}{
		{"hello world", "o w", `"o w"`},
		{"key=val", "(%w+)=(%w+)", `"key" "val"`},
		{"abc", "()b", `2`},
		{"abc", "(b", "error: unfinished capture"},
		{"abc", "(a)(b", "error: unfinished capture"},
	}
	for _, tt := range tests {
		t.Run(tt.pat, func(t *testing.T) {
			m, ok, err := Find(tt.s, tt.pat, 0)
			if err != nil || !ok {
				t.Fatalf("Find(%q, %q) = %v, %v; want a match", tt.s, tt.pat, ok, err)
			}
			got := ""
			vals, err := m.Values()
			if err != nil {
				got = "error: " + err.Error()
			} else {
				var parts []string
				for _, c := range vals {
					parts = append(parts, showCapture(tt.s, c))
				}
				got = strings.Join(parts, " ")
			}
			if got != tt.want {
				t.Errorf("Find(%q, %q).Values() = %s; want %s", tt.s, tt.pat, got, tt.want)
			}
		})
	}
}

func TestMatchCapture(t *testing.T) {
	tests := []struct {
		s, pat string
		n      int
		want   string
	}{
		{"abc", "b", 1, `"b"`},
		{"abc", "b", 2, "error: invalid capture index"},
		{"abc", "(b)(c)", 2, `"c"`},
		{"abc", "(b)(c)", 3, "error: invalid capture index"},
		{"abc", "()c", 1, "3"},
		{"abc", "(c", 1, "error: unfinished capture"},
		{"abc", "b", 0, "error: invalid capture index"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.pat, tt.n), func(t *testing.T) {
			m, ok, err := Find(tt.s, tt.pat, 0)
			if err != nil || !ok {
				t.Fatalf("Find(%q, %q) = %v, %v; want a match", tt.s, tt.pat, ok, err)
			}
			c, err := m.Capture(tt.n)
			got := ""
			if err != nil {
				got = "error: " + err.Error()
			} else {
				got = showCapture(tt.s, c)
			}
			if got != tt.want {
				t.Errorf("Capture(%d) of %q in %q = %s; want %s", tt.n, tt.pat, tt.s, got, tt.want)
			}
		})
	}
}

// gmatchAll renders every match of the iterator: the values of each match
// joined by ",", the matches by " | ".
func gmatchAll(s, pat string) string {
	it := NewIterator(s, pat)
	var out []string
	for range 1000 {
		m, ok, err := it.Next()
		if err != nil {
			out = append(out, "error: "+err.Error())
			break
		}
		if !ok {
			break
		}
		vals, err := m.Values()
		if err != nil {
			out = append(out, "error: "+err.Error())
			break
		}
		var parts []string
		for _, c := range vals {
			parts = append(parts, showCapture(s, c))
		}
		out = append(out, strings.Join(parts, ","))
	}
	return strings.Join(out, " | ")
}

func TestIterator(t *testing.T) {
	tests := []struct {
		name, s, pat string
		want         string
	}{
		{"words", "first second word", "%a+", `"first" | "second" | "word"`},
		{"pairs", "w=200&h=150", "(%w+)=(%w+)", `"w","200" | "h","150"`},
		{"positions", "abc", "()", "1 | 2 | 3 | 4"},
		{"empty matches", "ab", "x*", `"" | "" | ""`},
		{"empty after non-empty (5.2)", "abc", "%a*", `"abc" | ""`},
		{"empty after non-empty mid (5.2)", "ab cd", "%a*", `"ab" | "" | "cd" | ""`},
		{"caret is literal", "^a^a", "^a", `"^a" | "^a"`},
		{"backref", "xuxx uu ppar r", "()(.)%2", `3,"x" | 6,"u" | 9,"p"`},
		{"frontier", "alo alo th02 is 1hat", "()%f[%w%d]", "1 | 5 | 9 | 14 | 17"},
		{"no match", "abc", "x", ""},
		{"error", "abc", "[a", "error: malformed pattern (missing ']')"},
		{"unfinished", "abc", "(a", "error: unfinished capture"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gmatchAll(tt.s, tt.pat); got != tt.want {
				t.Errorf("gmatch(%q, %q) = %s; want %s", tt.s, tt.pat, got, tt.want)
			}
		})
	}
}

func TestIteratorStaysDone(t *testing.T) {
	it := NewIterator("ab", "a")
	if _, ok, _ := it.Next(); !ok {
		t.Fatalf("first Next() = false; want a match")
	}
	for i := range 3 {
		if m, ok, err := it.Next(); ok || err != nil {
			t.Errorf("Next() #%d after the last match = %v, %v, %v; want false, nil", i+2, m, ok, err)
		}
	}
}

// template returns a Replacer that expands a gsub replacement string.
func template(s, tmpl string) Replacer {
	return func(m Match) (string, bool, error) {
		r, err := Expand(tmpl, s, m)
		return r, false, err
	}
}

func TestGsub(t *testing.T) {
	tests := []struct {
		name, s, pat, repl string
		limit              int
		want               string
	}{
		{"replace all", "hello world", "o", "0", -1, `"hell0 w0rld" 2`},
		{"limit", "abc", "%w", "%0@", 2, `"a@b@c" 2`},
		{"limit zero", "abc", "%w", "x", 0, `"abc" 0`},
		{"captures", "abc=xyz", "(%w*)(%p)(%w+)", "%3%2%1-%0", -1, `"xyz=abc-abc=xyz" 1`},
		{"%1 is the whole match", "abc", "%w", "%1%0", -1, `"aabbcc" 3`},
		{"position capture", "alo alo", "()[al]", "%1", -1, `"12o 56o" 4`},
		{"percent", "a", "a", "%%", -1, `"%" 1`},
		{"empty pattern", "ab", "", "-", -1, `"-a-b-" 3`},
		{"empty after non-empty (5.2)", "abc", "%w*", "-", -1, `"--" 2`},
		{"anchor", "aaa", "^a", "b", -1, `"baa" 1`},
		{"anchor empty subject", "", "^", "r", -1, `"r" 1`},
		{"dollar", "abc", "$", "!", -1, `"abc!" 1`},
		{"trim", "  alo alo  ", "^%s*(.-)%s*$", "%1", -1, `"alo alo" 1`},
		{"no match", "abc", "x", "y", -1, `"abc" 0`},
		{"bad %", "abc", "b", "%x", -1, "error: invalid use of '%' in replacement string"},
		{"trailing %", "abc", "b", "x%", -1, "error: invalid use of '%' in replacement string"},
		{"bad index", "alo", "(.)", "%2", -1, "error: invalid capture index"},
		{"unused unfinished capture", "abc", "(a", "x", -1, `"xbc" 1`},
		{"used unfinished capture", "abc", "(a", "%1", -1, "error: unfinished capture"},
		{"pattern error", "abc", "(.", "x", -1, `"xxx" 3`},
		{"pattern error raised", "abc", ".)", "x", -1, "error: invalid pattern capture"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, n, err := Gsub(tt.s, tt.pat, tt.limit, template(tt.s, tt.repl))
			got := fmt.Sprintf("%q %d", r, n)
			if err != nil {
				got = "error: " + err.Error()
			}
			if got != tt.want {
				t.Errorf("Gsub(%q, %q, %d, %q) = %s; want %s", tt.s, tt.pat, tt.limit, tt.repl, got, tt.want)
			}
		})
	}
}

func TestGsubKeep(t *testing.T) {
	calls := 0
	r, n, err := Gsub("a b c", "%a", -1, func(m Match) (string, bool, error) {
		calls++
		return "X", calls == 2, nil
	})
	if got, want := fmt.Sprintf("%q %d %v", r, n, err), `"X b X" 3 <nil>`; got != want {
		t.Errorf("Gsub with keep on the second match = %s; want %s", got, want)
	}
}

func TestGsubReplacerError(t *testing.T) {
	boom := errors.New("boom")
	_, _, err := Gsub("abc", ".", -1, func(Match) (string, bool, error) { return "", false, boom })
	if !errors.Is(err, boom) {
		t.Errorf("Gsub with a failing replacer: error = %v; want %v", err, boom)
	}
}

func TestHasSpecials(t *testing.T) {
	tests := []struct {
		pat  string
		want bool
	}{
		{"abc", false},
		{"a\x00b", false},
		{"", false},
		{"a.b", true},
		{"a\x00%", true},
		{"^", true}, {"$", true}, {"*", true}, {"+", true}, {"?", true},
		{"(", true}, {"[", true}, {"-", true},
		{")", false}, {"]", false},
	}
	for _, tt := range tests {
		if got := HasSpecials(tt.pat); got != tt.want {
			t.Errorf("HasSpecials(%q) = %v; want %v", tt.pat, got, tt.want)
		}
	}
}

func TestBudget(t *testing.T) {
	tests := []struct {
		n, m int
		want int
	}{
		{0, 0, MinSteps},
		{100, 100, StepsPerCell * 101 * 101},
		{1 << 16, 10, MaxSteps},
		{1 << 62, 1 << 62, MaxSteps},
	}
	for _, tt := range tests {
		if got := budget(tt.n, tt.m); got != tt.want {
			t.Errorf("budget(%d, %d) = %d; want %d", tt.n, tt.m, got, tt.want)
		}
	}
}

// TestPathological checks that backtracking-heavy patterns end quickly
// with ErrTooComplex (C Lua would run for hours) and that big but linear
// work is still done.
func TestPathological(t *testing.T) {
	tests := []struct {
		name, s, pat string
		want         string
	}{
		{"many minus", strings.Repeat("a", 30), strings.Repeat("a-", 15) + "b", "error: pattern too complex"},
		{"many dot minus", strings.Repeat("a", 40), strings.Repeat(".-", 12) + "b", "error: pattern too complex"},
		{"many star", strings.Repeat("a", 40), strings.Repeat("a*", 12) + "b", "error: pattern too complex"},
		{"long set", strings.Repeat("a", 10000), "[" + strings.Repeat("%w", 20000) + "]*x", "error: pattern too complex"},
		{"optional chain", strings.Repeat("a", 100), strings.Repeat(".?", 60) + "\x00", "error: pattern too complex"},
		{"big anchored", strings.Repeat("a", 300000), "^a*.?$", "1 300000"},
		{"big anchored fail", strings.Repeat("a", 300000), "^a*.?b$", "nil"},
		{"big lazy", strings.Repeat("a", 300000), "^a-.?$", "1 300000"},
		{"quadratic but small", strings.Repeat("a", 2000), ".-b", "nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			m, ok, err := Find(tt.s, tt.pat, 0)
			if got := show(tt.s, m, ok, err); got != tt.want {
				t.Errorf("Find(%d bytes, %q) = %s; want %s", len(tt.s), tt.pat, got, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Find(%d bytes, %q) took %v; want well under 5s", len(tt.s), tt.pat, d)
			}
		})
	}
}

func BenchmarkFind(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		m, ok, err := Find("user=11@3", "^user=(.+)$", 0)
		if !ok || err != nil || m.Captures[0].End != 9 {
			b.Fatalf("Find = %v, %v, %v", m, ok, err)
		}
	}
}

func BenchmarkGsub(b *testing.B) {
	s := strings.Repeat("Subject: hello world  ", 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Gsub(s, "%s+", -1, template(s, " ")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTooComplex(b *testing.B) {
	s := strings.Repeat("a", 30)
	p := strings.Repeat("a-", 15) + "b"
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Find(s, p, 0); !errors.Is(err, ErrTooComplex) {
			b.Fatal(err)
		}
	}
}
