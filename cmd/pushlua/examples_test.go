package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// exampleIntegrations are the directories of examples/ with a script, a
// configuration and conformance cases (examples/README.md lists them).
var exampleIntegrations = []string{"webhook", "ntfy", "gotify", "slack", "matrix", "badge", "filter"}

// TestExampleIntegrations runs each example's conformance cases, and the
// built-in checks, through the real binary: what the README links to works.
func TestExampleIntegrations(t *testing.T) {
	examples, _ := filepath.Abs("../../examples")
	for _, name := range exampleIntegrations {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(examples, name)
			cases, _ := filepath.Glob(filepath.Join(dir, "cases", "*.txtar"))
			if len(cases) == 0 {
				t.Fatalf("%s/cases has no .txtar files", dir)
			}
			if _, err := os.Stat(filepath.Join(dir, "push.lua")); err != nil {
				t.Fatal(err)
			}
			conf := filepath.Join(dir, "pushlua.conf")
			if r := pushlua(t, t.TempDir(), "", "check", "-c", conf); r.code != 0 {
				t.Errorf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			r := pushlua(t, t.TempDir(), "", "conformance", "-c", conf, filepath.Join(dir, "cases"))
			if r.code != 0 || !regexp.MustCompile(`\n\d+ passed, 0 failed\n$`).MatchString(r.stdout) {
				t.Fatalf("conformance: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			for _, c := range cases {
				caseName := strings.TrimSuffix(filepath.Base(c), ".txtar")
				if !regexp.MustCompile(`(?m)^ok    \S+/cases/` + regexp.QuoteMeta(caseName) + `$`).MatchString(r.stdout) {
					t.Errorf("case %s did not pass:\n%s", caseName, r.stdout)
				}
			}
		})
	}
}

// TestExampleWebhookSignatureChecked: the webhook case really compares the
// signature header: a case expecting another signature fails.
func TestExampleWebhookSignatureChecked(t *testing.T) {
	src, _ := filepath.Abs("../../examples/webhook")
	dir := t.TempDir()
	for _, f := range []string{"push.lua", "sha256.lua", "pushlua.conf"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join(src, "cases", "new_mail.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "webhook-signature: v1,X", "webhook-signature: v1,Y", 1)
	if bad == string(data) {
		t.Fatal("new_mail.txtar has no webhook-signature line to change")
	}
	if err := os.WriteFile(filepath.Join(dir, "new_mail.txtar"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	r := pushlua(t, dir, "", "conformance", "-c", "pushlua.conf", "new_mail.txtar", "--run", "new_mail")
	if r.code != 1 || !strings.Contains(r.stdout, "-webhook-signature: v1,Y") {
		t.Errorf("a wrong signature passed: exit %d\n%s", r.code, r.stdout)
	}
}
