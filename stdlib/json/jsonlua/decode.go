package jsonlua

// JSON:decode: the parser of JSON.lua, with its error messages and its
// handlers (onDecodeError, onTrailingGarbage).

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/json"
)

// jsonluaDecode is JSON:decode(text [, etc [, options]]).
func jsonluaDecode(l *lua.State) int {
	l.SetTop(4)
	const self, text, etc, options = 1, 2, 3, 4
	// etc: the argument, else options.etc.
	if l.IsNil(etc) && l.IsTable(options) {
		l.Field(options, "etc")
		l.Replace(etc)
	}
	jsonluaPushObjdef(l)
	objdef := l.Top()
	// outer calls a handler outside JSON.lua's pcall: what it raises goes
	// through; when it returns, decode returns nil and ret.
	outer := func(on int, handler, msg, ret string, withText bool) int {
		l.Field(on, handler)
		l.PushValue(on)
		l.PushString(msg)
		if withText {
			l.PushValue(text)
		} else {
			l.PushNil()
		}
		l.PushNil()
		l.PushValue(etc)
		l.Call(5, 0)
		l.PushNil()
		l.PushString(ret)
		return 2
	}
	if !jsonluaIsObject(l, self, objdef) {
		msg := "JSON:decode must be called in method format"
		return outer(objdef, "onDecodeError", msg, msg, false)
	}
	switch l.TypeOf(text) {
	case lua.TypeNil:
		msg := "nil passed to JSON:decode()"
		return outer(self, "onDecodeOfNilError", msg, msg, false)
	case lua.TypeString:
	default:
		msg := "expected string argument to JSON:decode()"
		return outer(self, "onDecodeError", msg+", got "+lua.TypeNameOf(l, text), msg, false)
	}
	s, _ := l.ToValue(text).(string)
	rest := strings.TrimLeft(s, " \t\n\v\f\r")
	if rest == "" {
		l.PushNil()
		return 1
	}
	if rest[0] == '<' {
		msg := "HTML passed to JSON:decode()"
		return outer(self, "onDecodeOfHTMLError", msg, msg, true)
	}
	if s[0] == 0 || len(s) >= 2 && s[1] == 0 {
		msg := "JSON package groks only UTF-8, sorry"
		return outer(self, "onDecodeError", msg, msg, true)
	}
	// opt pushes an option: decode's options table first, then the
	// object's field.
	opt := func(name string) {
		if l.IsTable(options) {
			l.Field(options, name)
			if !l.IsNil(-1) {
				return
			}
			l.Pop(1)
		}
		l.Field(self, name)
	}
	d := jsonluaDecoder{l: l, s: s, host: luax.HostOf(l)}
	l.Field(self, "strictTypes")
	d.strict = l.ToBoolean(-1)
	opt("decodeNumbersAsObjects")
	d.asObjects = l.ToBoolean(-1)
	opt("decodeIntegerStringificationLength")
	d.intLen, d.hasIntLen = l.ToNumber(-1)
	opt("decodeDecimalStringificationLength")
	d.decLen, d.hasDecLen = l.ToNumber(-1)
	l.Pop(4)
	d.mem = d.host.Mem()
	top := l.Top()
	next, err := d.one(0)
	if err == nil {
		value := l.Top()
		if next = d.ws(next); next == len(s) {
			l.PushNil()
			return 2
		}
		// Trailing garbage: onTrailingGarbage's results are decode's.
		l.Field(self, "onTrailingGarbage")
		l.PushValue(self)
		l.PushValue(text)
		l.PushInteger(next + 1)
		l.PushValue(value)
		l.PushValue(etc)
		l.Call(5, 2)
		return 2
	}
	l.SetTop(top)
	f := err.(*jsonluaFail)
	// The handler runs inside JSON.lua's pcall: what it raises is raised
	// again through assert; when it returns, decode returns nil and the
	// message.
	l.Field(self, "onDecodeError")
	l.PushValue(self)
	l.PushString(f.msg)
	l.PushValue(text)
	if f.loc > 0 {
		l.PushInteger(f.loc)
	} else {
		l.PushNil()
	}
	l.PushValue(etc)
	if l.ProtectedCall(5, 0, 0) == nil {
		l.PushNil()
		l.PushString(f.msg)
		return 2
	}
	return jsonluaRaise(l, self)
}

