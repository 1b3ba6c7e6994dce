package runtime

import (
	"regexp"
	"strconv"
	"strings"
)

// ScriptError is an error raised by, or while loading, a Lua script.
type ScriptError struct {
	Script    string // the script's path
	Line      int    // line of the error in Script, 0 when unknown
	Func      string // what was called: "script_init", a handler name, or "" for the chunk
	Message   string // Dovecot-style message, e.g. "lua_pcall(script_init, 0, 1) failed: x.lua:3: boom"
	Traceback string // "stack traceback:\n\t..." or ""
	Err       error  // underlying error, if any
}

func (e *ScriptError) Error() string {
	if e.Traceback != "" {
		return e.Message + "\n" + e.Traceback
	}
	return e.Message
}

func (e *ScriptError) Unwrap() error { return e.Err }

// Where returns "file:line" of the error ("file" when the line is unknown).
func (e *ScriptError) Where() string {
	if e.Line > 0 {
		return e.Script + ":" + strconv.Itoa(e.Line)
	}
	return e.Script
}

var posRE = regexp.MustCompile(`(?m)([^\s:]+\.lua):(\d+):`)

// splitTraceback separates "msg\nstack traceback:\n\t..." into its parts.
func splitTraceback(s string) (msg, tb string) {
	if i := strings.Index(s, "\nstack traceback:"); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// lineOf finds the first "<name>.lua:<line>:" in msg that refers to script
// (compared by base name, since Lua shortens long chunk names).
func lineOf(script, msg string) int {
	base := script
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	for _, m := range posRE.FindAllStringSubmatch(msg, -1) {
		if strings.HasSuffix(m[1], base) || strings.HasSuffix(base, strings.TrimPrefix(m[1], "...")) {
			n, _ := strconv.Atoi(m[2])
			return n
		}
	}
	return 0
}
