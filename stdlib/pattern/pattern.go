package pattern

import (
	"errors"
	"strconv"
	"strings"
)

// Limits of the matcher.
const (
	// MaxCaptures is the number of captures a pattern may hold
	// (LUA_MAXCAPTURES).
	MaxCaptures = 32
	// MaxDepth is the nesting depth of backtracking (MAXCCALLS).
	MaxDepth = 200
	// StepsPerCell, MinSteps and MaxSteps size the step budget of one
	// operation: StepsPerCell*(len(subject)+1)*(len(pattern)+1), at least
	// MinSteps and at most MaxSteps.
	StepsPerCell = 1000
	MinSteps     = 1 << 20
	MaxSteps     = 1 << 25
)

// The errors, with Lua 5.2's messages. A back-reference to a capture that
// does not exist wraps ErrInvalidCaptureIndex with the index, as in
// "invalid capture index %2".
var (
	ErrTooComplex             = errors.New("pattern too complex")
	ErrEndsWithEscape         = errors.New("malformed pattern (ends with '%')")
	ErrMissingBracket         = errors.New("malformed pattern (missing ']')")
	ErrMissingBalanceArgs     = errors.New("malformed pattern (missing arguments to '%b')")
	ErrMissingFrontierBracket = errors.New("missing '[' after '%f' in pattern")
	ErrInvalidPatternCapture  = errors.New("invalid pattern capture")
	ErrInvalidCaptureIndex    = errors.New("invalid capture index")
	ErrUnfinishedCapture      = errors.New("unfinished capture")
	ErrTooManyCaptures        = errors.New("too many captures")
	ErrInvalidReplacement     = errors.New("invalid use of '%' in replacement string")
)

// Kind says what a capture holds.
type Kind uint8

const (
	// Substring is a capture (...): the text s[Start:End].
	Substring Kind = iota
	// Position is a position capture (): the offset Start (== End);
	// Lua shows it as the number Start+1.
	Position
	// Unfinished is a capture whose ')' the match never reached, as in
	// "(a"; using its value is the error ErrUnfinishedCapture.
	Unfinished
)

// Capture is one capture of a match.
type Capture struct {
	Start, End int
	Kind       Kind
}

// Match is a successful match of a pattern: the subject bytes
// s[Start:End] and the pattern's captures in the order of their '('.
type Match struct {
	Start, End int
	Captures   []Capture
}

// Capture returns capture n (1-based), as the replacement %n and the
// table key of gsub see it: capture 1 of a pattern without captures is
// the whole match.
func (m Match) Capture(n int) (Capture, error) {
	if n < 1 || n > len(m.Captures) {
		if n == 1 && len(m.Captures) == 0 {
			return Capture{Start: m.Start, End: m.End, Kind: Substring}, nil
		}
		return Capture{}, ErrInvalidCaptureIndex
	}
	c := m.Captures[n-1]
	if c.Kind == Unfinished {
		return Capture{}, ErrUnfinishedCapture
	}
	return c, nil
}

// Values returns the values string.match and string.gmatch produce and a
// gsub function receives: every capture, or the whole match when the
// pattern has none.
func (m Match) Values() ([]Capture, error) {
	if len(m.Captures) == 0 {
		return []Capture{{Start: m.Start, End: m.End, Kind: Substring}}, nil
	}
	for _, c := range m.Captures {
		if c.Kind == Unfinished {
			return nil, ErrUnfinishedCapture
		}
	}
	return m.Captures, nil
}

// HasSpecials reports whether pat contains a character that is special in
// patterns; string.find searches a pattern without any as plain text.
func HasSpecials(pat string) bool {
	return strings.ContainsAny(pat, "^$*+?.([%-")
}

