package luax

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	lua "github.com/Shopify/go-lua"
)

func TestStrerror(t *testing.T) {
	_, notExist := os.Open("/nonexistent/pushlua")
	for _, c := range []struct {
		err  error
		want string
	}{
		{syscall.ENOENT, "No such file or directory"},
		{fmt.Errorf("open: %w", syscall.EACCES), "Permission denied"},
		{notExist, "No such file or directory"},
		{&fs.PathError{Op: "open", Path: "x", Err: errors.New("odd")}, "odd"},
		{errors.New("plain"), "plain"},
	} {
		if got := Strerror(c.err); got != c.want {
			t.Errorf("Strerror(%v): got %q; want %q", c.err, got, c.want)
		}
	}
}

func TestCString(t *testing.T) {
	for in, want := range map[string]string{"abc": "abc", "a\x00b": "a", "\x00": "", "": ""} {
		if got := CString(in); got != want {
			t.Errorf("CString(%q): got %q; want %q", in, got, want)
		}
	}
}

func TestPreloadAndRaiseWhere(t *testing.T) {
	l := lua.NewState()
	lua.OpenLibraries(l)
	Preload(l, "m", func(l *lua.State) int {
		lua.NewLibrary(l, []lua.RegistryFunction{{Name: "fail", Function: func(l *lua.State) int {
			RaiseWhere(l, "100% wrong")
			return 0
		}}})
		return 1
	})
	err := lua.DoString(l, "local m = require 'm'\nm.fail()")
	if err == nil || !strings.HasSuffix(err.Error(), `"]:2: 100% wrong`) {
		t.Errorf("got %v; want the message with the caller's position", err)
	}
}

func TestNewMetaTable(t *testing.T) {
	l := lua.NewState()
	lua.OpenLibraries(l)
	l.PushString("up")
	NewMetaTable(l, "thing", []lua.RegistryFunction{{Name: "up", Function: func(l *lua.State) int {
		l.PushValue(lua.UpValueIndex(1))
		return 1
	}}}, 1)
	if got := l.Top(); got != 1 {
		t.Fatalf("stack has %d values; want the metatable only", got)
	}
	l.SetGlobal("mt")
	if err := lua.DoString(l, `local o = setmetatable({}, mt)
		assert(o:up() == "up", "method")
		assert(mt.__index == mt, "__index")
		assert(mt.__name == "thing", "__name")`); err != nil {
		t.Error(err)
	}
}

func TestHost(t *testing.T) {
	l := lua.NewState()
	if h := HostOf(l); h.Context() == nil || h.Logger() == nil || h.Mem() != nil || h.Check() != nil || !h.Deadline().IsZero() {
		t.Errorf("HostOf without SetHost: got %#v; want a host with no limits", h)
	}
	clock := time.Unix(1700000000, 0)
	h := &StaticHost{Clock: func() time.Time { return clock }, Budget: &MemBudget{Limit: 10}}
	SetHost(l, h)
	if got := HostOf(l); got != Host(h) || got.Now() != clock || MemOf(l) != h.Budget {
		t.Errorf("HostOf after SetHost: got %#v; want %#v", got, h)
	}

	ctx, cancel := BlockingContext(h, nil)
	if _, ok := ctx.Deadline(); ok {
		t.Error("BlockingContext without Until has a deadline")
	}
	cancel()
	cause := errors.New("budget")
	h.Until = time.Now().Add(-time.Second)
	ctx, cancel = BlockingContext(h, cause)
	defer cancel()
	if ctx.Err() != context.DeadlineExceeded || context.Cause(ctx) != cause {
		t.Errorf("BlockingContext past Until: got %v, cause %v; want DeadlineExceeded, %v", ctx.Err(), context.Cause(ctx), cause)
	}
}
