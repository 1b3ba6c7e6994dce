package stdlib

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
	"slices"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

// MemBudget is the memory budget of one call into Lua. The runtime resets
// it before each call; one goroutine uses it at a time. A nil *MemBudget
// has no limit.
type MemBudget struct {
	// Limit is the most bytes the library may make for one call; 0 or
	// less means no limit.
	Limit int64
	// Setting names the setting that configures Limit, for the error
	// message; default "pushlua_handler_memory".
	Setting string
	// OnExceed, when set, is called with the error message when a charge
	// is refused, before the error is raised in Lua. The runtime uses it
	// to end the call even if the script catches the error with pcall.
	OnExceed func(msg string)

	used int64
}

// Reset starts a new call: nothing made yet.
func (b *MemBudget) Reset() {
	if b != nil {
		b.used = 0
	}
}

// Used returns the bytes charged since the last Reset.
func (b *MemBudget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used
}

// Remaining returns how many more bytes the call may make
// (math.MaxInt64 without a limit).
func (b *MemBudget) Remaining() int64 {
	if b == nil || b.Limit <= 0 {
		return math.MaxInt64
	}
	return max(b.Limit-b.used, 0)
}

// Charge records n more bytes made for the script, or, when they would take
// the call over its limit, records nothing and returns a *MemError (whose
// Func is empty).
func (b *MemBudget) Charge(n int64) error {
	return b.chargeFloat("", float64(n))
}

// chargeFloat is Charge for sizes computed in float64, which may exceed
// any int64 (string.rep("x", 2^70)).
func (b *MemBudget) chargeFloat(fname string, n float64) error {
	if b == nil {
		return nil
	}
	if b.Limit > 0 && (n > float64(b.Limit-b.used) || math.IsNaN(n)) {
		return &MemError{Func: fname, Size: n, Used: b.used, Limit: b.Limit, Setting: b.Setting}
	}
	if n > 0 {
		b.used += int64(n)
	}
	return nil
}

// charge charges n bytes made by the Lua function fname, or raises the
// budget's error in l (after telling OnExceed).
func (b *MemBudget) charge(l *lua.State, fname string, n float64) {
	if err := b.chargeFloat(fname, n); err != nil {
		b.raise(l, err.(*MemError))
	}
}

// ChargeIn charges n bytes made by fname for the script of l (a binding's
// value, such as an HTTP response body), or raises the budget's error in l
// when they do not fit. A nil budget charges nothing.
func (b *MemBudget) ChargeIn(l *lua.State, fname string, n int64) {
	b.charge(l, fname, float64(n))
}

// check raises the budget's error in l when n bytes would not fit, without
// charging them: for a function that learns the exact size only after
// building a value whose size it can bound.
func (b *MemBudget) check(l *lua.State, fname string, n float64) {
	if b != nil && b.Limit > 0 && n > float64(b.Limit-b.used) {
		b.raise(l, &MemError{Func: fname, Size: n, Used: b.used, Limit: b.Limit, Setting: b.Setting})
	}
}

func (b *MemBudget) raise(l *lua.State, e *MemError) {
	msg := e.Error()
	if b.OnExceed != nil {
		b.OnExceed(msg)
	}
	luax.RaiseWhere(l, msg)
}

// MemError is a refused charge.
type MemError struct {
	Func    string  // the Lua function that would have made the value
	Size    float64 // the bytes it needed
	Used    int64   // the bytes the call had made before
	Limit   int64
	Setting string // default "pushlua_handler_memory"
}

func (e *MemError) Error() string {
	setting := e.Setting
	if setting == "" {
		setting = "pushlua_handler_memory"
	}
	fn := ""
	if e.Func != "" {
		fn = "'" + e.Func + "' "
	}
	return fmt.Sprintf("pushlua: call exceeded its memory budget of %s (%s): %sneeds %.0f bytes, %d already used",
		FormatSize(e.Limit), setting, fn, e.Size, e.Used)
}

