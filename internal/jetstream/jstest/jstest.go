// Package jstest starts NATS servers with JetStream inside a test process,
// on loopback, with their storage in the test's temporary directory.
package jstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start starts an embedded NATS server with JetStream on 127.0.0.1 (a free
// port) and stops it when the test ends. Its client URL is
// s.ClientURL().
func Start(tb testing.TB) *server.Server {
	tb.Helper()
	return StartIn(tb, tb.TempDir(), -1)
}

// StartIn starts one storing its streams in dir on port (-1: a free one),
// so that a test can stop it and start it again on the same storage.
func StartIn(tb testing.TB, dir string, port int) *server.Server {
	tb.Helper()
	s, err := server.NewServer(&server.Options{
		ServerName: "pushlua-test",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		tb.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		tb.Fatal("nats server: not ready within 10 s")
	}
	tb.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}
