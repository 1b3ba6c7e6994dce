package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestForwarderCompile runs `pushlua forwarder --compile` as a user would:
// with a reference interpreter it prints a binary chunk of its version;
// an interpreter that does not exist, a --dovecot-modules without the
// plugin, and an interpreter of another Lua version than the plugin (a copy
// of this machine's Dovecot plugin, when it is installed) fail with what
// to do, and print nothing.
func TestForwarderCompile(t *testing.T) {
	dir := t.TempDir()
	lua54, err := exec.LookPath("lua5.4")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("lua5.4 is not installed (.ci/run installs it)")
		}
		t.Skip("lua5.4 is not installed; apt-get install lua5.4 to run this test")
	}
	// An empty module directory: nothing to check the version against.
	empty := t.TempDir()
	r := pushlua(t, dir, "", "forwarder", "--compile", lua54, "--dovecot-modules", empty)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "no lib22_push_notification_lua_plugin.so there") {
		t.Errorf("--dovecot-modules without the plugin: exit %d, stdout %d bytes, stderr %q", r.code, len(r.stdout), r.stderr)
	}
	r = pushlua(t, dir, "", "forwarder", "--compile", "no-such-lua")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "install the Lua interpreter") {
		t.Errorf("--compile no-such-lua: exit %d, stderr %q", r.code, r.stderr)
	}

	// The plugin of this machine's Dovecot, when it is installed.
	var modules string
	for _, d := range dovecotModuleDirs {
		if _, err := os.Stat(filepath.Join(d, luaPlugin)); err == nil {
			modules = d
			break
		}
	}
	r = pushlua(t, dir, "", "forwarder", "--compile", "lua5.4")
	_, dovecotLua, _ := dovecotLuaVersion(modules)
	switch {
	case modules != "" && dovecotLua != "5.4":
		if r.code != 1 || !strings.Contains(r.stderr, "would not load the compiled forwarder") {
			t.Errorf("Dovecot's Lua %s, lua5.4: exit %d, stderr %q", dovecotLua, r.code, r.stderr)
		}
	default:
		if r.code != 0 || !strings.HasPrefix(r.stdout, "\x1bLua\x54") {
			t.Fatalf("--compile lua5.4: exit %d, stdout %q, stderr %q", r.code, r.stdout[:min(len(r.stdout), 16)], r.stderr)
		}
		if modules == "" && !strings.Contains(r.stderr, "its Lua version is not checked") {
			t.Errorf("without Dovecot's plugin: no note on stderr: %q", r.stderr)
		}
	}
	if modules == "" {
		return
	}
	// Another version than the plugin's is refused.
	other := "lua5.3"
	if dovecotLua == "5.3" {
		other = "lua5.4"
	}
	if _, err := exec.LookPath(other); err != nil {
		t.Logf("%s is not installed: the version mismatch is not tried", other)
		return
	}
	r = pushlua(t, dir, "", "forwarder", "--compile", other, "--dovecot-modules", modules)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "is linked with Lua "+dovecotLua) {
		t.Errorf("--compile %s against Dovecot's Lua %s: exit %d, stdout %d bytes, stderr %q", other, dovecotLua, r.code, len(r.stdout), r.stderr)
	}
}

// TestLuaVersionOf: the Lua library names of the distributions' Dovecot
// builds.
func TestLuaVersionOf(t *testing.T) {
	for _, tc := range []struct {
		libs []string
		want string
	}{
		{[]string{"libdovecot-lua.so.0", "liblua5.4.so.0", "libc.so.6"}, "5.4"}, // Debian, Ubuntu
		{[]string{"liblua5.3.so.0"}, "5.3"},
		{[]string{"liblua-5.4.so"}, "5.4"}, // Fedora, RHEL
		{[]string{"liblua.so.5.3"}, "5.3"}, // Arch, Alpine
		{[]string{"libluajit-5.1.so.2"}, "JIT"},
		{[]string{"libdovecot.so.0", "libc.so.6"}, ""},
	} {
		if got := luaVersionOf(tc.libs); got != tc.want {
			t.Errorf("luaVersionOf(%v) = %q; want %q", tc.libs, got, tc.want)
		}
	}
}
