package main

import (
	"context"
	"fmt"
	"io"
)

func cmdStubs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pushlua stubs: not yet")
	return 2
}
