package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
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
		// stdlib and every stdlib/... package (one per Lua module, the
		// shared stdlib/json, the test harnesses under stdlib/internal).
		{"stdlib", []string{"runtime", "bindings", "cmd/", "conformance"}},
		// The pattern matcher stays VM-free: a leaf you can fuzz.
		{"stdlib/pattern", []string{"github.com/Shopify/go-lua", "stdlib"}},
		{"internal/", []string{"runtime", "bindings", "stdlib", "cmd/", "conformance"}},
		{"scripts", []string{"runtime", "bindings", "stdlib", "cmd/"}},
	}
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	modules := 0
	for _, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if strings.HasPrefix(rel, "stdlib/") {
			modules++
			// The stdlib modules are opened by stdlib's central list;
			// none of them goes back to it.
			if slices.Contains(p.Deps, module+"/stdlib") {
				t.Errorf("%s imports stdlib (its modules never import the package that lists them)", rel)
			}
		}
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
						t.Errorf("%s imports %s (forbidden by CONVENTIONS.md)", rel, dep)
					}
				}
			}
		}
	}
	if modules < 10 {
		t.Errorf("go list found %d stdlib/... packages; want the module packages the rules hold", modules)
	}
}
