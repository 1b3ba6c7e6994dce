//go:build unix

package spool

import (
	"errors"
	"syscall"
)

// alive reports whether process pid exists, as kill(pid, 0) tells
// (docs/spool.md): only ESRCH means it is gone; EPERM (another user's
// process) means it exists.
func alive(pid int) bool {
	if pid <= 0 {
		return true
	}
	err := syscall.Kill(pid, 0)
	return !errors.Is(err, syscall.ESRCH)
}
