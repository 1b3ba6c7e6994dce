package dkjson

// dkjson.decode: the scanner of dkjson's pure-Lua decoder (no LPeg), with
// its error messages and its nil/null/metatable options.

import (
	"fmt"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/json"
)

// dkjsonDecode is json.decode(text [, pos [, nullval [, objectmeta [,
// arraymeta]]]]).
func dkjsonDecode(l *lua.State) int {
	s := lua.CheckString(l, 1)
	nargs := l.Top()
	pos := lua.OptInteger(l, 2, 1)
	switch {
	case pos < 0:
		pos = max(len(s)+pos+1, 1)
	case pos == 0:
		pos = 1
	}
	l.SetTop(5)
	if nargs <= 3 {
		for i, jsontype := range []string{"object", "array"} {
			l.CreateTable(0, 1)
			l.PushString(jsontype)
			l.SetField(-2, "__jsontype")
			l.Replace(4 + i)
		}
	}
	for i := 4; i <= 5; i++ {
		if !l.IsNil(i) && !l.IsTable(i) {
			lua.ArgumentError(l, i, "nil or table expected")
		}
	}
	d := dkjsonDecoder{l: l, s: s, nullIdx: 3, objectMeta: 4, arrayMeta: 5, mem: luax.MemOf(l)}
	end, err := d.value(pos - 1)
	if err != nil {
		l.SetTop(5)
		l.PushNil()
		l.PushInteger(err.pos + 1)
		l.PushString(err.msg)
		return 3
	}
	l.PushInteger(end + 1)
	return 2
}

// dkjsonDecodeError is a failure: dkjson returns nil, pos (1-based), msg.
type dkjsonDecodeError struct {
	pos int // 0-based
	msg string
}

type dkjsonDecoder struct {
	l                     *lua.State
	s                     string
	nullIdx               int
	objectMeta, arrayMeta int
	depth                 int
	buf                   []byte
	mem                   *luax.MemBudget // charged for each value and table made
}

// loc is dkjson's "line L, column C" for the 0-based position p.
func (d *dkjsonDecoder) loc(p int) string {
	where := p + 1
	line, linepos := 1, 0
	for i := 0; i < len(d.s) && i+1 < where; i++ {
		if d.s[i] == '\n' {
			line++
			linepos = i + 1
		}
	}
	return fmt.Sprintf("line %d, column %d", line, where-linepos)
}

func (d *dkjsonDecoder) unterminated(what string, p int) *dkjsonDecodeError {
	return &dkjsonDecodeError{len(d.s), "unterminated " + what + " at " + d.loc(p)}
}

func jsonIsSpace(c byte) bool {
	return c == ' ' || ('\t' <= c && c <= '\r')
}

// scanwhite skips spaces, a UTF-8 byte order mark and comments; -1 at the
// end.
func (d *dkjsonDecoder) scanwhite(p int) int {
	s := d.s
	for {
		for p < len(s) && jsonIsSpace(s[p]) {
			p++
		}
		if p >= len(s) {
			return -1
		}
		rest := s[p:]
		switch {
		case strings.HasPrefix(rest, "\xEF\xBB\xBF"):
			p += 3
		case strings.HasPrefix(rest, "//"):
			j := strings.IndexAny(rest[2:], "\n\r")
			if j < 0 {
				return -1
			}
			p += 2 + j
		case strings.HasPrefix(rest, "/*"):
			j := strings.Index(rest[2:], "*/")
			if j < 0 {
				return -1
			}
			p += 2 + j + 2
		default:
			return p
		}
	}
}

// value scans a value at p, pushes it and returns the position after it.
func (d *dkjsonDecoder) value(p int) (int, *dkjsonDecodeError) {
	l := d.l
	s := d.s
	d.mem.ChargeSize(l, "dkjson.decode", luax.CostSlot)
	p = d.scanwhite(p)
	if p < 0 {
		return 0, &dkjsonDecodeError{len(s), "no valid JSON value (reached the end)"}
	}
	switch s[p] {
	case '{':
		return d.table(p, '}', d.objectMeta, "object")
	case '[':
		return d.table(p, ']', d.arrayMeta, "array")
	case '"':
		return d.string(p)
	}
	// ^%-?[%d%.]+[eE]?[%+%-]?%d*
	q := p
	if s[q] == '-' {
		q++
	}
	r := q
	for r < len(s) && (json.IsDigit(s[r]) || s[r] == '.') {
		r++
	}
	if r > q {
		if r < len(s) && (s[r] == 'e' || s[r] == 'E') {
			r++
		}
		if r < len(s) && (s[r] == '+' || s[r] == '-') {
			r++
		}
		for r < len(s) && json.IsDigit(s[r]) {
			r++
		}
		if n, end := json.Strtod(s[:r], p); end == r {
			l.PushNumber(n)
			return r, nil
		}
	}
	// ^%a%w*
	if jsonIsAlpha(s[p]) {
		j := p + 1
		for j < len(s) && (jsonIsAlpha(s[j]) || json.IsDigit(s[j])) {
			j++
		}
		switch s[p:j] {
		case "true":
			l.PushBoolean(true)
			return j, nil
		case "false":
			l.PushBoolean(false)
			return j, nil
		case "null":
			l.PushValue(d.nullIdx)
			return j, nil
		}
	}
	return 0, &dkjsonDecodeError{p, "no valid JSON value at " + d.loc(p)}
}

func jsonIsAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// table scans an object or array (dkjson accepts pairs and plain values in
// both) starting at p.
func (d *dkjsonDecoder) table(start int, closer byte, meta int, what string) (int, *dkjsonDecodeError) {
	l := d.l
	s := d.s
	d.depth++
	if d.depth > json.MaxDepth {
		return 0, &dkjsonDecodeError{start, "too many nested data structures at " + d.loc(start)}
	}
	json.CheckStack(l, 16)
	d.mem.ChargeSize(l, "dkjson.decode", luax.CostTable)
	l.NewTable()
	t := l.Top()
	if !l.IsNil(meta) {
		l.PushValue(meta)
		l.SetMetaTable(t)
	}
	n := 0
	p := start + 1
	for {
		if p = d.scanwhite(p); p < 0 {
			return 0, d.unterminated(what, start)
		}
		if s[p] == closer {
			d.depth--
			return p + 1, nil
		}
		var err *dkjsonDecodeError
		if p, err = d.value(p); err != nil {
			return 0, err
		}
		if p = d.scanwhite(p); p < 0 {
			return 0, d.unterminated(what, start)
		}
		c := s[p]
		if c == ':' {
			if l.IsNil(-1) {
				return 0, &dkjsonDecodeError{p, "cannot use nil as table index (at " + d.loc(p) + ")"}
			}
			if p = d.scanwhite(p + 1); p < 0 {
				return 0, d.unterminated(what, start)
			}
			if p, err = d.value(p); err != nil {
				return 0, err
			}
			l.SetTable(t)
			if p = d.scanwhite(p); p < 0 {
				return 0, d.unterminated(what, start)
			}
			c = s[p]
		} else {
			n++
			l.PushInteger(n)
			l.Insert(-2)
			l.SetTable(t)
		}
		if c == ',' {
			p++
		}
	}
}

// string scans a string at p (the opening quote).
func (d *dkjsonDecoder) string(p int) (int, *dkjsonDecodeError) {
	s := d.s
	last := p + 1
	if j := strings.IndexAny(s[last:], "\"\\"); j >= 0 && s[last+j] == '"' {
		d.mem.ChargeSize(d.l, "dkjson.decode", float64(j))
		d.l.PushString(s[last : last+j])
		return last + j + 1, nil
	}
	d.buf = d.buf[:0]
	for {
		j := -1
		if last < len(s) {
			j = strings.IndexAny(s[last:], "\"\\")
		}
		if j < 0 {
			return 0, d.unterminated("string", p)
		}
		next := last + j
		d.buf = append(d.buf, s[last:next]...)
		if s[next] == '"' {
			last = next + 1
			break
		}
		esc := byte(0)
		if next+1 < len(s) {
			esc = s[next+1]
		}
		if esc == 'u' {
			if v, ok := luaToNumberHex(jsonSubstr(s, next+2, next+6)); ok && v >= 0 && v <= 0x10FFFF {
				n := 6
				if 0xD800 <= v && v <= 0xDBFF && jsonSubstr(s, next+6, next+8) == `\u` {
					if v2, ok := luaToNumberHex(jsonSubstr(s, next+8, next+12)); ok && 0xDC00 <= v2 && v2 <= 0xDFFF {
						v = (v-0xD800)*0x400 + (v2 - 0xDC00) + 0x10000
						n = 12
					}
				}
				d.buf = json.AppendCodePoint(d.buf, rune(v))
				last = next + n
				continue
			}
		}
		switch esc {
		case 'b', 'f', 'n', 'r', 't':
			d.buf = append(d.buf, json.ShortEscape(esc))
		case 0:
			if next+1 < len(s) {
				d.buf = append(d.buf, 0)
			}
		default:
			d.buf = append(d.buf, esc)
		}
		last = next + 2
	}
	d.mem.ChargeSize(d.l, "dkjson.decode", float64(len(d.buf)))
	d.l.PushString(string(d.buf))
	return last, nil
}

// jsonSubstr is s[i:j] clipped to s.
func jsonSubstr(s string, i, j int) string {
	i, j = min(i, len(s)), min(j, len(s))
	return s[i:j]
}

// luaToNumberHex is Lua 5.2's tonumber(s, 16).
func luaToNumberHex(s string) (int64, bool) {
	s = strings.TrimLeft(s, " \f\n\r\t\v")
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	} else if strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	i := 0
	var n int64
	for i < len(s) && (jsonIsAlpha(s[i]) || json.IsDigit(s[i])) {
		dgt := json.HexDigit(s[i])
		if dgt < 0 {
			return 0, false
		}
		n = n*16 + int64(dgt)
		i++
	}
	if i == 0 || strings.TrimLeft(s[i:], " \f\n\r\t\v") != "" {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}
