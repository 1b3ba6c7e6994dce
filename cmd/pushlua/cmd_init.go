package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

func cmdInit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pushlua init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if code, done := parseArgs(ctx, fs, args, stdout); done {
		return code
	}
	fmt.Fprintln(stderr, "pushlua init: not implemented yet")
	return 2
}
