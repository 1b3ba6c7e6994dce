package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStubsCommand: `pushlua stubs DIR` writes the committed stubs
// (docs/luals, kept current by cmd/pushlua/internal/luaapi's tests), the default
// directory is ./types, and the files are listed on stdout.
func TestStubsCommand(t *testing.T) {
	dir := t.TempDir()
	r := pushlua(t, dir, "", "stubs", "out")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	want, _ := filepath.Glob("../../docs/luals/*.lua")
	more, _ := filepath.Glob("../../docs/luals/*/*.lua")
	want = append(want, more...)
	if len(want) < 10 {
		t.Fatalf("docs/luals has %d files", len(want))
	}
	for _, w := range want {
		rel, _ := filepath.Rel("../../docs/luals", w)
		exp, _ := os.ReadFile(w)
		got, err := os.ReadFile(filepath.Join(dir, "out", rel))
		if err != nil || !bytes.Equal(got, exp) {
			t.Errorf("out/%s differs from docs/luals/%s (%v)", rel, rel, err)
		}
		if !strings.Contains(r.stdout, filepath.Join("out", rel)+"\n") {
			t.Errorf("stdout does not list out/%s:\n%s", rel, r.stdout)
		}
	}
	if r := pushlua(t, dir, "", "stubs"); r.code != 0 || !strings.Contains(r.stdout, "types/dovecot.lua\n") {
		t.Errorf("stubs without DIR: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := pushlua(t, dir, "", "stubs", "a", "b"); r.code != 2 {
		t.Errorf("stubs a b: exit %d; want 2", r.code)
	}
}
