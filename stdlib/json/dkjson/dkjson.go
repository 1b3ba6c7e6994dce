package dkjson

// dkjson: David Kolf's dkjson 2.5 in its pure-Lua form (json.use_lpeg()
// returns the module unchanged and json.using_lpeg stays nil).
//
// json.encode(value [, state]) raises on failure (error(msg, 2), so the
// message carries the caller's position) unless state.exception turns the
// failure into output; state.indent, state.level, state.keyorder,
// __jsonorder, __jsontype, __tojson, state.buffer and state.bufferlen work
// as in dkjson (a __tojson or exception function sees a fresh state.buffer
// and state.bufferlen 0; whatever it appends there is kept). Empty tables
// encode as [] unless their metatable says __jsontype = "object"; NaN and
// infinities encode as null.
//
// json.decode(text [, pos [, nullval [, objectmeta [, arraymeta]]]])
// returns value, next position or nil, position, message, with dkjson's
// lenient scanner (comments, missing commas, any value as a key) and its
// messages. Decoded objects and arrays get {__jsontype = "object"} and
// {__jsontype = "array"} metatables unless metatables are passed.

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/json"
)

// dkjsonMaxArray bounds the length of an array made up from a table's n
// field or its largest index, where dkjson itself would try to build it.
const dkjsonMaxArray = 1 << 24

// Open registers dkjson in package.preload.
func Open(l *lua.State, _ luax.Host) {
	luax.Preload(l, "dkjson", openDKJSON)
}

func openDKJSON(l *lua.State) int {
	l.CreateTable(0, 10)
	l.PushString("dkjson 2.5")
	l.SetField(-2, "version")

	// json.null = setmetatable({}, {__tojson = function() return "null" end})
	l.NewTable()
	l.NewTable()
	l.PushGoFunction(func(l *lua.State) int {
		l.PushString("null")
		return 1
	})
	l.SetField(-2, "__tojson")
	l.SetMetaTable(-2)
	l.SetField(-2, "null")

	l.PushValue(-1) // the module, upvalue of its functions
	lua.SetFunctions(l, []lua.RegistryFunction{
		{Name: "encode", Function: dkjsonEncode},
		{Name: "decode", Function: dkjsonDecode},
		{Name: "quotestring", Function: dkjsonQuotestring},
		{Name: "addnewline", Function: dkjsonAddnewline},
		{Name: "encodeexception", Function: dkjsonEncodeexception},
		{Name: "use_lpeg", Function: func(l *lua.State) int {
			l.PushValue(lua.UpValueIndex(1))
			return 1
		}},
	}, 1)
	return 1
}

