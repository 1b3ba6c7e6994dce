package strlib

import (
	"errors"
	"fmt"
	"math"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/pattern"
)

// The string pattern functions go-lua lacks (its string.find knows only
// plain text), on the matcher of stdlib/pattern, with Lua 5.2's argument
// rules and messages. They go into the global string table, which is also
// the __index of the string metatable, so s:match(p) works too.
var stringPatternFunctions = []lua.RegistryFunction{
	{Name: "find", Function: strFind},
	{Name: "gmatch", Function: strGmatch},
	{Name: "gsub", Function: strGsub},
	{Name: "match", Function: strMatch},
}

// Open installs stringPatternFunctions in the string table.
func Open(l *lua.State, _ luax.Host) {
	l.Global("string")
	if !l.IsTable(-1) {
		l.Pop(1)
		panic(errors.New("stdlib: Open needs the string library open"))
	}
	lua.SetFunctions(l, stringPatternFunctions, 0)
	l.Pop(1)
}

// strFind is string.find(s, pattern [, init [, plain]]).
func strFind(l *lua.State) int { return strFindAux(l, "find", true) }

// strMatch is string.match(s, pattern [, init]).
func strMatch(l *lua.State) int { return strFindAux(l, "match", false) }

// strFindAux is lstrlib's str_find_aux.
func strFindAux(l *lua.State, fname string, find bool) int {
	s := patCheckString(l, 1, fname)
	p := patCheckString(l, 2, fname)
	init := luax.RelativePosition(patOptInteger(l, 3, fname, 1), len(s))
	if init < 1 {
		init = 1
	} else if init > int64(len(s))+1 { // start after the string's end?
		l.PushNil()
		return 1
	}
	if find && (l.ToBoolean(4) || !pattern.HasSpecials(p)) { // plain search
		if i := strings.Index(s[init-1:], p); i >= 0 {
			start := int(init) + i
			l.PushInteger(start)
			l.PushInteger(start + len(p) - 1)
			return 2
		}
		l.PushNil()
		return 1
	}
	m, ok, err := pattern.Find(s, p, int(init-1))
	if err != nil {
		patRaise(l, err.Error())
	}
	if !ok {
		l.PushNil()
		return 1
	}
	if find {
		l.PushInteger(m.Start + 1)
		l.PushInteger(m.End)
		if len(m.Captures) == 0 {
			return 2
		}
		return 2 + patPushValues(l, s, m)
	}
	return patPushValues(l, s, m)
}

// strGmatch is string.gmatch(s, pattern): it returns an iterator function
// that returns the captures of the next match (or the whole match) at each
// call, and nothing after the last one.
func strGmatch(l *lua.State) int {
	s := patCheckString(l, 1, "gmatch")
	p := patCheckString(l, 2, "gmatch")
	it := pattern.NewIterator(s, p)
	l.PushGoFunction(func(l *lua.State) int {
		m, ok, err := it.Next()
		if err != nil {
			patRaise(l, err.Error())
		}
		if !ok {
			return 0
		}
		return patPushValues(l, s, m)
	})
	return 1
}

// strGsub is string.gsub(s, pattern, repl [, n]): repl is a string (with
// %0-%9 and %%), a table indexed by the first capture, or a function
// called with the captures; a nil or false value from a table or function
// keeps the match. It returns the new string and the number of matches.
func strGsub(l *lua.State) int {
	s := patCheckString(l, 1, "gsub")
	p := patCheckString(l, 2, "gsub")
	tr := l.TypeOf(3)
	limit := patOptInteger(l, 4, "gsub", int64(len(s))+1)
	if tr != lua.TypeNumber && tr != lua.TypeString && tr != lua.TypeFunction && tr != lua.TypeTable {
		patArgError(l, 3, "gsub", "string/function/table expected")
	}
	if limit < 0 || limit > math.MaxInt32 {
		// Lua 5.2 keeps the count in a size_t: a negative n means no limit.
		limit = -1
	}
	// The result is the kept parts of s plus the replacements: the
	// replacements' total is checked against the memory budget as it
	// grows, the result's size charged at the end.
	// The time budget is checked every luax.CheckEvery matches.
	h := luax.HostOf(l)
	mem := h.Mem()
	added, matches := 0.0, 0
	grow := func(r string, keep bool, err error) (string, bool, error) {
		if matches++; matches%luax.CheckEvery == 0 {
			luax.CheckTime(l, h)
		}
		if err == nil && !keep {
			added += float64(len(r))
			mem.CheckSize(l, "gsub", added)
		}
		return r, keep, err
	}
	var repl pattern.Replacer
	switch tr {
	case lua.TypeFunction:
		repl = func(m pattern.Match) (string, bool, error) {
			l.PushValue(3)
			l.Call(patPushValues(l, s, m), 1)
			return grow(patReplacement(l))
		}
	case lua.TypeTable:
		repl = func(m pattern.Match) (string, bool, error) {
			c, err := m.Capture(1)
			if err != nil {
				patRaise(l, err.Error())
			}
			patPushCapture(l, s, c)
			l.Table(3)
			return grow(patReplacement(l))
		}
	default:
		template, _ := l.ToString(3)
		// A capture lies inside the match (a position is at most 20
		// digits), so each %d of the template adds at most that much.
		refs := float64(strings.Count(template, "%"))
		repl = func(m pattern.Match) (string, bool, error) {
			mem.CheckSize(l, "gsub", added+float64(len(template))+refs*float64(max(m.End-m.Start, 20)))
			r, err := pattern.Expand(template, s, m)
			return grow(r, false, err)
		}
	}
	r, n, err := pattern.Gsub(s, p, int(limit), repl)
	if err != nil {
		patRaise(l, err.Error())
	}
	mem.ChargeSize(l, "gsub", float64(len(r)))
	l.PushString(r)
	l.PushInteger(n)
	return 2
}

