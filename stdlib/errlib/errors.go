package errlib

// Error values that are not strings: error, assert, pcall and xpcall.
//
// go-lua can only raise strings: when an error reaches a protected call, its
// errorMessage runs CheckString on the error value, so `error({code=1})`
// turns into "bad argument #-1 to '?' (string expected, got table)", error(42)
// into "42" and error() into a complaint about nil. Scripts written for Lua
// 5.3/5.4 raise tables and numbers and expect pcall to hand them back.
//
// This module replaces the four functions. error and assert keep a non-string
// error value in a registry table and raise a placeholder string instead: a
// description followed by a marker, for example
// "(error object is a table value) [pushlua:1f2e3d4c:7]", where 1f2e3d4c is
// random per state and 7 numbers the value. pcall and xpcall turn a caught
// placeholder back into the value and release it; xpcall's message handler
// receives the value, and a non-string value it returns is kept the same way.
// A placeholder that reaches the host is turned back by TranslateError (for a
// value on the stack, in the runtime's message handler) or DescribeError (for
// a message already taken off the stack). At most errorValuesKept values are
// kept: older ones are released even if nothing caught them, so a placeholder
// that escaped (caught by Go code that called ProtectedCall itself) leaks
// nothing.
//
// As in Lua 5.3.6 and 5.4 (the 5.2 dialect of go-lua differs), error only
// adds the position to a string: error(42) raises the number 42.

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

// errorValuesKey names the registry table that holds the error values in
// flight: [placeholder] = {v = value}, [n] = placeholder, n = last number,
// nonce = this state's random marker part.
const errorValuesKey = "pushlua.errorvalues"

// errorValuesKept bounds how many error values a state keeps.
const errorValuesKept = 1024

var errorsLibrary = []lua.RegistryFunction{
	{Name: "assert", Function: errorsAssert},
	{Name: "error", Function: errorsError},
	{Name: "pcall", Function: errorsPcall},
	{Name: "xpcall", Function: errorsXpcall},
}

// Open replaces the global error, assert, pcall and xpcall, and
// debug.traceback (funcname.go).
func Open(l *lua.State, _ luax.Host) {
	pushErrorValues(l)
	l.Pop(1)
	l.PushGoFunction(pcallMessageHandler)
	l.SetField(lua.RegistryIndex, pcallHandlerKey)
	l.PushGlobalTable()
	lua.SetFunctions(l, errorsLibrary, 0)
	l.Pop(1)
	openTraceback(l)
}

// pcallHandlerKey names the registry slot of pcallMessageHandler, pushed
// by every pcall without allocating.
const pcallHandlerKey = "pushlua.pcallhandler"

// pushErrorValues pushes the registry table of error values, creating it the
// first time.
func pushErrorValues(l *lua.State) {
	l.Field(lua.RegistryIndex, errorValuesKey)
	if l.IsTable(-1) {
		return
	}
	l.Pop(1)
	l.NewTable()
	l.PushString(fmt.Sprintf("%08x", rand.Uint32()))
	l.SetField(-2, "nonce")
	l.PushValue(-1)
	l.SetField(lua.RegistryIndex, errorValuesKey)
}

// errorsError is error(message [, level]): a string gets the position of the
// given level; any other value is raised as it is.
func errorsError(l *lua.State) int {
	level := luax.OptInteger(l, 2, "error", 1)
	l.SetTop(1)
	if l.TypeOf(1) == lua.TypeString && level > 0 {
		lua.Where(l, int(level))
		l.PushValue(1)
		l.Concat(2)
	}
	raiseValue(l)
	return 0
}

// errorsAssert is Lua 5.3's assert(v [, message]): on failure it raises
// message like error(message) does (a string gets the position, any other
// value is raised as it is), or "assertion failed!".
func errorsAssert(l *lua.State) int {
	if l.ToBoolean(1) {
		return l.Top()
	}
	if l.TypeOf(1) == lua.TypeNone {
		luax.ArgError(l, 1, "assert", "value expected")
	}
	l.Remove(1)
	l.PushString("assertion failed!")
	l.SetTop(1)
	if l.TypeOf(1) == lua.TypeString {
		lua.Where(l, 1)
		l.PushValue(1)
		l.Concat(2)
	}
	raiseValue(l)
	return 0
}

// errorsPcall is pcall(f, ...), handing back the error value error raised.
// Its message handler (in the slot of the status) names the function of a
// "bad argument #1 to '?'" while the failing frame is still there.
func errorsPcall(l *lua.State) int {
	if l.TypeOf(1) == lua.TypeNone {
		luax.ArgError(l, 1, "pcall", "value expected")
	}
	luax.Field(l, lua.RegistryIndex, pcallHandlerKey)
	l.Insert(1) // the slot of the status
	handler, ok := xpcallStackIndex(l, 1)
	if !ok || !l.IsFunction(1) {
		handler = 0
	}
	err := l.ProtectedCall(l.Top()-2, lua.MultipleReturns, handler)
	return finishProtectedCall(l, err == nil)
}

