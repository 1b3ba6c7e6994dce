package jsonlua

// JSON:encode and JSON:encode_pretty: the encoder of JSON.lua, with its
// options and onEncodeError.

import (
	"fmt"
	"math"
	"slices"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/stdlib/json"
)

// errJSONLuaHandled ends an encode whose onEncodeError returned.
type errJSONLuaHandled struct{}

func (errJSONLuaHandled) Error() string { return "handled" }

// jsonluaEncode is JSON:encode and JSON:encode_pretty(value, etc,
// options).
func jsonluaEncode(l *lua.State, pretty bool) int {
	l.SetTop(4)
	const self, value, etc, options = 1, 2, 3, 4
	jsonluaPushObjdef(l)
	objdef := l.Top()
	if !jsonluaIsObject(l, self, objdef) {
		name := "JSON:encode"
		if pretty {
			name = "JSON:encode_pretty"
		}
		l.Field(objdef, "onEncodeError")
		l.PushValue(objdef)
		l.PushString(name + " must be called in method format")
		l.PushValue(etc)
		l.Call(3, 0)
	}
	e := jsonluaEncoder{l: l, self: self, etc: etc, bud: json.NewTextBudget(l, "JSON:encode"), parents: map[any]bool{}}
	if pretty && !l.IsTable(options) {
		e.pretty, e.indent = true, "  "
	} else if l.IsTable(options) {
		l.Field(options, "pretty")
		e.pretty = l.ToBoolean(-1)
		l.Field(options, "align_keys")
		e.align = l.ToBoolean(-1)
		l.Field(options, "array_newline")
		e.arrayNewline = l.ToBoolean(-1)
		l.Field(options, "stringsAreUtf8")
		e.utf8 = l.ToBoolean(-1)
		l.Field(options, "indent")
		if l.ToBoolean(-1) {
			e.indent, _ = lua.ToStringMeta(l, -1)
			l.Pop(1)
		}
		l.Pop(5)
		l.Field(options, "null")
		if !l.IsNil(-1) {
			e.null = l.Top()
		} else {
			l.Pop(1)
		}
	}
	l.Field(lua.RegistryIndex, jsonluaNumberMTKey)
	e.numberMT = l.Top()

	l.Field(self, "noKeyConversion")
	e.noKeyConversion = l.ToBoolean(-1)
	l.Pop(1)
	if err := e.value(value, ""); err != nil {
		l.PushNil()
		return 1
	}
	e.bud.Charge(e.buf)
	l.PushString(string(e.buf))
	return 1
}

// jsonluaEncoder builds JSON.lua's text for a value.
type jsonluaEncoder struct {
	l                   *lua.State
	self, etc           int
	null                int // options.null's index, 0: none
	numberMT            int // the number objects' metatable
	bud                 json.TextBudget
	buf                 []byte
	pretty, align, utf8 bool
	arrayNewline        bool
	indent              string
	noKeyConversion     bool
	parents             map[any]bool
	depth               int
}

func (e *jsonluaEncoder) write(s string) {
	e.buf = e.bud.Grow(e.buf, len(s))
	e.buf = append(e.buf, s...)
}

// fail calls self:onEncodeError(msg, etc): what it raises goes through;
// when it returns, the encode ends with nil.
func (e *jsonluaEncoder) fail(msg string) error {
	l := e.l
	l.Field(e.self, "onEncodeError")
	l.PushValue(e.self)
	l.PushString(msg)
	l.PushValue(e.etc)
	l.Call(3, 0)
	return errJSONLuaHandled{}
}

// quote appends s as a JSON string.
func (e *jsonluaEncoder) quote(s string) {
	if !e.utf8 {
		e.buf = e.bud.Grow(e.buf, len(s)+2)
		e.buf = jsonluaEscapes.AppendQuoted(e.buf, s)
		return
	}
	q := string(jsonluaEscapes.AppendQuoted(nil, s))
	q = strings.ReplaceAll(strings.ReplaceAll(q, "\u2028", `\u2028`), "\u2029", `\u2029`)
	e.write(q)
}

// quoted is a key as a JSON string.
func (e *jsonluaEncoder) quoted(k string) string {
	saved := e.buf
	e.buf = nil
	e.quote(k)
	q := string(e.buf)
	e.buf = saved
	return q
}

// value appends the value at the absolute index idx.
func (e *jsonluaEncoder) value(idx int, indent string) error {
	l := e.l
	if e.null != 0 && !l.IsNil(idx) && l.Compare(idx, e.null, lua.OpEq) {
		e.write("null")
		return nil
	}
	switch l.TypeOf(idx) {
	case lua.TypeNil, lua.TypeNone:
		e.write("null")
	case lua.TypeString:
		s, _ := l.ToValue(idx).(string)
		e.quote(s)

	case lua.TypeNumber:
		f, _ := l.ToNumber(idx)
		switch {
		case math.IsNaN(f):
			e.write("null")
		case math.IsInf(f, 1):
			e.write("1e+9999")
		case math.IsInf(f, -1):
			e.write("-1e+9999")
		default:
			e.write(json.LuaNumberString(f))
		}
	case lua.TypeBoolean:
		if l.ToBoolean(idx) {
			e.write("true")
		} else {
			e.write("false")
		}
	case lua.TypeTable:
		if l.MetaTable(idx) {
			number := l.RawEqual(-1, e.numberMT)
			l.Pop(1)
			if number {
				s, _ := lua.ToStringMeta(l, idx)
				l.Pop(1)
				e.write(s)
				return nil
			}
		}
		return e.table(idx, indent)
	default:
		return e.fail("can't convert " + lua.TypeNameOf(l, idx) + " to JSON")
	}
	return nil
}