// patReplacement pops the value a replacement function or table gave:
// nil or false keeps the match, a string or number replaces it, anything
// else is an error.
func patReplacement(l *lua.State) (string, bool, error) {
	if !l.ToBoolean(-1) {
		l.Pop(1)
		return "", true, nil
	}
	r, ok := l.ToString(-1)
	if !ok {
		patRaise(l, "invalid replacement value (a "+lua.TypeNameOf(l, -1)+")")
	}
	l.Pop(1)
	return r, false, nil
}

// patPushValues pushes the captures of m (or the whole match when the
// pattern has none) and returns how many.
func patPushValues(l *lua.State, s string, m pattern.Match) int {
	vals, err := m.Values()
	if err != nil {
		patRaise(l, err.Error())
	}
	lua.CheckStackWithMessage(l, len(vals), "too many captures")
	for _, c := range vals {
		patPushCapture(l, s, c)
	}
	return len(vals)
}

// patPushCapture pushes a substring capture as a string and a position
// capture as its 1-based position.
func patPushCapture(l *lua.State, s string, c pattern.Capture) {
	if c.Kind == pattern.Position {
		l.PushInteger(c.Start + 1)
		return
	}
	l.PushString(s[c.Start:c.End])
}

// go-lua's lua.ArgumentError names every function '?' (its debug info
// reads the instruction after the call), so these helpers take the Lua name
// of the function, like the bindings' helpers do. Lua 5.2 names the
// function after the call expression when Lua code calls it ('find' for
// string.find(...) and s:find(...)) and by its global name when a Go
// function such as pcall does ('string.find'); these helpers do the same,
// but cannot tell a method call s:f(x) from string.f(s, x) and always
// count arguments as in the latter.

// patRaise raises msg with the position of the calling Lua code, like
// luaL_error.
func patRaise(l *lua.State, msg string) {
	lua.Where(l, 1)
	l.PushString(msg)
	l.Concat(2)
	l.Error()
}

// patArgError raises luaL_argerror's `bad argument #<arg> to '<fname>'
// (<extra>)`.
func patArgError(l *lua.State, arg int, fname, extra string) {
	if f, ok := lua.Stack(l, 1); ok {
		if ar, _ := lua.Info(l, "S", f); ar.What == "Go" {
			fname = "string." + fname
		}
	}
	patRaise(l, fmt.Sprintf("bad argument #%d to '%s' (%s)", arg, fname, extra))
}

// patCheckString is luaL_checkstring: a string, or a number converted to a
// string as tostring does.
func patCheckString(l *lua.State, arg int, fname string) string {
	if s, ok := l.ToValue(arg).(string); ok {
		return s // l.ToString would box s again to store it back
	}
	s, ok := l.ToString(arg)
	if !ok {
		patArgError(l, arg, fname, "string expected, got "+lua.TypeNameOf(l, arg))
	}
	return s
}

// patOptInteger is luaL_optinteger of Lua 5.2: def for none or nil, else a
// number (or a numeric string) truncated towards zero.
func patOptInteger(l *lua.State, arg int, fname string, def int64) int64 {
	if l.IsNoneOrNil(arg) {
		return def
	}
	n, ok := l.ToNumber(arg)
	if !ok {
		patArgError(l, arg, fname, "number expected, got "+lua.TypeNameOf(l, arg))
	}
	return luax.TruncInteger(n)
}
