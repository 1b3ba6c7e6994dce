package cjson

// cjson and cjson.safe: lua-cjson 2.1.0 as OpenResty ships it (the
// encode_empty_table_as_object, decode_array_with_array_mt and
// encode_escape_forward_slash settings, array_mt and empty_array), with the
// C module's defaults and error messages. cjson.null is a userdata shared by
// every instance, so cjson.decode("null") == cjson.null.
//
// Numbers are float64 in this Lua, so every number is encoded with
// "%.<precision>g" (1, not 1.0) and decoded with strtod's rules.

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/json"
)

// Registry keys of the values every cjson instance of a state shares.
const (
	cjsonNullKey         = "pushlua.cjson.null"
	cjsonEmptyArrayKey   = "pushlua.cjson.empty_array"
	cjsonArrayMTKey      = "pushlua.cjson.array_mt"
	cjsonEmptyArrayMTKey = "pushlua.cjson.empty_array_mt"
)

// cjsonSentinel is the data of the cjson.null and cjson.empty_array
// userdata (light userdata in the C module).
type cjsonSentinel struct{ name string }

var (
	cjsonNullTag       = &cjsonSentinel{"null"}
	cjsonEmptyArrayTag = &cjsonSentinel{"empty_array"}
)

// cjsonConfig is the configuration of one cjson instance; the defaults are
// lua-cjson's.
type cjsonConfig struct {
	sparseConvert          bool
	sparseRatio            int
	sparseSafe             int
	encodeMaxDepth         int
	decodeMaxDepth         int
	encodeInvalidNumbers   int // 0 off, 1 on, 2 null
	decodeInvalidNumbers   bool
	encodeKeepBuffer       bool
	numberPrecision        int
	emptyTableAsObject     bool
	decodeArrayWithArrayMT bool
	escapeForwardSlash     bool

	esc json.EscapeTable
	buf []byte // kept between calls while encodeKeepBuffer
}

func newCJSONConfig() *cjsonConfig {
	c := &cjsonConfig{
		sparseRatio:          2,
		sparseSafe:           10,
		encodeMaxDepth:       1000,
		decodeMaxDepth:       1000,
		decodeInvalidNumbers: true,
		encodeKeepBuffer:     true,
		numberPrecision:      14,
		emptyTableAsObject:   true,
		escapeForwardSlash:   true,
	}
	c.esc = json.NewEscapeTable("%04x")
	c.esc['/'], c.esc[0x7f] = `\/`, `\u007f`
	return c
}

// Open registers cjson and cjson.safe in package.preload.
func Open(l *lua.State, _ luax.Host) {
	luax.Preload(l, "cjson", openCJSON)
	luax.Preload(l, "cjson.safe", openCJSONSafe)
}

func openCJSON(l *lua.State) int {
	pushCJSON(l, false)
	return 1
}

func openCJSONSafe(l *lua.State) int {
	pushCJSON(l, true)
	return 1
}

// pushCJSON pushes a new cjson (or cjson.safe) module table with its own
// configuration.
func pushCJSON(l *lua.State, safe bool) {
	cjsonShared(l)
	cfg := newCJSONConfig()
	l.CreateTable(0, 20)
	lua.SetFunctions(l, cjsonFunctions(cfg, safe), 0)
	for _, f := range []struct{ key, field string }{
		{cjsonNullKey, "null"},
		{cjsonEmptyArrayMTKey, "empty_array_mt"},
		{cjsonArrayMTKey, "array_mt"},
		{cjsonEmptyArrayKey, "empty_array"},
	} {
		l.Field(lua.RegistryIndex, f.key)
		l.SetField(-2, f.field)
	}
	l.PushString("cjson")
	l.SetField(-2, "_NAME")
	l.PushString("2.1.0")
	l.SetField(-2, "_VERSION")
}

// cjsonShared creates, once per state, the values all instances share.
func cjsonShared(l *lua.State) {
	l.Field(lua.RegistryIndex, cjsonNullKey)
	exists := !l.IsNil(-1)
	l.Pop(1)
	if exists {
		return
	}
	l.PushUserData(cjsonNullTag)
	l.SetField(lua.RegistryIndex, cjsonNullKey)
	l.PushUserData(cjsonEmptyArrayTag)
	l.SetField(lua.RegistryIndex, cjsonEmptyArrayKey)
	l.NewTable()
	l.SetField(lua.RegistryIndex, cjsonArrayMTKey)
	l.NewTable()
	l.SetField(lua.RegistryIndex, cjsonEmptyArrayMTKey)
}