// FormatSize renders n bytes in the largest binary unit that divides it
// ("64 MiB", "1536 KiB", "1000 bytes").
func FormatSize(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// Estimated costs of what the JSON decoders and table.insert make (measured
// on go-lua: an empty table is about 130 bytes, a number stored in a table
// about 37).
const (
	costTable = 128 // a new table
	costSlot  = 32  // a value stored in a table
)

// envRegistryKey is where openLimits keeps the Env for the library
// functions that are not closures over it (io, the JSON modules, gsub).
const envRegistryKey = "pushlua.stdlib.env"

// memOf returns the memory budget of the current call of l (nil: none).
func memOf(l *lua.State) *MemBudget {
	if env := envOf(l); env != nil {
		return env.Mem
	}
	return nil
}

// openLimits records env in the registry and replaces string.rep,
// string.format, table.concat and table.insert.
func openLimits(l *lua.State, env *Env) {
	if env == nil {
		env = &Env{}
	}
	l.PushUserData(env)
	l.SetField(lua.RegistryIndex, envRegistryKey)

	l.Global("string")
	if l.IsTable(-1) {
		l.Field(-1, "format")
		format := l.ToGoFunction(-1)
		l.Pop(1)
		fns := []lua.RegistryFunction{
			{Name: "rep", Function: func(l *lua.State) int { return strRep(l, env.Mem) }},
			{Name: "format", Function: func(l *lua.State) int { return strFormat(l, env.Mem, format) }},
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
					env.Mem.charge(l, name, float64(l.Top()))
				} else {
					env.Mem.charge(l, name, float64(len(checkStringArg(l, 1, name))))
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
		fns := []lua.RegistryFunction{{Name: "concat", Function: func(l *lua.State) int { return tableConcat(l, env) }}}
		if insert != nil {
			fns = append(fns, lua.RegistryFunction{Name: "insert", Function: func(l *lua.State) int {
				env.Mem.charge(l, "insert", costSlot)
				return insert(l)
			}})
		}
		lua.SetFunctions(l, fns, 0)
	}
	l.Pop(1)
}

// strRep is string.rep(s, n [, sep]): the size is charged before the
// string is built.
func strRep(l *lua.State, mem *MemBudget) int {
	s := checkStringArg(l, 1, "rep")
	n := truncIntegerArg(l, 2, "rep")
	sep := optStringArg(l, 3, "rep", "")
	if n <= 0 || len(s)+len(sep) == 0 {
		l.PushString("")
		return 1
	}
	size := float64(n)*float64(len(s)) + float64(n-1)*float64(len(sep))
	if size >= math.MaxInt {
		luax.RaiseWhere(l, "resulting string too large")
	}
	mem.charge(l, "rep", size)
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
		raiseTypeError(l, arg, fname, "number")
	}
	switch {
	case math.IsNaN(n):
		return 0
	case n >= 1<<62:
		return 1 << 62
	case n <= -(1 << 62):
		return -(1 << 62)
	}
	return int64(n)
}

// tableConcat is table.concat(t [, sep [, i [, j]]]) in one allocation of
// the charged size (go-lua's appended piece by piece, quadratic in time).
func tableConcat(l *lua.State, env *Env) int {
	mem := env.Mem
	if l.TypeOf(1) != lua.TypeTable {
		raiseTypeError(l, 1, "concat", "table")
	}
	sep := optStringArg(l, 2, "concat", "")
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
			mem.charge(l, "concat", size)
		}
		if (i-first)%checkEvery == checkEvery-1 {
			env.checkTime(l)
		}
	}
	mem.charge(l, "concat", size)
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
func strFormat(l *lua.State, mem *MemBudget, format lua.Function) int {
	if format == nil {
		luax.RaiseWhere(l, "string.format is not available")
	}
	// ToValue, not ToString: go-lua's ToString stores the string back
	// into the stack slot, an allocation per call.
	if fs, ok := l.ToValue(1).(string); ok && mem != nil && mem.Limit > 0 {
		mem.check(l, "format", formatBound(l, fs))
	}
	n := format(l)
	if s, ok := l.ToValue(-1).(string); n == 1 && ok {
		mem.charge(l, "format", float64(len(s)))
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

// growBuf makes room in buf for n more bytes (and a little slack for the
// punctuation that follows), doubling its capacity but not past limit, so
// that a text built up to the memory budget is not copied through a long
// series of 1.25x growths (each one garbage the budget does not see).
func growBuf(buf []byte, n int, limit int64) []byte {
	need := len(buf) + n + 64
	if need <= cap(buf) {
		return buf
	}
	c := max(2*cap(buf), need, 512)
	if int64(c) > limit {
		c = int(max(int64(need), limit))
	}
	return slices.Grow(buf, c-len(buf))
}

// textBudget is the budgets of a function that builds one text (the JSON
// encoders): the text may not grow past what the memory budget has left
// when it starts, and the time budget is checked every checkEvery steps.
type textBudget struct {
	l     *lua.State
	fname string
	env   *Env
	mem   *MemBudget
	limit int64
	steps int
}

func newTextBudget(l *lua.State, fname string) textBudget {
	env := envOf(l)
	b := textBudget{l: l, fname: fname, env: env, limit: math.MaxInt64}
	if env != nil {
		b.mem = env.Mem
		b.limit = b.mem.Remaining()
	}
	return b
}

// grow is one step that appends about n bytes to buf: it raises the
// budget's error when buf would grow past the budget, and returns buf with
// room for them.
func (b *textBudget) grow(buf []byte, n int) []byte {
	if int64(len(buf))+int64(n) > b.limit {
		b.mem.check(b.l, b.fname, float64(len(buf)+n))
	}
	if b.steps++; b.steps%checkEvery == 0 {
		b.env.checkTime(b.l)
	}
	return growBuf(buf, n, b.limit)
}

// charge charges the finished text.
func (b *textBudget) charge(text []byte) {
	b.mem.charge(b.l, b.fname, float64(len(text)))
}

// checkEvery is how many steps (matches, values) a long-running library
// function makes between two calls of Env.Check.
const checkEvery = 4096

// checkTime calls env.Check and raises its error in l.
func (e *Env) checkTime(l *lua.State) {
	if e == nil || e.Check == nil {
		return
	}
	if err := e.Check(); err != nil {
		luax.RaiseWhere(l, err.Error())
	}
}

// envOf returns the Env openLimits recorded in l, or nil.
func envOf(l *lua.State) *Env {
	l.Field(lua.RegistryIndex, envRegistryKey)
	env, _ := l.ToUserData(-1).(*Env)
	l.Pop(1)
	return env
}
