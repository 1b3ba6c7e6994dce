package pattern

import "fmt"

// The matcher below follows lstrlib.c of Lua 5.2 function by function, with
// offsets instead of pointers: -1 stands for NULL (no match), and the
// accessors pc and sc return 0 past the end, as C's terminating '\0' does.

const (
	capUnfinished = -1
	capPosition   = -2
)

// state is lstrlib's MatchState plus the step budget.
type state struct {
	src   string
	pat   string
	level int // number of captures, finished or not
	depth int // recursion levels left (MAXCCALLS)
	steps int // budget left
	caps  [MaxCaptures]struct{ init, len int }
}

// failure is the panic value that carries an error out of the recursion,
// where C Lua would longjmp; try recovers it.
type failure struct{ err error }

func newState(src, pat string) *state {
	return &state{src: src, pat: pat, steps: budget(len(src), len(pat))}
}

// budget is the number of steps one operation on a subject of n bytes with
// a pattern of m bytes may take.
func budget(n, m int) int {
	b := StepsPerCell * (n + 1)
	if b/(n+1) != StepsPerCell || b*(m+1)/(m+1) != b {
		return MaxSteps // overflow
	}
	b *= m + 1
	return min(max(b, MinSteps), MaxSteps)
}

func (ms *state) fail(err error) { panic(failure{err}) }

func (ms *state) tick(n int) {
	ms.steps -= n
	if ms.steps < 0 {
		ms.fail(ErrTooComplex)
	}
}

// try runs one match attempt of the pattern from p at subject offset s. It
// returns the end of the match or -1.
func (ms *state) try(s, p int) (e int, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			e, err = -1, f.err
		}
	}()
	ms.level = 0
	ms.depth = MaxDepth
	return ms.match(s, p), nil
}

// result returns the match s[start:end] with the current captures.
func (ms *state) result(start, end int) Match {
	m := Match{Start: start, End: end}
	if ms.level > 0 {
		m.Captures = make([]Capture, ms.level)
		for i := range m.Captures {
			c := ms.caps[i]
			switch c.len {
			case capUnfinished:
				m.Captures[i] = Capture{Start: c.init, End: c.init, Kind: Unfinished}
			case capPosition:
				m.Captures[i] = Capture{Start: c.init, End: c.init, Kind: Position}
			default:
				m.Captures[i] = Capture{Start: c.init, End: c.init + c.len, Kind: Substring}
			}
		}
	}
	return m
}

func (ms *state) pc(p int) byte {
	if p < len(ms.pat) {
		return ms.pat[p]
	}
	return 0
}

func (ms *state) sc(s int) byte {
	if s < len(ms.src) {
		return ms.src[s]
	}
	return 0
}

func (ms *state) checkCapture(l byte) int {
	i := int(l) - '1'
	if i < 0 || i >= ms.level || ms.caps[i].len == capUnfinished {
		ms.fail(fmt.Errorf("%w %%%d", ErrInvalidCaptureIndex, i+1))
	}
	return i
}

func (ms *state) captureToClose() int {
	for level := ms.level - 1; level >= 0; level-- {
		if ms.caps[level].len == capUnfinished {
			return level
		}
	}
	ms.fail(ErrInvalidPatternCapture)
	return 0
}

// classEnd returns the offset just after the single-character class that
// starts at p.
func (ms *state) classEnd(p int) int {
	c := ms.pc(p)
	p++
	switch c {
	case '%':
		if p >= len(ms.pat) {
			ms.fail(ErrEndsWithEscape)
		}
		return p + 1
	case '[':
		start := p
		if ms.pc(p) == '^' {
			p++
		}
		for { // look for a ']'
			if p >= len(ms.pat) {
				ms.fail(ErrMissingBracket)
			}
			c := ms.pat[p]
			p++
			if c == '%' && p < len(ms.pat) {
				p++ // skip escapes (e.g. '%]')
			}
			if ms.pc(p) == ']' {
				break
			}
		}
		ms.tick(p - start) // a step per byte of the set
		return p + 1
	}
	return p
}

// matchBracketClass reports whether c belongs to the set from '[' at p to
// ']' at ec.
func (ms *state) matchBracketClass(c byte, p, ec int) bool {
	ms.tick(ec - p) // a step per byte of the set
	sig := true
	if ms.pc(p+1) == '^' {
		sig = false
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case ms.pat[p] == '%':
			p++
			if matchClass(c, ms.pc(p)) {
				return sig
			}
		case ms.pc(p+1) == '-' && p+2 < ec:
			p += 2
			if ms.pat[p-2] <= c && c <= ms.pat[p] {
				return sig
			}
		case ms.pat[p] == c:
			return sig
		}
	}
	return !sig
}

// singleMatch reports whether the subject byte at s matches the class from
// p to ep.
func (ms *state) singleMatch(s, p, ep int) bool {
	ms.tick(1)
	if s >= len(ms.src) {
		return false
	}
	c := ms.src[s]
	switch ms.pat[p] {
	case '.':
		return true
	case '%':
		return matchClass(c, ms.pc(p+1))
	case '[':
		return ms.matchBracketClass(c, p, ep-1)
	default:
		return ms.pat[p] == c
	}
}