// Find returns the first match of pat in s at or after offset init (0 ≤
// init ≤ len(s); other values are clamped), as string.find and
// string.match look for it: a leading '^' anchors the match at init.
// It reports false when there is no match.
func Find(s, pat string, init int) (Match, bool, error) {
	init = min(max(init, 0), len(s))
	p := 0
	anchor := len(pat) > 0 && pat[0] == '^'
	if anchor {
		p = 1
	}
	ms := newState(s, pat)
	for s1 := init; ; s1++ {
		e, err := ms.try(s1, p)
		if err != nil {
			return Match{}, false, err
		}
		if e >= 0 {
			return ms.result(s1, e), true, nil
		}
		if anchor || s1 >= len(s) {
			return Match{}, false, nil
		}
	}
}

// Iterator walks the successive matches of a pattern like the function
// string.gmatch returns. '^' is not an anchor for it. After an empty match
// it moves on one byte; after a non-empty match it tries again at the
// match's end, where Lua 5.2 (unlike 5.4) can then find an empty match.
// All the calls of Next share one step budget, as the scan of one Gsub
// does.
type Iterator struct {
	ms  *state
	pos int
}

// NewIterator returns an Iterator over the matches of pat in s.
func NewIterator(s, pat string) *Iterator {
	return &Iterator{ms: newState(s, pat)}
}

// Next returns the next match, or false when there is none left.
func (it *Iterator) Next() (Match, bool, error) {
	ms := it.ms
	for src := it.pos; src <= len(ms.src); src++ {
		e, err := ms.try(src, 0)
		if err != nil {
			return Match{}, false, err
		}
		if e >= 0 {
			it.pos = e
			if e == src { // empty match? go at least one position
				it.pos++
			}
			return ms.result(src, e), true, nil
		}
	}
	it.pos = len(ms.src) + 1
	return Match{}, false, nil
}

// Replacer returns the replacement of a match in Gsub; keep reports that
// the match stays as it is (a Lua replacement function or table gave nil
// or false).
type Replacer func(m Match) (repl string, keep bool, err error)

// Gsub replaces at most limit matches of pat in s (all of them when limit is
// negative), like string.gsub: a leading '^' anchors the pattern at the
// start of s, and after each match, empty or not, the search goes on as
// in Lua 5.2. It returns the new string and the number of matches.
func Gsub(s, pat string, limit int, repl Replacer) (string, int, error) {
	p := 0
	anchor := len(pat) > 0 && pat[0] == '^'
	if anchor {
		p = 1
	}
	ms := newState(s, pat)
	var b strings.Builder
	src, n := 0, 0
	for limit < 0 || n < limit {
		e, err := ms.try(src, p)
		if err != nil {
			return "", n, err
		}
		if e >= 0 {
			n++
			r, keep, err := repl(ms.result(src, e))
			if err != nil {
				return "", n, err
			}
			if keep {
				b.WriteString(s[src:e])
			} else {
				b.WriteString(r)
			}
		}
		if e > src { // non-empty match: skip it
			src = e
		} else if src < len(s) {
			b.WriteByte(s[src])
			src++
		} else {
			break
		}
		if anchor {
			break
		}
	}
	b.WriteString(s[src:])
	return b.String(), n, nil
}

// Expand returns the replacement string template filled in for the match m
// of s, as string.gsub does with a string replacement: %0 is the whole
// match, %1-%9 the captures (%1 is the whole match when the pattern has
// none), %% a '%'; any other use of '%' is ErrInvalidReplacement.
func Expand(template, s string, m Match) (string, error) {
	i := strings.IndexByte(template, '%')
	if i < 0 {
		return template, nil
	}
	var b strings.Builder
	b.WriteString(template[:i])
	for ; i < len(template); i++ {
		c := template[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		var d byte
		if i < len(template) {
			d = template[i]
		}
		switch {
		case d == '%':
			b.WriteByte('%')
		case !isDigit(d):
			return "", ErrInvalidReplacement
		case d == '0':
			b.WriteString(s[m.Start:m.End])
		default:
			c, err := m.Capture(int(d - '0'))
			if err != nil {
				return "", err
			}
			if c.Kind == Position {
				b.WriteString(strconv.Itoa(c.Start + 1))
			} else {
				b.WriteString(s[c.Start:c.End])
			}
		}
	}
	return b.String(), nil
}
