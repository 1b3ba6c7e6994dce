package limits

// The memory budget of a call into Lua, and the library functions that can
// make a large string or table in one step, replaced by versions that check
// the size against it before allocating.
//
// go-lua has no allocator hook, so the budget counts what the library makes
// for the script: the strings built by string.rep, string.format,
// table.concat, string.gsub, string.upper/lower/reverse/char, the JSON
// encoders, io reads, socket.http and dovecot.http bodies, the tables and
// strings the JSON decoders build, and the slots table.insert adds. The
// count is cumulative over the call (a string that became garbage still
// counts): it bounds how much a call can make, not how much it holds.
// tostring is not charged: what it makes is a few bytes (a number, an
// address), or the string a __tostring metamethod already made. What the
// VM makes by itself is not counted: the `..` operator, table constructors
// and t[k] = v. Those are bounded by the instruction budget only, so
// `s = s .. s` in a loop still needs the runtime to run the call with the
// instruction budget it has.
//
// string.rep and table.concat are also no longer quadratic or
// overflow-prone: go-lua's table.concat appended piece by piece (s += str)
// and string.rep let strings.Repeat panic past the address space.

import (
	"fmt"
	"math"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

// Open records h as the state's host (luax.SetHost, for the library
// functions that are not closures over it: io, the JSON modules, gsub) and
// replaces string.rep, string.format, table.concat and table.insert.
func Open(l *lua.State, h luax.Host) {
	luax.SetHost(l, h)

	l.Global("string")
	if l.IsTable(-1) {
		l.Field(-1, "format")
		format := l.ToGoFunction(-1)
		l.Pop(1)
		fns := []lua.RegistryFunction{
			{Name: "rep", Function: func(l *lua.State) int { return strRep(l, h.Mem()) }},
			{Name: "format", Function: func(l *lua.State) int { return strFormat(l, h.Mem(), format) }},
		}
		// The functions that copy their string argument are charged its
		// size first; string.char one byte per argument.
		for _, name := range []string{"upper", "lower", "reverse", "char"} {
			l.Field(-1, name)
			orig := l.ToGoFunction(-1)
			l.Pop(1)
			if orig == nil {
				continue
			}
			fns = append(fns, lua.RegistryFunction{Name: name, Function: func(l *lua.State) int {
				if name == "char" {
					h.Mem().ChargeSize(l, name, float64(l.Top()))
				} else {
					h.Mem().ChargeSize(l, name, float64(len(luax.CheckString(l, 1, name))))
				}
				return orig(l)
			}})
		}
		lua.SetFunctions(l, fns, 0)
	}
	l.Pop(1)
	l.Global("table")
	if l.IsTable(-1) {
		l.Field(-1, "insert")
		insert := l.ToGoFunction(-1)
		l.Pop(1)
		fns := []lua.RegistryFunction{{Name: "concat", Function: func(l *lua.State) int { return tableConcat(l, h) }}}
		if insert != nil {
			fns = append(fns, lua.RegistryFunction{Name: "insert", Function: func(l *lua.State) int {
				h.Mem().ChargeSize(l, "insert", luax.CostSlot)
				return insert(l)
			}})
		}
		lua.SetFunctions(l, fns, 0)
	}
	l.Pop(1)
}

// strRep is string.rep(s, n [, sep]): the size is charged before the
// string is built.
func strRep(l *lua.State, mem *luax.MemBudget) int {
	s := luax.CheckString(l, 1, "rep")
	n := truncIntegerArg(l, 2, "rep")
	sep := luax.OptString(l, 3, "rep", "")
	if n <= 0 || len(s)+len(sep) == 0 {
		l.PushString("")
		return 1
	}
	size := float64(n)*float64(len(s)) + float64(n-1)*float64(len(sep))
	if size >= math.MaxInt {
		luax.RaiseWhere(l, "resulting string too large")
	}
	mem.ChargeSize(l, "rep", size)
	if sep == "" {
		l.PushString(strings.Repeat(s, int(n)))
		return 1
	}
	var b strings.Builder
	b.Grow(int(size))
	b.WriteString(s)
	for ; n > 1; n-- {
		b.WriteString(sep)
		b.WriteString(s)
	}
	l.PushString(b.String())
	return 1
}

// truncIntegerArg is Lua 5.2's luaL_checkinteger (and go-lua's): a number,
// or a string convertible to one, truncated towards zero (2.5 is 2, where
// Lua 5.3 would fail), clamped to ±2^62.
func truncIntegerArg(l *lua.State, arg int, fname string) int64 {
	n, ok := l.ToNumber(arg)
	if !ok {
		luax.TypeError(l, arg, fname, "number")
	}
	return luax.TruncInteger(n)
}

// tableConcat is table.concat(t [, sep [, i [, j]]]) in one allocation of
// the charged size (go-lua's appended piece by piece, quadratic in time).
func tableConcat(l *lua.State, h luax.Host) int {
	mem := h.Mem()
	if l.TypeOf(1) != lua.TypeTable {
		luax.TypeError(l, 1, "concat", "table")
	}
	sep := luax.OptString(l, 2, "concat", "")
	first := int64(1)
	if !l.IsNoneOrNil(3) {
		first = truncIntegerArg(l, 3, "concat")
	}
	var last int64
	if l.IsNoneOrNil(4) {
		last = int64(lua.LengthEx(l, 1))
	} else {
		last = truncIntegerArg(l, 4, "concat")
	}
	if first > last {
		l.PushString("")
		return 1
	}
	// The pieces and their size, checked as it grows, so that a table of
	// huge strings or a huge separator fails before anything is copied.
	limit := float64(mem.Remaining())
	size := 0.0
	var parts []string
	for i := first; ; i++ {
		l.RawGetInt(1, int(i))
		s, ok := l.ToValue(-1).(string) // ToString would allocate
		if !ok {
			s, ok = l.ToString(-1)
		}
		if !ok {
			luax.RaiseWhere(l, fmt.Sprintf("invalid value (at index %d) in table for 'concat'", i))
		}
		l.Pop(1)
		parts = append(parts, s)
		size += float64(len(s))
		if i == last {
			break
		}
		size += float64(len(sep))
		if size > limit {
			mem.ChargeSize(l, "concat", size)
		}
		if (i-first)%luax.CheckEvery == luax.CheckEvery-1 {
			luax.CheckTime(l, h)
		}
	}
	mem.ChargeSize(l, "concat", size)
	var b strings.Builder
	b.Grow(int(size))
	for i, s := range parts {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s)
	}
	l.PushString(b.String())
	return 1
}

