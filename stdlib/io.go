package stdlib

// The io library of Lua 5.2, replacing go-lua's: go-lua's file:read,
// io.read and the lines iterators read nothing, so a script reading a token
// or a configuration file silently got nil.
//
// Files are *os.File values read through a bufio.Reader and written
// unbuffered (there is no __gc to flush a forgotten file): before a write
// the read-ahead is given back with a seek, so reads and writes can be
// mixed on a file opened with "+" even without the seek C requires between
// them. io.stdin, io.stdout and io.stderr are the process's; pushlua runs as
// a daemon, so a script should not expect a terminal there. io.popen is left
// as the runtime set it (denied unless exec is allowed).
//
// Argument errors name the function as a direct call does in C Lua 5.2
// ('read', not 'io.read'). go-lua cannot tell a method call from a plain
// one, so the arguments of the file methods are numbered as in the method
// call f:m(...) (the first after self is #1), while a bad self is numbered
// #1 as in f.m(x), the usual mistake.
//
// Where C Lua 5.2 misbehaves, this does not: read(n) with a negative or huge
// n reads to the end instead of failing to allocate, "*l" and "*L" keep the
// bytes after a NUL in a line (C's strlen after fgets drops them), and a
// read right after a write (undefined in C) reads on from the write. Files
// have no __gc: Go closes an unreachable *os.File.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

const (
	ioFileHandle = "FILE*"      // registry name of the file metatable
	ioInput      = "_IO_input"  // registry key of the default input
	ioOutput     = "_IO_output" // registry key of the default output
)

// ioFile is a Lua file handle.
type ioFile struct {
	f      *os.File
	r      *bufio.Reader // read-ahead; nil until the first read
	closed bool
	std    bool // io.stdin, io.stdout, io.stderr: close refuses
}

// ioFunctions is the io table (io.popen stays the runtime's).
var ioFunctions = []lua.RegistryFunction{
	{Name: "close", Function: ioClose},
	{Name: "flush", Function: ioFlush},
	{Name: "input", Function: func(l *lua.State) int { return ioDefaultFile(l, ioInput, "r", "input") }},
	{Name: "lines", Function: ioLines},
	{Name: "open", Function: ioOpen},
	{Name: "output", Function: func(l *lua.State) int { return ioDefaultFile(l, ioOutput, "w", "output") }},
	{Name: "read", Function: ioReadDefault},
	{Name: "tmpfile", Function: ioTmpfile},
	{Name: "type", Function: ioType},
	{Name: "write", Function: ioWriteDefault},
}

// ioFileMethods is the file metatable, also its __index.
var ioFileMethods = []lua.RegistryFunction{
	{Name: "close", Function: fileClose},
	{Name: "flush", Function: fileFlush},
	{Name: "lines", Function: fileLines},
	{Name: "read", Function: fileRead},
	{Name: "seek", Function: fileSeek},
	{Name: "setvbuf", Function: fileSetvbuf},
	{Name: "write", Function: fileWrite},
	{Name: "__tostring", Function: fileToString},
}

// openIO replaces the functions of the global io table, the file
// metatable, the standard files and the default input and output.
func openIO(l *lua.State, _ luax.Host) {
	l.NewTable()
	lua.SetFunctions(l, ioFileMethods, 0)
	l.PushValue(-1)
	l.SetField(-2, "__index")
	l.SetField(lua.RegistryIndex, ioFileHandle)

	l.Global("io")
	if !l.IsTable(-1) {
		l.Pop(1)
		l.NewTable()
		l.PushValue(-1)
		l.SetGlobal("io")
		lua.SubTable(l, lua.RegistryIndex, "_LOADED")
		l.PushValue(-2)
		l.SetField(-2, "io")
		l.Pop(1)
	}
	lua.SetFunctions(l, ioFunctions, 0)
	for _, std := range []struct {
		f         *os.File
		reg, name string
	}{
		{os.Stdin, ioInput, "stdin"},
		{os.Stdout, ioOutput, "stdout"},
		{os.Stderr, "", "stderr"},
	} {
		ioPushFile(l, &ioFile{f: std.f, std: true})
		if std.reg != "" {
			l.PushValue(-1)
			l.SetField(lua.RegistryIndex, std.reg)
		}
		l.SetField(-2, std.name)
	}
	l.Pop(1)
}

// ioPushFile pushes fl as a file handle.
func ioPushFile(l *lua.State, fl *ioFile) {
	l.PushUserData(fl)
	lua.SetMetaTableNamed(l, ioFileHandle)
}

