//go:build !unix

package store

import (
	"os"
	"time"
)

// lockFile does nothing where flock is missing; bbolt's own lock still
// keeps a second process out once the file is open.
func lockFile(*os.File, string, bool, time.Duration) error { return nil }