// pcallMessageHandler is pcall's message handler: the error value as it
// is, with the function of an argument error named (fixErrorName; level 1
// is the function that raised it).
func pcallMessageHandler(l *lua.State) int {
	l.SetTop(1)
	fixErrorName(l, 1, 1)
	return 1
}

// errorsXpcall is xpcall(f, msgh, ...): msgh receives the error value error
// raised, and what it returns (any value) is what xpcall returns.
func errorsXpcall(l *lua.State) int {
	n := l.Top()
	if n < 2 {
		luax.ArgError(l, 2, "xpcall", "value expected")
	}
	l.PushValue(2)
	l.PushGoClosure(errorsMessageHandler, 1)
	l.Replace(2)
	// f, handler, args... -> handler, f, args...
	l.PushValue(1)
	l.Copy(2, 1)
	l.Replace(2)
	handler, ok := xpcallStackIndex(l, 1)
	if !ok {
		// Without go-lua's internals: call the handler after the stack
		// has unwound (a traceback in it misses the failed frames).
		err := l.ProtectedCall(n-2, lua.MultipleReturns, 0)
		if err != nil {
			l.PushValue(1)
			l.Insert(-2)
			if l.ProtectedCall(1, 1, 0) != nil {
				l.Pop(1)
				l.PushString("error in error handling")
			}
		}
		return finishProtectedCall(l, err == nil)
	}
	err := l.ProtectedCall(n-2, lua.MultipleReturns, handler)
	return finishProtectedCall(l, err == nil)
}

// xpcallStackIndex is absoluteStackIndex; tests replace it to cover the
// fallback.
var xpcallStackIndex = absoluteStackIndex

// absoluteStackIndex converts index, a positive index of the running Go
// function's frame, to a position in the state's whole stack.
//
// go-lua's ProtectedCall takes the message handler as a frame index but
// uses it as a position in the whole stack (lua.go: errorFunction =
// l.AbsIndex(errorFunction), then debug.go: l.stack[l.errorFunction]), so a
// handler only works from the bottom frame, where the two agree. (go-lua's
// own xpcall, called from a script, calls whatever sits at that position.)
// Nothing in go-lua's API tells where a frame starts, so this reads it from
// the state's current call record (callInfo.function) with reflection; ok is
// false if that record ever changes shape.
func absoluteStackIndex(l *lua.State, index int) (abs int, ok bool) {
	defer func() {
		if recover() != nil {
			abs, ok = 0, false
		}
	}()
	ci := reflect.ValueOf(l).Elem().FieldByName("callInfo")
	if ci.Kind() != reflect.Pointer || ci.IsNil() {
		return 0, false
	}
	fn := ci.Elem().FieldByName("function")
	if fn.Kind() != reflect.Int {
		return 0, false
	}
	return int(fn.Int()) + index, true
}

// errorsMessageHandler calls the script's message handler (upvalue 1) with
// the error value, and keeps a non-string result as an error value so that
// it survives go-lua's CheckString.
func errorsMessageHandler(l *lua.State) int {
	l.SetTop(1)
	fixErrorName(l, 1, 1)
	placeholder, _ := l.ToString(1)
	isPlaceholder := l.TypeOf(1) == lua.TypeString && translateErrorValue(l, 1, false)
	l.PushValue(lua.UpValueIndex(1))
	l.PushValue(1)
	l.Call(1, 1)
	if isPlaceholder {
		releaseErrorValue(l, placeholder)
	}
	if l.TypeOf(-1) != lua.TypeString {
		boxErrorValue(l)
	}
	return 1
}

// finishProtectedCall is go-lua's: the status replaces slot 1 and everything
// on the stack is returned; an error value is translated first.
func finishProtectedCall(l *lua.State, ok bool) int {
	if !ok {
		translateErrorValue(l, -1, true)
	}
	if !l.CheckStack(1) {
		l.SetTop(0)
		l.PushBoolean(false)
		l.PushString("stack overflow")
		return 2
	}
	l.PushBoolean(ok)
	l.Replace(1)
	return l.Top()
}

// raiseValue raises the value on top of the stack as the error value.
func raiseValue(l *lua.State) {
	if l.TypeOf(-1) != lua.TypeString {
		boxErrorValue(l)
	}
	l.Error()
}

// boxErrorValue replaces the value on top of the stack with a placeholder
// string and keeps the value in the registry under it.
func boxErrorValue(l *lua.State) {
	v := l.AbsIndex(-1)
	desc := "(error object is a " + lua.TypeNameOf(l, v) + " value)"
	if l.TypeOf(v) == lua.TypeNumber {
		n, _ := l.ToNumber(v)
		desc = luax.FormatNumber(n)
	}
	pushErrorValues(l)
	t := l.AbsIndex(-1)
	l.Field(t, "n")
	id, _ := l.ToInteger(-1)
	l.Pop(1)
	id++
	l.PushInteger(id)
	l.SetField(t, "n")
	l.Field(t, "nonce")
	nonce, _ := l.ToString(-1)
	l.Pop(1)
	placeholder := fmt.Sprintf("%s [pushlua:%s:%d]", desc, nonce, id)

	l.PushString(placeholder)
	l.CreateTable(0, 1)
	l.PushValue(v)
	l.SetField(-2, "v")
	l.RawSet(t)
	l.PushString(placeholder)
	l.RawSetInt(t, id)
	if old := id - errorValuesKept; old > 0 {
		l.RawGetInt(t, old)
		if l.IsString(-1) {
			l.PushNil()
			l.RawSet(t)
		} else {
			l.Pop(1)
		}
		l.PushNil()
		l.RawSetInt(t, old)
	}
	l.Pop(1)
	l.PushString(placeholder)
	l.Replace(v)
}

