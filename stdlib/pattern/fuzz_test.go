package pattern

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var knownErrors = []error{
	ErrTooComplex, ErrEndsWithEscape, ErrMissingBracket, ErrMissingBalanceArgs,
	ErrMissingFrontierBracket, ErrInvalidPatternCapture, ErrInvalidCaptureIndex,
	ErrUnfinishedCapture, ErrTooManyCaptures, ErrInvalidReplacement,
}

func checkError(t *testing.T, what string, err error) {
	t.Helper()
	for _, known := range knownErrors {
		if errors.Is(err, known) {
			return
		}
	}
	t.Errorf("%s: error %v; want one of the package's errors", what, err)
}

func checkMatch(t *testing.T, what string, s string, from int, m Match) {
	t.Helper()
	if m.Start < from || m.Start > m.End || m.End > len(s) {
		t.Fatalf("%s: match [%d:%d] out of [%d:%d]", what, m.Start, m.End, from, len(s))
	}
	if len(m.Captures) > MaxCaptures {
		t.Fatalf("%s: %d captures; want at most %d", what, len(m.Captures), MaxCaptures)
	}
	for i, c := range m.Captures {
		if c.Start < 0 || c.Start > c.End || c.End > len(s) {
			t.Fatalf("%s: capture %d [%d:%d] out of [0:%d]", what, i+1, c.Start, c.End, len(s))
		}
		if c.Kind != Substring && c.Start != c.End {
			t.Fatalf("%s: capture %d of kind %d spans [%d:%d]", what, i+1, c.Kind, c.Start, c.End)
		}
	}
}

// FuzzFind checks that no subject and pattern make the matcher panic or
// run long, that matches and captures lie inside the subject, that errors
// are the package's, and that a gsub keeping every match (or replacing it
// by %0) returns the subject unchanged.
func FuzzFind(f *testing.F) {
	seeds := []struct {
		s, pat string
		init   int
	}{
		{"hello world", "o w", 0},
		{"user=11@3", "^user=(.+)$", 0},
		{"key=val", "(%w+)=(%w+)", 0},
		{"alo alx 123 b\x00o b\x00o", "(..*) %1", 0},
		{"THE (quick) fox", "%f[%a]%a+%b()", 2},
		{"  trim  ", "^%s*(.-)%s*$", 0},
		{"]]]\xe1b", "[^]]", 0},
		{"abc", "()a()b?c-$", 1},
		{"a", "[%", 0},
		{"a", "%f[a", 0},
		{strings.Repeat("a", 30), strings.Repeat("a-", 15) + "b", 0},
		{strings.Repeat("a", 250), strings.Repeat(".?", 250), 0},
	}
	for _, s := range seeds {
		f.Add(s.s, s.pat, s.init)
	}
	f.Fuzz(func(t *testing.T, s, pat string, init int) {
		// The step budget bounds the time of any input; shorter inputs
		// keep each run within a tenth of a second, also under -race.
		s = s[:min(len(s), 256)]
		pat = pat[:min(len(pat), 64)]
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Find(%d bytes, %d bytes of pattern) took %v", len(s), len(pat), d)
			}
		}()

		m, ok, err := Find(s, pat, init)
		if err != nil {
			checkError(t, "Find", err)
		} else if ok {
			checkMatch(t, "Find", s, min(max(init, 0), len(s)), m)
			if _, err := m.Values(); err != nil {
				checkError(t, "Values", err)
			}
		}

		it := NewIterator(s, pat)
		for range len(s) + 2 {
			m, ok, err := it.Next()
			if err != nil {
				checkError(t, "Next", err)
				break
			}
			if !ok {
				break
			}
			checkMatch(t, "Next", s, 0, m)
		}

		r, _, err := Gsub(s, pat, -1, func(Match) (string, bool, error) { return "", true, nil })
		if err != nil {
			checkError(t, "Gsub", err)
		} else if r != s {
			t.Errorf("Gsub keeping every match = %q; want the subject %q", r, s)
		}
		r, _, err = Gsub(s, pat, -1, func(m Match) (string, bool, error) {
			r, err := Expand("%0", s, m)
			return r, false, err
		})
		if err != nil {
			checkError(t, "Gsub %0", err)
		} else if r != s {
			t.Errorf("Gsub by %%0 = %q; want the subject %q", r, s)
		}
	})
}
