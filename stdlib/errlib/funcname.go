package errlib

// Names of functions in error messages and tracebacks, as C Lua gives
// them.
//
// go-lua names a Go function only from the instruction that called it, or
// by searching the global table: a function of a module that require
// returned (socket.http.request, cjson.decode), called from Go (pcall, the
// socket.protect wrapper) or in a tail call, is named '?', and tracebacks
// show "[Go]: in ?". Lua 5.3 and 5.4 search package.loaded instead
// (lauxlib.c, pushglobalfuncname), which finds "socket.http.request" and
// "string.rep" (a global function keeps its plain name: "_G." is dropped).
//
// Messages follow luaL_argerror, the same in Lua 5.2 to 5.4: the name from
// the calling instruction ('request' for http.request(nil)), else the one
// found in package.loaded, else '?'. Tracebacks follow Lua 5.4's
// luaL_traceback for C functions: "[C]: in function 'socket.http.request'"
// (the package.loaded name first), else the calling instruction's name,
// else "[C]: in ?"; Lua functions are described as go-lua (and Lua 5.2)
// describe them. FixArgErrorName repairs a '?' in a message while the
// frame that raised it is still on the stack: the runtime's message
// handler, pcall and xpcall call it.

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unsafe"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

// FunctionName returns the name Lua gives the function running at frame f
// in an argument error: the calling instruction's name, else its name in
// package.loaded; "" when neither.
func FunctionName(l *lua.State, f lua.Frame) string {
	if name, _ := callerName(l, f); name != "" && name != "?" {
		return name
	}
	name, _ := loadedName(l, f)
	return name
}

// callerName is lua.Info(l, "n", f), the name the calling instruction
// gives the function at frame f, and its kind ("global", "local",
// "method", ...), with go-lua's off-by-one undone: go-lua reads the
// caller's instruction at its saved pc, which is already past the call
// (C Lua reads savedpc - 1), so it names nothing or the wrong thing. The
// caller's saved pc is stepped back for the lookup and restored; "" when
// the caller is not Lua code, was a tail call, or go-lua's internals no
// longer look as expected.
func callerName(l *lua.State, f lua.Frame) (name, kind string) {
	defer func() {
		if recover() != nil {
			name, kind = "", ""
		}
	}()
	prev := reflect.ValueOf(f).Elem().FieldByName("previous")
	if prev.Kind() != reflect.Pointer || prev.IsNil() {
		return "", ""
	}
	lci := prev.Elem().FieldByName("luaCallInfo")
	if lci.Kind() != reflect.Pointer || lci.IsNil() {
		return "", "" // called from Go
	}
	field := lci.Elem().FieldByName("savedPC")
	if !field.IsValid() || !field.CanAddr() {
		return "", ""
	}
	pc := reflect.NewAt(field.Type(), unsafe.Pointer(field.UnsafeAddr())).Elem()
	saved := pc.Int()
	if saved <= 0 {
		return "", ""
	}
	pc.SetInt(saved - 1)
	defer pc.SetInt(saved)
	d, _ := lua.Info(l, "n", f)
	return d.Name, d.NameKind
}

// pushFrameFunction pushes the function running at frame f. go-lua's
// lua.Info(l, "f", f) pushes nil for a Go function, so the value is read
// from its stack slot (callInfo.function) through a negative index.
func pushFrameFunction(l *lua.State, f lua.Frame) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	fn := reflect.ValueOf(f).Elem().FieldByName("function")
	top := reflect.ValueOf(l).Elem().FieldByName("top")
	if fn.Kind() != reflect.Int || top.Kind() != reflect.Int || fn.Int() >= top.Int() {
		return false
	}
	l.PushValue(int(fn.Int() - top.Int()))
	return true
}

