package luajson

// LuaJSON's decoder: json.decode and its options, a lexer and a parser that
// builds the Lua values on the stack, with LuaJSON's error messages.

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/json"
)

type luajsonDecodeOptions struct {
	initialObject, nothrow bool
	unicodeWhitespace      bool
	arrayTrailingComma     bool
	ignoreLength           bool
	objectTrailingComma    bool
	numberKeys             bool
	identifiers            bool
	strictQuotes           bool
	badChars               string
	nan, inf, hex          bool
	allowUndefined         bool
}

// luajsonDecodeOptionsAt reads the decode mode at idx: nil for the default,
// true for strict, or an options table.
func luajsonDecodeOptionsAt(l *lua.State, idx int) luajsonDecodeOptions {
	if l.IsBoolean(idx) && l.ToBoolean(idx) {
		lua.Require(l, "json", openLuaJSON, false)
		l.Field(-1, "decode")
		l.Field(-1, "strict")
		l.Replace(idx)
		l.Pop(2)
	}
	o := luajsonDecodeOptions{
		initialObject:       luajsonOptionBool(l, idx, "", "initialObject", false),
		nothrow:             luajsonOptionBool(l, idx, "", "nothrow", false),
		unicodeWhitespace:   luajsonOptionBool(l, idx, "", "unicodeWhitespace", true),
		arrayTrailingComma:  luajsonOptionBool(l, idx, "array", "trailingComma", true),
		ignoreLength:        luajsonOptionBool(l, idx, "array", "ignoreLength", false),
		objectTrailingComma: luajsonOptionBool(l, idx, "object", "trailingComma", true),
		numberKeys:          luajsonOptionBool(l, idx, "object", "number", true),
		identifiers:         luajsonOptionBool(l, idx, "object", "identifier", true),
		strictQuotes:        luajsonOptionBool(l, idx, "strings", "strict_quotes", false),
		nan:                 luajsonOptionBool(l, idx, "number", "nan", true),
		inf:                 luajsonOptionBool(l, idx, "number", "inf", true),
		hex:                 luajsonOptionBool(l, idx, "number", "hex", false),
		allowUndefined:      luajsonOptionBool(l, idx, "others", "allowUndefined", true),
	}
	luajsonOptionField(l, idx, "strings", "badChars", func(i int) { o.badChars, _ = l.ToString(i) })
	return o
}

// pushLuaJSONMarker pushes what the decoder yields for null or undefined:
// options.others[field] when set (false meaning nil), else the json.util
// marker.
func pushLuaJSONMarker(l *lua.State, optIdx int, field, key string) {
	if l.IsTable(optIdx) {
		l.Field(optIdx, "others")
		if l.IsTable(-1) {
			l.Field(-1, field)
			if !l.IsNil(-1) {
				l.Remove(-2)
				if l.IsBoolean(-1) && !l.ToBoolean(-1) {
					l.Pop(1)
					l.PushNil()
				}
				return
			}
			l.Pop(1)
		}
		l.Pop(1)
	}
	l.Field(lua.RegistryIndex, key)
}

// luajsonDecode is json.decode(text [, mode]).
func luajsonDecode(l *lua.State) int {
	l.SetTop(2)
	opt := luajsonDecodeOptionsAt(l, 2)
	return luajsonDecodeWith(l, opt)
}

// luajsonGetDecoder is json.decode.getDecoder([mode]).
func luajsonGetDecoder(l *lua.State) int {
	l.SetTop(1)
	opt := luajsonDecodeOptionsAt(l, 1)
	l.PushValue(1) // the decoder keeps the mode for its null and undefined markers
	l.PushGoClosure(func(l *lua.State) int {
		l.SetTop(1)
		l.PushValue(lua.UpValueIndex(1))
		return luajsonDecodeWith(l, opt)
	}, 1)
	return 1
}

