package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRequestRetryPolicy: a request's CheckRetry is asked once per
// attempt (after the body was read, or with the failure as an *Error), its
// Backoff gives the wait, its PrepareRetry changes the next attempt, and an
// error of CheckRetry ends Do with ErrRetryPolicy wrapping it.
func TestRequestRetryPolicy(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %q", r.Method, r.URL.Path, body))
		mu.Unlock()
		switch r.URL.Path {
		case "/moved":
			w.Header().Set("Location", "/target")
			w.WriteHeader(http.StatusSeeOther)
			io.WriteString(w, "moved body")
		case "/drop":
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		default:
			io.WriteString(w, "target body")
		}
	}))
	defer srv.Close()
	c := newTestClient(t, Options{})

	t.Run("follow by PrepareRetry", func(t *testing.T) {
		var asked []string
		var waited time.Duration
		r := &Request{Method: "POST", URL: srv.URL + "/moved", Body: []byte("payload")}
		r.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			if err != nil {
				t.Fatalf("CheckRetry got error %v", err)
			}
			asked = append(asked, resp.Status)
			return resp.StatusCode == http.StatusSeeOther, nil
		}
		r.Backoff = func(_, _ time.Duration, n int, resp *http.Response) time.Duration {
			waited = 10 * time.Millisecond
			return waited
		}
		r.PrepareRetry = func(r *Request) error {
			r.Method, r.URL, r.Body = "GET", srv.URL+"/target", nil
			return nil
		}
		start := time.Now()
		resp, err := c.Do(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || string(resp.Body) != "target body" || resp.Attempts != 2 {
			t.Errorf("got %d %q after %d attempts; want 200 \"target body\" after 2", resp.Status, resp.Body, resp.Attempts)
		}
		if want := []string{"303 See Other", "200 OK"}; strings.Join(asked, ",") != strings.Join(want, ",") {
			t.Errorf("CheckRetry asked for %q; want %q", asked, want)
		}
		mu.Lock()
		got := strings.Join(seen, ",")
		mu.Unlock()
		if want := `POST /moved "payload",GET /target ""`; got != want {
			t.Errorf("server saw %q; want %q", got, want)
		}
		if d := time.Since(start); d < waited {
			t.Errorf("took %v; want at least the backoff %v", d, waited)
		}
	})

	t.Run("failure as *Error", func(t *testing.T) {
		var kinds []error
		r := &Request{URL: srv.URL + "/drop", Header: [][2]string{{"Connection", "close"}}}
		r.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			var e *Error
			if resp != nil || !errors.As(err, &e) {
				t.Fatalf("CheckRetry got %v, %v; want nil and an *Error", resp, err)
			}
			kinds = append(kinds, e.Kind)
			return len(kinds) < 3, nil
		}
		_, err := c.Do(context.Background(), r)
		if !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("got %v; want %v", err, ErrConnectionLost)
		}
		if len(kinds) != 3 || kinds[2] != ErrConnectionLost {
			t.Errorf("CheckRetry saw %v; want 3 × %v", kinds, ErrConnectionLost)
		}
	})

	t.Run("policy error", func(t *testing.T) {
		refused := errors.New("no, thanks")
		r := &Request{URL: srv.URL + "/moved"}
		r.CheckRetry = func(context.Context, *http.Response, error) (bool, error) { return false, refused }
		_, err := c.Do(context.Background(), r)
		var e *Error
		if !errors.As(err, &e) || e.Kind != ErrRetryPolicy || !errors.Is(err, refused) {
			t.Fatalf("got %v; want an *Error of Kind %v wrapping %v", err, ErrRetryPolicy, refused)
		}
	})

	t.Run("invalid next request", func(t *testing.T) {
		r := &Request{URL: srv.URL + "/moved"}
		r.CheckRetry = func(context.Context, *http.Response, error) (bool, error) { return true, nil }
		r.PrepareRetry = func(r *Request) error { r.URL = "ftp://x/"; return nil }
		_, err := c.Do(context.Background(), r)
		if !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("got %v; want %v", err, ErrInvalidRequest)
		}
	})
}
