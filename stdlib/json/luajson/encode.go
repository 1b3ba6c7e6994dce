package luajson

// LuaJSON's encoder: json.encode, its options and the encoder of Lua values.

import (
	"fmt"
	"math"
	"strconv"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/stdlib/json"
)

// luajsonEncode is json.encode(value [, options]).
func luajsonEncode(l *lua.State) int {
	opt := luajsonEncodeOptionsAt(l, 2)
	l.SetTop(1)
	return luajsonEncodeWith(l, opt)
}

// luajsonGetEncoder is json.encode.getEncoder([options]).
func luajsonGetEncoder(l *lua.State) int {
	opt := luajsonEncodeOptionsAt(l, 1)
	l.PushGoFunction(func(l *lua.State) int {
		l.SetTop(1)
		return luajsonEncodeWith(l, opt)
	})
	return 1
}

func luajsonEncodeWith(l *lua.State, opt luajsonEncodeOptions) int {
	if opt.initialObject && (!l.IsTable(1) || luajsonIsCallAt(l, 1)) {
		raiseJSON(l, "Invalid arguments: expects a JSON Object or Array at the root")
	}
	luajsonShared(l)
	l.Field(lua.RegistryIndex, luajsonNullKey)
	l.Field(lua.RegistryIndex, luajsonUndefinedKey)
	l.Field(lua.RegistryIndex, luajsonArrayMTKey)
	l.Field(lua.RegistryIndex, luajsonCallMTKey)
	e := luajsonEncoder{l: l, opt: opt, nullIdx: 2, undefinedIdx: 3, arrayMTIdx: 4, callMTIdx: 5,
		bud: json.NewTextBudget(l, "json.encode")}
	if err := e.value(1, 0); err != nil {
		raiseJSON(l, err.Error())
	}
	e.bud.Charge(e.buf)
	l.PushString(string(e.buf))
	return 1
}

type luajsonEncoder struct {
	l                                 *lua.State
	opt                               luajsonEncodeOptions
	nullIdx, undefinedIdx, arrayMTIdx int
	callMTIdx                         int
	buf                               []byte
	keys                              []json.Key
	visiting                          map[any]struct{}
	bud                               json.TextBudget
}

// grow makes room for n more bytes within the budgets.
func (e *luajsonEncoder) grow(n int) { e.buf = e.bud.Grow(e.buf, n) }

func (e *luajsonEncoder) value(idx, depth int) error {
	l := e.l
	e.grow(0)
	switch t := l.TypeOf(idx); t {
	case lua.TypeString:
		s, _ := l.ToString(idx)
		e.grow(len(s) + 2)
		e.buf = luajsonEscapes.AppendQuoted(e.buf, s)
	case lua.TypeNumber:
		n, _ := l.ToNumber(idx)
		switch {
		case math.IsNaN(n):
			if !e.opt.nan {
				return json.NewError("Invalid number: NaN not enabled")
			}
			e.buf = append(e.buf, "NaN"...)
		case math.IsInf(n, 0):
			if !e.opt.inf {
				return json.NewError("Invalid number: Infinity not enabled")
			}
			if n > 0 {
				e.buf = append(e.buf, "Infinity"...)
			} else {
				e.buf = append(e.buf, "-Infinity"...)
			}
		default:
			e.buf = json.AppendNumber(e.buf, n, 14)
		}
	case lua.TypeBoolean:
		e.buf = strconv.AppendBool(e.buf, l.ToBoolean(idx))
	case lua.TypeNil:
		e.buf = append(e.buf, "null"...)
	case lua.TypeFunction:
		switch {
		case l.RawEqual(idx, e.nullIdx):
			e.buf = append(e.buf, "null"...)
		case l.RawEqual(idx, e.undefinedIdx):
			if !e.opt.allowUndefined {
				return json.NewError("Invalid value: Unsupported 'Undefined' parameter")
			}
			e.buf = append(e.buf, "undefined"...)
		default:
			return json.NewError("Failed to encode value, encoders for function deny encoding")
		}
	case lua.TypeTable:
		if l.MetaTable(idx) {
			isCall := l.RawEqual(-1, e.callMTIdx)
			l.Pop(1)
			if isCall {
				return e.call(idx, depth+1)
			}
		}
		return e.table(idx, depth+1)
	default:
		return json.NewError("Failed to encode value, unhandled type: " + t.String())
	}
	return nil
}

