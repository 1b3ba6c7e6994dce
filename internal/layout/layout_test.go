package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/pushlua/pushlua"

type pkg struct {
	ImportPath string
	Name       string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

func TestDependencyDirection(t *testing.T) {
	rules := []struct {
		pkg       string // import path prefix, relative to the module
		forbidden []string
	}{
		{"bindings", []string{"runtime", "stdlib", "cmd/", "conformance"}},
		{"stdlib", []string{"runtime", "bindings", "cmd/", "conformance"}},
		{"stdlib/pattern", []string{"github.com/Shopify/go-lua"}},
		{"internal/", []string{"runtime", "bindings", "stdlib", "cmd/", "conformance"}},
		{"scripts", []string{"runtime", "bindings", "stdlib", "cmd/"}},
	}
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if p.Name == "main" && rel != "cmd/pushlua" {
			t.Errorf("%s is a main package; only cmd/pushlua may be", rel)
		}
		for _, r := range rules {
			if rel != r.pkg && !strings.HasPrefix(rel, strings.TrimSuffix(r.pkg, "/")+"/") && !(strings.HasSuffix(r.pkg, "/") && strings.HasPrefix(rel, r.pkg)) {
				continue
			}
			for _, dep := range p.Deps {
				for _, f := range r.forbidden {
					target := f
					if !strings.Contains(f, ".") {
						target = module + "/" + f
					}
					if dep == target || strings.HasPrefix(dep, strings.TrimSuffix(target, "/")+"/") {
						// stdlib/pattern is stdlib's own leaf.
						if rel == "stdlib" && strings.HasPrefix(dep, module+"/stdlib/") {
							continue
						}
						t.Errorf("%s imports %s (forbidden by CONVENTIONS.md)", rel, dep)
					}
				}
			}
		}
	}
}
