package luax

// The memory budget of a call into Lua. go-lua has no allocator hook, so
// the budget counts what the library makes for the script (see
// stdlib/limits for what is charged); the host resets it before each call
// and hands it out through Host.Mem.

import (
	"fmt"
	"math"

	lua "github.com/Shopify/go-lua"
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

// ChargeSize charges n bytes made by the Lua function fname, or raises the
// budget's error in l (after telling OnExceed). A nil budget charges
// nothing. n is a float64 for sizes that may exceed any int64
// (string.rep("x", 2^70)).
func (b *MemBudget) ChargeSize(l *lua.State, fname string, n float64) {
	if err := b.chargeFloat(fname, n); err != nil {
		b.raise(l, err.(*MemError))
	}
}

// ChargeIn charges n bytes made by fname for the script of l (a binding's
// value, such as an HTTP response body), or raises the budget's error in l
// when they do not fit. A nil budget charges nothing.
func (b *MemBudget) ChargeIn(l *lua.State, fname string, n int64) {
	b.ChargeSize(l, fname, float64(n))
}

// CheckSize raises the budget's error in l when n bytes would not fit,
// without charging them: for a function that learns the exact size only
// after building a value whose size it can bound.
func (b *MemBudget) CheckSize(l *lua.State, fname string, n float64) {
	if b != nil && b.Limit > 0 && n > float64(b.Limit-b.used) {
		b.raise(l, &MemError{Func: fname, Size: n, Used: b.used, Limit: b.Limit, Setting: b.Setting})
	}
}

func (b *MemBudget) raise(l *lua.State, e *MemError) {
	msg := e.Error()
	if b.OnExceed != nil {
		b.OnExceed(msg)
	}
	RaiseWhere(l, msg)
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
	CostTable = 128 // a new table
	CostSlot  = 32  // a value stored in a table
)
