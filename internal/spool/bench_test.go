package spool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/pushlua/pushlua/internal/txn"
)

// benchLine is a MessageNew transaction as the forwarder writes it (the
// example of examples/transactions.jsonl), with id %d.
const benchLine = `{"id":"4242-1733000000-0a0b0c0d-%d","user":{"username":"alice@example.com","service":"lmtp"},"events":[{"name":"MessageNew","mailbox":"INBOX","uid":1,"uid_validity":1795978712,"date":1732611600,"tz":60,"from":"Sender One <sender1@example.org>","to":"Alice <alice@example.com>","subject":"Plain hello","snippet":"Hello Alice, this is a plain test message.","message_id":"<plain-1@example.org>","from_address":"sender1@example.org","from_display_name":"Sender One","to_address":"alice@example.com","to_display_name":"Alice","flags":[],"keywords":[]}],"status":{"INBOX":{"messages":1,"recent":1,"unseen":1,"uidnext":2,"uidvalidity":1795978712}},"metadata":{"/private/vendor/vendor.dovecot/http-notify":"user=11@3"}}` + "\n"

// BenchmarkRead measures the Reader from disk to Submit: reading a closed
// spool file, cutting lines, parsing each transaction, the watermark
// bookkeeping of its done callback, and the offsets written meanwhile.
//
//	go test -run '^$' -bench Read -benchmem ./internal/spool
func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	spool := filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o700); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, b.N*(len(benchLine)+8))
	for i := range b.N {
		buf = fmt.Appendf(buf, benchLine, i+1)
	}
	if err := os.WriteFile(filepath.Join(spool, "pl-4242-1733000000-0a0b0c0d.jsonl"), buf, 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf) / b.N))
	b.ReportAllocs()
	var n atomic.Int64
	all := make(chan struct{})
	submit := func(_ context.Context, _ *txn.Txn, done func(bool)) error {
		done(true)
		if n.Add(1) == int64(b.N) {
			close(all)
		}
		return nil
	}
	b.ResetTimer()
	r, err := Start(context.Background(), Options{Dir: spool, OffsetsFile: filepath.Join(dir, "offsets.json"), Submit: submit})
	if err != nil {
		b.Fatal(err)
	}
	<-all
	b.StopTimer()
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkParseOnly is txn.Parse of the same line alone: the part of
// BenchmarkRead that is not the Reader's.
func BenchmarkParseOnly(b *testing.B) {
	line := fmt.Appendf(nil, benchLine, 1)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	ids := txn.NewIDs()
	for b.Loop() {
		if _, err := txn.Parse(line[:len(line)-1], ids); err != nil {
			b.Fatal(err)
		}
	}
}