// jsonluaDecoder reads one JSON.lua value from s, pushing what it builds.
type jsonluaDecoder struct {
	l                    *lua.State
	s                    string
	strict, asObjects    bool
	intLen, decLen       float64
	hasIntLen, hasDecLen bool
	host                 luax.Host
	mem                  *luax.MemBudget
	depth                int
	steps                int
	buf                  []byte
}

func (d *jsonluaDecoder) ws(i int) int {
	for i < len(d.s) {
		switch d.s[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

func (d *jsonluaDecoder) step() {
	if d.steps++; d.steps%luax.CheckEvery == 0 {
		luax.CheckTime(d.l, d.host)
	}
}

// one is grok_one: it pushes the value at i and returns where it ends.
func (d *jsonluaDecoder) one(i int) (int, error) {
	d.step()
	i = d.ws(i)
	if i >= len(d.s) {
		return 0, &jsonluaFail{msg: "unexpected end of string"}
	}
	rest := d.s[i:]
	switch c := d.s[i]; {
	case c == '"':
		return d.str(i)
	case c == '-' || c >= '0' && c <= '9':
		return d.number(i)
	case c == '{':
		return d.object(i)
	case c == '[':
		return d.array(i)
	case strings.HasPrefix(rest, "true"):
		d.l.PushBoolean(true)
		return i + 4, nil
	case strings.HasPrefix(rest, "false"):
		d.l.PushBoolean(false)
		return i + 5, nil
	case strings.HasPrefix(rest, "null"):
		d.l.PushNil()
		return i + 4, nil
	}
	return 0, &jsonluaFail{msg: "can't parse JSON", loc: i + 1}
}

// digits returns the end of the run of digits at i.
func (d *jsonluaDecoder) digits(i int) int {
	for i < len(d.s) && json.IsDigit(d.s[i]) {
		i++
	}
	return i
}

// number is grok_number: -?(0|[1-9]digits), then an optional .digits and
// [eE][-+]?digits, read by tonumber.
func (d *jsonluaDecoder) number(i int) (int, error) {
	s := d.s
	j := i
	if j < len(s) && s[j] == '-' {
		j++
	}
	switch {
	case j < len(s) && s[j] >= '1' && s[j] <= '9':
		j = d.digits(j + 1)
	case j < len(s) && s[j] == '0':
		j++
	default:
		return 0, &jsonluaFail{msg: "expected number", loc: i + 1}
	}
	if j+1 < len(s) && s[j] == '.' && json.IsDigit(s[j+1]) {
		j = d.digits(j + 1)
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && json.IsDigit(s[k]) {
			j = d.digits(k)
		}
	}
	text := s[i:j]
	if d.asObjects {
		d.mem.ChargeSize(d.l, "JSON:decode", luax.CostTable+float64(len(text)))
		jsonluaPushNumberObject(d.l, text)
		return j, nil
	}
	intPart, decPart, expPart := jsonluaNumberParts(text)
	if d.hasIntLen && (float64(intPart) >= d.intLen || expPart > 0) ||
		d.hasDecLen && (float64(decPart) >= d.decLen || expPart > 0) {
		d.mem.ChargeSize(d.l, "JSON:decode", float64(len(text)))
		d.l.PushString(text)
		return j, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, &jsonluaFail{msg: "bad number", loc: i + 1}
	}
	d.l.PushNumber(f)
	return j, nil
}

// str is grok_string.
func (d *jsonluaDecoder) str(i int) (int, error) {
	s := d.s
	if i >= len(s) || s[i] != '"' {
		return 0, &jsonluaFail{msg: "expected string's opening quote", loc: i + 1}
	}
	b := d.buf[:0]
	j := i + 1
	for j < len(s) {
		c := s[j]
		if c == '"' {
			d.mem.ChargeSize(d.l, "JSON:decode", float64(len(b)))
			d.l.PushString(string(b))
			d.buf = b
			return j + 1, nil
		}
		if c != '\\' {
			start := j
			for j < len(s) && s[j] != '"' && s[j] != '\\' {
				j++
			}
			b = append(b, s[start:j]...)
			continue
		}
		if j+1 >= len(s) {
			break // JSON.lua's match fails: the string is unclosed
		}
		switch e := s[j+1]; e {
		case 'b', 'f', 'n', 'r', 't':
			b = append(b, json.ShortEscape(e))
		case 'u':
			cp := json.Hex4(s, j+2)
			if cp < 0 {
				b = append(b, 'u')
				break
			}
			j += 6
			if cp >= 0xD800 && cp <= 0xDBFF && j+1 < len(s) && s[j] == '\\' && s[j+1] == 'u' &&
				j+2 < len(s) && (s[j+2] == 'd' || s[j+2] == 'D') && j+3 < len(s) && strings.IndexByte("cdefCDEF", s[j+3]) >= 0 {
				if lo := json.Hex4(s, j+2); lo >= 0 {
					cp = 0x2400 + (cp-0xD800)*0x400 + lo
					j += 6
				}
			}
			b = jsonluaAppendCodePoint(b, cp)
			continue
		default:
			b = append(b, e)
		}
		j += 2
	}
	d.buf = b
	return 0, &jsonluaFail{msg: "unclosed string", loc: i + 1}
}

// jsonluaAppendCodePoint is JSON.lua's unicode_codepoint_as_utf8: a
// surrogate (a three-byte form it rejects) is "?".
func jsonluaAppendCodePoint(b []byte, cp rune) []byte {
	if cp >= 0xD800 && cp <= 0xDFFF {
		return append(b, '?')
	}
	return json.AppendCodePoint(b, cp)
}

// open pushes a new table for an object or array, marked with mark when
// strictTypes is on.
func (d *jsonluaDecoder) open(i int, mark string) error {
	if d.depth++; d.depth > json.MaxDepth {
		return &jsonluaFail{msg: fmt.Sprintf("pushlua: JSON nested deeper than %d levels", json.MaxDepth), loc: i + 1}
	}
	json.CheckStack(d.l, 4)
	d.mem.ChargeSize(d.l, "JSON:decode", luax.CostTable)
	d.l.NewTable()
	if d.strict {
		d.l.Field(lua.RegistryIndex, mark)
		d.l.SetMetaTable(-2)
	}
	return nil
}

// object is grok_object.
func (d *jsonluaDecoder) object(i int) (int, error) {
	if err := d.open(i, jsonluaObjectMTKey); err != nil {
		return 0, err
	}
	defer func() { d.depth-- }()
	l, s := d.l, d.s
	t := l.Top()
	j := d.ws(i + 1)
	if j < len(s) && s[j] == '}' {
		return j + 1, nil
	}
	for j < len(s) {
		next, err := d.str(j)
		if err != nil {
			return 0, err
		}
		j = d.ws(next)
		if j >= len(s) || s[j] != ':' {
			return 0, &jsonluaFail{msg: "expected colon", loc: j + 1}
		}
		if j, err = d.one(j + 1); err != nil {
			return 0, err
		}
		d.mem.ChargeSize(l, "JSON:decode", luax.CostSlot)
		l.RawSet(t)
		j = d.ws(j)
		if j < len(s) && s[j] == '}' {
			return j + 1, nil
		}
		if j >= len(s) || s[j] != ',' {
			return 0, &jsonluaFail{msg: "expected comma or '}'", loc: j + 1}
		}
		j = d.ws(j + 1)
	}
	return 0, &jsonluaFail{msg: "unclosed '{'", loc: i + 1}
}

// array is grok_array.
func (d *jsonluaDecoder) array(i int) (int, error) {
	if err := d.open(i, jsonluaArrayMTKey); err != nil {
		return 0, err
	}
	defer func() { d.depth-- }()
	l, s := d.l, d.s
	t := l.Top()
	j := d.ws(i + 1)
	if j < len(s) && s[j] == ']' {
		return j + 1, nil
	}
	for n := 1; j < len(s); n++ {
		var err error
		if j, err = d.one(j); err != nil {
			return 0, err
		}
		d.mem.ChargeSize(l, "JSON:decode", luax.CostSlot)
		l.RawSetInt(t, n)
		j = d.ws(j)
		if j < len(s) && s[j] == ']' {
			return j + 1, nil
		}
		if j >= len(s) || s[j] != ',' {
			return 0, &jsonluaFail{msg: "expected comma or ']'", loc: j + 1}
		}
		j = d.ws(j + 1)
	}
	return 0, &jsonluaFail{msg: "unclosed '['", loc: i + 1}
}