// translateErrorValue replaces the placeholder at index with the value it
// stands for and reports whether the value there was one; with release the
// value is forgotten.
func translateErrorValue(l *lua.State, index int, release bool) bool {
	if l.TypeOf(index) != lua.TypeString {
		return false
	}
	index = l.AbsIndex(index)
	s, _ := l.ToString(index)
	if !strings.HasSuffix(s, "]") || !strings.Contains(s, " [pushlua:") {
		return false
	}
	pushErrorValues(l)
	l.PushString(s)
	l.RawGet(-2)
	if !l.IsTable(-1) {
		l.Pop(2)
		return false
	}
	l.Field(-1, "v")
	l.Replace(index)
	l.Pop(2)
	if release {
		releaseErrorValue(l, s)
	}
	return true
}

// releaseErrorValue forgets the value kept under placeholder.
func releaseErrorValue(l *lua.State, placeholder string) {
	pushErrorValues(l)
	l.PushString(placeholder)
	l.PushNil()
	l.RawSet(-3)
	if m := placeholderPattern.FindStringSubmatch(placeholder); m != nil {
		if id, err := strconv.Atoi(m[2]); err == nil {
			l.PushNil()
			l.RawSetInt(-2, id)
		}
	}
	l.Pop(1)
}

var placeholderPattern = regexp.MustCompile(`\[pushlua:([0-9a-f]{8}):([0-9]+)\]`)

// TranslateError turns the error value at index back into the value the
// script raised when it is a placeholder for a non-string value (see the
// top of errors.go), releases that value, and reports whether it did.
//
// The runtime's message handler calls it on its argument before anything
// else, so that it then describes the real value: a table's __tostring, or
// "(error object is a table value)".
func TranslateError(l *lua.State, index int) bool {
	return translateErrorValue(l, index, true)
}

// ErrorText is the error value at index 1 as lua.c's msghandler prints it:
// a string or number as it is, else its __tostring, else "(error object is
// a T value)". Call TranslateError first.
func ErrorText(l *lua.State) string {
	msg, ok := l.ToString(1)
	if !ok || l.TypeOf(1) != lua.TypeString && l.TypeOf(1) != lua.TypeNumber {
		if lua.CallMeta(l, 1, "__tostring") {
			msg, _ = l.ToString(-1)
		} else {
			msg = fmt.Sprintf("(error object is a %s value)", lua.TypeNameOf(l, 1))
		}
	}
	return msg
}

// DescribeError returns msg with each placeholder in it (the error value
// itself, or the first line of a traceback) replaced by a description of the
// value it stands for, as lua.c's message handler describes an error value:
// the string its __tostring metamethod returns, a number's text, or
// "(error object is a <type> value)". The values are released. A msg without
// a placeholder comes back unchanged.
func DescribeError(l *lua.State, msg string) string {
	if !strings.Contains(msg, " [pushlua:") {
		return msg
	}
	top := l.Top()
	defer l.SetTop(top)
	pushErrorValues(l)
	t := l.AbsIndex(-1)
	for _, m := range placeholderPattern.FindAllStringSubmatch(msg, -1) {
		id, err := strconv.Atoi(m[2])
		if err != nil {
			continue
		}
		l.RawGetInt(t, id)
		placeholder, ok := l.ToString(-1)
		l.Pop(1)
		if !ok || !strings.Contains(msg, placeholder) {
			continue
		}
		l.PushString(placeholder)
		if !translateErrorValue(l, -1, true) {
			l.Pop(1)
			continue
		}
		msg = strings.Replace(msg, placeholder, describeValue(l, -1), 1)
		l.Pop(1)
	}
	return msg
}

// describeValue describes the value at index like lua.c's msghandler; a
// failing __tostring counts as none.
func describeValue(l *lua.State, index int) string {
	index = l.AbsIndex(index)
	switch l.TypeOf(index) {
	case lua.TypeString:
		s, _ := l.ToString(index)
		return s
	case lua.TypeNumber:
		n, _ := l.ToNumber(index)
		return luax.FormatNumber(n)
	}
	desc := "(error object is a " + lua.TypeNameOf(l, index) + " value)"
	l.PushGoFunction(func(l *lua.State) int {
		if lua.CallMeta(l, 1, "__tostring") && l.TypeOf(-1) == lua.TypeString {
			return 1
		}
		return 0
	})
	l.PushValue(index)
	if l.ProtectedCall(1, 1, 0) == nil && l.TypeOf(-1) == lua.TypeString {
		desc, _ = l.ToString(-1)
	}
	l.Pop(1)
	return desc
}
