package iolib

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/stdlib/errlib"
	"github.com/pushlua/pushlua/stdlib/internal/stdtest"
	"github.com/pushlua/pushlua/stdlib/strlib"
)

func TestIOLua(t *testing.T) {
	stdtest.RunLuaFile(t, "io_test.lua", nil, errlib.Open, strlib.Open, Open, stdtest.TempDir(t))
}

// TestIOPopenKept: Open keeps the io.popen the runtime set (its sandbox
// runs before stdlib.Open) and adds none.
func TestIOPopenKept(t *testing.T) {
	l := lua.NewState()
	lua.OpenLibraries(l)
	l.Global("io")
	l.PushGoFunction(func(l *lua.State) int {
		l.PushString("sandboxed popen")
		return 1
	})
	l.SetField(-2, "popen")
	l.Pop(1)
	Open(l, &luax.StaticHost{})
	stdtest.Run(t, l, `assert(io.popen() == "sandboxed popen", "io.popen replaced")`)

	l = lua.NewState()
	lua.OpenLibraries(l)
	stdtest.Run(t, l, `io.popen = nil`)
	Open(l, &luax.StaticHost{})
	stdtest.Run(t, l, `assert(io.popen == nil, "io.popen added")`)
}

// TestIOWithoutGoLuaIO: the library stands alone when go-lua's io was not
// opened.
func TestIOWithoutGoLuaIO(t *testing.T) {
	l := lua.NewState()
	lua.OpenLibraries(l)
	stdtest.Run(t, l, `io = nil; package.loaded.io = nil`)
	Open(l, &luax.StaticHost{})
	stdtest.Run(t, l, `assert(io.type(io.stdout) == "file"); assert(package.loaded.io == io)`)
}

// ioRedirect points *std at a pipe for the test and returns its other end.
func ioRedirect(t *testing.T, std **os.File, read bool) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := *std
	t.Cleanup(func() {
		*std = saved
		r.Close()
		w.Close()
	})
	if read {
		*std = r
		return w
	}
	*std = w
	return r
}

// TestIOStandardFiles: io.stdin, io.stdout and io.stderr are the process's
// files, and the defaults of io.read and io.write.
func TestIOStandardFiles(t *testing.T) {
	stdin := ioRedirect(t, &os.Stdin, true)
	stdout := ioRedirect(t, &os.Stdout, false)
	stderr := ioRedirect(t, &os.Stderr, false)
	if _, err := stdin.WriteString("line one\n42 rest\n"); err != nil {
		t.Fatal(err)
	}
	stdin.Close()

	l := lua.NewState()
	lua.OpenLibraries(l)
	Open(l, &luax.StaticHost{})
	stdtest.Run(t, l, `
assert(io.read() == "line one", "io.read()")
assert(io.read("*n") == 42, "io.read('*n')")
assert(io.stdin:read("*a") == " rest\n", "io.stdin:read")
assert(io.read() == nil, "EOF")
assert(io.write("out ", 1, "\n") == io.stdout, "io.write")
io.stdout:write("more\n")
io.stderr:write("err\n")
assert(io.stdout:seek() == nil, "a pipe cannot seek")`)
	os.Stdout.Close()
	os.Stderr.Close()
	for _, c := range []struct {
		name string
		r    *os.File
		want string
	}{{"stdout", stdout, "out 1\nmore\n"}, {"stderr", stderr, "err\n"}} {
		got, err := io.ReadAll(c.r)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("%s: got %q; want %q", c.name, got, c.want)
		}
	}
}

