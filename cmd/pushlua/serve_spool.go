package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/metrics"
	"github.com/pushlua/pushlua/internal/spool"
)

// spoolSettings are serve's pushlua_spool* settings (docs/spool.md).
type spoolSettings struct {
	dir        string        // pushlua_spool; "" when serve reads no spool
	maxAge     time.Duration // pushlua_spool_max_age: /readyz reports lag past it
	staleAfter time.Duration // pushlua_spool_stale_after
}

func readSpoolSettings(cfg *dconfig.Config) (spoolSettings, error) {
	s := spoolSettings{maxAge: spool.DefaultMaxAge, staleAfter: spool.DefaultStaleAfter}
	if v := cfg.Settings["pushlua_spool"]; v != "" {
		s.dir = cfg.Resolve(v)
	}
	for _, d := range []struct {
		key string
		to  *time.Duration
	}{
		{"pushlua_spool_max_age", &s.maxAge},
		{"pushlua_spool_stale_after", &s.staleAfter},
	} {
		v := cfg.Settings[d.key]
		if v == "" {
			continue
		}
		t, err := dconfig.ParseTime(v)
		if err != nil {
			return s, fmt.Errorf("%s: %w", d.key, err)
		}
		if t <= 0 {
			return s, fmt.Errorf("%s: must be more than 0, got %q", d.key, v)
		}
		*d.to = t
	}
	return s, nil
}

// serveSpool is serve's spool reader; its methods do nothing when serve
// reads no spool.
type serveSpool struct {
	r   *spool.Reader
	log *slog.Logger
}

// startSpool starts reading the spool of set (after the engine: every
// line goes to eng), its offsets kept in the data directory's
// spool-offsets.json.
func startSpool(ctx context.Context, set spoolSettings, c *common, cfg *dconfig.Config, in *intake, m *metrics.Metrics, log *slog.Logger) (*serveSpool, error) {
	if set.dir == "" {
		return &serveSpool{}, nil
	}
	dataDir, err := c.dataDirPath(cfg)
	if err != nil {
		return nil, err
	}
	r, err := spool.Start(ctx, spool.Options{
		Dir:         set.dir,
		OffsetsFile: filepath.Join(dataDir, "spool-offsets.json"),
		Submit:      in.submitSpooled,
		Logger:      log,
		StaleAfter:  set.staleAfter,
		MaxAge:      set.maxAge,
	})
	if err != nil {
		return nil, err
	}
	if err := m.WatchSpool("forwarder", func() metrics.SpoolStats {
		s := r.Stats()
		return metrics.SpoolStats{Files: s.Files, DepthBytes: s.DepthBytes, OldestAge: s.OldestAge, Submitted: s.Submitted, Skipped: s.Skipped}
	}); err != nil {
		r.Stop()
		_ = r.Close()
		return nil, err
	}
	log.Info("reading the spool {dir}", logx.Args("dir", set.dir))
	return &serveSpool{r: r, log: log}, nil
}

// Stop reads no more spool lines (the first step of shutting down).
func (s *serveSpool) Stop() {
	if s.r != nil {
		s.r.Stop()
	}
}

// Close writes the final offsets; call it after the engine drained.
func (s *serveSpool) Close() {
	if s.r == nil {
		return
	}
	if err := s.r.Close(); err != nil {
		s.log.Error(err.Error())
	}
}

// ready adds the spool's lag to the engine's readiness (/readyz).
func (s *serveSpool) ready(ok bool, reason string) (bool, string) {
	if !ok || s.r == nil {
		return ok, reason
	}
	if lag, why := s.r.Lagging(); lag {
		return false, reason + "; " + why
	}
	return ok, reason
}
