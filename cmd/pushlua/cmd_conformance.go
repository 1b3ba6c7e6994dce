package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pushlua/pushlua/conformance"
)

const conformanceUsage = `Usage: pushlua conformance [-c CONFIG | SCRIPT.lua] [CASES...] [--format text|json|junit|tap] [--run REGEXP] [--bundled]

Runs the built-in checks on the configuration's drivers (or on SCRIPT.lua
alone), then the case files (.txtar files, or directories of them), and
reports every test. Exit status: 0 when every test passed, 1 otherwise,
2 for a usage error. conformance/README.md describes the checks and the
case format.
`

// cmdConformance runs the conformance suite.
func cmdConformance(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pushlua conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts      conformance.Options
		overrides multiFlag
		format    string
	)
	fs.StringVar(&opts.Config, "c", "", "configuration under test (Dovecot syntax)")
	fs.Var(&overrides, "o", "override a setting of the configuration under test: key=value (repeatable)")
	fs.StringVar(&format, "format", "text", "output format: "+strings.Join(conformance.Formats, ", "))
	fs.StringVar(&opts.RunRegexp, "run", "", "run only the tests whose name (suite/test) matches this regexp")
	fs.BoolVar(&opts.Bundled, "bundled", false, "also run the suites shipped with pushlua (dlog, ox, documentation examples, forwarder)")
	fs.BoolVar(&opts.Strict, "strict", false, "fail the globals check also on globals that are only ever written first (a warning otherwise)")
	fs.StringVar(&opts.SharedDir, "shared", "", "directory holding Dovecot's documentation examples (default $PUSHLUA_SHARED, or ../shared beside the repository)")
	// Flags may come after the positional arguments.
	if code, done := parseArgs(ctx, fs, args, stdout); done {
		return code
	}
	positional := fs.Args()
	opts.Overrides = overrides
	known := false
	for _, f := range conformance.Formats {
		known = known || f == format
	}
	if !known {
		fmt.Fprintf(stderr, "pushlua conformance: --format: expected one of %s, got %q\n", strings.Join(conformance.Formats, ", "), format)
		return 2
	}
	for _, p := range positional {
		if strings.HasSuffix(p, ".lua") {
			if opts.Config != "" || opts.Script != "" {
				fmt.Fprintf(stderr, "pushlua conformance: %s: give one configuration (-c CONFIG) or one script (SCRIPT.lua)\n", p)
				return 2
			}
			opts.Script = p
			continue
		}
		opts.Cases = append(opts.Cases, p)
	}
	if opts.Config == "" && opts.Script == "" && len(opts.Cases) == 0 && !opts.Bundled {
		fs.Usage()
		return 2
	}
	// Exit 2 for a configuration or script that cannot be read, or a
	// configuration with an unknown or misplaced setting (as check and
	// serve); a failing test is exit 1.
	if opts.Config != "" {
		c := common{config: opts.Config, overrides: overrides}
		if _, err := c.loadConfig(); err != nil {
			printLines(stderr, "pushlua conformance: ", err.Error())
			return 2
		}
	}
	if opts.Script != "" {
		if _, err := os.Stat(opts.Script); err != nil {
			fmt.Fprintln(stderr, "pushlua conformance:", err)
			return 2
		}
	}
	rep, err := conformance.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua conformance:", err)
		return 2
	}
	if err := rep.WriteReport(stdout, format); err != nil {
		fmt.Fprintln(stderr, "pushlua conformance:", err)
		return 2
	}
	if format != "text" {
		// The summary line also goes to stderr, for humans watching CI.
		fmt.Fprintln(stderr, rep.Summary())
	}
	if !rep.OK() {
		return 1
	}
	return 0
}
