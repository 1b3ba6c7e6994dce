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
// stream, end to end: 4 senders publish b.N transactions of 500 users (in
// requests of 25, each user's in order) while 1 or 2 consumers (each its
// own connection, as separate workers) take them; a transaction is
// acknowledged once a goroutine "ran" it (no Lua: the queue's own cost).
// The embedded server (64 partitions, file storage) shares the machine's
// cores with everything else.
//
//	go test -run '^$' -bench Throughput -benchtime 20000x ./internal/jetstream
func BenchmarkThroughput(b *testing.B) {
	for _, consumers := range []int{1, 2} {
		b.Run(fmt.Sprintf("consumers=%d", consumers), func(b *testing.B) {
			benchThroughput(b, consumers)
		})
	}
}

func benchThroughput(b *testing.B, consumers int) {
	s := jstest.Start(b)
	o := testOptions(s.ClientURL())
	o.Partitions = DefaultPartitions
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
	const users, senders, batch = 500, 4, 25
	// Transaction k is user k%users's number k/users+1; sender g sends
	// the users u with u%senders == g.
	var work [senders][]Msg
	for k := range b.N {
		u := k % users
		work[u%senders] = append(work[u%senders], txnLine(fmt.Sprintf("user%d", u), k/users+1))
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	errs := make(chan error, senders)
	for g := range senders {
		go func() {
			msgs := work[g]
			for len(msgs) > 0 {
				n := min(batch, len(msgs))
				if err := pub.Publish(context.Background(), msgs[:n]); err != nil {
					errs <- err
					return
				}
				msgs = msgs[n:]
			}
			errs <- nil
		}()
	}
	for range senders {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	for ran.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "txn/s")
}
