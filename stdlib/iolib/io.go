package iolib

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
	"errors"
	"fmt"
	"io"
	"math"
	"os"
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

// Open replaces the functions of the global io table, the file
// metatable, the standard files and the default input and output.
func Open(l *lua.State, _ luax.Host) {
	l.NewTable()
	lua.SetFunctions(l, ioFileMethods, 0)
	l.PushValue(-1)
	l.SetField(-2, "__index")
	l.SetField(lua.RegistryIndex, ioFileHandle)

	if luax.GlobalTable(l, "io") {
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