// loadedName is Lua 5.4's pushglobalfuncname: the function at frame f
// searched in package.loaded, two levels deep ("string.rep"), without a
// leading "_G.". When several names fit, the shortest (then the first in
// byte order) is taken, so that the answer does not depend on the order
// of a table walk.
func loadedName(l *lua.State, f lua.Frame) (name string, ok bool) {
	top := l.Top()
	defer l.SetTop(top)
	if !l.CheckStack(8) {
		return "", false
	}
	if !pushFrameFunction(l, f) {
		return "", false
	}
	fn := l.Top()
	if !l.IsFunction(fn) {
		return "", false
	}
	l.Field(lua.RegistryIndex, "_LOADED")
	if !l.IsTable(-1) {
		return "", false
	}
	var found []string
	findFunction(l, fn, "", 2, &found)
	if len(found) == 0 {
		return "", false
	}
	sort.Slice(found, func(i, j int) bool {
		if len(found[i]) != len(found[j]) {
			return len(found[i]) < len(found[j])
		}
		return found[i] < found[j]
	})
	return strings.TrimPrefix(found[0], "_G."), true
}

// findFunction collects the names under which the table on top of the
// stack (and its subtables, down to level) holds the value at fn.
func findFunction(l *lua.State, fn int, prefix string, level int, found *[]string) {
	if level == 0 {
		return
	}
	t := l.Top()
	for l.PushNil(); l.Next(t); l.Pop(1) {
		if l.TypeOf(-2) != lua.TypeString {
			continue
		}
		key, _ := l.ToString(-2)
		if l.RawEqual(fn, -1) {
			*found = append(*found, prefix+key)
		} else if l.IsTable(-1) && level > 1 {
			findFunction(l, fn, prefix+key+".", level-1, found)
		}
	}
}

// argErrorRE finds the function name luaL_argerror could not fill in.
var argErrorRE = regexp.MustCompile(`^((?:[^\n]*?:\d+: )?)(bad argument #\d+ to|calling) '\?'`)

// FixArgErrorName returns msg with the '?' of "bad argument #N to '?'" or
// "calling '?' on bad self" replaced by the name of the function at frame
// f (FunctionName), when msg is such a message raised by a Go function at
// f; otherwise msg as it is.
func FixArgErrorName(l *lua.State, f lua.Frame, msg string) string {
	m := argErrorRE.FindStringSubmatchIndex(msg)
	if m == nil || !isGoFrame(l, f) {
		return msg
	}
	name := FunctionName(l, f)
	if name == "" {
		return msg
	}
	q := m[1] - 2 // the '?' (the match ends with "'?'")
	return msg[:q] + name + msg[q+1:]
}

// isGoFrame reports whether the function at frame f is a Go function.
func isGoFrame(l *lua.State, f lua.Frame) bool {
	d, ok := lua.Info(l, "S", f)
	return ok && d.What == "Go"
}

// fixErrorName is FixArgErrorName for the error value at index, raised by
// the function at level (of the running Go function's stack).
func fixErrorName(l *lua.State, index, level int) {
	if l.TypeOf(index) != lua.TypeString {
		return
	}
	f, ok := lua.Stack(l, level)
	if !ok {
		return
	}
	msg, _ := l.ToString(index)
	if fixed := FixArgErrorName(l, f, msg); fixed != msg {
		l.PushString(fixed)
		l.Replace(index)
	}
}