// ioDiffScript runs the same reads and writes on files in the directory it
// is given in C Lua 5.2 and here, and writes what it saw to
// <dir>/transcript. Paths in messages are written as DIR. Nothing in it is
// undefined in C (a seek separates reads from writes) or differs on
// purpose.
const ioDiffScript = `local DIR = ...
local T = {}
local function clean(s)
  local i, j = string.find(s, DIR, 1, true)
  while i do
    s = string.sub(s, 1, i - 1) .. "DIR" .. string.sub(s, j + 1)
    i, j = string.find(s, DIR, 1, true)
  end
  return s
end
local function show(v)
  if io.type(v) then return "<" .. io.type(v) .. ">" end
  if type(v) == "string" then return clean(string.format("%q", v)) end
  if v == 1/0 then return "inf" elseif v == -1/0 then return "-inf" end -- go-lua: +Inf
  return tostring(v)
end
local function say(label, ...)
  local t = {label}
  for i = 1, select("#", ...) do t[#t + 1] = show((select(i, ...))) end
  T[#T + 1] = table.concat(t, " ")
end
local function try(label, f, ...)
  say(label, pcall(f, ...))
end
local function path(name) return DIR .. "/" .. name end
local function put(name, s)
  local f = assert(io.open(path(name), "wb"))
  f:write(s)
  f:close()
  return path(name)
end
local function get(name)
  local f = assert(io.open(path(name), "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- io.open and its modes
put("a", "alpha\nbeta\n")
for _, m in ipairs{"r", "rb", "r+", "r+b", "a", "ab", "a+", "a+b", "w", "x", "rb+", "r++", ""} do
  try("open " .. m, function() local f, e, n = io.open(path("a"), m); if f then f:close() end; return f, e, n end)
  put("a", "alpha\nbeta\n")
end
try("open missing", function() return io.open(path("missing")) end)
try("open missing dir", function() return io.open(path("no/x"), "w") end)
try("open dir w", function() return io.open(DIR, "w") end)
try("open dir read", function() local f = io.open(DIR); return f:read("*a") end)
try("open table", function() return io.open({}) end)

-- formats
put("f", "l1\nl2\r\n\n12 -3.25 0x1F 1e2 .5 x\nrest of it\nno newline")
local f = io.open(path("f"))
say("read()", f:read())
say("*L", f:read("*L"))
say("*l empty", f:read("*l"))
say("*n x4", f:read("*n", "*n", "*n", "*n"))
say("*n .5 then fail", f:read("*n", "*n"))
say("after fail", f:read(1), f:read(0))
say("*l", f:read("*l"))
say("2 *l *a", f:read(2, "*l", "*a"))
say("EOF *a *l 0 1 *n", f:read("*a"), f:read("*l"), f:read(0), f:read(1), f:read("*n"))
say("EOF multi", f:read("*l", "*a"))
say("seek", f:seek("set", 3), f:read(2), f:seek(), f:seek("cur", -1), f:read("*L"))
say("seek end", f:seek("end"), f:seek("end", -4), f:read("*a"), f:seek("cur"))
say("seek bad", f:seek("set", -5))
try("seek whence", function() return f:seek("middle") end)
try("seek frac", function() return f:seek("set", 0.5) end)
try("seek type", function() return f:seek("set", {}) end)
try("format", function() return f:read("*z") end)
try("option", function() return f:read("z") end)
try("option table", function() return f:read("*l", true) end)
say("write to r", f:write("x"))
say("setvbuf", f:setvbuf("no"), f:setvbuf("full", 100), f:setvbuf("line"))
try("setvbuf bad", function() return f:setvbuf("half") end)
say("flush", f:flush())
say("close", f:close())
say("type", io.type(f), tostring(f))
for _, m in ipairs{"read", "write", "seek", "lines", "close", "flush"} do
  try("closed " .. m, function() return f[m](f) end)
end

-- numbers
for _, s in ipairs{"-x", "1e+x", "1ex", "0x", "0xg", "+.e", "--1", "0x1p", "12abc", "   7",
    "1..2", "0X1P-1", "infx", "-Infinity", "1e400", "\t\n 3\n", "5.", "0x.8p1", "+0"} do
  local g = io.open(put("n", s))
  say("number " .. show(s), g:read("*n"), g:read("*a"))
  g:close()
end

-- writes
local w = io.open(path("w"), "w")
say("write", w:write("s", 1, " ", -2.5, " ", 1/3, " ", 2^63, " ", 1e-7, " ", 1/0, " ", -1/0, " ", 100, "\0"))
try("write table", function() return w:write("ok", {}) end)
try("write nil", function() return w:write(nil) end)
say("chain", w:write("a"):write("b") == w)
w:close()
say("written", get("w"))

-- mixed reads and writes with seeks between them
local m = io.open(path("m"), "w+")
m:write("0123456789\n")
say("w+ rewind", m:seek("set"), m:read(4))
m:seek("cur")
m:write("AB")
m:seek("cur")
say("w+ after write", m:read("*l"), m:seek())
m:seek("set", 2)
m:write("zz")
m:seek("set")
say("w+ all", m:read("*a"))
m:close()
local a = io.open(put("ap", "one\n"), "a+")
say("a+ read", a:read("*l"))
a:seek("cur")
a:write("two\n")
say("a+ pos", a:seek())
a:seek("set")
a:write("three\n")
say("a+ all", a:seek("set"), a:read("*a"))
a:close()

-- a generated sequence of operations on one file
local x = 12345
local function rnd(n) x = x * 16807 % 2147483647; return x % n end
local alphabet = "0123456789 .-+eEx\nab"
local r = io.open(path("r"), "w+")
local last = "read"
for i = 1, 400 do
  local op = rnd(10)
  if op < 3 then
    local t = {}
    for k = 1, rnd(12) do local c = rnd(#alphabet) + 1; t[k] = string.sub(alphabet, c, c) end
    if last ~= "write" then r:seek("cur") end
    say(i .. " write", r:write(table.concat(t)) == r)
    last = "write"
  elseif op < 5 then
    -- never past the end: a write there leaves NULs, which C Lua 5.2's
    -- *l and *L drop with the rest of the line (a strlen after fgets)
    local whence = ({"set", "set", "cur", "end"})[rnd(4) + 1]
    local size = r:seek("end")
    r:seek("set", rnd(size + 1))
    say(i .. " seek " .. whence, size, r:seek(whence, whence == "set" and rnd(size + 1) or -rnd(12)))
    last = "seek"
  else
    if last == "write" then r:seek("cur") end
    local fmt = ({"*n", "*l", "*L", 0, 1, 3, "*n"})[rnd(7) + 1]
    say(i .. " read " .. tostring(fmt), r:read(fmt))
    last = "read"
  end
end
r:close()
say("final", get("r"))

-- lines
put("l", "one\ntwo\n\nfour 4\n5")
local n = 0
for line in io.lines(path("l")) do n = n + 1; say("line " .. n, line) end
for a, b in io.lines(path("l"), 2, "*l") do say("pair", a, b) end
local it = io.lines(path("l"), "*L")
say("it", it(), it(), it(), it(), it())
say("it EOF", it())
try("it closed", it)
try("lines missing", function() return io.lines(path("missing")) end)
try("lines format", function() for l in io.lines(path("l"), "*q") do end end)
local h = io.open(path("l"))
for v in h:lines("*n") do say("num line", v) end
say("after num lines", h:read("*a"))
say("h still", io.type(h))
h:close()

-- default input and output
io.input(path("l"))
say("io.read", io.read(), io.read("*L"), io.read(1))
for line in io.lines() do say("io.lines", line) end
io.input():close()
try("io.read closed", function() return io.read() end)
try("io.lines closed", function() return io.lines() end)
io.input(io.stdin)
local o = io.output(path("o"))
say("io.write", io.write("x", 1, "\n") == o, io.flush())
say("io.close", io.close())
try("io.write closed", function() return io.write("y") end)
io.output(io.stdout)
say("o", get("o"))
say("stdout close", io.stdout:close())
say("close stdout", io.close(io.stdout))
try("io.close table", function() return io.close({}) end)
try("io.type none", function() return io.type() end)
say("types", io.type(io.stdin), io.type(42), io.type(nil))
local tf = io.tmpfile()
say("tmpfile", tf:write("tmp"), tf:seek("set"), tf:read("*a"), tf:close())

local out = assert(io.open(path("transcript"), "w"))
out:write(table.concat(T, "\n"), "\n")
out:close()
`