// ioTypeError raises luaL_typeerror for the value at stack index idx, named
// argument #arg.
func ioTypeError(l *lua.State, idx, arg int, fname, want string) {
	luax.ArgError(l, arg, fname, want+" expected, got "+lua.TypeNameOf(l, idx))
}

// ioCheckFile is luaL_checkudata(L, 1, "FILE*").
func ioCheckFile(l *lua.State, fname string) *ioFile {
	if fl, ok := l.ToUserData(1).(*ioFile); ok {
		return fl
	}
	ioTypeError(l, 1, 1, fname, ioFileHandle)
	panic("unreachable")
}

// ioToFile is tofile: an open file at index 1.
func ioToFile(l *lua.State, fname string) *ioFile {
	fl := ioCheckFile(l, fname)
	if fl.closed {
		luax.RaiseWhere(l, "attempt to use a closed file")
	}
	return fl
}

// ioGetFile is getiofile: the default input or output, open.
func ioGetFile(l *lua.State, key string) *ioFile {
	l.Field(lua.RegistryIndex, key)
	fl, ok := l.ToUserData(-1).(*ioFile)
	if !ok || fl.closed {
		luax.RaiseWhere(l, "standard "+strings.TrimPrefix(key, "_IO_")+" file is closed")
	}
	return fl
}

// ioStrerror returns C's strerror text and errno for err.
func ioStrerror(err error) (string, int) {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return luax.Strerror(err), int(errno)
	}
	return luax.Strerror(err), 0
}

// ioFileResult is luaL_fileresult: true, or nil, message, errno.
func ioFileResult(l *lua.State, err error, fname string) int {
	if err == nil {
		l.PushBoolean(true)
		return 1
	}
	msg, errno := ioStrerror(err)
	l.PushNil()
	if fname != "" {
		msg = fname + ": " + msg
	}
	l.PushString(msg)
	l.PushInteger(errno)
	return 3
}

// ioCheckMode is Lua 5.2's lua_checkmode: [rwa]%+?b?.
func ioCheckMode(mode string) bool {
	if mode == "" || strings.IndexByte("rwa", mode[0]) < 0 {
		return false
	}
	mode = mode[1:]
	mode = strings.TrimPrefix(mode, "+")
	mode = strings.TrimPrefix(mode, "b")
	return mode == ""
}

// ioOpenFile is fopen.
func ioOpenFile(name, mode string) (*os.File, error) {
	var flag int
	plus := strings.Contains(mode, "+")
	switch mode[0] {
	case 'r':
		flag = os.O_RDONLY
		if plus {
			flag = os.O_RDWR
		}
	case 'w':
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if plus {
			flag = os.O_RDWR | os.O_CREATE | os.O_TRUNC
		}
	case 'a':
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		if plus {
			flag = os.O_RDWR | os.O_CREATE | os.O_APPEND
		}
	}
	return os.OpenFile(name, flag, 0o666)
}

// ioOpen is io.open(filename [, mode]).
func ioOpen(l *lua.State) int {
	name := luax.CheckString(l, 1, "open")
	mode := luax.OptString(l, 2, "open", "r")
	if !ioCheckMode(mode) {
		luax.ArgError(l, 2, "open", "invalid mode")
	}
	f, err := ioOpenFile(name, mode)
	if err != nil {
		return ioFileResult(l, err, name)
	}
	ioPushFile(l, &ioFile{f: f})
	return 1
}

// ioOpenCheck is opencheckfile: pushes the opened file or raises.
func ioOpenCheck(l *lua.State, name, mode string) {
	f, err := ioOpenFile(name, mode)
	if err != nil {
		msg, _ := ioStrerror(err)
		luax.RaiseWhere(l, fmt.Sprintf("cannot open file '%s' (%s)", name, msg))
	}
	ioPushFile(l, &ioFile{f: f})
}

// ioDefaultFile is io.input([file]) and io.output([file]).
func ioDefaultFile(l *lua.State, key, mode, fname string) int {
	if !l.IsNoneOrNil(1) {
		if name, ok := l.ToString(1); ok {
			ioOpenCheck(l, name, mode)
		} else {
			ioToFile(l, fname)
			l.PushValue(1)
		}
		l.SetField(lua.RegistryIndex, key)
	}
	l.Field(lua.RegistryIndex, key)
	return 1
}

// ioClose is io.close([file]).
func ioClose(l *lua.State) int {
	if l.IsNone(1) {
		l.Field(lua.RegistryIndex, ioOutput)
	}
	return fileClose(l)
}

// fileClose is file:close().
func fileClose(l *lua.State) int {
	fl := ioToFile(l, "close")
	if fl.std {
		l.PushNil()
		l.PushString("cannot close standard file")
		return 2
	}
	fl.closed = true
	fl.r = nil
	return ioFileResult(l, fl.f.Close(), "")
}

