package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestBuildInfo(t *testing.T) {
	m := New(prometheus.NewRegistry())
	if err := m.SetBuildInfo(BuildInfo{Version: "v1.2.3", Revision: "abc", GoVersion: "go1.24", GoLua: "v0.0.0-x"}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetBuildInfo(BuildInfo{}); err == nil {
		t.Error("a second SetBuildInfo succeeded; want an error (the metric is registered once)")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := `pushlua_build_info{golua="v0.0.0-x",goversion="go1.24",revision="abc",version="v1.2.3"} 1`
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("/metrics lacks %s:\n%s", want, rec.Body.String())
	}
}

func TestReadBuildInfo(t *testing.T) {
	b := ReadBuildInfo()
	if b.Version == "" || !strings.HasPrefix(b.GoVersion, "go") {
		t.Errorf("got %+v; want a version and a Go version", b)
	}
}