func (e *luajsonEncoder) table(idx, depth int) error {
	l := e.l
	if depth > json.MaxDepth {
		return json.NewError(fmt.Sprintf("Failed to encode value, excessive nesting (%d)", depth))
	}
	json.CheckStack(l, 16)
	id := json.TableID(l, idx)
	if _, ok := e.visiting[id]; ok {
		return json.NewError("Recursive encoding of value")
	}
	if e.visiting == nil {
		e.visiting = make(map[any]struct{})
	}
	e.visiting[id] = struct{}{}
	defer delete(e.visiting, id)

	start := len(e.keys)
	defer func() { e.keys = e.keys[:start] }()
	if e.isArray(idx, start) {
		return e.array(idx, depth)
	}
	if len(e.keys) == start {
		e.keys = json.AppendTableKeys(l, idx, e.keys)
	}
	return e.object(idx, depth, e.keys[start:])
}

// isArray is LuaJSON's array detection; it may leave the table's keys in
// e.keys[start:].
func (e *luajsonEncoder) isArray(idx, start int) bool {
	l := e.l
	if l.MetaTable(idx) {
		isArrayMT := l.RawEqual(-1, e.arrayMTIdx)
		if !isArrayMT {
			l.Field(-1, "__is_luajson_array")
			isArrayMT = l.ToBoolean(-1)
			l.Pop(1)
		}
		l.Pop(1)
		if isArrayMT {
			return true
		}
	}
	length := lua.LengthEx(l, idx)
	if length == 0 {
		return false
	}
	l.Field(idx, "n")
	n, isNum := l.ToNumber(-1)
	isNum = isNum && l.TypeOf(-1) == lua.TypeNumber
	l.Pop(1)
	if isNum && n == math.Floor(n) && n >= 1 {
		return true
	}
	e.keys = json.AppendTableKeys(l, idx, e.keys)
	for _, k := range e.keys[start:] {
		if !k.IsIndex() || k.N > float64(length) {
			return false
		}
	}
	return true
}

func (e *luajsonEncoder) array(idx, depth int) error {
	l := e.l
	l.Field(idx, "n")
	var n float64
	if l.IsNil(-1) {
		n = float64(lua.LengthEx(l, idx))
	} else {
		var ok bool
		if n, ok = l.ToNumber(-1); !ok {
			l.Pop(1)
			return json.NewError("'for' limit must be a number")
		}
	}
	l.Pop(1)
	// for i = 1, n: n is a float; beyond 2^53 the loop would never end.
	count := 0
	if n >= 1 {
		count = int(min(n, 1<<53))
	}
	return json.WriteArray(l, &e.buf, idx, count, false, func(top int) error { return e.value(top, depth) })
}

func (e *luajsonEncoder) object(idx, depth int, keys []json.Key) error {
	return json.WriteObject(e.l, &e.buf, idx, keys, e.key, func(top int) error { return e.value(top, depth) })
}

// key writes an object key and its colon: a string, a number or a boolean
// as a string; any other key fails.
func (e *luajsonEncoder) key(k json.Key) error {
	var name string
	switch k.Typ {
	case lua.TypeString:
		name = k.S
	case lua.TypeNumber:
		name = json.LuaNumberString(k.N)
	case lua.TypeBoolean:
		name = strconv.FormatBool(k.B)
	default:
		return json.NewError("Invalid object index type: " + k.Typ.String())
	}
	e.buf = luajsonEscapes.AppendQuoted(e.buf, name)
	e.buf = append(e.buf, ':')
	return nil
}

// call encodes a json.util.buildCall value as name(parameters...).
func (e *luajsonEncoder) call(idx, depth int) error {
	l := e.l
	if depth > json.MaxDepth {
		return json.NewError(fmt.Sprintf("Failed to encode value, excessive nesting (%d)", depth))
	}
	json.CheckStack(l, 16)
	l.Field(idx, "name")
	name, _ := l.ToString(-1)
	l.Pop(1)
	l.Field(idx, "parameters")
	params := l.Top()
	// Not deferred: a deferred SetTop would also run while a Lua error
	// raised inside unwinds, and drop the error value from the stack.
	err := e.callParams(params, name, depth)
	l.SetTop(params - 1)
	return err
}

func (e *luajsonEncoder) callParams(params int, name string, depth int) error {
	l := e.l
	if !l.IsTable(params) {
		return json.NewError("Failed to encode value, call without parameters")
	}
	l.Field(params, "n")
	n, ok := l.ToInteger(-1)
	l.Pop(1)
	if !ok {
		n = lua.LengthEx(l, params)
	}
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, '(')
	for i := 1; i <= n; i++ {
		if i > 1 {
			e.buf = append(e.buf, ',')
		}
		l.RawGetInt(params, i)
		err := e.value(l.Top(), depth)
		l.Pop(1)
		if err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ')')
	return nil
}

// ===== json.util =====
