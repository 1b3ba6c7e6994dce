package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pushlua bench runs every workload in every mode and reports sane
// numbers: every transaction ran (the ox workloads reached the sink once
// per transaction), and rates and costs are positive.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts pushlua serve four times; skipped with -short")
	}
	dir := t.TempDir()
	r := pushlua(t, dir, "", "bench", "-n", "200", "--users", "20", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	results, seen := benchResults(t, r.stdout)
	for _, res := range results {
		if res.Err != "" || res.Txns != 200 || res.TxnPerS <= 0 || res.CPUus <= 0 || res.Allocs <= 0 {
			t.Errorf("result %+v", res)
		}
	}
	for _, want := range []string{"collect/ref", "collect/run1", "collect/run2", "collect/serve", "dlog/run1", "ox/serve", "fwd/run2", "fwd/serve"} {
		if !seen[want] {
			t.Errorf("no result for %s; got %v", want, seen)
		}
	}
	if !strings.Contains(r.stderr, "pushlua bench: ") {
		t.Errorf("no progress line on stderr: %q", r.stderr)
	}
	if strings.Contains(r.stdout, "ref") && seen["dlog/ref"] {
		t.Error("the reference loop ran a workload other than collect")
	}
}

// The paced modes hand serve one transaction at a time, over HTTP (post1)
// and through a spool file (spool): every transaction ran and reached the
// sink, no faster than --rate, and the spool file was read to its end and
// deleted.
func TestBenchPacedModes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts pushlua serve four times; skipped with -short")
	}
	dir := t.TempDir()
	r := pushlua(t, dir, "", "bench", "-n", "100", "--users", "10", "--workloads", "fwd,collect",
		"--modes", "post1,spool", "--rate", "200", "--json", "--keep")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	results, seen := benchResults(t, r.stdout)
	for _, res := range results {
		// 100 transactions at 200/s: the last is handed over 0.495 s after
		// the first, so the rate cannot be above 100/0.495.
		if res.Err != "" || res.Txns != 100 || res.TxnPerS <= 0 || res.TxnPerS > 203 || res.CPUus <= 0 {
			t.Errorf("result %+v", res)
		}
	}
	for _, want := range []string{"fwd/post1", "fwd/spool", "collect/post1", "collect/spool"} {
		if !seen[want] {
			t.Errorf("no result for %s; got %v", want, seen)
		}
	}
	m := regexp.MustCompile(`work directory (\S+)`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("--keep printed no work directory: %q", r.stderr)
	}
	t.Cleanup(func() { os.RemoveAll(m[1]) })
	for _, w := range []string{"fwd", "collect"} {
		left, err := filepath.Glob(filepath.Join(m[1], w+"-spool", "spool", "pl-*"))
		if err != nil || len(left) != 0 {
			t.Errorf("%s: spool files left after the run: %v %v", w, left, err)
		}
		if _, err := os.Stat(filepath.Join(m[1], w+"-spool", "spool")); err != nil {
			t.Errorf("%s: the spool mode made no spool directory: %v", w, err)
		}
	}
}

// benchResults decodes `pushlua bench --json` output and lists the
// workload/mode pairs it has.
func benchResults(t *testing.T, stdout string) ([]benchResult, map[string]bool) {
	t.Helper()
	var out []benchResult
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var res benchResult
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, res)
		seen[res.Workload+"/"+res.Mode] = true
	}
	return out, seen
}
