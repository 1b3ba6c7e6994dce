//go:build !linux

package main

import (
	"io"
	"os"
)

// isTerminal reports whether w is a character device other than
// /dev/null (a terminal, as far as this can tell without termios).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f.Name() == os.DevNull {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
