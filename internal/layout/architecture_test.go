package layout

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// packageLine is one entry of ARCHITECTURE.md's package list:
// "- `path` — what it owns".
var packageLine = regexp.MustCompile("^- `([^`]+)` — ")

// architecturePackages reads the package list of ARCHITECTURE.md: the
// entries of its "## Packages" section.
func architecturePackages(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Packages"
			continue
		}
		if m := packageLine.FindStringSubmatch(line); in && m != nil {
			out = append(out, m[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ARCHITECTURE.md lists every package of the module, and only those.
func TestArchitectureListsPackages(t *testing.T) {
	listed := architecturePackages(t)
	if len(listed) == 0 {
		t.Fatal("ARCHITECTURE.md: no \"- `path` — ...\" lines in its ## Packages section")
	}
	var actual []string
	for _, p := range listPackages(t) {
		actual = append(actual, strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/"))
	}
	var missing, extra, twice []string
	for _, p := range actual {
		if !slices.Contains(listed, p) {
			missing = append(missing, p)
		}
	}
	seen := map[string]bool{}
	for _, p := range listed {
		if seen[p] {
			twice = append(twice, p)
		}
		seen[p] = true
		if !slices.Contains(actual, p) {
			extra = append(extra, p)
		}
	}
	if len(missing) > 0 {
		t.Errorf("ARCHITECTURE.md does not list the packages %s; add a line \"- `path` — what it owns\" for each", strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		t.Errorf("ARCHITECTURE.md lists %s, which go list does not find; remove or rename them", strings.Join(extra, ", "))
	}
	if len(twice) > 0 {
		t.Errorf("ARCHITECTURE.md lists %s more than once", strings.Join(twice, ", "))
	}
}
