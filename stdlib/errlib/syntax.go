package errlib

// Hints for syntax errors caused by Lua 5.3/5.4 syntax, which go-lua's Lua
// 5.2 parser rejects with a bare "unexpected symbol near /".
//
// Every construct below is a syntax error in Lua 5.2 at the place it occurs,
// and the parser stops at the first error, so the construct that explains
// the error is the first one in the source, provided it is not after the
// line the error names.

import (
	"fmt"
	"regexp"
	"strconv"
)

// luaConstruct is one piece of Lua 5.3/5.4 syntax found in a source.
type luaConstruct struct {
	line   int
	what   string // "the integer division operator '//'"
	advice string // "write math.floor(a / b) instead"
}

// ExplainSyntax returns msg, the message of a failed load of src, with a hint
// appended when src uses syntax that Lua 5.3 or 5.4 added (integer division,
// bitwise operators, <const>/<close> variables) at or before the line the
// error names:
//
//	x.lua:3: unexpected symbol near / (hint: line 3 uses the Lua 5.3 integer
//	division operator '//', which pushlua's Lua 5.2 does not have; write
//	math.floor(a / b) instead)
//
// Otherwise it returns msg unchanged. Strings, long strings and comments are
// skipped, and ~= is not taken for the xor operator.
func ExplainSyntax(src []byte, msg string) string {
	c, ok := firstNewSyntax(src)
	if !ok {
		return msg
	}
	if line, ok := errorLine(msg); ok && c.line > line {
		return msg
	}
	return fmt.Sprintf("%s (hint: line %d uses %s, which pushlua's Lua 5.2 does not have; %s)",
		msg, c.line, c.what, c.advice)
}

// errorLinePattern finds the line of a load error: "chunkname:line: ...".
var errorLinePattern = regexp.MustCompile(`:(\d+): `)

