package luax

import (
	"errors"
	"math"
	"testing"
)

func TestMemBudgetCharge(t *testing.T) {
	b := &MemBudget{Limit: 100}
	for _, c := range []struct {
		n        int64
		ok       bool
		usedThen int64
	}{
		{60, true, 60},
		{41, false, 60},
		{40, true, 100},
		{0, true, 100},
		{1, false, 100},
	} {
		err := b.Charge(c.n)
		if (err == nil) != c.ok || b.Used() != c.usedThen {
			t.Errorf("Charge(%d): got err %v, used %d; want ok %v, used %d", c.n, err, b.Used(), c.ok, c.usedThen)
		}
	}
	if got := b.Remaining(); got != 0 {
		t.Errorf("Remaining: got %d; want 0", got)
	}
	var me *MemError
	if err := b.Charge(7); !errors.As(err, &me) || me.Size != 7 || me.Used != 100 || me.Limit != 100 {
		t.Errorf("Charge(7): got %#v; want a *MemError of 7 bytes with 100 used", err)
	}
	b.Reset()
	if b.Used() != 0 || b.Remaining() != 100 {
		t.Errorf("after Reset: used %d, remaining %d; want 0, 100", b.Used(), b.Remaining())
	}

	var none *MemBudget
	if err := none.Charge(1 << 62); err != nil || none.Remaining() != math.MaxInt64 || none.Used() != 0 {
		t.Errorf("nil budget: got %v, remaining %d", err, none.Remaining())
	}
	unlimited := &MemBudget{}
	if err := unlimited.Charge(1 << 62); err != nil || unlimited.Remaining() != math.MaxInt64 {
		t.Errorf("zero Limit: got %v, remaining %d", err, unlimited.Remaining())
	}
}

func TestMemErrorMessage(t *testing.T) {
	for _, c := range []struct {
		err  MemError
		want string
	}{
		{MemError{Func: "rep", Size: 1 << 40, Limit: 64 << 20},
			"pushlua: call exceeded its memory budget of 64 MiB (pushlua_handler_memory): 'rep' needs 1099511627776 bytes, 0 already used"},
		{MemError{Size: 10, Used: 5, Limit: 1000, Setting: "x_memory"},
			"pushlua: call exceeded its memory budget of 1000 bytes (x_memory): needs 10 bytes, 5 already used"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got %q; want %q", got, c.want)
		}
	}
	for n, want := range map[int64]string{64 << 20: "64 MiB", 1536 << 10: "1536 KiB", 3 << 30: "3 GiB", 1 << 40: "1 TiB", 1000: "1000 bytes", 0: "0 bytes"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d): got %q; want %q", n, got, want)
		}
	}
}
