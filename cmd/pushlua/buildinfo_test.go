package main

import (
	"regexp"
	"testing"
)

// TestBuildInfoMetric: a running serve exports pushlua_build_info with
// the go-lua version pushlua version reports.
func TestBuildInfoMetric(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dir, "--listen", "127.0.0.1:0")
	code, body := s.get(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	re := regexp.MustCompile(`(?m)^pushlua_build_info\{golua="(v[^"]+)",goversion="go[^"]+",revision="[^"]*",version="[^"]+"\} 1$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no pushlua_build_info line:\n%s", body)
	}
	if v := pushlua(t, dir, "", "version"); !regexp.MustCompile(`go-lua ` + regexp.QuoteMeta(m[1])).MatchString(v.stdout) {
		t.Errorf("build_info says go-lua %s; pushlua version says %q", m[1], v.stdout)
	}
}
