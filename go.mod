module github.com/pushlua/pushlua

go 1.26.8

require (
	github.com/Shopify/go-lua v0.0.0-20250718183320-1e37f32ad7d0
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.45.0 // indirect
