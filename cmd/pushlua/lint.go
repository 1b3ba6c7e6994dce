package main

import (
	"errors"
	"strings"

	"github.com/pushlua/pushlua/internal/dconfig"
)

// configErrors is what dconfig's Lint found wrong in a configuration: one
// finding per line, each naming its file:line (or -o).
type configErrors []dconfig.Finding

func (e configErrors) Error() string {
	lines := make([]string, len(e))
	for i, f := range e {
		lines[i] = f.String()
	}
	return strings.Join(lines, "\n")
}

// lintConfig checks cfg for unknown and misplaced settings and bad driver
// values: the errors come back as a configErrors, the warnings are added
// to cfg.Warnings (which check prints and run and serve log).
func lintConfig(cfg *dconfig.Config) error {
	var errs configErrors
	for _, f := range cfg.Lint() {
		if f.Error {
			errs = append(errs, f)
		} else {
			cfg.Warnings = append(cfg.Warnings, f.String())
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// noDriver is the error of a configuration that names no push-notification
// driver at all: serve, run and check refuse it (exit 2).
func noDriver(cfg *dconfig.Config) error {
	if f := cfg.NoDriver(); f != nil {
		return configErrors{*f}
	}
	return nil
}

// isConfigError reports whether err is about the configuration as written
// (exit 2) rather than about running it.
func isConfigError(err error) bool {
	var ce configErrors
	var pe *dconfig.ParseError
	return errors.As(err, &ce) || errors.As(err, &pe)
}
