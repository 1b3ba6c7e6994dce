//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"
)

// lockFile takes f's flock, exclusive or shared, as bbolt does: it retries
// until timeout (DefaultBoltTimeout when zero, a single attempt when
// negative). Holding the lock while the file is checked keeps another
// pushlua process from writing it meanwhile; bbolt then takes the same
// lock again on the same open file, which succeeds at once.
func lockFile(f *os.File, path string, exclusive bool, timeout time.Duration) error {
	switch {
	case timeout == 0:
		timeout = DefaultBoltTimeout
	case timeout < 0:
		timeout = 0
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("store: lock %s: %w", path, err)
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("store: %s: another pushlua process holds the database (lock not acquired within %s): %w",
				path, timeout, bolterrors.ErrTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
