package metrics

import (
	"fmt"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// BuildInfo is what pushlua_build_info reports about the running binary.
type BuildInfo struct {
	Version   string // pushlua's module version, "(devel)" for a source build
	Revision  string // the VCS revision the binary was built from, "" if unknown
	GoVersion string // the Go toolchain, e.g. "go1.24.1"
	GoLua     string // the version of github.com/Shopify/go-lua
}

// ReadBuildInfo returns the BuildInfo of the running binary
// (runtime/debug.ReadBuildInfo).
func ReadBuildInfo() BuildInfo {
	b := BuildInfo{Version: "(devel)", GoLua: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = bi.GoVersion
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/Shopify/go-lua" {
			b.GoLua = d.Version
		}
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			b.Revision = s.Value
		}
	}
	return b
}

// SetBuildInfo exports pushlua_build_info{version,revision,goversion,golua},
// a gauge that is always 1, as Prometheus' own *_build_info metrics do:
// join on it to see which build a series came from. Call it once.
func (m *Metrics) SetBuildInfo(b BuildInfo) error {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help: "Always 1; the labels say which pushlua build is running.",
	}, []string{"version", "revision", "goversion", "golua"})
	if err := m.reg.Register(g); err != nil {
		return fmt.Errorf("metrics: pushlua_build_info: %w", err)
	}
	g.WithLabelValues(b.Version, b.Revision, b.GoVersion, b.GoLua).Set(1)
	return nil
}
