package stdlib

import (
	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"slices"
)

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
// when it starts, and the time budget is checked every luax.CheckEvery steps.
type textBudget struct {
	l     *lua.State
	fname string
	host  luax.Host
	mem   *luax.MemBudget
	limit int64
	steps int
}

func newTextBudget(l *lua.State, fname string) textBudget {
	h := luax.HostOf(l)
	b := textBudget{l: l, fname: fname, host: h, mem: h.Mem()}
	b.limit = b.mem.Remaining()
	return b
}

// grow is one step that appends about n bytes to buf: it raises the
// budget's error when buf would grow past the budget, and returns buf with
// room for them.
func (b *textBudget) grow(buf []byte, n int) []byte {
	if int64(len(buf))+int64(n) > b.limit {
		b.mem.CheckSize(b.l, b.fname, float64(len(buf)+n))
	}
	if b.steps++; b.steps%luax.CheckEvery == 0 {
		luax.CheckTime(b.l, b.host)
	}
	return growBuf(buf, n, b.limit)
}

// charge charges the finished text.
func (b *textBudget) charge(text []byte) {
	b.mem.ChargeSize(b.l, b.fname, float64(len(text)))
}
