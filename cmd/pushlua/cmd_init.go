package main

import (
	"context"
	"fmt"
	"io"
)

func cmdInit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pushlua init: not yet")
	return 2
}
