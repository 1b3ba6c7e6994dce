package ingest

import (
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRequireAuth(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", false},
		{"127.1.2.3:8080", false},
		{"127.0.0.1", false},
		{"[::1]:8080", false},
		{"::1", false},
		{"[::1]", false},
		{"[::ffff:127.0.0.1]:80", false},
		{"localhost:8080", false},
		{"LocalHost:8080", false},
		{"localhost", false},
		{"unix:/run/pushlua.sock", false},
		{"unix:relative.sock", false},
		{":8080", true},
		{"0.0.0.0:8080", true},
		{"[::]:8080", true},
		{"192.168.1.10:8080", true},
		{"10.0.0.1", true},
		{"example.com:8080", true},
		{"localhost.example.com:80", true},
		{"128.0.0.1:80", true},
		{"", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := RequireAuth(tt.addr); got != tt.want {
				t.Errorf("RequireAuth(%q) = %v; want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestListenTCP(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got := ln.Addr().Network(); got != "tcp" {
		t.Errorf("network %q; want tcp", got)
	}
}

func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

func TestListenUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ingest.sock")
	ln, err := Listen("unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v; want socket 0660", fi.Mode())
	}

	q := &queue{}
	srv := &http.Server{Handler: New(Options{Submit: q.submit})}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	client := unixClient(path)
	res, err := client.Post("http://pushlua/v1/transactions", "application/x-ndjson", strings.NewReader(good1+"\n"+good2+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got Result
	err = json.NewDecoder(res.Body).Decode(&got)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusAccepted || len(got.Accepted) != 2 {
		t.Errorf("status %d, %+v; want 202 and two accepted", res.StatusCode, got)
	}
	client.CloseIdleConnections()

	// A second listener on a live socket is refused.
	if ln2, err := Listen("unix:" + path); err == nil {
		ln2.Close()
		t.Errorf("Listen on a socket in use succeeded")
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != http.ErrServerClosed {
		t.Errorf("Serve: %v", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left after Close: %v", err)
	}
}

func TestListenStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stale.sock")
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close() // leaves the file, as a crashed process would
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	ln, err := Listen("unix:" + path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()
}

func TestListenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, addr, want string
	}{
		{"regular file", "unix:" + file, "not a socket"},
		{"empty path", "unix:", "empty socket path"},
		{"missing directory", "unix:" + filepath.Join(dir, "no", "s.sock"), "no such file"},
		{"bad tcp address", "127.0.0.1:notaport", "unknown port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := Listen(tt.addr)
			if err == nil {
				ln.Close()
				t.Fatalf("Listen(%q) succeeded; want an error", tt.addr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q; want it to contain %q", err, tt.want)
			}
		})
	}
	if data, _ := os.ReadFile(file); string(data) != "keep me" {
		t.Errorf("regular file changed")
	}
}
