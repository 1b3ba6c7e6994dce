module github.com/pushlua/pushlua

go 1.26.8

require (
	github.com/Shopify/go-lua v0.0.0-20250718183320-1e37f32ad7d0
	go.etcd.io/bbolt v1.5.0
)

require (
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	github.com/hashicorp/go-retryablehttp v0.7.8 // indirect
	golang.org/x/sys v0.45.0 // indirect
)
