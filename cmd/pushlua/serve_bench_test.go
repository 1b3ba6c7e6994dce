package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/pushlua/pushlua/internal/testutil"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// inProcessServe runs `pushlua serve` in this process and returns its
// address and log; cancel stops it.
func inProcessServe(b *testing.B, dir string, args ...string) (addr string, logs *testutil.Buffer, stop func()) {
	b.Helper()
	logs = &testutil.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, append([]string{"serve", "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0"}, args...), strings.NewReader(""), io.Discard, logs)
	}()
	re := regexp.MustCompile(`listening on (\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("serve did not start:\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return addr, logs, func() { cancel(); <-done }
}

func processed(b *testing.B, addr string) int {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	total := 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "pushlua_transactions_processed_total{") {
			n, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			total += int(n)
		}
	}
	return total
}

// BenchmarkServe measures sustained transactions per second through
// `pushlua serve` (HTTP ingest in batches of 100, queue, a trivial
// begin/MessageNew/end script), from the first POST to the last
// transaction processed.
//
//	go test -run '^$' -bench Serve ./cmd/pushlua/
func BenchmarkServe(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "p.conf"), []byte("plugin {\n  push_notification_driver = lua:file=s.lua\n}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "s.lua"), []byte(`function dovecot_lua_notify_begin_txn(user) return {n = 0} end
function dovecot_lua_notify_event_message_new(ctx, e) ctx.n = ctx.n + 1 end
function dovecot_lua_notify_end_txn(ctx, success) end
`), 0o644)
	addr, logs, stop := inProcessServe(b, dir, "-c", filepath.Join(dir, "p.conf"))
	defer stop()
	var batch bytes.Buffer
	for i := range 100 {
		fmt.Fprintf(&batch, `{"user": "user%d@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d, "uid_validity": 7, "subject": "hi"}]}`+"\n", i%50, i+1)
	}
	body := batch.Bytes()
	before := processed(b, addr)
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		resp, err := http.Post("http://"+addr+"/v1/transactions", "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("status %d:\n%s", resp.StatusCode, logs)
		}
		sent += 100
	}
	for processed(b, addr)-before < sent {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "txn/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(sent), "ns/txn")
}

// BenchmarkReload measures reload latency: from the script file written
// to the new version serving (the watcher's debounce included).
func BenchmarkReload(b *testing.B) {
	dir := b.TempDir()
	script := filepath.Join(dir, "s.lua")
	write := func(n int) {
		os.WriteFile(script, []byte(fmt.Sprintf(`-- version %d
function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_event_message_new(ctx, e) end
function dovecot_lua_notify_end_txn(ctx, success) end
`, n)), 0o644)
	}
	write(0)
	os.WriteFile(filepath.Join(dir, "p.conf"), []byte("pushlua_reload_debounce = 20ms\nplugin {\n  push_notification_driver = lua:file=s.lua\n}\n"), 0o644)
	_, logs, stop := inProcessServe(b, dir, "-c", filepath.Join(dir, "p.conf"))
	defer stop()
	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		want := fmt.Sprintf("→ v%d,", i+2)
		start := time.Now()
		write(i + 1)
		for !strings.Contains(logs.String(), want) {
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/reload")
}

// BenchmarkServeDurable compares accepted transactions per second through
// HTTP with the write-ahead log (202 after fsync) and without it (202 once
// queued in memory), in one run: N clients each POST one transaction at a
// time, as Dovecot's forwarder does, for N = 16, 64 and 256 (each pair
// runs back to back). It also reports the whole run's rate, to the last
// transaction processed. With few clients the durable rate is bound by
// the latency of an fsync (every client waits for one), with many by the
// CPU (docs/performance.md, the durable queue).
//
//	go test -run '^$' -bench ServeDurable -benchtime 20000x ./cmd/pushlua/
func BenchmarkServeDurable(b *testing.B) {
	for _, clients := range []int{16, 64, 256} {
		for _, durable := range []string{"yes", "no"} {
			b.Run(fmt.Sprintf("clients=%d/durable=%s", clients, durable), func(b *testing.B) {
				benchServeDurable(b, clients, durable)
			})
		}
	}
}

func benchServeDurable(b *testing.B, clients int, durable string) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "p.conf"), []byte("pushlua_durable = "+durable+"\npushlua_user_queue_size = 1000\nplugin {\n  push_notification_driver = lua:file=s.lua\n}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "s.lua"), []byte(`function dovecot_lua_notify_begin_txn(user) return {n = 0} end
function dovecot_lua_notify_event_message_new(ctx, e) ctx.n = ctx.n + 1 end
function dovecot_lua_notify_end_txn(ctx, success) end
`), 0o644)
	addr, logs, stop := inProcessServe(b, dir, "-c", filepath.Join(dir, "p.conf"))
	defer stop()
	before := processed(b, addr)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				body := fmt.Sprintf(`{"id":"b-%d","user":"user%d@example.com","events":[{"name":"MessageNew","mailbox":"INBOX","uid":%d,"uid_validity":7,"subject":"hi"}]}`, i, c, i)
				resp, err := client.Post("http://"+addr+"/v1/transactions", "application/json", strings.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("status %d:\n%s", resp.StatusCode, logs)
					return
				}
			}
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
	for processed(b, addr)-before < b.N {
		time.Sleep(time.Millisecond)
	}
	all := time.Since(start)
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/all.Seconds(), "processed/s")
	// The CPU of this process (serve and the clients) per
	// transaction: with durability on, what the log costs beyond
	// the wait for its fsyncs.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/txn")
}