// cjsonFunctions is the registration table of one instance.
func cjsonFunctions(cfg *cjsonConfig, safe bool) []lua.RegistryFunction {
	return []lua.RegistryFunction{
		{Name: "encode", Function: func(l *lua.State) int { return cjsonEncode(l, cfg, safe) }},
		{Name: "decode", Function: func(l *lua.State) int { return cjsonDecode(l, cfg, safe) }},
		{Name: "encode_empty_table_as_object", Function: func(l *lua.State) int {
			o := cjsonOptions(l, "encode_empty_table_as_object", 1)
			return o.boolean(1, &cfg.emptyTableAsObject)
		}},
		{Name: "decode_array_with_array_mt", Function: func(l *lua.State) int {
			o := cjsonOptions(l, "decode_array_with_array_mt", 1)
			return o.boolean(1, &cfg.decodeArrayWithArrayMT)
		}},
		{Name: "encode_sparse_array", Function: func(l *lua.State) int {
			o := cjsonOptions(l, "encode_sparse_array", 3)
			o.boolean(1, &cfg.sparseConvert)
			o.integer(2, &cfg.sparseRatio, 0, math.MaxInt32)
			o.integer(3, &cfg.sparseSafe, 0, math.MaxInt32)
			return 3
		}},
		{Name: "encode_max_depth", Function: func(l *lua.State) int {
			o := cjsonOptions(l, "encode_max_depth", 1)
			return o.integer(1, &cfg.encodeMaxDepth, 1, math.MaxInt32)
		}},
		{Name: "decode_max_depth", Function: func(l *lua.State) int {
			o := cjsonOptions(l, "decode_max_depth", 1)
			return o.integer(1, &cfg.decodeMaxDepth, 1, math.MaxInt32)
		}},
		{Name: "encode_number_precision", Function: func(l *lua.State) int {
			o := cjsonOptions(l, "encode_number_precision", 1)
			return o.integer(1, &cfg.numberPrecision, 1, 16)
		}},
		{Name: "encode_keep_buffer", Function: func(l *lua.State) int {
			o := cjsonOptions(l, "encode_keep_buffer", 1)
			n := o.boolean(1, &cfg.encodeKeepBuffer)
			if !cfg.encodeKeepBuffer {
				cfg.buf = nil
			}
			return n
		}},
		{Name: "encode_invalid_numbers", Function: func(l *lua.State) int {
			o := cjsonOptions(l, "encode_invalid_numbers", 1)
			return o.enum(1, &cfg.encodeInvalidNumbers, []string{"off", "on", "null"})
		}},
		{Name: "decode_invalid_numbers", Function: func(l *lua.State) int {
			o := cjsonOptions(l, "decode_invalid_numbers", 1)
			return o.boolean(1, &cfg.decodeInvalidNumbers)
		}},
		{Name: "encode_escape_forward_slash", Function: func(l *lua.State) int {
			o := cjsonOptions(l, "encode_escape_forward_slash", 1)
			n := o.boolean(1, &cfg.escapeForwardSlash)
			cfg.esc['/'] = ""
			if cfg.escapeForwardSlash {
				cfg.esc['/'] = `\/`
			}
			return n
		}},
		{Name: "new", Function: func(l *lua.State) int {
			pushCJSON(l, safe)
			return 1
		}},
	}
}

// cjsonFail ends a failed encode or decode: cjson.safe returns nil and the
// message, cjson raises it.
func cjsonFail(l *lua.State, err error, safe bool) int {
	l.SetTop(1)
	if safe {
		l.PushNil()
		l.PushString(err.Error())
		return 2
	}
	luax.RaiseWhere(l, err.Error())
	return 0
}

// cjsonArgError raises luaL_argerror's message for argument arg of the
// function fname.
func cjsonArgError(l *lua.State, arg int, fname, msg string) {
	luax.RaiseWhere(l, fmt.Sprintf("bad argument #%d to '%s' (%s)", arg, fname, msg))
}

// cjsonOption reads the arguments of a configuration function.
type cjsonOption struct {
	l    *lua.State
	name string
}

// cjsonOptions checks that the configuration function name got at most n
// arguments and pads them with nil (json_arg_init).
func cjsonOptions(l *lua.State, name string, n int) cjsonOption {
	if l.Top() > n {
		cjsonArgError(l, n+1, name, "found too many arguments")
	}
	l.SetTop(n)
	return cjsonOption{l, name}
}

