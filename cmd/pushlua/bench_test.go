package main

import (
	"encoding/json"
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
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var res benchResult
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if res.Err != "" || res.Txns != 200 || res.TxnPerS <= 0 || res.CPUus <= 0 || res.Allocs <= 0 {
			t.Errorf("result %+v", res)
		}
		seen[res.Workload+"/"+res.Mode] = true
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
