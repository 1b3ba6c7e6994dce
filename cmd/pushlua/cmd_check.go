package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pushlua/pushlua/internal/store"
	pushrt "github.com/pushlua/pushlua/runtime"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c common
	fs := newFlagSet("check", stderr, &c, true)
	if code, done := parseArgs(ctx, fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pushlua check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	log, err := c.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua:", err)
		return 2
	}
	// Exit 2: the configuration cannot be read, or says something wrong
	// (an unknown or misplaced setting, a bad driver value, no driver);
	// exit 1: a script does not load or its script_init fails. Every
	// finding is reported, not only the first.
	cfg, err := c.parseConfig()
	if err != nil {
		printLines(stderr, "pushlua check: ", err.Error())
		return 2
	}
	lintErr := lintConfig(cfg)
	var problems []string
	if lintErr != nil {
		problems = strings.Split(lintErr.Error(), "\n")
	}
	nd := cfg.NoDriver()
	if nd != nil {
		problems = append(problems, nd.String())
	}
	if len(problems) > 0 {
		for _, w := range cfg.Warnings {
			if nd != nil && nd.Key != "" && strings.HasPrefix(w, nd.Pos.String()+": "+nd.Key+" ") {
				continue // the error below says it
			}
			fmt.Fprintln(stderr, "pushlua check: warning:", w)
		}
		printLines(stderr, "pushlua check: ", strings.Join(problems, "\n"))
		return 2
	}
	// Scripts are loaded against an empty store: a check must not depend on,
	// or change, the daemon's data.
	eng, err := pushrt.New(ctx, pushrt.Options{Config: cfg, Store: store.NewMemory(), Logger: log, Jobs: 1})
	if err != nil {
		// New fails only on an invalid setting.
		fmt.Fprintln(stderr, "pushlua check:", err)
		return 2
	}
	defer eng.Close(context.WithoutCancel(ctx))
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "pushlua check: warning:", w)
	}
	fmt.Fprintf(stdout, "config: %s, read from %s\n", eng.Syntax(), strings.Join(cfg.Files, ", "))
	for _, d := range eng.Drivers() {
		fmt.Fprintf(stdout, "ok: %s (%s)\n", d.Name(), strings.Join(d.Scripts(), ", "))
	}
	if errs := eng.InitErrors(); len(errs) > 0 {
		err := errs[0]
		var se *pushrt.ScriptError
		if errors.As(err, &se) {
			fmt.Fprintf(stderr, "pushlua check: %s: %v\n", se.Where(), se)
		} else {
			fmt.Fprintf(stderr, "pushlua check: %v\n", err)
		}
		return 1
	}
	return 0
}

// printLines writes each line of s with prefix.
func printLines(w io.Writer, prefix, s string) {
	for _, line := range strings.Split(s, "\n") {
		fmt.Fprintln(w, prefix+line)
	}
}
