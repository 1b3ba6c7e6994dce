//go:build !unix

package store

import (
	"io"
	"os"
)

// mapFile reads f where mapping is not implemented.
func mapFile(f *os.File, _ int64) (io.ReaderAt, func()) { return f, func() {} }
