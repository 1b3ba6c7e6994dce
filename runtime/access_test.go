package runtime

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

// A missing script keeps Dovecot's message and is fs.ErrNotExist to Go.
func TestReadScriptMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.lua")
	_, err := readScript(path)
	if got, want := err.Error(), "access("+path+") failed: No such file or directory"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false; want true", err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		t.Errorf("errors.As(%v, *fs.PathError) = true; want false (the message names the path)", err)
	}
}