// luajsonDecodeWith decodes the string at 1 with the mode at 2.
func luajsonDecodeWith(l *lua.State, opt luajsonDecodeOptions) int {
	s := lua.CheckString(l, 1)
	l.SetTop(2)
	luajsonShared(l)
	pushLuaJSONMarker(l, 2, "null", luajsonNullKey)
	pushLuaJSONMarker(l, 2, "undefined", luajsonUndefinedKey)
	l.Field(lua.RegistryIndex, luajsonArrayMTKey)
	l.PushNil() // previous value
	d := luajsonDecoder{
		l: l, s: s, opt: &opt, mem: luax.MemOf(l),
		nullIdx: 3, undefinedIdx: 4, arrayMTIdx: 5, prevIdx: 6, framesBase: 7,
	}
	if err := d.run(); err != nil {
		if opt.nothrow {
			l.SetTop(0)
			l.PushNil()
			l.PushString(err.Error())
			return 2
		}
		raiseJSON(l, err.Error())
	}
	l.PushValue(d.prevIdx)
	return 1
}

type luajsonTokenKind uint8

const (
	ljBeginArray luajsonTokenKind = iota
	ljEndArray
	ljBeginObject
	ljEndObject
	ljSetKey
	ljNextValue
	ljString
	ljNumber
	ljBoolean
	ljNull
	ljUndefined
)

type luajsonToken struct {
	kind luajsonTokenKind
	str  string
	num  float64
	b    bool
}

type luajsonFrame struct {
	object bool
	count  int
	hasKey bool
}

type luajsonDecoder struct {
	l   *lua.State
	s   string
	pos int
	opt *luajsonDecodeOptions
	buf []byte
	mem *luax.MemBudget // charged for each value and table made

	nullIdx, undefinedIdx, arrayMTIdx int
	prevIdx, framesBase               int
	frames                            []luajsonFrame
	prevSet                           bool
	pendingKey                        bool // an identifier key was read: a SET_KEY follows
}

// run lexes the whole input, feeding the state machine; a lexical error
// anywhere wins over a fault of the machine, as LuaJSON lexes first.
func (d *luajsonDecoder) run() error {
	var machineErr error
	for {
		tok, ok, err := d.lex()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if machineErr == nil {
			machineErr = d.apply(&tok)
		}
		if d.pendingKey {
			d.pendingKey = false
			if machineErr == nil {
				machineErr = d.apply(&luajsonToken{kind: ljSetKey})
			}
		}
	}
	if machineErr != nil {
		return machineErr
	}
	if d.opt.initialObject && !d.l.IsTable(d.prevIdx) {
		return json.NewError("Initial value not an object or array")
	}
	if len(d.frames) != 0 {
		return json.NewError("Unclosed elements present")
	}
	return nil
}

func (d *luajsonDecoder) at(i int) byte {
	if i < len(d.s) {
		return d.s[i]
	}
	return 0
}

// report is LuaJSON's build_report message for a fault at the 0-based i.
func (d *luajsonDecoder) report(msg string, i int) error {
	line, col, bad, last := luajsonCharInfo(d.s, i+1)
	return json.NewError(fmt.Sprintf("%s @ character: %d %d:%d [%s] line:\n%s", msg, i+1, line, col, bad, last))
}

func (d *luajsonDecoder) denied(item, option string, i int) error {
	if option == "" {
		return d.report(fmt.Sprintf("'%s' denied", item), i)
	}
	return d.report(fmt.Sprintf("'%s' denied by option set '%s'", item, option), i)
}

// stringError is the error of a bad escape in a string, at the 0-based i.
func (d *luajsonDecoder) stringError(item string, i int) error {
	line, col, bad, _ := luajsonCharInfo(d.s, i+1)
	return json.NewError(fmt.Sprintf("%s in string [%s] @ %d:%d", item, jsonLuaQuote(bad), line, col))
}

// luajsonCharInfo is get_invalid_character_info for the 1-based index.
func luajsonCharInfo(s string, index int) (line, col int, bad, last string) {
	parsed := s[:min(index, len(s))]
	if index >= 1 && index <= len(s) {
		bad = s[index-1 : index]
	}
	line = strings.Count(parsed, "\n")
	last = parsed
	if len(parsed) > 0 {
		if p := strings.LastIndexByte(parsed[:len(parsed)-1], '\n'); p >= 0 && len(parsed)-p-1 >= 2 {
			last = parsed[p+1:]
		}
	}
	return line, len(last), bad, last
}

