package e2e

import (
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
)

// TransactionsPath is where pushlua takes transactions over HTTP.
const TransactionsPath = "/v1/transactions"

// post is one request the receiver got.
type post struct {
	Method, Path string
	Header       http.Header
	Body         []byte
	// Txn is the parsed body; Err is txn.Parse's error (the test fails on
	// it as well).
	Txn *txn.Txn
	Err error
}

// receiver is the pushlua side of the end-to-end tests. startReceiver is
// the only function that knows what it is: today an in-process HTTP server
// that records and parses each POST; when `pushlua serve` exists it can
// start that daemon instead and report what it ingested.
type receiver struct {
	// URL is the full transactions URL to configure in the forwarder.
	URL string

	mu     sync.Mutex
	posts  []post
	status int // the status the next requests get
	notify chan struct{}
	// upstream, when set, gets every request as it arrived; its status
	// is the answer.
	upstream func(post) int
}

// startReceiver starts a receiver on 127.0.0.1 that wants the bearer token
// token ("" for none) and answers 204; it is stopped when the test ends.
func startReceiver(t *testing.T, token string) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{URL: "http://" + ln.Addr().String() + TransactionsPath,
		status: http.StatusNoContent, notify: make(chan struct{}, 1)}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p := post{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Body: body}
		p.Txn, p.Err = txn.Parse(body, nil)
		r.mu.Lock()
		upstream := r.upstream
		r.mu.Unlock()
		forwarded := 0
		if upstream != nil {
			forwarded = upstream(p)
		}
		r.mu.Lock()
		r.posts = append(r.posts, p)
		status := r.status
		r.mu.Unlock()
		if forwarded != 0 && forwarded != http.StatusAccepted {
			status = forwarded
		}
		select {
		case r.notify <- struct{}{}:
		default:
		}
		switch {
		case req.Method != http.MethodPost || req.URL.Path != TransactionsPath:
			status = http.StatusNotFound
		case token != "" && req.Header.Get("Authorization") != "Bearer "+token:
			status = http.StatusUnauthorized
		case p.Err != nil:
			status = http.StatusBadRequest
		}
		w.WriteHeader(status)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

// setStatus makes the receiver answer status from now on.
func (r *receiver) setStatus(status int) {
	r.mu.Lock()
	r.status = status
	r.mu.Unlock()
}

// Posts returns every request so far.
func (r *receiver) Posts() []post {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]post(nil), r.posts...)
}

// waitPosts waits until there are at least n requests (or timeout passes)
// and returns them all.
func (r *receiver) waitPosts(n int, timeout time.Duration) []post {
	deadline := time.Now().Add(timeout)
	for {
		if p := r.Posts(); len(p) >= n || time.Now().After(deadline) {
			return p
		}
		select {
		case <-r.notify:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkPost fails the test unless p is a well-formed forwarder request
// whose body pushlua accepts.
func checkPost(t *testing.T, p post, token string) {
	t.Helper()
	if p.Method != http.MethodPost || p.Path != TransactionsPath {
		t.Errorf("request %s %s, want POST %s", p.Method, p.Path, TransactionsPath)
	}
	if ct := p.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	want := ""
	if token != "" {
		want = "Bearer " + token
	}
	if got := p.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization %q, want %q", got, want)
	}
	if p.Err != nil {
		t.Errorf("pushlua rejects the body: %v\nbody: %s", p.Err, p.Body)
	}
}

// freeAddr returns a 127.0.0.1 address nothing listens on (it just did).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
