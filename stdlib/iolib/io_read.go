package iolib

// Reading and writing of the io library (io.go): io.read/write,
// file:read/write, the lines iterators and the number reader.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

// ioNumberString is fprintf's LUA_NUMBER_FMT, %.14g.
func ioNumberString(n float64) string {
	switch {
	case math.IsInf(n, 1):
		return "inf"
	case math.IsInf(n, -1):
		return "-inf"
	case math.IsNaN(n) && math.Signbit(n):
		return "-nan"
	case math.IsNaN(n):
		return "nan"
	}
	return luax.FormatNumber(n)
}

// ioWrite is g_write: writes the arguments from stack index first on and
// returns the file at the top of the stack, or nil, message, errno. shift
// is what argument numbers lack from stack indices.
func ioWrite(l *lua.State, fl *ioFile, first, shift int) int {
	top := l.Top() // the file to return
	var buf bytes.Buffer
	var err error
	flush := func() {
		if err == nil && buf.Len() > 0 {
			err = fl.write(buf.Bytes())
		}
		buf.Reset()
	}
	for i := first; i < top; i++ {
		if l.TypeOf(i) == lua.TypeNumber {
			n, _ := l.ToNumber(i)
			buf.WriteString(ioNumberString(n))
			continue
		}
		s, ok := l.ToString(i)
		if !ok {
			flush()
			ioTypeError(l, i, i-shift, "write", "string")
		}
		buf.WriteString(s)
	}
	flush()
	if err != nil {
		return ioFileResult(l, err, "")
	}
	return 1
}

// fileWrite is file:write(...).
func fileWrite(l *lua.State) int {
	fl := ioToFile(l, "write")
	l.PushValue(1)
	return ioWrite(l, fl, 2, 1)
}

// ioWriteDefault is io.write(...).
func ioWriteDefault(l *lua.State) int {
	fl := ioGetFile(l, ioOutput)
	return ioWrite(l, fl, 1, 0)
}

// fileRead is file:read(...).
func fileRead(l *lua.State) int {
	fl := ioToFile(l, "read")
	return ioRead(l, fl, 2, "read", 1)
}

// ioReadDefault is io.read(...).
func ioReadDefault(l *lua.State) int {
	fl := ioGetFile(l, ioInput)
	l.Pop(1)
	return ioRead(l, fl, 1, "read", 0)
}

// ioRead is g_read: reads the formats at stack indices first to the top and
// pushes a value for each, up to the first that fails (nil, then). A read
// error makes it nil, message, errno. Argument errors name fname, numbered
// shift less than the stack index.
func ioRead(l *lua.State, fl *ioFile, first int, fname string, shift int) int {
	nargs := l.Top() - first + 1
	r := fl.reader()
	mem := luax.MemOf(l)
	// push pushes what a read made, charged to the memory budget; a read
	// stops one byte past the budget, so reading a huge file fails
	// without holding more than the budget.
	push := func(s []byte) {
		mem.ChargeSize(l, fname, float64(len(s)))
		l.PushString(string(s))
	}
	var ferr error
	success := true
	n := first
	if nargs == 0 {
		var s []byte
		s, success, ferr = ioReadLine(r, true, mem.Remaining())
		push(s)
		n = first + 1
	} else {
		lua.CheckStackWithMessage(l, nargs+lua.MinStack, "too many arguments")
		for ; nargs > 0 && success; nargs, n = nargs-1, n+1 {
			if l.TypeOf(n) == lua.TypeNumber {
				x, _ := l.ToNumber(n)
				if k, unlimited := ioReadCount(x); k == 0 && !unlimited {
					_, err := r.Peek(1)
					success = err == nil
					if err != nil && err != io.EOF {
						ferr = err
					}
					l.PushString("")
				} else {
					var s []byte
					s, ferr = ioReadChars(r, k, unlimited, mem.Remaining())
					success = len(s) > 0
					push(s)
				}
				continue
			}
			p, ok := "", false
			if l.TypeOf(n) == lua.TypeString {
				p, ok = l.ToString(n)
			}
			if !ok || p == "" || p[0] != '*' {
				luax.ArgError(l, n-shift, fname, "invalid option")
			}
			var c byte
			if len(p) > 1 {
				c = p[1]
			}
			switch c {
			case 'n':
				var x float64
				x, success, ferr = ioReadNumber(r)
				if success {
					l.PushNumber(x)
				} else {
					l.PushNil()
				}
			case 'l', 'L':
				var s []byte
				s, success, ferr = ioReadLine(r, c == 'l', mem.Remaining())
				push(s)
			case 'a':
				var s []byte
				s, ferr = ioReadChars(r, 0, true, mem.Remaining())
				push(s)
			default:
				luax.ArgError(l, n-shift, fname, "invalid format")
			}
		}
	}
	if ferr != nil {
		return ioFileResult(l, ferr, "")
	}
	if !success {
		l.Pop(1)
		l.PushNil()
	}
	return n - first
}