// Traceback returns msg followed by "stack traceback:" and the frames of
// the stack from level (1: the function that called the running Go
// function), as luaL_traceback writes it: a C (Go) function as Lua 5.4
// names it ("[C]: in function 'socket.http.request'"), a Lua function as
// go-lua and Lua 5.2 do ("push.lua:12: in function 'notify'", "in main
// chunk", "in function <push.lua:10>"). pcall's and xpcall's own message
// handlers are not shown. ok is false when go-lua could not describe a
// frame (it panics on a frame that stopped on its first instruction).
func Traceback(l *lua.State, msg string, level int) (tb string, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			tb, ok = "", false
		}
	}()
	const levels1, levels2 = 12, 10
	var frames []lua.Frame
	for lv := level; ; lv++ {
		f, ok := lua.Stack(l, lv)
		if !ok {
			break
		}
		if !isHiddenFrame(l, f) {
			frames = append(frames, f)
		}
	}
	var b strings.Builder
	if msg != "" {
		b.WriteString(msg)
		b.WriteByte('\n')
	}
	b.WriteString("stack traceback:")
	for i, f := range frames {
		if len(frames) > levels1+levels2 && i >= levels1 && i < len(frames)-levels2 {
			if i == levels1 {
				b.WriteString("\n\t...")
			}
			continue
		}
		d, _ := lua.Info(l, "Slt", f)
		d.Name, d.NameKind = callerName(l, f)
		b.WriteString("\n\t")
		if d.What == "Go" {
			b.WriteString("[C]: in ")
			if name, ok := loadedName(l, f); ok {
				fmt.Fprintf(&b, "function '%s'", name)
			} else if d.Name != "" {
				fmt.Fprintf(&b, "function '%s'", d.Name)
			} else {
				b.WriteString("?")
			}
		} else {
			b.WriteString(d.ShortSource + ":")
			if d.CurrentLine > 0 {
				fmt.Fprintf(&b, "%d:", d.CurrentLine)
			}
			switch {
			case d.NameKind != "" && d.Name != "?":
				fmt.Fprintf(&b, " in function '%s'", d.Name)
			case d.What == "main":
				b.WriteString(" in main chunk")
			default:
				fmt.Fprintf(&b, " in function <%s:%d>", d.ShortSource, d.LineDefined)
			}
		}
		if d.IsTailCall {
			b.WriteString("\n\t(...tail calls...)")
		}
	}
	return b.String(), true
}

// hiddenFrames are Go functions that stand between a failing function and
// the script's handler without being part of the script's stack: pcall's
// and xpcall's message handlers. RegisterHiddenFrame adds the runtime's.
var hiddenFrames = map[uintptr]bool{
	reflect.ValueOf(errorsMessageHandler).Pointer(): true,
	reflect.ValueOf(pcallMessageHandler).Pointer():  true,
}

// RegisterHiddenFrame keeps fn out of tracebacks; call it at init time.
func RegisterHiddenFrame(fn lua.Function) {
	hiddenFrames[reflect.ValueOf(fn).Pointer()] = true
}

func isHiddenFrame(l *lua.State, f lua.Frame) bool {
	if !isGoFrame(l, f) || !pushFrameFunction(l, f) {
		return false
	}
	fn := l.ToGoFunction(-1)
	l.Pop(1)
	return fn != nil && hiddenFrames[reflect.ValueOf(fn).Pointer()]
}

// debugTraceback is debug.traceback([thread,] [message [, level]]), with
// the function names of Traceback. A message that is neither a string nor
// nil is returned as it is.
func debugTraceback(l *lua.State) int {
	if l.IsThread(1) {
		// go-lua has no coroutines: a thread argument is this state.
		l.Remove(1)
	}
	if l.TypeOf(1) != lua.TypeString && !l.IsNoneOrNil(1) {
		l.SetTop(1)
		return 1
	}
	msg, _ := l.ToString(1)
	level := int(luax.OptInteger(l, 2, "traceback", 1))
	tb, ok := Traceback(l, msg, level)
	if !ok {
		tb = msg
	}
	l.PushString(tb)
	return 1
}