// TestIOAgainstLua52 runs ioDiffScript in the Debian lua5.2 interpreter and
// here and compares the transcripts.
func TestIOAgainstLua52(t *testing.T) {
	lua52, err := exec.LookPath("lua5.2")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("lua5.2 is not on PATH, and CI must install it (apt-get install lua5.2): %v", err)
		}
		t.Skip("lua5.2 is not on PATH (apt-get install lua5.2); skipping the differential test")
	}

	cdir := t.TempDir()
	if err := os.WriteFile(filepath.Join(cdir, "diff.lua"), []byte(ioDiffScript), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(lua52, "diff.lua", cdir)
	cmd.Dir = cdir
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("lua5.2: %v\n%s", err, stderr.String())
	}
	want, err := os.ReadFile(filepath.Join(cdir, "transcript"))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	l := stdtest.NewState(nil, errlib.Open, Open)
	if err := lua.LoadBuffer(l, ioDiffScript, "@diff.lua", "t"); err != nil {
		msg, _ := l.ToString(-1)
		t.Fatalf("load: %s", msg)
	}
	l.PushString(dir)
	if msg, ok := stdtest.Call(l, 1); !ok {
		t.Fatal(msg)
	}
	got, err := os.ReadFile(filepath.Join(dir, "transcript"))
	if err != nil {
		t.Fatal(err)
	}

	gotLines := strings.Split(string(got), "\n")
	wantLines := strings.Split(string(want), "\n")
	t.Logf("%d transcript lines", len(wantLines))
	failures := 0
	for i := 0; i < max(len(gotLines), len(wantLines)); i++ {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			failures++
			if failures <= 20 {
				t.Errorf("line %d:\n  pushlua: %s\n  lua5.2:  %s", i+1, g, w)
			}
		}
	}
	if failures > 0 {
		t.Errorf("%d of %d lines differ from lua5.2", failures, len(wantLines))
	}
}