func errorLine(msg string) (int, bool) {
	m := errorLinePattern.FindStringSubmatch(msg)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// luaToken is a token of the small lexer: its kind, text and line.
type luaToken struct {
	kind byte // 'n' name or keyword, 'v' number, 's' string, 'o' operator or punctuation
	text string
	line int
}

// firstNewSyntax returns the first Lua 5.3/5.4 construct of src.
func firstNewSyntax(src []byte) (luaConstruct, bool) {
	toks := lexLua(src)
	// inLocal is true while in the name list of a local statement, where
	// <const> and <close> can appear.
	inLocal := false
	for i, t := range toks {
		var prev, next *luaToken
		if i > 0 {
			prev = &toks[i-1]
		}
		if i+1 < len(toks) {
			next = &toks[i+1]
		}
		switch {
		case t.kind == 'n' && t.text == "local":
			inLocal = next != nil && next.kind == 'n' && next.text != "function"
			continue
		case inLocal && t.kind == 'n', inLocal && t.text == ",":
			continue
		case inLocal && t.text == "<" && next != nil && next.kind == 'n' &&
			(next.text == "const" || next.text == "close") &&
			i+2 < len(toks) && toks[i+2].text == ">":
			if next.text == "const" {
				return luaConstruct{t.line, "the Lua 5.4 attribute <const>",
					"write the declaration without it"}, true
			}
			return luaConstruct{t.line, "the Lua 5.4 attribute <close>",
				"write the declaration without it and close the value yourself"}, true
		}
		inLocal = false
		if t.kind != 'o' {
			continue
		}
		switch t.text {
		case "//":
			return luaConstruct{t.line, "the Lua 5.3 integer division operator '//'", "write math.floor(a / b) instead"}, true
		case "&":
			return luaConstruct{t.line, "the Lua 5.3 bitwise operator '&'", "write bit32.band(a, b) instead"}, true
		case "|":
			return luaConstruct{t.line, "the Lua 5.3 bitwise operator '|'", "write bit32.bor(a, b) instead"}, true
		case "<<":
			return luaConstruct{t.line, "the Lua 5.3 shift operator '<<'", "write bit32.lshift(a, n) instead"}, true
		case ">>":
			return luaConstruct{t.line, "the Lua 5.3 shift operator '>>'", "write bit32.rshift(a, n) instead"}, true
		case "~":
			if endsValue(prev) {
				return luaConstruct{t.line, "the Lua 5.3 bitwise xor operator '~'", "write bit32.bxor(a, b) instead"}, true
			}
			return luaConstruct{t.line, "the Lua 5.3 bitwise not operator '~'", "write bit32.bnot(a) instead"}, true
		}
	}
	return luaConstruct{}, false
}

// endsValue reports whether t can end an expression, so that a '~' after it
// is the binary xor rather than the unary not.
func endsValue(t *luaToken) bool {
	if t == nil {
		return false
	}
	switch t.kind {
	case 'v', 's':
		return true
	case 'n':
		switch t.text {
		case "nil", "true", "false", "end":
			return true
		}
		return !luaKeywords[t.text]
	}
	switch t.text {
	case ")", "]", "}", "...":
		return true
	}
	return false
}

var luaKeywords = map[string]bool{
	"and": true, "break": true, "do": true, "else": true, "elseif": true, "end": true,
	"false": true, "for": true, "function": true, "goto": true, "if": true, "in": true,
	"local": true, "nil": true, "not": true, "or": true, "repeat": true, "return": true,
	"then": true, "true": true, "until": true, "while": true,
}

// luaOperators are the multi-character operators, longest first.
var luaOperators = []string{"...", "..", "==", "~=", "<=", ">=", "//", "<<", ">>", "::"}

// lexLua splits src into tokens, enough to tell operators from the contents
// of strings and comments. It never fails: what it does not know becomes a
// one-character operator token.
func lexLua(src []byte) []luaToken {
	s := string(src)
	var toks []luaToken
	line := 1
	i := 0
	if len(s) > 0 && s[0] == '#' { // a first line such as #!/usr/bin/lua
		for i < len(s) && s[i] != '\n' {
			i++
		}
	}
	isName := func(c byte) bool {
		return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	// skipLong skips a long bracket [==[ ... ]==] starting at i (at the
	// first '['), if there is one there, and reports whether there was.
	skipLong := func() bool {
		j := i + 1
		for j < len(s) && s[j] == '=' {
			j++
		}
		if j >= len(s) || s[j] != '[' {
			return false
		}
		closing := "]" + s[i+1:j] + "]"
		j++
		for j < len(s) {
			if s[j] == '\n' {
				line++
			}
			if s[j] == ']' && len(s)-j >= len(closing) && s[j:j+len(closing)] == closing {
				i = j + len(closing)
				return true
			}
			j++
		}
		i = len(s)
		return true
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			i += 2
			if i < len(s) && s[i] == '[' && skipLong() {
				continue
			}
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '[' && i+1 < len(s) && (s[i+1] == '[' || s[i+1] == '='):
			start := line
			if skipLong() {
				toks = append(toks, luaToken{'s', "", start})
				continue
			}
			toks = append(toks, luaToken{'o', "[", line})
			i++
		case c == '"' || c == '\'':
			start := line
			i++
			for i < len(s) && s[i] != c && s[i] != '\n' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					if s[i] == '\n' {
						line++
					} else if s[i] == 'z' { // \z skips the following white space
						for i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '\t' || s[i+1] == '\n' || s[i+1] == '\r') {
							if s[i+1] == '\n' {
								line++
							}
							i++
						}
					}
				}
				i++
			}
			i++ // the closing quote (or the newline of an unfinished string)
			toks = append(toks, luaToken{'s', "", start})
		case '0' <= c && c <= '9' || c == '.' && i+1 < len(s) && '0' <= s[i+1] && s[i+1] <= '9':
			j := i
			for j < len(s) && (isName(s[j]) || s[j] == '.' ||
				(s[j] == '+' || s[j] == '-') && j > i && (s[j-1]|0x20 == 'e' || s[j-1]|0x20 == 'p')) {
				j++
			}
			toks = append(toks, luaToken{'v', s[i:j], line})
			i = j
		case isName(c):
			j := i
			for j < len(s) && isName(s[j]) {
				j++
			}
			toks = append(toks, luaToken{'n', s[i:j], line})
			i = j
		default:
			op := s[i : i+1]
			for _, o := range luaOperators {
				if len(s)-i >= len(o) && s[i:i+len(o)] == o {
					op = o
					break
				}
			}
			toks = append(toks, luaToken{'o', op, line})
			i += len(op)
		}
	}
	return toks
}