// ioReadCount converts the count of read(n) as C's (size_t) cast of
// lua_tointeger does: negative or huge counts are unlimited.
func ioReadCount(x float64) (k int64, unlimited bool) {
	x = math.Trunc(x)
	if math.IsNaN(x) || x < 0 || x >= 1<<62 {
		return 0, true
	}
	return int64(x), false
}

// ioReadChars reads up to k bytes, or to the end; it stops after limit+1
// bytes (the caller's budget refuses them).
func ioReadChars(r *bufio.Reader, k int64, unlimited bool, limit int64) ([]byte, error) {
	if limit < math.MaxInt64 {
		limit++
	}
	if unlimited || k > limit {
		k = limit
	}
	// The buffer doubles, but never past k: reading a huge file holds at
	// most k bytes plus the half-size buffer it outgrew.
	buf := make([]byte, 0, min(k, 1<<16))
	for int64(len(buf)) < k {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf)), k-int64(len(buf)))))
		}
		n, err := r.Read(buf[len(buf):min(int64(cap(buf)), k)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// ioReadLine reads a line, without its newline if chop; ok is false at the
// end of the file. A line longer than limit stops after limit+1 bytes or
// a little more (the caller's budget refuses them).
func ioReadLine(r *bufio.Reader, chop bool, limit int64) (line []byte, ok bool, err error) {
	for {
		var part []byte
		part, err = r.ReadSlice('\n')
		line = append(line, part...)
		if err != bufio.ErrBufferFull {
			break
		}
		if int64(len(line)) > limit {
			return line, true, nil
		}
	}
	if err == io.EOF {
		return line, len(line) > 0, nil
	}
	if err != nil {
		return line, false, err
	}
	if chop {
		line = line[:len(line)-1]
	}
	return line, true, nil
}

// ioReadNumber is fscanf(f, "%lf"): it skips white space and consumes the
// longest prefix of a number glibc would (decimal, hexadecimal, inf, nan);
// what it consumed stays consumed when that is no number.
func ioReadNumber(r *bufio.Reader) (x float64, ok bool, err error) {
	var buf []byte
	peek := func() byte {
		b, e := r.Peek(1)
		if e != nil {
			if e != io.EOF && err == nil {
				err = e
			}
			return 0
		}
		return b[0]
	}
	accept := func(set string) bool {
		c := peek()
		if c == 0 || strings.IndexByte(set, c) < 0 {
			return false
		}
		_, _ = r.Discard(1)
		buf = append(buf, c)
		return true
	}
	digits := func(set string) int {
		n := 0
		for accept(set) {
			n++
		}
		return n
	}
	word := func(w string) bool { // w in lower case, matched in any case
		for i := 0; i < len(w); i++ {
			if !accept(w[i:i+1] + strings.ToUpper(w[i:i+1])) {
				return false
			}
		}
		return true
	}
	for c := peek(); c != 0 && strings.IndexByte(" \t\n\v\f\r", c) >= 0; c = peek() {
		_, _ = r.Discard(1)
	}
	neg := false
	if accept("+-") {
		neg = buf[0] == '-'
	}
	sign := func(v float64) float64 {
		if neg {
			return -v
		}
		return v
	}
	switch {
	case word("i"):
		if !word("nf") {
			return 0, false, err
		}
		if word("i") {
			_ = word("nity")
		}
		return sign(math.Inf(1)), true, err
	case word("n"):
		if !word("an") {
			return 0, false, err
		}
		return sign(math.NaN()), true, err
	}
	start := len(buf)
	hex := false
	if accept("0") {
		if accept("xX") {
			hex = true
			start = len(buf)
		}
	}
	digitSet, expSet := "0123456789", "eE"
	if hex {
		digitSet, expSet = "0123456789abcdefABCDEF", "pP"
	}
	n := len(buf) - start + digits(digitSet)
	if accept(".") {
		n += digits(digitSet)
	}
	if n == 0 {
		return 0, false, err
	}
	mantissa := string(buf[start:])
	exp := ""
	if accept(expSet) {
		expStart := len(buf)
		accept("+-")
		if digits("0123456789") > 0 {
			exp = string(buf[expStart:])
		}
	}
	var s string
	if hex {
		if exp == "" {
			exp = "0"
		}
		s = "0x" + mantissa + "p" + exp
	} else {
		s = mantissa
		if exp != "" {
			s += "e" + exp
		}
	}
	v, perr := strconv.ParseFloat(s, 64)
	if perr != nil && !errors.Is(perr, strconv.ErrRange) {
		return 0, false, err
	}
	return sign(v), true, err
}

// fileLines is file:lines(...).
func fileLines(l *lua.State) int {
	ioToFile(l, "lines")
	ioAuxLines(l, false, "lines", 1)
	return 1
}

// ioLines is io.lines([filename, ...]).
func ioLines(l *lua.State) int {
	if l.IsNone(1) {
		l.PushNil()
	}
	toclose := false
	if l.IsNil(1) {
		l.Field(lua.RegistryIndex, ioInput)
		l.Replace(1)
		ioToFile(l, "lines")
	} else {
		ioOpenCheck(l, luax.CheckString(l, 1, "lines"), "r")
		l.Replace(1)
		toclose = true
	}
	ioAuxLines(l, toclose, "lines", 0)
	return 1
}

// ioAuxLines pushes the iterator reading the formats above the file at
// index 1.
func ioAuxLines(l *lua.State, toclose bool, fname string, shift int) {
	n := l.Top() - 1
	if n > lua.MinStack-3 {
		luax.ArgError(l, lua.MinStack-3-shift, fname, "too many options")
	}
	l.PushValue(1)
	l.PushInteger(n)
	l.PushBoolean(toclose)
	for i := 1; i <= n; i++ {
		l.PushValue(i + 1)
	}
	l.PushGoClosure(ioReadLineIterator, uint8(3+n))
}

// ioReadLineIterator is the iterator of the lines functions: the values the
// formats read, nothing at the end of the file (closing it if io.lines
// opened it).
func ioReadLineIterator(l *lua.State) int {
	fl := l.ToUserData(lua.UpValueIndex(1)).(*ioFile)
	n, _ := l.ToInteger(lua.UpValueIndex(2))
	if fl.closed {
		luax.RaiseWhere(l, "file is already closed")
	}
	l.SetTop(1)
	for i := 1; i <= n; i++ {
		l.PushValue(lua.UpValueIndex(3 + i))
	}
	n = ioRead(l, fl, 2, "for iterator", 0)
	if !l.IsNil(-n) {
		return n
	}
	if n > 1 {
		msg, _ := l.ToString(-n + 1)
		luax.RaiseWhere(l, msg)
	}
	if l.ToBoolean(lua.UpValueIndex(3)) {
		fl.closed = true
		fl.r = nil
		_ = fl.f.Close()
	}
	return 0
}
