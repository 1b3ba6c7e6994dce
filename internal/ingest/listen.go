package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// UnixPrefix marks a Unix socket address: "unix:/run/pushlua/ingest.sock".
const UnixPrefix = "unix:"

// RequireAuth reports whether a listener on addr must require a bearer
// token: true unless addr is a Unix socket ("unix:/path") or a loopback
// address (127.0.0.0/8, ::1, "localhost"), with or without a port. An
// address with an empty host (":8080") listens on every interface and
// requires authentication.
func RequireAuth(addr string) bool {
	if strings.HasPrefix(addr, UnixPrefix) {
		return false
	}
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return true
	}
	return !ip.Unmap().IsLoopback()
}

// Listen listens on addr: "host:port" for TCP or "unix:/path" for a Unix
// socket. A stale socket file at path (one no process accepts on) is
// removed first; a live one, or another kind of file, is an error. The
// socket file is made mode 0660 and is removed when the listener is closed.
func Listen(addr string) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, UnixPrefix)
	if !ok {
		return net.Listen("tcp", addr)
	}
	if path == "" {
		return nil, fmt.Errorf("listen %s: empty socket path", addr)
	}
	if err := removeStale(path); err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}

func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s is in use by another process", path)
	}
	return os.Remove(path)
}