// jsonLuaQuote is string.format("%q", s) of Lua 5.2.
func jsonLuaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\' || c == '\n':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			if i+1 < len(s) && '0' <= s[i+1] && s[i+1] <= '9' {
				fmt.Fprintf(&b, "\\%03d", c)
			} else {
				fmt.Fprintf(&b, "\\%d", c)
			}
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// skipIgnored skips whitespace (Unicode spaces too, unless disabled) and
// comments.
func (d *luajsonDecoder) skipIgnored(p int) int {
	s := d.s
	for p < len(s) {
		c := s[p]
		switch c {
		case '\t', '\n', '\v', '\f', '\r', ' ':
			p++
			continue
		case '/':
			if d.at(p+1) == '/' {
				if j := strings.IndexByte(s[p+2:], '\n'); j >= 0 {
					p += 2 + j + 1
					continue
				}
			} else if d.at(p+1) == '*' {
				if j := strings.Index(s[p+2:], "*/"); j >= 0 {
					p += 2 + j + 2
					continue
				}
			}
			return p
		}
		if !d.opt.unicodeWhitespace || c < 0x80 {
			return p
		}
		n := luajsonUnicodeSpaceLen(s[p:])
		if n == 0 {
			return p
		}
		p += n
	}
	return p
}

// luajsonUnicodeSpaceLen is the length of the Unicode space LuaJSON ignores at the
// start of s, 0 if none.
func luajsonUnicodeSpaceLen(s string) int {
	if len(s) < 2 {
		return 0
	}
	switch s[0] {
	case 0xC2:
		if s[1] == 0x85 || s[1] == 0xA0 {
			return 2
		}
	case 0xE1:
		if strings.HasPrefix(s, "\xE1\x9A\x80") || strings.HasPrefix(s, "\xE1\xA0\x8E") {
			return 3
		}
	case 0xE2:
		if len(s) >= 3 && s[1] == 0x80 && ((0x80 <= s[2] && s[2] <= 0x8B) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF) {
			return 3
		}
		if strings.HasPrefix(s, "\xE2\x81\x9F") {
			return 3
		}
	case 0xE3:
		if strings.HasPrefix(s, "\xE3\x80\x80") {
			return 3
		}
	case 0xEF:
		if strings.HasPrefix(s, "\xEF\xBB\xBF") {
			return 3
		}
	}
	return 0
}

func luajsonIsIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

// lex reads the next token; ok is false at the end of the input.
func (d *luajsonDecoder) lex() (tok luajsonToken, ok bool, err error) {
	p := d.skipIgnored(d.pos)
	if p >= len(d.s) {
		d.pos = p
		return tok, false, nil
	}
	c := d.s[p]
	d.pos = p + 1
	switch c {
	case '[':
		return luajsonToken{kind: ljBeginArray}, true, nil
	case ']':
		return luajsonToken{kind: ljEndArray}, true, nil
	case '{':
		return luajsonToken{kind: ljBeginObject}, true, nil
	case '}':
		return luajsonToken{kind: ljEndObject}, true, nil
	case ':':
		return luajsonToken{kind: ljSetKey}, true, nil
	case ',':
		return luajsonToken{kind: ljNextValue}, true, nil
	}
	d.pos = p
	if d.opt.identifiers && luajsonIsIdentStart(c) {
		j := p + 1
		for j < len(d.s) && (luajsonIsIdentStart(d.s[j]) || json.IsDigit(d.s[j])) {
			j++
		}
		if k := d.skipIgnored(j); d.at(k) == ':' && k < len(d.s) {
			d.pos = k + 1
			d.pendingKey = true
			return luajsonToken{kind: ljString, str: d.s[p:j]}, true, nil
		}
	}
	if c == '"' || (c == '\'' && !d.opt.strictQuotes) {
		str, matched, err := d.lexString(p, c)
		if err != nil {
			return tok, false, err
		}
		if matched {
			return luajsonToken{kind: ljString, str: str}, true, nil
		}
	}
	if num, matched, err := d.lexNumber(p); err != nil {
		return tok, false, err
	} else if matched {
		return luajsonToken{kind: ljNumber, num: num}, true, nil
	}
	rest := d.s[p:]
	switch {
	case strings.HasPrefix(rest, "true"):
		d.pos = p + 4
		return luajsonToken{kind: ljBoolean, b: true}, true, nil
	case strings.HasPrefix(rest, "false"):
		d.pos = p + 5
		return luajsonToken{kind: ljBoolean}, true, nil
	case strings.HasPrefix(rest, "null"):
		d.pos = p + 4
		return luajsonToken{kind: ljNull}, true, nil
	case strings.HasPrefix(rest, "undefined"):
		if !d.opt.allowUndefined {
			return tok, false, d.denied("undefined", "others.allowUndefined", p)
		}
		d.pos = p + 9
		return luajsonToken{kind: ljUndefined}, true, nil
	}
	return tok, false, d.report("unexpected character", p)
}

