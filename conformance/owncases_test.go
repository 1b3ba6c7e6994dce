package conformance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Dovecot's documentation example 1, run unchanged with its own case
// directory, passes: the built-in checks run with the configuration its
// cases use (issue 13, 6), and the report says which one that is. The
// script is read from ../shared, never copied into the project.
func TestScriptWithItsOwnCaseDirectory(t *testing.T) {
	shared := findShared("")
	if shared == "" {
		t.Skip("../shared is absent: this test runs Dovecot's doc_example1.lua from ../shared/spec/examples and never copies it")
	}
	script := filepath.Join(shared, "spec", "examples", "doc_example1.lua")
	report := func(rep *Report) string {
		var b strings.Builder
		_ = rep.WriteText(&b)
		return b.String()
	}

	// The bundled suite's directory: its suite.txtar has a config.
	rep, err := Run(context.Background(), Options{Script: script, Cases: []string{"testdata/doc_example1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("doc_example1.lua with testdata/doc_example1 failed:\n%s", report(rep))
	}
	if len(rep.Suites) != 1 || rep.Suites[0].Target != "config of testdata/doc_example1/suite.txtar" {
		t.Errorf("want one suite, run with its own config; got:\n%s", report(rep))
	}
	if tt := find(t, rep, "corpus/first delivery creates INBOX"); tt.Status != Pass {
		t.Errorf("corpus: %s %s", tt.Status, tt.Message)
	}

	// A user's case directory: suite.txtar only sets what the script
	// reads with plugin_getenv, the script comes from the command line.
	dir := t.TempDir()
	writeFile(t, dir, "suite.txtar", "My endpoint.\n-- settings --\npush_lua_url = http://push.example.com/doc1/notify\n")
	delivery, err := os.ReadFile("testdata/doc_example1/delivery.txtar")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "delivery.txtar", string(delivery))
	rep, err = Run(context.Background(), Options{Script: script, Cases: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	text := report(rep)
	if !rep.OK() {
		t.Errorf("doc_example1.lua with a settings-only suite failed:\n%s", text)
	}
	wantTarget := "config: lua:file=" + script + ", mail_debug = yes + the settings of " + filepath.ToSlash(filepath.Join(dir, "suite.txtar"))
	if len(rep.Suites) != 1 || rep.Suites[0].Target != wantTarget {
		t.Errorf("want one suite with target %q; got:\n%s", wantTarget, text)
	}
	for _, name := range []string{"load", "script_init", "handlers", "globals", "delivery"} {
		if tt := find(t, rep, name); tt.Status != Pass {
			t.Errorf("%s: %s %s", name, tt.Status, tt.Message)
		}
	}
	passed, _, _ := rep.Counts()
	if passed < 30 {
		t.Errorf("%d tests passed; want the built-in checks (with the corpus) and the case:\n%s", passed, text)
	}
}
