package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestWatchStore(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	size, users := int64(65536), 12
	if err := m.WatchStore(func() int64 { return size }, func() int { return users }); err != nil {
		t.Fatal(err)
	}
	want := func(size, users string) *strings.Reader {
		return strings.NewReader(`
# HELP pushlua_store_bytes Size of the store file (mailbox status and METADATA), bytes.
# TYPE pushlua_store_bytes gauge
pushlua_store_bytes ` + size + `
# HELP pushlua_store_users Users the store holds state for (idle ones expire: pushlua_store_expire).
# TYPE pushlua_store_users gauge
pushlua_store_users ` + users + `
`)
	}
	names := []string{"pushlua_store_bytes", "pushlua_store_users"}
	if err := testutil.GatherAndCompare(reg, want("65536", "12"), names...); err != nil {
		t.Error(err)
	}
	// Every scrape asks again.
	size, users = 32768, 3
	if err := testutil.GatherAndCompare(reg, want("32768", "3"), names...); err != nil {
		t.Error(err)
	}
	if err := m.WatchStore(func() int64 { return 0 }, func() int { return 0 }); err == nil {
		t.Error("watching a second store: no error")
	}
}
