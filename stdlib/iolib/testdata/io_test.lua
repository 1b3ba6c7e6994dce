-- The io library of Lua 5.2. TMP is a fresh directory for each test.

local function path(name) return TMP .. "/" .. name end

-- put writes s to the file name and returns its path.
local function put(name, s)
  local p = path(name)
  local f = assert(io.open(p, "wb"))
  assert(f:write(s))
  assert(f:close())
  return p
end

-- get returns the contents of the file at p.
local function get(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- msg calls f and returns its error message without the position.
local function msg(f, ...)
  local e = fails(f, ...)
  return (string.gsub(e, "^io_test%.lua:%d+: ", ""))
end

-- pack returns the results as a string, nil as "nil".
local function pack(...)
  local t = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    t[i] = type(v) == "string" and string.format("%q", v) or tostring(v)
  end
  return table.concat(t, ", ")
end

function test_open_modes()
  local p = put("modes", "one\n")
  for _, m in ipairs{"r", "rb", "r+", "r+b", "w", "wb", "w+", "w+b", "a", "ab", "a+", "a+b"} do
    local f, e = io.open(p, m)
    eq(io.type(f), "file", m .. ": " .. tostring(e))
    f:close()
  end
  for _, m in ipairs{"", "x", "rw", "rb+", "r+bb", "rbb", "+r", "br", "ww"} do
    eq(msg(function() return io.open(p, m) end), "bad argument #2 to 'open' (invalid mode)", "mode " .. m)
  end
  put("modes", "one\n") -- the w modes truncated it
  local f = io.open(p) -- default "r"
  eq(f:read("*a"), "one\n", "default mode reads")
  eq(pack(f:write("x")), 'nil, "Bad file descriptor", 9', "write to a read-only file")
  f:close()
end

function test_open_errors()
  local missing = path("missing")
  eq(pack(io.open(missing)), string.format("nil, %q, 2", missing .. ": No such file or directory"), "missing file")
  eq(pack(io.open(path("no/such/dir"), "w")), string.format("nil, %q, 2", path("no/such/dir") .. ": No such file or directory"), "missing directory")
  eq(pack(io.open(TMP, "w")), string.format("nil, %q, 21", TMP .. ": Is a directory"), "a directory for writing")
  local d = io.open(TMP) -- fopen of a directory for reading succeeds
  eq(pack(d:read("*a")), 'nil, "Is a directory", 21', "reading a directory")
  d:close()
  eq(msg(function() return io.open({}) end), "bad argument #1 to 'open' (string expected, got table)", "bad name")
  eq(msg(function() return io.open("x", {}) end), "bad argument #2 to 'open' (string expected, got table)", "bad mode type")
  eq(msg(function() return io.open() end), "bad argument #1 to 'open' (string expected, got no value)", "no name")
end

function test_read_line_formats()
  local f = io.open(put("lines", "first\nsecond\r\n\nlast"))
  eq(f:read(), "first", "read()")
  eq(f:read("*L"), "second\r\n", "*L keeps the newline")
  eq(f:read("*l"), "", "empty line")
  eq(f:read("*line"), "last", "last line without a newline")
  eq(f:read("*l"), nil, "*l at EOF")
  eq(f:read("*L"), nil, "*L at EOF")
  eq(f:read(), nil, "read() at EOF")
  eq(select("#", f:read()), 1, "one result at EOF")
  f:close()
  -- C Lua 5.2 loses what follows a NUL in a line (strlen after fgets);
  -- here, as in 5.3, the line is whole.
  f = io.open(put("nul", "a\0b\nc"))
  eq(f:read("*l"), "a\0b", "NUL in a line")
  f:close()
end

function test_read_all()
  local f = io.open(put("all", "abc\0def\n"))
  eq(f:read(1), "a", "one byte")
  eq(f:read("*a"), "bc\0def\n", "the rest, with a NUL")
  eq(f:read("*a"), "", "*a at EOF is empty")
  eq(f:read("*all"), "", "*all at EOF")
  f:close()
  f = io.open(put("empty", ""))
  eq(f:read("*a"), "", "*a of an empty file")
  eq(f:read("*l"), nil, "*l of an empty file")
  f:close()
end

function test_read_counts()
  local f = io.open(put("counts", "hello world"))
  eq(f:read(0), "", "0 before EOF")
  eq(f:read(5), "hello", "5")
  eq(f:read(2.9), " w", "2.9 truncates")
  eq(f:read(100), "orld", "short read")
  eq(f:read(0), nil, "0 at EOF")
  eq(f:read(1), nil, "1 at EOF")
  f:close()
  f = io.open(put("big", string.rep("x", 100000)))
  eq(#f:read(70000), 70000, "a count beyond the buffer")
  -- C Lua fails to allocate a buffer for a negative count; here it reads
  -- the rest.
  eq(#f:read(-1), 30000, "a negative count reads the rest")
  f:close()
end

function test_read_numbers()
  local f = io.open(put("numbers", "12 3.5 -7\n0x10 1e3 .5 5. 0x1p4 -0x.8p1\n  inf -nan 1..2 abc"))
  eq(f:read("*n"), 12, "integer")
  eq(f:read("*n"), 3.5, "fraction")
  eq(f:read("*n"), -7, "negative")
  eq(f:read("*n"), 16, "hex")
  eq(f:read("*n"), 1000, "exponent")
  eq(f:read("*n"), 0.5, "leading dot")
  eq(f:read("*n"), 5, "trailing dot")
  eq(f:read("*n"), 16, "hex exponent")
  eq(f:read("*n"), -1, "hex fraction")
  eq(f:read("*n"), 1/0, "inf")
  local nan = f:read("*n")
  eq(nan ~= nan, true, "nan")
  eq(f:read("*n"), 1, "1. of 1..2")
  eq(f:read(2), ".2", "what 1..2 left")
  eq(f:read("*n"), nil, "not a number")
  eq(f:read("*a"), "abc", "a failed number leaves the letter")
  eq(f:read("*n"), nil, "*n at EOF")
  f:close()
  local cases = {
    {"-x", nil, "x"}, {"1e+x", 1, "x"}, {"1ex", 1, "x"}, {"1e5x", 100000, "x"}, {".x", nil, "x"},
    {"0x", nil, ""}, {"0xg", nil, "g"}, {"+.e", nil, "e"}, {"--1", nil, "-1"}, {"1e", 1, ""},
    {"0x1p", 1, ""}, {"12abc", 12, "abc"}, {"  ", nil, ""}, {"", nil, ""}, {"1.5e-3z", 0.0015, "z"},
    {"1E3", 1000, ""}, {"00012", 12, ""}, {"0X1P-1", 0.5, ""}, {"infx", 1/0, "x"}, {"-Infinity", -1/0, ""},
    {"nan(1)", "nan", "(1)"}, {"1e400", 1/0, ""},
  }
  for _, c in ipairs(cases) do
    local g = io.open(put("n", c[1]))
    local n = g:read("*n")
    if c[2] == "nan" then
      eq(n ~= n, true, c[1])
    else
      eq(n, c[2], c[1])
    end
    eq(g:read("*a"), c[3], "after " .. c[1])
    g:close()
  end
end

function test_read_multiple_formats()
  local f = io.open(put("multi", "10 20\nline\nrest"))
  eq(pack(f:read("*n", "*n", "*l", "*l", 2)), '10, 20, "", "line", "re"', "mixed")
  eq(pack(f:read(2, "*l", "*a")), '"st", nil', "nil at the first failure, nothing after")
  f:close()
  f = io.open(put("multi2", "abc"))
  eq(pack(f:read("*n", "*a")), "nil", "a failed number stops")
  eq(pack(f:read(1, "*n", 1)), '"a", nil', "a failure after a value")
  eq(pack(f:read("*a", "*a", 0)), '"bc", "", nil', "*a never fails")
  f:close()
end

function test_read_errors()
  local f = io.open(put("fmt", "x"))
  eq(msg(function() return f:read("*x") end), "bad argument #1 to 'read' (invalid format)", "*x")
  eq(msg(function() return f:read("*") end), "bad argument #1 to 'read' (invalid format)", "*")
  eq(msg(function() return f:read("l") end), "bad argument #1 to 'read' (invalid option)", "no star")
  eq(msg(function() return f:read("*l", {}) end), "bad argument #2 to 'read' (invalid option)", "a table")
  eq(msg(function() return f:read("5") end), "bad argument #1 to 'read' (invalid option)", "a numeric string")
  eq(msg(function() return f.read("*a") end), "bad argument #1 to 'read' (FILE* expected, got string)", "dot call")
  local ok, e = pcall(function() return f:read("*x") end); local ln = callerline()
  eq(e, "io_test.lua:" .. ln .. ": bad argument #1 to 'read' (invalid format)", "position")
  f:close()
end

function test_write()
  local p = path("write")
  local f = io.open(p, "w")
  eq(f:write("a", "b"), f, "returns the file")
  eq(f:write(), f, "nothing")
  eq(f:write(1, " ", 2.5, " ", -0.0, " ", 1e100, " ", 2^53, " ", 1/3, " ", 1/0, " ", -1/0, "\n"), f, "numbers")
  eq(f:write("1e2", "\0"), f, "a numeric string is written as is")
  f:write("x"):write("y") -- chaining
  f:close()
  eq(get(p), "ab1 2.5 -0 1e+100 9.007199254741e+15 0.33333333333333 inf -inf\n1e2\0xy", "contents")
  f = io.open(p, "w")
  eq(msg(function() return f:write("ok", {}) end), "bad argument #2 to 'write' (string expected, got table)", "table")
  eq(msg(function() return f:write(nil) end), "bad argument #1 to 'write' (string expected, got nil)", "nil")
  eq(msg(function() return f.write({}) end), "bad argument #1 to 'write' (FILE* expected, got table)", "dot call")
  f:close()
  eq(get(p), "ok", "the arguments before a bad one are written")
end

function test_write_read_mixed()
  local p = path("mixed")
  local f = io.open(p, "w+")
  f:write("abc\n", 12, " ", 1.5, "\n")
  eq(f:seek("set"), 0, "rewind")
  eq(f:read("*L"), "abc\n", "first line")
  eq(f:seek("set", 1), 1, "seek")
  f:write("Z")
  -- C leaves a read right after a write undefined (glibc reads nothing
  -- here); this reads on from where the write ended.
  eq(f:read("*a"), "c\n12 1.5\n", "read after a write")
  f:close()
  f = io.open(p, "r+")
  eq(f:read(2), "aZ", "read")
  f:write("Q") -- no seek in between: written where the read stopped
  eq(f:read(2), "\n1", "read after the write")
  f:close()
  eq(get(p), "aZQ\n12 1.5\n", "contents")
end

function test_append()
  local p = put("append", "one\n")
  local f = io.open(p, "a")
  f:write("two\n")
  eq(f:seek("set"), 0, "seek in append mode")
  f:write("three\n") -- still at the end
  f:close()
  eq(get(p), "one\ntwo\nthree\n", "appended")
  f = io.open(p, "a+")
  eq(f:read("*l"), "one", "a+ reads from the start")
  f:write("four\n")
  eq(f:seek(), 19, "at the end after the write")
  eq(f:seek("set"), 0, "rewind")
  eq(f:read("*a"), "one\ntwo\nthree\nfour\n", "read all")
  f:close()
end

function test_seek()
  local f = io.open(put("seek", "0123456789"))
  eq(f:seek(), 0, "start")
  eq(f:read(3), "012", "read")
  eq(f:seek(), 3, "cur after a buffered read")
  eq(f:seek("cur"), 3, "cur")
  eq(f:seek("cur", 2), 5, "cur + 2")
  eq(f:read(1), "5", "after cur + 2")
  eq(f:seek("end"), 10, "end")
  eq(f:seek("end", -3), 7, "end - 3")
  eq(f:read("*a"), "789", "after end - 3")
  eq(f:seek("set", 20), 20, "past the end")
  eq(f:read(1), nil, "nothing past the end")
  eq(f:seek("set", "2"), 2, "a numeric string offset")
  eq(pack(f:seek("set", -1)), 'nil, "Invalid argument", 22', "negative position")
  eq(f:seek(), 2, "unchanged after a failed seek")
  eq(msg(function() return f:seek("foo") end), "bad argument #1 to 'seek' (invalid option 'foo')", "bad whence")
  eq(msg(function() return f:seek({}) end), "bad argument #1 to 'seek' (string expected, got table)", "whence type")
  eq(msg(function() return f:seek("set", 1.5) end), "bad argument #2 to 'seek' (not an integer in proper range)", "fraction")
  eq(msg(function() return f:seek("set", "x") end), "bad argument #2 to 'seek' (number expected, got string)", "offset type")
  f:close()
end

function test_flush_setvbuf()
  local p = path("vbuf")
  local f = io.open(p, "w")
  eq(f:setvbuf("no"), true, "no")
  eq(f:setvbuf("full", 1024), true, "full")
  eq(f:setvbuf("line"), true, "line")
  eq(f:write("x"), f, "write")
  eq(f:flush(), true, "flush")
  eq(get(p), "x", "visible after flush")
  eq(msg(function() return f:setvbuf("x") end), "bad argument #1 to 'setvbuf' (invalid option 'x')", "bad mode")
  eq(msg(function() return f:setvbuf() end), "bad argument #1 to 'setvbuf' (string expected, got no value)", "no mode")
  eq(msg(function() return f:setvbuf("no", "x") end), "bad argument #2 to 'setvbuf' (number expected, got string)", "bad size")
  eq(io.flush(), true, "io.flush")
  f:close()
end

function test_close()
  local f = io.open(put("close", "x"))
  eq(io.type(f), "file", "open")
  eq(f:close(), true, "close")
  eq(io.type(f), "closed file", "closed")
  eq(tostring(f), "file (closed)", "tostring closed")
  for _, name in ipairs{"close", "read", "write", "lines", "seek", "flush", "setvbuf"} do
    eq(msg(function() return f[name](f, "no") end), "attempt to use a closed file", name)
  end
  local ok, e = pcall(function() return f:read() end); local ln = callerline()
  eq(e, "io_test.lua:" .. ln .. ": attempt to use a closed file", "position")
  eq(msg(function() return io.close(f) end), "attempt to use a closed file", "io.close")
  eq(msg(function() return io.close({}) end), "bad argument #1 to 'close' (FILE* expected, got table)", "io.close table")
  eq(msg(function() return io.close(nil) end), "bad argument #1 to 'close' (FILE* expected, got nil)", "io.close nil")
end

function test_tostring_type()
  local f = io.open(put("ts", ""))
  eq(startswith(tostring(f), "file (0x"), true, "tostring: " .. tostring(f))
  eq(string.sub(tostring(f), -1), ")", "tostring end")
  eq(io.type(f), "file", "file")
  eq(io.type(io.stdout), "file", "stdout")
  eq(io.type(1), nil, "number")
  eq(io.type(nil), nil, "nil")
  eq(io.type({}), nil, "table")
  eq(msg(function() return io.type() end), "bad argument #1 to 'type' (value expected)", "no argument")
  local mt = getmetatable(f)
  eq(mt.__index, mt, "__index")
  eq(getmetatable(io.stdin), mt, "one metatable")
  f:close()
end

function test_file_lines()
  local f = io.open(put("flines", "a\nb\n\nc"))
  local got = {}
  for l in f:lines() do got[#got + 1] = l end
  eq(table.concat(got, "|"), "a|b||c", "lines")
  eq(io.type(f), "file", "file:lines does not close")
  eq(f:seek("set"), 0, "rewind")
  got = {}
  for a, b in f:lines(1, "*L") do got[#got + 1] = a .. "=" .. tostring(b) end
  eq(table.concat(got, "|"), "a=\n|b=\n|\n=c", "formats")
  f:close()
  f = io.open(put("flines2", "1 2 3"))
  got = {}
  for n in f:lines("*n") do got[#got + 1] = n * 2 end
  eq(table.concat(got, ","), "2,4,6", "*n")
  local it = f:lines()
  f:close()
  eq(msg(it), "file is already closed", "iterator on a closed file")
  f = io.open(put("flines3", "x"))
  eq(msg(function() for l in f:lines("*x") do end end), "bad argument #2 to 'for iterator' (invalid format)", "bad format")
  eq(msg(function() return f:lines(table.unpack({"*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l"})) end),
    "bad argument #16 to 'lines' (too many options)", "too many")
  f:close()
end

function test_io_lines()
  local p = put("iolines", "one\ntwo\nthree\n")
  local got = {}
  for l in io.lines(p) do got[#got + 1] = l end
  eq(table.concat(got, "|"), "one|two|three", "lines")
  got = {}
  for a, b in io.lines(p, 2, "*l") do got[#got + 1] = a .. "/" .. tostring(b) end
  eq(table.concat(got, "|"), "on/e|tw/o|th/ree", "formats")
  eq(io.lines(p)(), "one", "called directly")
  local it = io.lines(p)
  eq(it(), "one", "1")
  eq(it(), "two", "2")
  eq(it(), "three", "3")
  eq(it(), nil, "EOF")
  eq(msg(it), "file is already closed", "closed at EOF")
  local missing = path("missing")
  eq(msg(function() return io.lines(missing) end), "cannot open file '" .. missing .. "' (No such file or directory)", "missing")
  eq(msg(function() return io.lines({}) end), "bad argument #1 to 'lines' (string expected, got table)", "bad name")
  eq(msg(function() return io.lines(p, table.unpack({"*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l", "*l"})) end),
    "bad argument #17 to 'lines' (too many options)", "too many")
end

function test_default_input()
  local p = put("input", "l1\nl2\nl3\n4 5")
  eq(io.input(), io.stdin, "stdin by default")
  local f = io.input(p)
  eq(io.type(f), "file", "io.input(path)")
  eq(io.input(), f, "current input")
  eq(io.read(), "l1", "io.read()")
  eq(pack(io.read("*L", 1)), '"l2\\\n", "l"', "formats")
  local got = {}
  for l in io.lines() do got[#got + 1] = l end
  eq(table.concat(got, "|"), "3|4 5", "io.lines()")
  eq(io.type(f), "file", "io.lines() does not close")
  eq(io.read("*a"), "", "EOF")
  f:seek("set", 9)
  eq(pack(io.lines(nil, "*n", "*n")()), "4, 5", "io.lines(nil, formats)")
  eq(io.input(io.stdin), io.stdin, "io.input(file)")
  eq(msg(function() return io.input({}) end), "bad argument #1 to 'input' (FILE* expected, got table)", "table")
  eq(msg(function() return io.input(path("missing")) end), "cannot open file '" .. path("missing") .. "' (No such file or directory)", "missing")
  eq(msg(function() return io.read("*x") end), "bad argument #1 to 'read' (invalid format)", "bad format")
  f:close()
  eq(msg(function() return io.input(f) end), "attempt to use a closed file", "a closed file")
  eq(io.input(), io.stdin, "unchanged")
end

function test_default_input_closed()
  local f = io.input(put("in", "x"))
  f:close()
  eq(msg(function() return io.read() end), "standard input file is closed", "io.read")
  eq(msg(function() return io.lines() end), "attempt to use a closed file", "io.lines")
  eq(io.input(), f, "io.input() still returns it")
end

function test_default_output()
  local p = path("output")
  eq(io.output(), io.stdout, "stdout by default")
  local f = io.output(p)
  eq(io.type(f), "file", "io.output(path)")
  eq(io.write("a", 1, "\n"), f, "io.write returns the file")
  eq(io.flush(), true, "io.flush")
  eq(get(p), "a1\n", "written")
  eq(msg(function() return io.write({}) end), "bad argument #1 to 'write' (string expected, got table)", "bad argument")
  eq(io.close(), true, "io.close() closes the output")
  eq(io.type(f), "closed file", "closed")
  eq(msg(function() return io.write("x") end), "standard output file is closed", "io.write")
  eq(msg(function() return io.flush() end), "standard output file is closed", "io.flush")
  eq(msg(function() return io.close() end), "attempt to use a closed file", "io.close()")
  eq(msg(function() return io.output(path("no/such/x")) end), "cannot open file '" .. path("no/such/x") .. "' (No such file or directory)", "missing dir")
  eq(io.output(io.stdout), io.stdout, "back to stdout")
end

function test_standard_files()
  for _, name in ipairs{"stdin", "stdout", "stderr"} do
    local f = io[name]
    eq(io.type(f), "file", name)
    eq(pack(f:close()), 'nil, "cannot close standard file"', name .. " close")
    eq(io.type(f), "file", name .. " still open")
  end
  eq(pack(io.close(io.stdout)), 'nil, "cannot close standard file"', "io.close(io.stdout)")
  eq(io.stdout:write(""), io.stdout, "stdout writes")
  eq(io.stderr:write(""), io.stderr, "stderr writes")
end

function test_tmpfile()
  local f = io.tmpfile()
  eq(io.type(f), "file", "tmpfile")
  eq(f:write("temp", 1), f, "write")
  eq(f:seek("set"), 0, "rewind")
  eq(f:read("*a"), "temp1", "read back")
  eq(f:close(), true, "close")
end

function test_library_shape()
  local names = {}
  for k in pairs(io) do names[#names + 1] = k end
  table.sort(names)
  eq(table.concat(names, " "), "close flush input lines open output popen read stderr stdin stdout tmpfile type write", "io")
  names = {}
  for k in pairs(getmetatable(io.stdout)) do names[#names + 1] = k end
  table.sort(names)
  -- no __gc: an unreachable file is closed by Go's finalizer of *os.File
  eq(table.concat(names, " "), "__index __tostring close flush lines read seek setvbuf write", "metatable")
  eq(package.loaded.io, io, "package.loaded.io")
end