// ioFlush is io.flush(): writes are unbuffered.
func ioFlush(l *lua.State) int {
	ioGetFile(l, ioOutput)
	return ioFileResult(l, nil, "")
}

// fileFlush is file:flush().
func fileFlush(l *lua.State) int {
	ioToFile(l, "flush")
	return ioFileResult(l, nil, "")
}

// ioType is io.type(x).
func ioType(l *lua.State) int {
	if l.IsNone(1) {
		luax.ArgError(l, 1, "type", "value expected")
	}
	switch fl, ok := l.ToUserData(1).(*ioFile); {
	case !ok:
		l.PushNil()
	case fl.closed:
		l.PushString("closed file")
	default:
		l.PushString("file")
	}
	return 1
}

// ioTmpfile is io.tmpfile(): a file opened "w+", removed at once.
func ioTmpfile(l *lua.State) int {
	f, err := os.CreateTemp("", "lua_")
	if err != nil {
		return ioFileResult(l, err, "")
	}
	_ = os.Remove(f.Name())
	ioPushFile(l, &ioFile{f: f})
	return 1
}

// fileToString is __tostring.
func fileToString(l *lua.State) int {
	fl := ioCheckFile(l, "tostring")
	if fl.closed {
		l.PushString("file (closed)")
	} else {
		l.PushString(fmt.Sprintf("file (%p)", fl))
	}
	return 1
}

// fileSetvbuf is file:setvbuf(mode [, size]): accepted, writes stay
// unbuffered.
func fileSetvbuf(l *lua.State) int {
	ioToFile(l, "setvbuf")
	ioCheckOption(l, 2, "setvbuf", "", []string{"no", "full", "line"})
	if !l.IsNoneOrNil(3) {
		if _, ok := l.ToNumber(3); !ok {
			ioTypeError(l, 3, 2, "setvbuf", "number")
		}
	}
	return ioFileResult(l, nil, "")
}

// ioCheckOption is luaL_checkoption for argument idx of a file method.
func ioCheckOption(l *lua.State, idx int, fname, def string, options []string) int {
	var name string
	if def != "" && l.IsNoneOrNil(idx) {
		name = def
	} else {
		var ok bool
		if name, ok = l.ToString(idx); !ok {
			ioTypeError(l, idx, idx-1, fname, "string")
		}
	}
	for i, o := range options {
		if o == name {
			return i
		}
	}
	luax.ArgError(l, idx-1, fname, "invalid option '"+name+"'")
	panic("unreachable")
}

// fileSeek is file:seek([whence [, offset]]).
func fileSeek(l *lua.State) int {
	fl := ioToFile(l, "seek")
	whence := ioCheckOption(l, 2, "seek", "cur", []string{"set", "cur", "end"})
	var p3 float64
	if !l.IsNoneOrNil(3) {
		var ok bool
		if p3, ok = l.ToNumber(3); !ok {
			ioTypeError(l, 3, 2, "seek", "number")
		}
	}
	if p3 != math.Trunc(p3) || p3 < -(1<<63) || p3 >= 1<<63 {
		luax.ArgError(l, 2, "seek", "not an integer in proper range")
	}
	pos, err := fl.seek(int64(p3), whence)
	if err != nil {
		return ioFileResult(l, err, "")
	}
	l.PushNumber(float64(pos))
	return 1
}

// seek moves the position of fl as fseek does and returns the new one.
func (fl *ioFile) seek(offset int64, whence int) (int64, error) {
	buffered := 0
	if fl.r != nil {
		buffered = fl.r.Buffered()
	}
	if whence == io.SeekCurrent {
		if offset == 0 { // ftell: keep the read-ahead
			pos, err := fl.f.Seek(0, io.SeekCurrent)
			return pos - int64(buffered), err
		}
		offset -= int64(buffered)
	}
	pos, err := fl.f.Seek(offset, whence)
	if err == nil && fl.r != nil {
		fl.r.Reset(fl.f)
	}
	return pos, err
}

// reader returns the read-ahead of fl.
func (fl *ioFile) reader() *bufio.Reader {
	if fl.r == nil {
		fl.r = bufio.NewReader(fl.f)
	}
	return fl.r
}

// write writes b at the position the reads reached.
func (fl *ioFile) write(b []byte) error {
	if fl.r != nil && fl.r.Buffered() > 0 {
		if _, err := fl.f.Seek(-int64(fl.r.Buffered()), io.SeekCurrent); err == nil {
			fl.r.Reset(fl.f)
		}
	}
	_, err := fl.f.Write(b)
	return err
}

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