// strFormat is string.format(fmt, ...): go-lua's, after a bound of the
// result's size is checked against the budget; the result's real size is
// charged.
func strFormat(l *lua.State, mem *luax.MemBudget, format lua.Function) int {
	if format == nil {
		luax.RaiseWhere(l, "string.format is not available")
	}
	// ToValue, not ToString: go-lua's ToString stores the string back
	// into the stack slot, an allocation per call.
	if fs, ok := l.ToValue(1).(string); ok && mem != nil && mem.Limit > 0 {
		mem.CheckSize(l, "format", formatBound(l, fs))
	}
	n := format(l)
	if s, ok := l.ToValue(-1).(string); n == 1 && ok {
		mem.ChargeSize(l, "format", float64(len(s)))
	}
	return n
}

// formatBound returns an upper bound of the length of string.format(fs,
// ...) with the arguments on the stack from index 2, as go-lua formats
// them: widths and precisions have at most two digits; a %s of a value
// with __tostring counts 0 (its result is charged afterwards).
func formatBound(l *lua.State, fs string) float64 {
	size := 0.0
	arg := 1
	for i := 0; i < len(fs); i++ {
		if fs[i] != '%' {
			size++
			continue
		}
		i++
		if i >= len(fs) {
			break
		}
		if fs[i] == '%' {
			size++
			continue
		}
		arg++
		for i < len(fs) && strings.IndexByte("-+ #0", fs[i]) >= 0 {
			i++
		}
		width := 0
		for i < len(fs) && fs[i] >= '0' && fs[i] <= '9' {
			width = width*10 + int(fs[i]-'0')
			i++
		}
		prec := -1
		if i < len(fs) && fs[i] == '.' {
			i++
			prec = 0
			for i < len(fs) && fs[i] >= '0' && fs[i] <= '9' {
				prec = prec*10 + int(fs[i]-'0')
				i++
			}
		}
		if i >= len(fs) {
			break
		}
		n := 0.0
		switch fs[i] {
		case 's':
			if s, ok := l.ToValue(arg).(string); ok {
				n = float64(len(s))
				if prec >= 0 {
					n = min(n, float64(prec))
				}
			} else if l.TypeOf(arg) == lua.TypeNumber {
				n = 64
			}
		case 'q':
			if s, ok := l.ToValue(arg).(string); ok {
				n = 2 + float64(len(s))
				for j := 0; j < len(s); j++ {
					if c := s[j]; c == '"' || c == '\\' || c == '\n' {
						n++
					} else if c < 0x20 || c == 0x7f {
						n += 3
					}
				}
			} else {
				n = 64
			}
		default: // numbers, %c: "%.99f" of 1e308 is 409 bytes
			n = float64(prec) + 330
		}
		size += max(n, float64(width))
	}
	return size
}
