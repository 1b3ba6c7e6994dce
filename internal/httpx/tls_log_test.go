package httpx

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRequestTLS: a request's own TLS options (ssl.https's cafile and
// verify) decide whom it trusts, each in its own pool.
func TestRequestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret")
	}))
	defer srv.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	caDir := filepath.Join(dir, "certs")
	if err := os.MkdirAll(caDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(caDir, "a.pem"), pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, Options{})
	tests := []struct {
		name    string
		tls     *TLS
		wantErr error
	}{
		{"system roots do not know the test CA", nil, ErrConnectFailed},
		{"cafile", &TLS{CAFile: caFile}, nil},
		{"capath", &TLS{CAPath: caDir}, nil},
		{"verify none", &TLS{Insecure: true}, nil},
		{"cafile that does not exist", &TLS{CAFile: filepath.Join(dir, "missing.pem")}, ErrInvalidRequest},
		{"cafile without a certificate", &TLS{CAFile: filepath.Join(dir, "certs")}, ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Do(context.Background(), &Request{URL: srv.URL, TLS: tt.tls})
			if settled(t, err, tt.wantErr) {
				return
			}
			if string(resp.Body) != "secret" {
				t.Errorf("got body %q; want secret", resp.Body)
			}
		})
	}
}

// TestRequestLogger: a request logs to its own logger only (the Client has
// none: Options.Logger, which used to get "http: performing request" for
// every request, with no user or transaction, is gone), and a request
// without a logger writes nothing.
func TestRequestLogger(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	var own bytes.Buffer
	c := newTestClient(t, Options{})
	if _, err := c.Do(context.Background(), &Request{URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(&own, &slog.HandlerOptions{Level: slog.LevelDebug})).With("user", "alice")
	if _, err := c.Do(context.Background(), &Request{URL: srv.URL + "/p", Logger: logger}); err != nil {
		t.Fatal(err)
	}
	got := own.String()
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, `msg="http: GET `+srv.URL+`/p: 200 OK (1 attempt, `) ||
		!strings.Contains(got, "user=alice") || !strings.Contains(got, "status=200") || !strings.Contains(got, "/p") {
		t.Errorf("request logger got:\n%s", got)
	}
}
