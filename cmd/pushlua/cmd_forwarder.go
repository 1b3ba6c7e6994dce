package main

import (
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pushlua/pushlua/scripts"
)

// dovecotModuleDirs are where distributions put Dovecot's plugins.
var dovecotModuleDirs = []string{"/usr/lib/dovecot/modules", "/usr/lib64/dovecot", "/usr/lib/dovecot", "/usr/local/lib/dovecot"}

// luaPlugin is the push-notification Lua driver's plugin file.
const luaPlugin = "lib22_push_notification_lua_plugin.so"

// cmdForwarder is `pushlua forwarder [--compile LUA]`: the Lua driver
// that runs inside Dovecot and hands its transactions to pushlua, as text
// or, with --compile, as a binary chunk of Dovecot's Lua version.
func cmdForwarder(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("pushlua forwarder", flag.ContinueOnError)
	flags.SetOutput(stderr)
	lua := flags.String("compile", "", "print the forwarder precompiled by this Lua 5.3 or 5.4 interpreter (the version Dovecot uses, e.g. lua5.4)")
	name := flags.String("name", "pushlua-forward.lua", "with --compile: the file name the forwarder's errors show")
	modules := flags.String("dovecot-modules", "", "with --compile: Dovecot's plugin directory, to check its Lua version (default: the usual places)")
	if code, done := parseArgs(ctx, flags, args, stdout); done {
		return code
	}
	if flags.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: pushlua forwarder [--compile LUA]")
		return 2
	}
	if *lua == "" {
		_, _ = stdout.Write(scripts.Forwarder())
		return 0
	}
	if isTerminal(stdout) {
		fmt.Fprintf(stderr, "pushlua forwarder: the compiled forwarder is binary; redirect it to a file (pushlua forwarder --compile %s > /etc/dovecot/pushlua-forward.luac)\n", *lua)
		return 2
	}
	path, err := exec.LookPath(*lua)
	if err != nil {
		fmt.Fprintf(stderr, "pushlua forwarder: --compile %s: %v (install the Lua interpreter of the version Dovecot uses, e.g. apt-get install lua5.4)\n", *lua, err)
		return 1
	}
	chunk, version, err := scripts.CompileForwarder(ctx, path, *name)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua forwarder:", err)
		return 1
	}
	plugin, dovecotLua, err := dovecotLuaVersion(*modules)
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "pushlua forwarder:", err)
		return 1
	case plugin == "":
		fmt.Fprintf(stderr, "pushlua forwarder: note: Dovecot's %s was not found (--dovecot-modules DIR), so its Lua version is not checked: the forwarder is Lua %s bytecode, and Dovecot logs \"version mismatch\" and runs no push driver if it uses another Lua\n", luaPlugin, version)
	case dovecotLua == "":
		fmt.Fprintf(stderr, "pushlua forwarder: note: %s names no liblua5.x, so its Lua version is not checked: the forwarder is Lua %s bytecode\n", plugin, version)
	case dovecotLua == "JIT":
		fmt.Fprintf(stderr, "pushlua forwarder: %s is linked with LuaJIT, which does not load Lua %s bytecode: install the text forwarder (pushlua forwarder without --compile)\n", plugin, version)
		return 1
	case dovecotLua != version:
		fmt.Fprintf(stderr, "pushlua forwarder: %s is linked with Lua %s, %s is Lua %s: Dovecot would not load the compiled forwarder (use lua%s)\n", plugin, dovecotLua, path, version, dovecotLua)
		return 1
	}
	if _, err := stdout.Write(chunk); err != nil {
		fmt.Fprintln(stderr, "pushlua forwarder:", err)
		return 1
	}
	return 0
}

// liblua matches the file names of the Lua library a plugin is linked
// with: liblua5.4.so.0 (Debian), liblua-5.4.so (Fedora), liblua.so.5.4.
var liblua = regexp.MustCompile(`^liblua-?(5\.\d)\.so|^liblua\.so\.(5\.\d)`)

// dovecotLuaVersion finds Dovecot's push-notification Lua plugin in dir
// (or the usual places when dir is "") and returns its path and the Lua
// version it is linked with ("5.4"; "JIT" for LuaJIT); plugin is "" when
// there is none, version "" when it names no Lua library.
func dovecotLuaVersion(dir string) (plugin, version string, err error) {
	dirs := dovecotModuleDirs
	if dir != "" {
		dirs = []string{dir}
	}
	for _, d := range dirs {
		p := filepath.Join(d, luaPlugin)
		f, err := elf.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("reading %s: %w", p, err)
		}
		libs, err := f.ImportedLibraries()
		f.Close()
		if err != nil {
			return "", "", fmt.Errorf("reading %s: %w", p, err)
		}
		return p, luaVersionOf(libs), nil
	}
	if dir != "" {
		return "", "", fmt.Errorf("--dovecot-modules %s: no %s there", dir, luaPlugin)
	}
	return "", "", nil
}

// luaVersionOf is the Lua version of the first Lua library among a
// program's DT_NEEDED names: "5.4", "JIT" (LuaJIT, which loads no 5.3 or
// 5.4 bytecode), or "" when there is none.
func luaVersionOf(libs []string) string {
	for _, l := range libs {
		if m := liblua.FindStringSubmatch(l); m != nil {
			return m[1] + m[2]
		}
		if strings.HasPrefix(l, "libluajit") {
			return "JIT"
		}
	}
	return ""
}
