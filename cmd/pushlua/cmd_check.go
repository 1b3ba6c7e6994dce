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
	cfg, err := c.loadConfig()
	if err != nil {
		fmt.Fprintln(stderr, "pushlua check:", err)
		return 1
	}
	// Scripts are loaded against an empty store: a check must not depend on,
	// or change, the daemon's data.
	eng, err := pushrt.New(ctx, pushrt.Options{Config: cfg, Store: store.NewMemory(), Logger: log, Jobs: 1})
	if err != nil {
		fmt.Fprintln(stderr, "pushlua check:", err)
		return 1
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
	if len(eng.Drivers()) == 0 {
		fmt.Fprintln(stderr, "pushlua check: no push notification driver configured (set push_notification_driver in plugin { })")
		return 1
	}
	return 0
}
