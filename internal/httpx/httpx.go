// Package httpx is pushlua's one HTTP client for scripts (placeholder until
// written).
package httpx

// Client sends HTTP requests.
type Client struct{}