// lexNumber reads a number at p.
func (d *luajsonDecoder) lexNumber(p int) (float64, bool, error) {
	at := d.at
	if at(p) == '0' && at(p+1)|0x20 == 'x' && json.HexDigit(at(p+2)) >= 0 {
		if !d.opt.hex {
			return 0, false, d.denied("Hexadecimal", "number.hex", p)
		}
		q := p + 2
		for json.HexDigit(at(q)) >= 0 {
			q++
		}
		v, _ := strconv.ParseFloat(d.s[p:q]+"p0", 64)
		d.pos = q
		return v, true, nil
	}
	q := p
	if at(q) == '-' {
		q++
	}
	if json.IsDigit(at(q)) {
		if at(q) == '0' && json.IsDigit(at(q+1)) {
			return 0, false, d.denied("Octal numbers", "", q)
		}
		if at(q) == '0' {
			q++
		} else {
			for json.IsDigit(at(q)) {
				q++
			}
		}
		if at(q) == '.' && json.IsDigit(at(q+1)) {
			q += 2
			for json.IsDigit(at(q)) {
				q++
			}
		}
		if at(q)|0x20 == 'e' {
			r := q + 1
			if at(r) == '+' || at(r) == '-' {
				r++
			}
			if json.IsDigit(at(r)) {
				for json.IsDigit(at(r)) {
					r++
				}
				q = r
			}
		}
		v, _ := strconv.ParseFloat(d.s[p:q], 64)
		d.pos = q
		return v, true, nil
	}
	rest := d.s[p:]
	if len(rest) >= 3 && strings.EqualFold(rest[:3], "nan") {
		if !d.opt.nan {
			return 0, false, d.denied("NaN", "number.nan", p)
		}
		d.pos = p + 3
		return math.NaN(), true, nil
	}
	isInf := func(s string) bool { return len(s) >= 8 && s[0]|0x20 == 'i' && s[1:8] == "nfinity" }
	if ninf := strings.HasPrefix(rest, "-") && isInf(rest[1:]); ninf || isInf(rest) {
		if !d.opt.inf {
			return 0, false, d.denied("+/-Inf", "number.inf", p)
		}
		if ninf {
			d.pos = p + 9
			return math.Inf(-1), true, nil
		}
		d.pos = p + 8
		return math.Inf(1), true, nil
	}
	return 0, false, nil
}