// table appends the table at idx as an array or an object.
func (e *jsonluaEncoder) table(idx int, indent string) error {
	l := e.l
	id := json.TableID(l, idx)
	if e.parents[id] {
		name, _ := lua.ToStringMeta(l, idx)
		l.Pop(1)
		return e.fail("table " + name + " is a child of itself")
	}
	if e.depth >= json.MaxDepth {
		return e.fail(fmt.Sprintf("pushlua: table nested deeper than %d levels", json.MaxDepth))
	}
	e.parents[id] = true
	e.depth++
	json.CheckStack(l, 8)
	defer func() {
		e.parents[id] = false
		e.depth--
	}()

	var strKeys []string
	var numKeys []float64
	mustStrings := false
	maxKey := math.Inf(-1)
	for _, k := range json.AppendTableKeys(l, idx, nil) {
		switch k.Typ {
		case lua.TypeString:
			strKeys = append(strKeys, k.S)
		case lua.TypeNumber:
			numKeys = append(numKeys, k.N)
			if k.N <= 0 || math.IsInf(k.N, 1) {
				mustStrings = true
			} else if k.N > maxKey {
				maxKey = k.N
			}
		default:
			return e.fail("can't encode table with a key of type " + jsonluaTypeName(k.Typ))
		}
	}
	if len(strKeys) == 0 && !mustStrings {
		if len(numKeys) > 0 {
			return e.array(idx, maxKey, indent)
		}
		name, _ := lua.ToStringMeta(l, idx)
		l.Pop(1)
		if name == "JSON object" {
			return e.object(idx, nil, nil, indent)
		}
		e.write("[]")
		return nil
	}
	slices.Sort(strKeys)
	var fromNumber map[string]float64
	if len(numKeys) > 0 {
		if e.noKeyConversion {
			return e.fail("a table with both numeric and string keys could be an object or array; aborting")
		}
		slices.Sort(numKeys)
		present := make(map[string]bool, len(strKeys))
		for _, k := range strKeys {
			present[k] = true
		}
		fromNumber = map[string]float64{}
		for _, n := range numKeys {
			sk := json.LuaNumberString(n)
			if present[sk] {
				return e.fail("conflict converting table with mixed-type keys into a JSON object: key " + sk + " exists both as a string and a number.")
			}
			present[sk] = true
			strKeys = append(strKeys, sk)
			fromNumber[sk] = n
		}
	}
	return e.object(idx, strKeys, fromNumber, indent)
}

// array appends T[1] ... T[max] (max may have a fraction, as a Lua for loop
// allows).
func (e *jsonluaEncoder) array(idx int, maxKey float64, indent string) error {
	l := e.l
	keyIndent := indent + e.indent
	open, sep, end, sub := "[", ",", "]", indent
	switch {
	case e.pretty && e.arrayNewline:
		open, sep, end = "[\n"+keyIndent, ",\n"+keyIndent, "\n"+indent+"]"
	case e.pretty:
		open, sep, end = "[ ", ", ", " ]"
	}
	if e.arrayNewline {
		sub = keyIndent
	}
	e.write(open)
	for i := 1.0; i <= maxKey; i++ {
		if i > 1 {
			e.write(sep)
		}
		l.PushNumber(i)
		l.Table(idx)
		err := e.value(l.Top(), sub)
		l.Pop(1)
		if err != nil {
			return err
		}
	}
	e.write(end)
	return nil

}

// pushField pushes T[key], the key being a number when it came from one.
func (e *jsonluaEncoder) pushField(idx int, key string, fromNumber map[string]float64) {
	if n, ok := fromNumber[key]; ok {
		e.l.PushNumber(n)
	} else {
		e.l.PushString(key)
	}
	e.l.Table(idx)
}

// object appends the keys of the table at idx with their values.
func (e *jsonluaEncoder) object(idx int, keys []string, fromNumber map[string]float64, indent string) error {
	l := e.l
	quoted := e.quoted
	if !e.pretty {
		e.write("{")
		for i, k := range keys {
			if i > 0 {
				e.write(",")
			}
			e.write(quoted(k))
			e.write(":")
			e.pushField(idx, k, fromNumber)
			err := e.value(l.Top(), indent)
			l.Pop(1)
			if err != nil {
				return err
			}
		}
		e.write("}")
		return nil
	}
	width := 0
	if e.align {
		for _, k := range keys {
			width = max(width, len(quoted(k)))
		}
	}
	keyIndent := indent + e.indent
	sub := keyIndent + strings.Repeat(" ", width)
	if e.align {
		sub += "  "
	}
	e.write("{\n")
	for i, k := range keys {
		if i > 0 {
			e.write(",\n")
		}
		q := quoted(k)
		e.write(keyIndent)
		e.write(strings.Repeat(" ", max(width-len(q), 0)))
		e.write(q)
		e.write(": ")
		e.pushField(idx, k, fromNumber)
		err := e.value(l.Top(), sub)
		l.Pop(1)
		if err != nil {
			return err
		}
	}
	e.write("\n" + indent + "}")
	return nil
}

// jsonluaTypeName is type() of a value of type t.
func jsonluaTypeName(t lua.Type) string {
	switch t {
	case lua.TypeBoolean:
		return "boolean"
	case lua.TypeTable:
		return "table"
	case lua.TypeFunction:
		return "function"
	case lua.TypeThread:
		return "thread"
	case lua.TypeLightUserData, lua.TypeUserData:
		return "userdata"
	}
	return "nil"
}
