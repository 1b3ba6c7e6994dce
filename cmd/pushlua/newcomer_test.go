package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNewcomerPath walks the README's "Your first script" with the real
// binary: init, the editor files, check, conformance green, serve, post the
// sample, edit the script and see it reload, post again.
func TestNewcomerPath(t *testing.T) {
	dir := t.TempDir()
	proj := filepath.Join(dir, "mypush")

	// pushlua init mypush
	r := pushlua(t, dir, "", "init", "mypush")
	if r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"pushlua check -c pushlua.conf", "pushlua conformance -c pushlua.conf cases/", "pushlua serve -c pushlua.conf", "pushlua send sample.jsonl"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("init does not print %q:\n%s", want, r.stdout)
		}
	}
	if r := pushlua(t, dir, "", "init", "mypush"); r.code != 1 || !strings.Contains(r.stderr, "already exist") {
		t.Errorf("init over an existing project: exit %d; want 1\n%s", r.code, r.stderr)
	}

	// Editor completion: .luarc.json points at the stubs, which declare
	// the classes push.lua's annotations name.
	luarc, err := os.ReadFile(filepath.Join(proj, ".luarc.json"))
	if err != nil || !strings.Contains(string(luarc), `"workspace.library": ["types"]`) {
		t.Fatalf(".luarc.json: %v\n%s", err, luarc)
	}
	stubs, err := os.ReadFile(filepath.Join(proj, "types", "dovecot.lua"))
	if err != nil {
		t.Fatal(err)
	}
	script, _ := os.ReadFile(filepath.Join(proj, "push.lua"))
	for _, m := range regexp.MustCompile(`---@param \w+ (dovecot\.\w+)`).FindAllStringSubmatch(string(script), -1) {
		if !strings.Contains(string(stubs), "---@class "+m[1]) {
			t.Errorf("push.lua annotates with %s, which types/dovecot.lua does not declare", m[1])
		}
	}

	// pushlua check, pushlua conformance
	if r := pushlua(t, proj, "", "check", "-c", "pushlua.conf"); r.code != 0 || !strings.Contains(r.stdout, "ok: lua (") {
		t.Errorf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = pushlua(t, proj, "", "conformance", "-c", "pushlua.conf", "cases/")
	if r.code != 0 || !regexp.MustCompile(`\n\d+ passed, 0 failed\n$`).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "ok    pushlua.conf/cases/new_mail\n") {
		t.Errorf("conformance: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// pushlua serve, pushlua send sample.jsonl
	s := startServe(t, proj, "-c", "pushlua.conf", "--listen", "127.0.0.1:0")
	if r := pushlua(t, proj, "", "send", "--url", s.addr, "sample.jsonl"); r.code != 0 || !strings.HasPrefix(r.stdout, "202 Accepted") {
		t.Fatalf("send: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	s.waitLog(t, regexp.MustCompile(`Info: push: new mail for alice@example\.com: \{`))

	// Edit the script: serve reloads it; the next sample runs the new one.
	src := strings.Replace(string(script), `"push: new mail for "`, `"push: edited: new mail for "`, 1)
	if src == string(script) {
		t.Fatal("push.lua has no log line to edit")
	}
	if err := os.WriteFile(filepath.Join(proj, "push.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, regexp.MustCompile(`Info: reloaded `))
	if r := pushlua(t, proj, "", "send", "--url", s.addr, "sample.jsonl"); r.code != 0 {
		t.Fatalf("send after the edit: exit %d\n%s", r.code, r.stderr)
	}
	s.waitLog(t, regexp.MustCompile(`Info: push: edited: new mail for alice@example\.com`))
}