// lexString reads a string quoted by q at p; matched is false when it is
// not closed (or holds a character the mode forbids).
func (d *luajsonDecoder) lexString(p int, q byte) (string, bool, error) {
	s := d.s
	i := p + 1
	// Fast path: no escapes.
	for j := i; j < len(s); j++ {
		c := s[j]
		if c == q {
			if d.opt.badChars == "" || !strings.ContainsAny(s[i:j], d.opt.badChars) {
				d.pos = j + 1
				return s[i:j], true, nil
			}
			break
		}
		if c == '\\' {
			break
		}
	}
	allowed := "bfnrtv/\\\"xu'z"
	if d.opt.strictQuotes {
		allowed = "bfnrtv/\\\"u"
	}
	d.buf = d.buf[:0]
	for {
		if i >= len(s) {
			return "", false, nil
		}
		c := s[i]
		switch {
		case c == q:
			d.pos = i + 1
			return string(d.buf), true, nil
		case c == '\\':
			e := d.at(i + 1)
			if i+1 >= len(s) || strings.IndexByte(allowed, e) < 0 {
				return "", false, d.stringError("Illegal escape", i+1)
			}
			switch e {
			case 'b', 'f', 'n', 'r', 't':
				d.buf = append(d.buf, json.ShortEscape(e))
			case 'v':
				d.buf = append(d.buf, '\v')
			case 'z':
			case 'x':
				h, l := json.HexDigit(d.at(i+2)), json.HexDigit(d.at(i+3))
				if h < 0 || l < 0 {
					return "", false, d.stringError("Illegal hex escape", i+2)
				}
				d.buf = append(d.buf, byte(h<<4|l))
				i += 4
				continue
			case 'u':
				cp := json.Hex4(s, i+2)
				if cp < 0 {
					return "", false, d.stringError("Illegal unicode escape", i+2)
				}
				n := 6
				if 0xD800 <= cp && cp <= 0xDBFF && d.at(i+6) == '\\' && d.at(i+7) == 'u' {
					if low := json.Hex4(s, i+8); 0xDC00 <= low && low <= 0xDFFF {
						cp = (cp-0xD800)<<10 + (low - 0xDC00) + 0x10000
						n = 12
					}
				}
				d.buf = json.AppendCodePoint(d.buf, cp)
				i += n
				continue
			default: // ' " \ /
				d.buf = append(d.buf, e)
			}
			i += 2
		case d.opt.badChars != "" && strings.IndexByte(d.opt.badChars, c) >= 0:
			return "", false, nil
		default:
			end := i + 1
			for end < len(s) && s[end] != q && s[end] != '\\' && (d.opt.badChars == "" || strings.IndexByte(d.opt.badChars, s[end]) < 0) {
				end++
			}
			d.buf = append(d.buf, s[i:end]...)
			i = end
		}
	}
}

// ===== the state machine of json.decode.state =====

func (d *luajsonDecoder) tableIdx() int { return d.framesBase + 2*(len(d.frames)-1) }

var errLuaJSONNilActive = json.NewError("attempt to index field 'active' (a nil value)")

func (d *luajsonDecoder) apply(tok *luajsonToken) error {
	l := d.l
	switch tok.kind {
	case ljBeginArray, ljBeginObject:
		return d.push(tok.kind == ljBeginObject)
	case ljEndArray:
		return d.endArray()
	case ljEndObject:
		return d.endObject()
	case ljSetKey:
		return d.setKey()
	case ljNextValue:
		return d.putValue(false)
	}
	d.mem.ChargeSize(l, "json.decode", luax.CostSlot)
	switch tok.kind {
	case ljString:
		d.mem.ChargeSize(l, "json.decode", float64(len(tok.str)))
		l.PushString(tok.str)
	case ljNumber:
		l.PushNumber(tok.num)
	case ljBoolean:
		l.PushBoolean(tok.b)
	case ljNull:
		l.PushValue(d.nullIdx)
	case ljUndefined:
		l.PushValue(d.undefinedIdx)
	}
	// set_value
	if d.prevSet {
		l.Pop(1)
		return json.NewError("Value set when one already in slot")
	}
	l.Replace(d.prevIdx)
	d.prevSet = true
	return nil
}

