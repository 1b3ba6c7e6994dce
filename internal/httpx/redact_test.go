package httpx

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// An error never carries the password of the request's URL, whether the
// URL parses or not.
func TestHTTPErrorRedactsPassword(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	c := newTestClient(t, Options{})
	for _, tt := range []struct{ name, url, want string }{
		{"refused", "http://login:SECRETPASS@" + host + "/x", "http://login:xxxxx@" + host + "/x"},
		{"bad escape", "http://login:SECRETPASS@" + host + "/%zz", "login:xxxxx@"},
		{"bad port", "http://login:SECRETPASS@127.0.0.1:bad/", "login:xxxxx@"},
		{"bad scheme", "htp://login:SECRETPASS@127.0.0.1/", "htp://login:xxxxx@127.0.0.1/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := c.Do(ctx, &Request{URL: tt.url})
			if err == nil {
				t.Fatal("got no error")
			}
			if msg := err.Error(); strings.Contains(msg, "SECRETPASS") || !strings.Contains(msg, tt.want) {
				t.Errorf("got %q; want it to hold %q and not the password", msg, tt.want)
			}
		})
	}
}