// integer sets *v from the argument at i when given, checking the range,
// and pushes the current value (json_integer_option).
func (o cjsonOption) integer(i int, v *int, lo, hi int) int {
	l := o.l
	if !l.IsNil(i) {
		f, ok := l.ToNumber(i)
		if !ok {
			cjsonArgError(l, i, o.name, "number expected, got "+lua.TypeNameOf(l, i))
		}
		n := int(f)
		if f < math.MinInt32 || f > math.MaxInt32 || n < lo || n > hi {
			// lua-cjson reports the range against argument 1 whatever i is.
			cjsonArgError(l, 1, o.name, fmt.Sprintf("expected integer between %d and %d", lo, hi))
		}
		*v = n
	}
	l.PushInteger(*v)
	return 1
}

// boolean sets *v from a boolean or "on"/"off" at i when given and pushes
// the current value as a boolean.
func (o cjsonOption) boolean(i int, v *bool) int {
	n := 0
	if *v {
		n = 1
	}
	o.enum(i, &n, []string{"off", "on"})
	*v = n == 1
	return 1
}

// enum is json_enum_option with bool_true = 1: true/false or one of
// options; pushes a boolean for 0 and 1, else the option's name.
func (o cjsonOption) enum(i int, v *int, options []string) int {
	l := o.l
	if !l.IsNil(i) {
		if l.IsBoolean(i) {
			*v = 0
			if l.ToBoolean(i) {
				*v = 1
			}
		} else {
			s, ok := l.ToString(i)
			if !ok {
				cjsonArgError(l, i, o.name, "string expected, got "+lua.TypeNameOf(l, i))
			}
			n := slices.Index(options, s)
			if n < 0 {
				cjsonArgError(l, i, o.name, fmt.Sprintf("invalid option '%s'", s))
			}
			*v = n
		}
	}
	if *v == 0 || *v == 1 {
		l.PushBoolean(*v == 1)
	} else {
		l.PushString(options[*v])
	}
	return 1
}

// cjsonEncode is cjson.encode(value).
func cjsonEncode(l *lua.State, cfg *cjsonConfig, safe bool) int {
	if l.Top() != 1 {
		cjsonArgError(l, 1, "encode", "expected 1 argument")
	}
	e := cjsonEncoder{l: l, cfg: cfg, bud: json.NewTextBudget(l, "cjson.encode")}
	if cfg.encodeKeepBuffer {
		e.buf = cfg.buf[:0]
	}
	err := e.value(1, 0)
	if cfg.encodeKeepBuffer {
		cfg.buf = e.buf
	}
	if err != nil {
		return cjsonFail(l, err, safe)
	}
	e.bud.Charge(e.buf)
	l.PushString(string(e.buf))
	return 1
}

type cjsonEncoder struct {
	l    *lua.State
	cfg  *cjsonConfig
	buf  []byte
	keys []json.Key
	// The budgets: a table that holds one big string many times, or
	// shares subtables, can encode to far more than it holds.
	bud json.TextBudget
}

// grow makes room for n more bytes within the budgets.
func (e *cjsonEncoder) grow(n int) { e.buf = e.bud.Grow(e.buf, n) }

func cjsonTypeError(l *lua.State, idx int, reason string) error {
	return json.NewError("Cannot serialise " + lua.TypeNameOf(l, idx) + ": " + reason)
}

// value appends the value at the absolute index idx.
func (e *cjsonEncoder) value(idx, depth int) error {
	l := e.l
	e.grow(0)
	switch l.TypeOf(idx) {
	case lua.TypeString:
		s, _ := l.ToString(idx)
		e.grow(len(s) + 2)
		e.buf = e.cfg.esc.AppendQuoted(e.buf, s)
	case lua.TypeNumber:
		n, _ := l.ToNumber(idx)
		return e.number(n)
	case lua.TypeBoolean:
		e.buf = strconv.AppendBool(e.buf, l.ToBoolean(idx))
	case lua.TypeNil:
		e.buf = append(e.buf, "null"...)
	case lua.TypeTable:
		return e.table(idx, depth+1)
	case lua.TypeUserData:
		switch l.ToUserData(idx) {
		case cjsonNullTag:
			e.buf = append(e.buf, "null"...)
		case cjsonEmptyArrayTag:
			e.buf = append(e.buf, "[]"...)
		default:
			return cjsonTypeError(l, idx, "type not supported")
		}
	default:
		return cjsonTypeError(l, idx, "type not supported")
	}
	return nil
}