func (d *luajsonDecoder) push(object bool) error {
	l := d.l
	if len(d.frames) >= json.MaxDepth {
		return json.NewError(fmt.Sprintf("too many nested data structures (%d)", len(d.frames)+1))
	}
	json.CheckStack(l, 16)
	d.mem.ChargeSize(l, "json.decode", luax.CostTable)
	l.NewTable()
	if !object {
		l.PushValue(d.arrayMTIdx)
		l.SetMetaTable(-2)
	}
	l.PushNil() // key
	d.frames = append(d.frames, luajsonFrame{object: object})
	// unset_value
	d.prevSet = false
	l.PushNil()
	l.Replace(d.prevIdx)
	return nil
}

func (d *luajsonDecoder) pop() {
	l := d.l
	l.Copy(d.tableIdx(), d.prevIdx)
	d.prevSet = true
	l.Pop(2)
	d.frames = d.frames[:len(d.frames)-1]
}

// grab is grab_value: the previous value must be set.
func (d *luajsonDecoder) grab() error {
	if !d.prevSet {
		return json.NewError("Previous value not set")
	}
	d.prevSet = false
	return nil
}

func (d *luajsonDecoder) putValue(trailing bool) error {
	if len(d.frames) == 0 {
		return errLuaJSONNilActive
	}
	l := d.l
	f := &d.frames[len(d.frames)-1]
	t := d.tableIdx()
	if f.object {
		if trailing && d.opt.objectTrailingComma && !f.hasKey {
			return nil
		}
		if !f.hasKey {
			return json.NewError("Missing key value")
		}
		if err := d.grab(); err != nil {
			return err
		}
		l.PushValue(t + 1)
		l.PushValue(d.prevIdx)
		l.RawSet(t)
		f.hasKey = false
		l.PushNil()
		l.Replace(t + 1)
		return nil
	}
	if trailing && !d.prevSet && d.opt.arrayTrailingComma {
		return nil
	}
	f.count++
	if err := d.grab(); err != nil {
		return err
	}
	l.PushValue(d.prevIdx)
	l.RawSetInt(t, f.count)
	return nil
}

func (d *luajsonDecoder) setKey() error {
	l := d.l
	if len(d.frames) == 0 || !d.frames[len(d.frames)-1].object {
		return json.NewError("Cannot set key on array")
	}
	if err := d.grab(); err != nil {
		return err
	}
	switch l.TypeOf(d.prevIdx) {
	case lua.TypeString:
	case lua.TypeNumber:
		if !d.opt.numberKeys {
			return json.NewError("As configured, a key must be a string")
		}
	default:
		if d.opt.numberKeys {
			return json.NewError("As configured, a key must be a number or string")
		}
		return json.NewError("As configured, a key must be a string")
	}
	l.Copy(d.prevIdx, d.tableIdx()+1)
	d.frames[len(d.frames)-1].hasKey = true
	return nil
}

func (d *luajsonDecoder) endArray() error {
	if len(d.frames) == 0 {
		return errLuaJSONNilActive
	}
	l := d.l
	f := d.frames[len(d.frames)-1]
	if d.prevSet || f.object || f.count != 0 {
		if err := d.putValue(true); err != nil {
			return err
		}
	}
	if !d.opt.ignoreLength {
		f = d.frames[len(d.frames)-1]
		t := d.tableIdx()
		if f.object {
			l.PushString("object")
			l.SetField(t, "n")
		} else if f.count != l.RawLength(t) {
			l.PushInteger(f.count)
			l.SetField(t, "n")
		}
	}
	d.pop()
	return nil
}

func (d *luajsonDecoder) endObject() error {
	l := d.l
	if len(d.frames) == 0 {
		if d.prevSet {
			return errLuaJSONNilActive
		}
		return json.NewError("bad argument #1 to 'next' (table expected, got nil)")
	}
	f := d.frames[len(d.frames)-1]
	nonEmpty := f.hasKey || d.prevSet
	if !nonEmpty {
		l.PushNil()
		if l.Next(d.tableIdx()) {
			l.Pop(2)
			nonEmpty = true
		}
	}
	if nonEmpty {
		if err := d.putValue(true); err != nil {
			return err
		}
	}
	d.pop()
	return nil
}
