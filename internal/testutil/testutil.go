// Package testutil holds helpers that tests of several packages share: a
// goroutine-safe log buffer and an HTTP endpoint on 127.0.0.1 that records
// requests exactly as they arrive on the wire. It is imported by tests only.
package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer safe for concurrent writers (an engine's
// workers, a process's stderr reader).
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Request is one request as it arrived: the request line's method and
// target, the header fields in wire order and spelling, and the body.
type Request struct {
	Method, Target string
	Headers        [][2]string
	Body           string
	At             time.Time
	// Raw is the request's bytes as they came: request line, header
	// lines, the empty line and the body.
	Raw string
}

// Header returns the first value of the header name (case-insensitive).
func (r Request) Header(name string) string {
	for _, kv := range r.Headers {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

// CaptureServer is an HTTP/1.1 endpoint on 127.0.0.1 that records every
// request and answers it, after Delay, with Status.
type CaptureServer struct {
	ln     net.Listener
	mu     sync.Mutex
	status int
	delay  time.Duration
	reqs   []Request
}

// NewCaptureServer starts a capture server; it stops when the test ends.
func NewCaptureServer(t testing.TB, status int, delay time.Duration) *CaptureServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &CaptureServer{ln: ln, status: status, delay: delay}
	go s.serve()
	t.Cleanup(func() { ln.Close() })
	return s
}

// Addr is the server's host:port.
func (s *CaptureServer) Addr() string { return s.ln.Addr().String() }

// URL is "http://" + Addr().
func (s *CaptureServer) URL() string { return "http://" + s.Addr() }

// SetStatus changes the status of the next answers.
func (s *CaptureServer) SetStatus(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// Requests returns the requests so far.
func (s *CaptureServer) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

func (s *CaptureServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.conn(c)
	}
}

func (s *CaptureServer) conn(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		parts := strings.Fields(line)
		if len(parts) < 2 {
			return
		}
		req := Request{Method: parts[0], Target: parts[1], At: time.Now()}
		raw := []byte(line)
		length := 0
		for {
			h, err := br.ReadString('\n')
			if err != nil {
				return
			}
			raw = append(raw, h...)
			h = strings.TrimRight(h, "\r\n")
			if h == "" {
				break
			}
			k, v, _ := strings.Cut(h, ":")
			v = strings.TrimSpace(v)
			req.Headers = append(req.Headers, [2]string{k, v})
			if strings.EqualFold(k, "Content-Length") {
				length, _ = strconv.Atoi(v)
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		req.Body = string(body)
		req.Raw = string(append(raw, body...))
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		status, delay := s.status, s.delay
		s.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: 2\r\n\r\nok", status, http.StatusText(status))
	}
}
