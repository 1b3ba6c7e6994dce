package cjson

// cjson.decode: a tokenizer and a recursive parser with lua-cjson's error
// messages and number rules.

import (
	"fmt"
	"slices"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/json"
)

// cjsonDecode is cjson.decode(text).
func cjsonDecode(l *lua.State, cfg *cjsonConfig, safe bool) int {
	if l.Top() != 1 {
		cjsonArgError(l, 1, "decode", "expected 1 argument")
	}
	s, ok := l.ToString(1)
	if !ok {
		cjsonArgError(l, 1, "decode", "string expected, got "+lua.TypeNameOf(l, 1))
	}
	d := cjsonDecoder{l: l, cfg: cfg, s: s, mem: luax.MemOf(l)}
	var err error
	if len(s) >= 2 && (s[0] == 0 || s[1] == 0) {
		err = json.NewError("JSON parser does not support UTF-16 or UTF-32")
	} else {
		err = d.document()
	}
	if err != nil {
		return cjsonFail(l, err, safe)
	}
	return 1
}

// cjson's token types, named as in its error messages.
type cjsonTokenType int

const (
	cjObjBegin cjsonTokenType = iota
	cjObjEnd
	cjArrBegin
	cjArrEnd
	cjString
	cjNumber
	cjBoolean
	cjNull
	cjColon
	cjComma
	cjEnd
	cjError
)

var cjsonTokenNames = [...]string{
	cjObjBegin: "T_OBJ_BEGIN",
	cjObjEnd:   "T_OBJ_END",
	cjArrBegin: "T_ARR_BEGIN",
	cjArrEnd:   "T_ARR_END",
	cjString:   "T_STRING",
	cjNumber:   "T_NUMBER",
	cjBoolean:  "T_BOOLEAN",
	cjNull:     "T_NULL",
	cjColon:    "T_COLON",
	cjComma:    "T_COMMA",
	cjEnd:      "T_END",
}

type cjsonToken struct {
	typ   cjsonTokenType
	index int // 0-based offset of the token (of the fault for errors)
	str   string
	num   float64
	b     bool
	err   string // for cjError
}

type cjsonDecoder struct {
	l     *lua.State
	cfg   *cjsonConfig
	s     string
	pos   int
	depth int
	tmp   []byte
	mem   *luax.MemBudget // charged for each value and table made
}

// at is the byte at i, 0 past the end: the C decoder stops at a NUL.
func (d *cjsonDecoder) at(i int) byte {
	if i < len(d.s) {
		return d.s[i]
	}
	return 0
}

func (d *cjsonDecoder) document() error {
	var tok cjsonToken
	d.next(&tok)
	if err := d.value(&tok); err != nil {
		return err
	}
	d.next(&tok)
	if tok.typ != cjEnd {
		return d.parseError("the end", &tok)
	}
	return nil
}

func (d *cjsonDecoder) parseError(expected string, tok *cjsonToken) error {
	found := tok.err
	if tok.typ != cjError {
		found = cjsonTokenNames[tok.typ]
	}
	return json.NewError(fmt.Sprintf("Expected %s but found %s at character %d", expected, found, tok.index+1))
}

func (d *cjsonDecoder) tokenError(tok *cjsonToken, msg string) {
	tok.typ = cjError
	tok.index = d.pos
	tok.err = msg
}

func (d *cjsonDecoder) next(tok *cjsonToken) {
	for {
		c := d.at(d.pos)
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		d.pos++
	}
	tok.index = d.pos
	c := d.at(d.pos)
	single := cjError
	switch c {
	case '{':
		single = cjObjBegin
	case '}':
		single = cjObjEnd
	case '[':
		single = cjArrBegin
	case ']':
		single = cjArrEnd
	case ',':
		single = cjComma
	case ':':
		single = cjColon
	case 0:
		tok.typ = cjEnd
		return
	}
	if single != cjError {
		tok.typ = single
		d.pos++
		return
	}
	rest := d.s[d.pos:]
	switch {
	case c == '"':
		d.stringToken(tok)
	case c == '-' || ('0' <= c && c <= '9'):
		if !d.cfg.decodeInvalidNumbers && d.invalidNumber() {
			d.tokenError(tok, "invalid number")
			return
		}
		d.numberToken(tok)
	case strings.HasPrefix(rest, "true"):
		tok.typ, tok.b = cjBoolean, true
		d.pos += 4
	case strings.HasPrefix(rest, "false"):
		tok.typ, tok.b = cjBoolean, false
		d.pos += 5
	case strings.HasPrefix(rest, "null"):
		tok.typ = cjNull
		d.pos += 4
	case d.cfg.decodeInvalidNumbers && strings.IndexByte("fiInNt+", c) >= 0 && d.invalidNumber():
		d.numberToken(tok)
	default:
		d.tokenError(tok, "invalid token")
	}
}

// invalidNumber is json_is_invalid_number: forms strtod accepts but JSON
// does not (a leading +, hex, leading zeros, inf, nan).
func (d *cjsonDecoder) invalidNumber() bool {
	p := d.pos
	if d.at(p) == '+' {
		return true
	}
	if d.at(p) == '-' {
		p++
	}
	if d.at(p) == '0' {
		c2 := d.at(p + 1)
		return c2|0x20 == 'x' || ('0' <= c2 && c2 <= '9')
	}
	if d.at(p) <= '9' {
		return false
	}
	rest := d.s[min(p, len(d.s)):]
	return len(rest) >= 3 && (strings.EqualFold(rest[:3], "inf") || strings.EqualFold(rest[:3], "nan"))
}

