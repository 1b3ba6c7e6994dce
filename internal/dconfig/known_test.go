package dconfig

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite README.md's settings table from Known")

// repoRoot is the repository, two levels up from this package.
const repoRoot = "../.."

// settingLiteral finds "pushlua_..." string literals in Go source.
var settingLiteral = regexp.MustCompile(`"(pushlua_[a-z0-9_]+)"`)

// goLiterals returns the pushlua_* string literals of the non-test Go
// files below dirs (relative to the repository), skipping skip.
func goLiterals(t *testing.T, skip []string, dirs ...string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repoRoot, p)
			if d.IsDir() {
				if slices.Contains(skip, filepath.ToSlash(rel)) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || slices.Contains(skip, filepath.ToSlash(rel)) {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range settingLiteral.FindAllStringSubmatch(string(data), -1) {
				found[m[1]] = append(found[m[1]], filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return found
}

// notSettings are pushlua_* literals of the Go code that are not
// settings (metric names are found in internal/metrics).
var notSettings = map[string]string{
	"pushlua_probe":        "cmd/pushlua/internal/luaapi's Lua module",
	"pushlua_partitions":   "internal/jetstream's stream metadata key",
	"pushlua_txn_metadata": "a field of the user object the bundled drivers get (runtime/luadriver.go)",
	"pushlua_data":         "a field of the event table the bundled dlog gets (runtime/luadriver.go)",
}

// TestKnownMatchesCode keeps Known and the code in step: every pushlua_*
// name the Go code uses (other than a metric name) is a known top-level
// setting, every known top-level setting is used, and the forwarder's
// plugin settings are exactly the known plugin settings.
func TestKnownMatchesCode(t *testing.T) {
	metrics := goLiterals(t, nil, "internal/metrics")
	for _, name := range metricNames(t) {
		metrics[name] = nil
	}
	used := goLiterals(t, []string{"internal/metrics", "internal/dconfig", "e2e"},
		"cmd", "runtime", "conformance", "bindings", "stdlib", "internal", "scripts")
	for name, files := range used {
		if _, ok := metrics[name]; ok {
			continue
		}
		if _, ok := notSettings[name]; ok {
			continue
		}
		k, ok := LookupKnown(name)
		if !ok || k.Where&TopLevel == 0 {
			t.Errorf("%s (used in %s) is not in Known as a top-level setting: add it to internal/dconfig/known.go (or to notSettings here)", name, strings.Join(files, ", "))
		}
	}
	for _, k := range Known {
		if k.Where&TopLevel != 0 {
			if _, ok := used[k.Name]; !ok {
				t.Errorf("Known lists %s as a top-level setting, but no Go code outside internal/dconfig names it", k.Name)
			}
		}
	}

	src, err := os.ReadFile(filepath.Join(repoRoot, "scripts/dovecot/forward.lua"))
	if err != nil {
		t.Fatal(err)
	}
	fwd := map[string]bool{}
	// read_conf reads pushlua_<name> for each name of its list:
	// for name in string.gmatch("url token ...", "%S+") do
	for _, m := range regexp.MustCompile(`for name in string\.gmatch\("([a-z_ ]+)", "%S\+"\)`).FindAllStringSubmatch(string(src), -1) {
		for _, name := range strings.Fields(m[1]) {
			fwd["pushlua_"+name] = true
		}
	}
	if len(fwd) == 0 {
		t.Fatal("found no settings list (for name in string.gmatch(\"...\", \"%S+\")) in the forwarder's read_conf")
	}
	for name := range fwd {
		if k, ok := LookupKnown(name); !ok || k.Where&InPlugin == 0 {
			t.Errorf("the forwarder reads %s, which Known does not list as a plugin setting", name)
		}
	}
	for _, k := range Known {
		if k.Where&InPlugin != 0 && !fwd[k.Name] {
			t.Errorf("Known lists %s as a plugin setting, but the forwarder does not read it", k.Name)
		}
	}
}

// metricNames returns the metric names internal/metrics declares with
// Name: "..." (pushlua_ is their namespace).
func metricNames(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "internal/metrics/*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`Name: +"([a-z0-9_]+)"`).FindAllStringSubmatch(string(data), -1) {
			out = append(out, "pushlua_"+m[1])
		}
	}
	if len(out) == 0 {
		t.Fatal("found no metric names in internal/metrics")
	}
	return out
}

const (
	tableStart = "<!-- settings table: generated from internal/dconfig/known.go; go test ./internal/dconfig -run TestREADMESettingsTable -update -->\n"
	tableEnd   = "<!-- end of settings table -->\n"
)

// TestREADMESettingsTable checks that README.md's settings table is the
// one Known gives (-update rewrites it).
func TestREADMESettingsTable(t *testing.T) {
	path := filepath.Join(repoRoot, "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	i := strings.Index(readme, tableStart)
	j := strings.Index(readme, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no settings table between %q and %q", tableStart, tableEnd)
	}
	got := readme[i+len(tableStart) : j]
	want := SettingsTable()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:i+len(tableStart)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's settings table differs from Known; run go test ./internal/dconfig -run TestREADMESettingsTable -update\ngot:\n%s\nwant:\n%s", got, want)
}
