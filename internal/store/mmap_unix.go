//go:build unix

package store

import (
	"io"
	"os"
	"syscall"
)

// mapFile maps the first size bytes of f read-only, so that a check reads
// pages without a system call each; where mapping fails it falls back to
// reading f. unmap releases the mapping; nothing read from it may be used
// after.
func mapFile(f *os.File, size int64) (src io.ReaderAt, unmap func()) {
	if size <= 0 || int64(int(size)) != size {
		return f, func() {}
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return f, func() {}
	}
	return mapped(b), func() { _ = syscall.Munmap(b) }
}