func (ms *state) matchBalance(s, p int) int {
	if p >= len(ms.pat)-1 {
		ms.fail(ErrMissingBalanceArgs)
	}
	if ms.sc(s) != ms.pat[p] {
		return -1
	}
	b, e := ms.pat[p], ms.pat[p+1]
	cont := 1
	for s++; s < len(ms.src); s++ {
		ms.tick(1)
		switch ms.src[s] {
		case e:
			if cont--; cont == 0 {
				return s + 1
			}
		case b:
			cont++
		}
	}
	return -1 // string ends out of balance
}

func (ms *state) maxExpand(s, p, ep int) int {
	i := 0 // counts maximum expand for item
	for ms.singleMatch(s+i, p, ep) {
		i++
	}
	// keep trying to match with the maximum repetitions
	for ; i >= 0; i-- {
		if r := ms.match(s+i, ep+1); r >= 0 {
			return r
		}
	}
	return -1
}

func (ms *state) minExpand(s, p, ep int) int {
	for {
		if r := ms.match(s, ep+1); r >= 0 {
			return r
		}
		if !ms.singleMatch(s, p, ep) {
			return -1
		}
		s++ // try with one more repetition
	}
}

func (ms *state) startCapture(s, p, what int) int {
	level := ms.level
	if level >= MaxCaptures {
		ms.fail(ErrTooManyCaptures)
	}
	ms.caps[level].init = s
	ms.caps[level].len = what
	ms.level = level + 1
	r := ms.match(s, p)
	if r < 0 {
		ms.level-- // undo capture
	}
	return r
}

func (ms *state) endCapture(s, p int) int {
	l := ms.captureToClose()
	ms.caps[l].len = s - ms.caps[l].init // close capture
	r := ms.match(s, p)
	if r < 0 {
		ms.caps[l].len = capUnfinished // undo capture
	}
	return r
}

func (ms *state) matchCapture(s int, l byte) int {
	i := ms.checkCapture(l)
	c := ms.caps[i]
	// A position capture has a negative length; C compares it as a huge
	// size_t, so a back-reference to a position never matches.
	if c.len < 0 || len(ms.src)-s < c.len {
		return -1
	}
	ms.tick(1 + c.len)
	if ms.src[c.init:c.init+c.len] == ms.src[s:s+c.len] {
		return s + c.len
	}
	return -1
}

// match is lstrlib's match: it returns the end of the match of the pattern
// from p at subject offset s, or -1. The C code's "goto init" tail calls
// are the continue statements of the loop.
func (ms *state) match(s, p int) int {
	if ms.depth == 0 {
		ms.fail(ErrTooComplex)
	}
	ms.depth--
	ms.tick(1)
	r := ms.doMatch(s, p)
	ms.depth++
	return r
}

func (ms *state) doMatch(s, p int) int {
	for p != len(ms.pat) {
		switch ms.pat[p] {
		case '(': // start capture
			if ms.pc(p+1) == ')' { // position capture?
				return ms.startCapture(s, p+2, capPosition)
			}
			return ms.startCapture(s, p+1, capUnfinished)
		case ')': // end capture
			return ms.endCapture(s, p+1)
		case '$':
			if p+1 == len(ms.pat) { // is the '$' the last char in pattern?
				if s != len(ms.src) {
					return -1
				}
				return s
			}
			// else a literal '$': the default below
		case '%':
			switch ms.pc(p + 1) {
			case 'b': // balanced string
				s = ms.matchBalance(s, p+2)
				if s < 0 {
					return -1
				}
				p += 4
				continue
			case 'f': // frontier
				p += 2
				if ms.pc(p) != '[' {
					ms.fail(ErrMissingFrontierBracket)
				}
				ep := ms.classEnd(p)
				var previous byte
				if s > 0 {
					previous = ms.src[s-1]
				}
				if !ms.matchBracketClass(previous, p, ep-1) &&
					ms.matchBracketClass(ms.sc(s), p, ep-1) {
					p = ep
					continue
				}
				return -1
			case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9': // back-reference
				s = ms.matchCapture(s, ms.pat[p+1])
				if s < 0 {
					return -1
				}
				p += 2
				continue
			}
			// else an escaped class: the default below
		}
		// default: a single-character class plus an optional suffix
		ep := ms.classEnd(p)
		suffix := ms.pc(ep)
		if !ms.singleMatch(s, p, ep) {
			if suffix == '*' || suffix == '?' || suffix == '-' { // accept empty?
				p = ep + 1
				continue
			}
			return -1 // '+' or no suffix
		}
		switch suffix { // matched once
		case '?':
			if r := ms.match(s+1, ep+1); r >= 0 {
				return r
			}
			p = ep + 1
		case '+':
			return ms.maxExpand(s+1, p, ep) // one match already done
		case '*':
			return ms.maxExpand(s, p, ep)
		case '-':
			return ms.minExpand(s, p, ep)
		default:
			s++
			p = ep
		}
	}
	return s
}