func (d *cjsonDecoder) numberToken(tok *cjsonToken) {
	n, end := json.Strtod(d.s, d.pos)
	if end == d.pos {
		d.tokenError(tok, "invalid number")
		return
	}
	tok.typ, tok.num = cjNumber, n
	d.pos = end
}

func (d *cjsonDecoder) stringToken(tok *cjsonToken) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: no escapes.
	for i := start; i < len(d.s); i++ {
		c := d.s[i]
		if c == '"' {
			tok.typ, tok.str = cjString, d.s[start:i]
			d.pos = i + 1
			return
		}
		if c == '\\' || c == 0 {
			break
		}
	}
	// The decoded string is no longer than its source: size the buffer once.
	end := start
	for end < len(d.s) && d.s[end] != '"' && d.s[end] != 0 {
		if d.s[end] == '\\' {
			end++
		}
		end++
	}
	d.tmp = slices.Grow(d.tmp[:0], end-start)
	for {
		c := d.at(d.pos)
		if c == '"' {
			break
		}
		if c == 0 {
			d.tokenError(tok, "unexpected end of string")
			return
		}
		if c != '\\' {
			end := d.pos + 1
			for end < len(d.s) && d.s[end] != '"' && d.s[end] != '\\' && d.s[end] != 0 {
				end++
			}
			d.tmp = append(d.tmp, d.s[d.pos:end]...)
			d.pos = end
			continue
		}
		switch e := d.at(d.pos + 1); e {
		case '"', '\\', '/':
			d.tmp = append(d.tmp, e)
		case 'b', 't', 'n', 'f', 'r':
			d.tmp = append(d.tmp, json.ShortEscape(e))
		case 'u':
			if !d.unicodeEscape() {
				d.tokenError(tok, "invalid unicode escape code")
				return
			}
			continue
		default:
			d.tokenError(tok, "invalid escape code")
			return
		}
		d.pos += 2
	}
	d.pos++ // closing quote
	tok.typ, tok.str = cjString, string(d.tmp)
}

// unicodeEscape decodes \uXXXX (or a surrogate pair) at d.pos.
func (d *cjsonDecoder) unicodeEscape() bool {
	cp := json.Hex4(d.s, d.pos+2)
	if cp < 0 {
		return false
	}
	n := 6
	if cp&0xF800 == 0xD800 {
		if cp&0x400 != 0 { // a low surrogate first
			return false
		}
		if d.at(d.pos+6) != '\\' || d.at(d.pos+7) != 'u' {
			return false
		}
		low := json.Hex4(d.s, d.pos+8)
		if low < 0 || low&0xFC00 != 0xDC00 {
			return false
		}
		cp = (cp&0x3FF)<<10 | low&0x3FF + 0x10000
		n = 12
	}
	d.tmp = json.AppendCodePoint(d.tmp, cp)
	d.pos += n
	return true
}

func (d *cjsonDecoder) descend() error {
	d.mem.ChargeSize(d.l, "cjson.decode", luax.CostTable)
	d.depth++
	if d.depth > d.cfg.decodeMaxDepth {
		return json.NewError(fmt.Sprintf("Found too many nested data structures (%d) at character %d", d.depth, d.pos))
	}
	json.CheckStack(d.l, 16)
	return nil
}

// value pushes the value starting with tok.
func (d *cjsonDecoder) value(tok *cjsonToken) error {
	l := d.l
	d.mem.ChargeSize(l, "cjson.decode", luax.CostSlot)
	switch tok.typ {
	case cjString:
		d.mem.ChargeSize(l, "cjson.decode", float64(len(tok.str)))
		l.PushString(tok.str)
	case cjNumber:
		l.PushNumber(tok.num)
	case cjBoolean:
		l.PushBoolean(tok.b)
	case cjNull:
		l.Field(lua.RegistryIndex, cjsonNullKey)
	case cjObjBegin:
		return d.object()
	case cjArrBegin:
		return d.array()
	default:
		return d.parseError("value", tok)
	}
	return nil
}

func (d *cjsonDecoder) object() error {
	l := d.l
	if err := d.descend(); err != nil {
		return err
	}
	l.NewTable()
	var tok cjsonToken
	d.next(&tok)
	if tok.typ == cjObjEnd {
		d.depth--
		return nil
	}
	for {
		if tok.typ != cjString {
			return d.parseError("object key string", &tok)
		}
		d.mem.ChargeSize(l, "cjson.decode", float64(len(tok.str)))
		l.PushString(tok.str)
		d.next(&tok)
		if tok.typ != cjColon {
			return d.parseError("colon", &tok)
		}
		d.next(&tok)
		if err := d.value(&tok); err != nil {
			return err
		}
		l.RawSet(-3)
		d.next(&tok)
		if tok.typ == cjObjEnd {
			d.depth--
			return nil
		}
		if tok.typ != cjComma {
			return d.parseError("comma or object end", &tok)
		}
		d.next(&tok)
	}
}

func (d *cjsonDecoder) array() error {
	l := d.l
	if err := d.descend(); err != nil {
		return err
	}
	l.NewTable()
	if d.cfg.decodeArrayWithArrayMT {
		l.Field(lua.RegistryIndex, cjsonArrayMTKey)
		l.SetMetaTable(-2)
	}
	var tok cjsonToken
	d.next(&tok)
	if tok.typ == cjArrEnd {
		d.depth--
		return nil
	}
	for i := 1; ; i++ {
		if err := d.value(&tok); err != nil {
			return err
		}
		l.RawSetInt(-2, i)
		d.next(&tok)
		if tok.typ == cjArrEnd {
			d.depth--
			return nil
		}
		if tok.typ != cjComma {
			return d.parseError("comma or array end", &tok)
		}
		d.next(&tok)
	}
}
