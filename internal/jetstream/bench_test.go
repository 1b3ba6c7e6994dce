package jetstream

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/jetstream/jstest"
	"github.com/pushlua/pushlua/internal/txn"
)

// BenchmarkThroughput measures transactions per second through the
// stream: published in requests of 100 (500 users), taken by 1 or 2
// consumers (each its own connection, as separate workers), each
// transaction acknowledged once a goroutine "ran" it (no Lua: the queue's
// own cost). The embedded server shares the machine's cores with the
// consumers.
func BenchmarkThroughput(b *testing.B) {
	for _, consumers := range []int{1, 2} {
		for _, partitions := range []int{16, 64} {
			b.Run(fmt.Sprintf("consumers=%d/partitions=%d", consumers, partitions), func(b *testing.B) {
				benchThroughput(b, consumers, partitions)
			})
		}
	}
}

func benchThroughput(b *testing.B, consumers, partitions int) {
	s := jstest.Start(b)
	o := testOptions(s.ClientURL())
	o.Partitions = partitions
	o.AckWait = 30 * time.Second
	var ran atomic.Int64
	run := func(_ context.Context, _ *txn.Txn, done func(bool)) error {
		go func() {
			ran.Add(1)
			done(true)
		}()
		return nil
	}
	giveUp := func(*txn.Txn, string, int) error { return nil }
	for range consumers {
		q := open(b, o)
		c, err := q.Consume(ConsumeOptions{Submit: run, GiveUp: giveUp})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
	}
	pub := open(b, o)
	const users, batch = 500, 100
	msgs := make([]Msg, 0, batch)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += batch {
		msgs = msgs[:0]
		for k := i; k < min(i+batch, b.N); k++ {
			msgs = append(msgs, txnLine(fmt.Sprintf("user%d", k%users), k/users+1))
		}
		if err := pub.Publish(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
	for ran.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "txn/s")
}