// dkjsonQuote appends s quoted as dkjson's quotestring does: ", \ and
// control characters escaped, and the Unicode characters JavaScript
// mishandles (U+0080-U+009F, U+00AD, U+0600-U+0604, U+070F, U+17B4,
// U+17B5, U+200C-U+200F, U+2028-U+202F, U+2060-U+206F, U+FEFF,
// U+FFF0-U+FFFF) written as \uXXXX. Other bytes pass unchanged.
func dkjsonQuote(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	esc := func(i, n int, cp rune) {
		b = append(b, s[start:i]...)
		b = fmt.Appendf(b, "\\u%04x", cp)
		start = i + n
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c < 0x20 || c == '"' || c == '\\' || c == 0x7f:
			b = append(b, s[start:i]...)
			switch c {
			case '"':
				b = append(b, `\"`...)
			case '\\':
				b = append(b, `\\`...)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = fmt.Appendf(b, "\\u%04x", c)
			}
			i++
			start = i
			continue
		case c < 0x80:
			i++
			continue
		}
		c1, c2 := byte(0), byte(0)
		if i+1 < len(s) {
			c1 = s[i+1]
		}
		if i+2 < len(s) {
			c2 = s[i+2]
		}
		switch {
		case c == 0xC2 && ((0x80 <= c1 && c1 <= 0x9F) || c1 == 0xAD):
			esc(i, 2, rune(c1))
			i += 2
		case c == 0xD8 && 0x80 <= c1 && c1 <= 0x84:
			esc(i, 2, 0x600+rune(c1-0x80))
			i += 2
		case c == 0xDC && c1 == 0x8F:
			esc(i, 2, 0x70F)
			i += 2
		case c == 0xE1 && c1 == 0x9E && (c2 == 0xB4 || c2 == 0xB5):
			esc(i, 3, 0x1700+rune(c2-0x80)+0x80)
			i += 3
		case c == 0xE2 && c1 == 0x80 && ((0x8C <= c2 && c2 <= 0x8F) || (0xA8 <= c2 && c2 <= 0xAF)):
			esc(i, 3, 0x2000+rune(c2-0x80))
			i += 3
		case c == 0xE2 && c1 == 0x81 && 0xA0 <= c2 && c2 <= 0xAF:
			esc(i, 3, 0x2040+rune(c2-0x80))
			i += 3
		case c == 0xEF && c1 == 0xBB && c2 == 0xBF:
			esc(i, 3, 0xFEFF)
			i += 3
		case c == 0xEF && c1 == 0xBF && 0xB0 <= c2 && c2 <= 0xBF:
			esc(i, 3, 0xFFC0+rune(c2-0x80))
			i += 3
		default:
			i++
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// dkjsonQuotestring is json.quotestring(s).
func dkjsonQuotestring(l *lua.State) int {
	s := lua.CheckString(l, 1)
	q := dkjsonQuote(nil, s)
	luax.MemOf(l).ChargeSize(l, "dkjson.quotestring", float64(len(q)))
	l.PushString(string(q))
	return 1
}

// dkjsonEncodeexception is json.encodeexception(reason, value, state,
// defaultmessage): the message as a JSON string "<message>".
func dkjsonEncodeexception(l *lua.State) int {
	msg := lua.CheckString(l, 4)
	q := dkjsonQuote(nil, "<"+msg+">")
	luax.MemOf(l).ChargeSize(l, "dkjson.encodeexception", float64(len(q)))
	l.PushString(string(q))
	return 1
}

// dkjsonAddnewline is json.addnewline(state): with state.indent, appends a
// newline and the indentation of state.level to state.buffer.
func dkjsonAddnewline(l *lua.State) int {
	lua.CheckType(l, 1, lua.TypeTable)
	l.Field(1, "indent")
	indent := l.ToBoolean(-1)
	l.Pop(1)
	if !indent {
		return 0
	}
	level := 0
	l.Field(1, "level")
	if n, ok := l.ToNumber(-1); ok {
		level = int(n)
	}
	l.Pop(1)
	l.Field(1, "buffer")
	buf := l.Top()
	lua.CheckType(l, buf, lua.TypeTable)
	l.Field(1, "bufferlen")
	n, ok := l.ToInteger(-1)
	l.Pop(1)
	if !ok {
		n = lua.LengthEx(l, buf)
	}
	l.PushString("\n")
	l.RawSetInt(buf, n+1)
	luax.MemOf(l).ChargeSize(l, "dkjson.addnewline", 2*float64(max(level, 0)))
	l.PushString(strings.Repeat("  ", max(level, 0)))
	l.RawSetInt(buf, n+2)
	l.PushInteger(n + 2)
	l.SetField(1, "bufferlen")
	return 0
}

// dkjsonEncode is json.encode(value [, state]).
func dkjsonEncode(l *lua.State) int {
	l.SetTop(2)
	e := dkjsonEncoder{l: l, bud: json.NewTextBudget(l, "dkjson.encode")}
	userBuffer, bufferlen := 0, 0
	level := 0
	userState := !l.IsNil(2)
	e.stateIdx = 2
	if !userState {
		l.NewTable() // state = state or {}
		l.Replace(2)
	} else {
		if !l.IsTable(2) {
			lua.Errorf(l, "attempt to index local 'state' (a %s value)", lua.TypeNameOf(l, 2))
		}
		l.Field(2, "indent")
		e.indent = l.ToBoolean(-1)
		l.Field(2, "level")
		if n, ok := l.ToNumber(-1); ok {
			level = int(n)
		}
		l.Field(2, "keyorder")
		if l.ToBoolean(-1) {
			e.orderIdx = l.Top()
		}
		l.Field(2, "exception")
		if l.ToBoolean(-1) {
			e.exceptionIdx = l.Top()
		}
		l.Field(2, "buffer")
		if !l.IsNil(-1) {
			userBuffer = l.Top()
			l.Field(2, "bufferlen")
			bufferlen, _ = l.ToInteger(-1)
			l.Pop(1)
		}
	}
	e.userBuffer = userBuffer
	if err := e.value(1, level, 0); err != nil {
		luax.RaiseWhere(l, err.Error())
	}
	e.bud.Charge(e.buf)
	if userBuffer != 0 {
		l.PushString(string(e.buf))
		l.RawSetInt(userBuffer, bufferlen+1)
		l.PushInteger(bufferlen + 1)
		l.SetField(e.stateIdx, "bufferlen")
		l.PushBoolean(true)
		return 1
	}
	if userState {
		l.PushNil()
		l.SetField(2, "buffer")
		l.PushNil()
		l.SetField(2, "bufferlen")
	}
	l.PushString(string(e.buf))
	return 1
}

type dkjsonEncoder struct {
	l            *lua.State
	buf          []byte
	indent       bool
	stateIdx     int // the state table
	orderIdx     int // state.keyorder
	exceptionIdx int // state.exception
	userBuffer   int // state.buffer given by the caller
	keys         []json.Key
	visiting     map[any]struct{}
	bud          json.TextBudget
}

// grow makes room for n more bytes within the budgets.
func (e *dkjsonEncoder) grow(n int) { e.buf = e.bud.Grow(e.buf, n) }

func (e *dkjsonEncoder) newline(level int) {
	e.grow(1 + 2*max(level, 0))
	e.buf = append(e.buf, '\n')
	for range level {
		e.buf = append(e.buf, "  "...)
	}
}

// handler calls the function pushed by push (which returns the number of
// arguments) like dkjson calls __tojson and state.exception: with
// state.bufferlen set, keeping what it appends to state.buffer and its
// result when that is a string. ok is false when it returns a false value.
func (e *dkjsonEncoder) handler(push func() int) (ok bool, msg string) {
	l := e.l
	base := l.Top()
	l.NewTable()
	tmp := l.Top()
	l.PushValue(tmp)
	l.SetField(e.stateIdx, "buffer")
	l.PushInteger(0)
	l.SetField(e.stateIdx, "bufferlen")
	n := push()
	l.Call(n, 2)
	l.Field(e.stateIdx, "bufferlen")
	count, _ := l.ToInteger(-1)
	l.Pop(1)
	for i := 1; i <= count; i++ {
		l.RawGetInt(tmp, i)
		if s, ok := l.ToString(-1); ok {
			e.buf = append(e.buf, s...)
		}
		l.Pop(1)
	}
	if l.ToBoolean(-2) {
		ok = true
		if l.TypeOf(-2) == lua.TypeString {
			s, _ := l.ToString(-2)
			e.buf = append(e.buf, s...)
		}
	} else if s, isStr := l.ToString(-1); isStr {
		msg = s
	}
	if e.userBuffer != 0 {
		l.PushValue(e.userBuffer)
	} else {
		l.PushNil()
	}
	l.SetField(e.stateIdx, "buffer")
	l.SetTop(base)
	return ok, msg
}

// exception handles an encoding failure: an error without state.exception,
// else what the handler makes of it.
func (e *dkjsonEncoder) exception(reason string, idx int, defaultMsg string) error {
	if e.exceptionIdx == 0 {
		return json.NewError(defaultMsg)
	}
	l := e.l
	ok, msg := e.handler(func() int {
		l.PushValue(e.exceptionIdx)
		l.PushString(reason)
		l.PushValue(idx)
		l.PushValue(e.stateIdx)
		l.PushString(defaultMsg)
		return 4
	})
	if !ok {
		if msg == "" {
			msg = defaultMsg
		}
		return json.NewError(msg)
	}
	return nil
}

// value appends the value at the absolute index idx; level is the
// indentation level, depth the nesting.
func (e *dkjsonEncoder) value(idx, level, depth int) error {
	l := e.l
	e.grow(0)
	if l.MetaTable(idx) {
		l.Field(-1, "__tojson")
		if l.ToBoolean(-1) {
			fn := l.Top()
			err := e.custom(idx, fn)
			l.Pop(2)
			return err
		}
		l.Pop(2)
	}
	switch t := l.TypeOf(idx); t {
	case lua.TypeNil:
		e.buf = append(e.buf, "null"...)
	case lua.TypeNumber:
		n, _ := l.ToNumber(idx)
		if math.IsNaN(n) || math.IsInf(n, 0) {
			e.buf = append(e.buf, "null"...)
		} else {
			e.buf = json.AppendNumber(e.buf, n, 14)
		}
	case lua.TypeBoolean:
		e.buf = strconv.AppendBool(e.buf, l.ToBoolean(idx))
	case lua.TypeString:
		s, _ := l.ToString(idx)
		e.grow(len(s) + 2)
		e.buf = dkjsonQuote(e.buf, s)
	case lua.TypeTable:
		return e.table(idx, level+1, depth+1)
	default:
		return e.exception("unsupported type", idx, "type '"+t.String()+"' is not supported by JSON.")
	}
	return nil
}

// custom encodes the value at idx with its __tojson function at fn.
func (e *dkjsonEncoder) custom(idx, fn int) error {
	l := e.l
	id := json.TableID(l, idx)
	if _, cycle := e.visiting[id]; cycle {
		return e.exception("reference cycle", idx, "reference cycle")
	}
	e.mark(id)
	ok, msg := e.handler(func() int {
		l.PushValue(fn)
		l.PushValue(idx)
		l.PushValue(e.stateIdx)
		return 2
	})
	if !ok {
		if msg == "" {
			msg = "custom encoder failed"
		}
		return e.exception("custom encoder failed", idx, msg)
	}
	delete(e.visiting, id)
	return nil
}

func (e *dkjsonEncoder) mark(id any) {
	if e.visiting == nil {
		e.visiting = make(map[any]struct{})
	}
	e.visiting[id] = struct{}{}
}

// table appends the table at idx. The stack is restored on return, not
// in a defer: a deferred SetTop would also run while a Lua error raised
// inside unwinds, and drop the error value from the stack.
func (e *dkjsonEncoder) table(idx, level, depth int) error {
	l := e.l
	if depth > json.MaxDepth {
		return json.NewError(fmt.Sprintf("excessive nesting (%d)", depth))
	}
	json.CheckStack(l, 16)
	top := l.Top()
	err := e.tableAt(idx, level, depth)
	l.SetTop(top)
	return err
}

func (e *dkjsonEncoder) tableAt(idx, level, depth int) error {
	l := e.l
	id := json.TableID(l, idx)
	if _, cycle := e.visiting[id]; cycle {
		return e.exception("reference cycle", idx, "reference cycle")
	}
	e.mark(id)
	defer delete(e.visiting, id)

	start := len(e.keys)
	e.keys = json.AppendTableKeys(l, idx, e.keys)
	defer func() { e.keys = e.keys[:start] }()
	keys := e.keys[start:]

	// isarray
	isArray := true
	maxIndex, count, arraylen := 0.0, 0, 0.0
	for _, k := range keys {
		if k.Typ == lua.TypeString && k.S == "n" {
			l.PushString("n")
			l.RawGet(idx)
			v, isNum := l.ToNumber(-1)
			isNum = isNum && l.TypeOf(-1) == lua.TypeNumber
			l.Pop(1)
			if isNum {
				arraylen = v
				maxIndex = max(maxIndex, v)
				continue
			}
		}
		if k.Typ != lua.TypeNumber || k.N < 1 || math.Floor(k.N) != k.N {
			isArray = false
			break
		}
		maxIndex = max(maxIndex, k.N)
		count++
	}
	if isArray && maxIndex > 10 && maxIndex > arraylen && maxIndex > float64(count)*2 {
		isArray = false
	}
	hasMeta := l.MetaTable(idx)
	meta := l.Top()
	if isArray && maxIndex == 0 && hasMeta {
		l.Field(meta, "__jsontype")
		if s, _ := l.ToString(-1); s == "object" && l.TypeOf(-1) == lua.TypeString {
			isArray = false
		}
		l.Pop(1)
	}
	if isArray {
		if hasMeta {
			l.Pop(1)
		}
		if maxIndex > dkjsonMaxArray {
			return json.NewError(fmt.Sprintf("array too long (%.14g elements)", maxIndex))
		}
		e.buf = append(e.buf, '[')
		for i := 1; float64(i) <= maxIndex; i++ {
			l.PushInteger(i)
			l.Table(idx)
			err := e.value(l.Top(), level, depth)
			l.Pop(1)
			if err != nil {
				return err
			}
			if float64(i) < maxIndex { // dkjson's test: a fractional n leaves a trailing comma
				e.buf = append(e.buf, ',')
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	}

	// Object: __jsonorder or state.keyorder first, then the other keys.
	order := 0
	if hasMeta {
		l.Field(meta, "__jsonorder")
		if l.ToBoolean(-1) {
			order = l.Top()
		} else {
			l.Pop(1)
		}
	}
	if order == 0 && e.orderIdx != 0 {
		l.PushValue(e.orderIdx)
		order = l.Top()
	}
	e.buf = append(e.buf, '{')
	prev := false
	var used map[json.Key]bool
	if order != 0 {
		used = make(map[json.Key]bool)
		n := lua.LengthEx(l, order)
		for i := 1; i <= n; i++ {
			l.PushInteger(i)
			l.Table(order)
			k := l.Top()
			l.PushValue(k)
			l.Table(idx)
			if l.ToBoolean(-1) {
				used[json.KeyAt(l, k)] = true
				if err := e.pair(k, l.Top(), prev, level, depth); err != nil {
					return err
				}
				prev = true
			}
			l.Pop(2)
		}
	}
	json.SortKeys(keys)
	for _, k := range keys {
		if used[k] {
			continue
		}
		k.Push(l)
		if k.Typ != lua.TypeString && k.Typ != lua.TypeNumber && k.Typ != lua.TypeBoolean {
			l.Pop(1)
			return json.NewError("type '" + k.Typ.String() + "' is not supported as a key by JSON.")
		}
		kIdx := l.Top()
		l.PushValue(kIdx)
		l.RawGet(idx)
		if err := e.pair(kIdx, l.Top(), prev, level, depth); err != nil {
			return err
		}
		prev = true
		l.Pop(2)
	}
	if e.indent {
		e.newline(level - 1)
	}
	e.buf = append(e.buf, '}')
	return nil
}

// pair is addpair: the key at k and the value at v.
func (e *dkjsonEncoder) pair(k, v int, prev bool, level, depth int) error {
	l := e.l
	var name string
	switch t := l.TypeOf(k); t {
	case lua.TypeString:
		name, _ = l.ToString(k)
	case lua.TypeNumber:
		n, _ := l.ToNumber(k)
		name = json.LuaNumberString(n)
	default:
		return json.NewError("type '" + t.String() + "' is not supported as a key by JSON.")
	}
	if prev {
		e.buf = append(e.buf, ',')
	}
	if e.indent {
		e.newline(level)
	}
	e.buf = dkjsonQuote(e.buf, name)
	e.buf = append(e.buf, ':')
	return e.value(v, level, depth)
}