// debugGetinfo is debug.getinfo([thread,] f [, what]): what go-lua's
// Info knows of a function, given as a level of the call stack (0 is
// getinfo itself) or as a function value: source, short_src, what,
// linedefined and lastlinedefined ("S"), currentline ("l"), name and
// namewhat ("n"), nups ("u") and func ("f"). A level past the stack's top
// gives nil; an option letter Lua 5.2 does not know is an argument error.
func debugGetinfo(l *lua.State) int {
	if l.IsThread(1) {
		l.Remove(1)
	}
	what := lua.OptString(l, 2, "flnSu")
	for _, c := range what {
		if !strings.ContainsRune("flnSuLt", c) {
			lua.ArgumentError(l, 2, "invalid option")
		}
	}
	opts := strings.Map(infoOption, what)
	if opts == "" {
		opts = "S" // go-lua's Info needs one
	}
	var d lua.Debug
	if l.IsFunction(1) {
		l.PushValue(1)
		d, _ = lua.Info(l, ">"+opts, nil)
	} else {
		level := lua.CheckInteger(l, 1)
		f, ok := lua.Stack(l, level)
		if !ok {
			l.PushNil()
			return 1
		}
		d, _ = lua.Info(l, opts, f)
	}
	l.NewTable()
	set := func(k string, v any) {
		switch v := v.(type) {
		case string:
			l.PushString(v)
		case int:
			l.PushInteger(v)
		case bool:
			l.PushBoolean(v)
		}
		l.SetField(-2, k)
	}
	if strings.ContainsRune(what, 'S') {
		set("source", wholeChunkName(l, d.Source))
		set("short_src", d.ShortSource)
		set("what", d.What)
		set("linedefined", d.LineDefined)
		set("lastlinedefined", d.LastLineDefined)
	}
	if strings.ContainsRune(what, 'l') {
		set("currentline", d.CurrentLine)
	}
	if strings.ContainsRune(what, 'n') && d.Name != "" {
		set("name", d.Name)
		set("namewhat", d.NameKind)
	} else if strings.ContainsRune(what, 'n') {
		set("namewhat", "")
	}
	if strings.ContainsRune(what, 'u') {
		set("nups", d.UpValueCount)
	}
	if strings.ContainsRune(what, 'f') {
		if l.IsFunction(1) {
			l.PushValue(1)
		} else {
			// go-lua's Info gives no function value for a level.
			l.PushNil()
		}
		l.SetField(-2, "func")
	}
	return 1
}

// wholeChunkName is the whole name of a chunk whose name the runtime
// shortened (luax.ChunkPaths), else source.
func wholeChunkName(l *lua.State, source string) string {
	if !strings.HasPrefix(source, "@...") {
		return source
	}
	l.Field(lua.RegistryIndex, luax.ChunkPaths)
	defer l.Pop(1)
	if !l.IsTable(-1) {
		return source
	}
	l.Field(-1, source)
	defer l.Pop(1)
	if whole, ok := l.ToString(-1); ok {
		return whole
	}
	return source
}

// infoOption keeps the option letters go-lua's Info knows.
func infoOption(r rune) rune {
	if strings.ContainsRune("Slnu", r) {
		return r
	}
	return -1
}

// openTraceback replaces debug.traceback and adds debug.getinfo, which
// go-lua does not have.
func openTraceback(l *lua.State) {
	l.Global("debug")
	if l.IsTable(-1) {
		l.PushGoFunction(debugTraceback)
		l.SetField(-2, "traceback")
		l.PushGoFunction(debugGetinfo)
		l.SetField(-2, "getinfo")
	}
	l.Pop(1)
}

// ProtectedArgError names this wrapper in an argument error its Go
// function raised: that function runs under the wrapper, so go-lua found
// no name for it ("bad argument #1 to '?'") and no position. The wrapper
// is what the script called (socket.http.request), so the message gets
// its name and the caller's position, as C Lua's luaL_argerror gives
// them. The error value on top of the stack is replaced.
func ProtectedArgError(l *lua.State, msg string) {
	if !strings.HasPrefix(msg, "bad argument #") && !strings.HasPrefix(msg, "calling '?'") {
		return
	}
	f, ok := lua.Stack(l, 0)
	if !ok {
		return
	}
	fixed := FixArgErrorName(l, f, msg)
	if fixed == msg {
		return
	}
	lua.Where(l, 1)
	l.PushString(fixed)
	l.Concat(2)
	l.Replace(-2)
}