func (e *cjsonEncoder) number(n float64) error {
	if math.IsNaN(n) || math.IsInf(n, 0) {
		switch e.cfg.encodeInvalidNumbers {
		case 0:
			return json.NewError("Cannot serialise number: must not be NaN or Infinity")
		case 1:
			switch {
			case math.IsNaN(n):
				e.buf = append(e.buf, "NaN"...)
			case n > 0:
				e.buf = append(e.buf, "Infinity"...)
			default:
				e.buf = append(e.buf, "-Infinity"...)
			}
		default:
			e.buf = append(e.buf, "null"...)
		}
		return nil
	}
	e.buf = json.AppendNumber(e.buf, n, e.cfg.numberPrecision)
	return nil
}

// cjsonIsRegistryValue reports whether the value at idx is the one in the
// registry under key.
func cjsonIsRegistryValue(l *lua.State, idx int, key string) bool {
	idx = l.AbsIndex(idx)
	l.Field(lua.RegistryIndex, key)
	same := l.RawEqual(-1, idx)
	l.Pop(1)
	return same
}

func (e *cjsonEncoder) table(idx, depth int) error {
	l := e.l
	if depth > e.cfg.encodeMaxDepth {
		return json.NewError(fmt.Sprintf("Cannot serialise, excessive nesting (%d)", depth))
	}
	json.CheckStack(l, 16)
	hasMeta := l.MetaTable(idx)
	raw := true
	if hasMeta {
		if cjsonIsRegistryValue(l, -1, cjsonArrayMTKey) {
			l.Pop(1)
			return e.array(idx, depth, l.RawLength(idx), true)
		}
		l.Pop(1)
		raw = false
		if lua.MetaField(l, idx, "__len") {
			l.PushValue(idx)
			l.Call(1, 1)
			n, _ := l.ToNumber(-1)
			l.Pop(1)
			return e.array(idx, depth, int(n), false)
		}
	}

	start := len(e.keys)
	e.keys = json.AppendTableKeys(l, idx, e.keys)
	defer func() { e.keys = e.keys[:start] }()
	keys := e.keys[start:]

	// lua_array_length: -1 for an object, else the array's length.
	length := 0.0
	items := 0
	for _, k := range keys {
		if !k.IsIndex() {
			length = -1
			break
		}
		length = max(length, k.N)
		items++
	}
	if length > 0 && e.cfg.sparseRatio > 0 && length > float64(items)*float64(e.cfg.sparseRatio) && length > float64(e.cfg.sparseSafe) {
		if !e.cfg.sparseConvert {
			return json.NewError("Cannot serialise table: excessively sparse array")
		}
		length = -1
	}
	if length > 0 || (length == 0 && !e.cfg.emptyTableAsObject) {
		return e.array(idx, depth, int(length), raw)
	}
	if hasMeta {
		l.MetaTable(idx)
		isEmptyArray := cjsonIsRegistryValue(l, -1, cjsonEmptyArrayMTKey)
		l.Pop(1)
		if isEmptyArray {
			return e.array(idx, depth, l.RawLength(idx), true)
		}
	}
	return e.object(idx, depth, keys)
}

func (e *cjsonEncoder) array(idx, depth, n int, raw bool) error {
	return json.WriteArray(e.l, &e.buf, idx, n, raw, func(top int) error { return e.value(top, depth) })
}

func (e *cjsonEncoder) object(idx, depth int, keys []json.Key) error {
	return json.WriteObject(e.l, &e.buf, idx, keys, e.key, func(top int) error { return e.value(top, depth) })
}

// key writes an object key and its colon: a number as a string, a string;
// any other key fails.
func (e *cjsonEncoder) key(k json.Key) error {
	switch k.Typ {
	case lua.TypeNumber:
		e.buf = append(e.buf, '"')
		if err := e.number(k.N); err != nil {
			return err
		}
		e.buf = append(e.buf, '"', ':')
	case lua.TypeString:
		e.buf = e.cfg.esc.AppendQuoted(e.buf, k.S)
		e.buf = append(e.buf, ':')
	default:
		return json.NewError("Cannot serialise " + k.Typ.String() + ": table key must be a number or string")
	}
	return nil
}
