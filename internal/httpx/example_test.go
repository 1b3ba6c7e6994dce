package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/pushlua/pushlua/internal/httpx"
)

func ExampleClient_Do() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %q ua=%q", r.Method, r.URL.Path, body, r.UserAgent())
	}))
	defer srv.Close()

	client := httpx.New(httpx.Options{})
	resp, err := client.Do(context.Background(), &httpx.Request{
		Method:      "PUT",
		URL:         srv.URL + "/notify",
		Header:      [][2]string{{"Content-Type", "application/json"}},
		Body:        []byte(`{"event":"messageNew"}`),
		Timeout:     2 * time.Second,
		MaxAttempts: 2,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status, resp.Reason, string(resp.Body))

	_, err = client.Do(context.Background(), &httpx.Request{URL: "http://127.0.0.1:1/"})
	fmt.Println(errors.Is(err, httpx.ErrConnectRefused), errors.Is(err, httpx.ErrConnectFailed))
	// Output:
	// 200 OK PUT /notify "{\"event\":\"messageNew\"}" ua=""
	// true true
}
