package jetstream

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pushlua/pushlua/internal/jetstream/jstest"
	"github.com/pushlua/pushlua/internal/txn"
)

func testOptions(url string) Options {
	return Options{URL: url, Partitions: 8, AckWait: 300 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
}

func open(t testing.TB, o Options) *Queue {
	t.Helper()
	q, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Abort)
	return q
}

// txnLine is user's transaction number uid (a user's order is the order of
// its uids).
func txnLine(user string, uid int) Msg {
	id := fmt.Sprintf("%s-%d", user, uid)
	return Msg{ID: id, User: user, Data: fmt.Appendf(nil, `{"id":%q,"user":%q,"events":[{"name":"MessageNew","mailbox":"INBOX","uid":%d}]}`, id, user, uid)}
}

// checkFor polls cond until it holds, for at most 30 s.
func checkFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recorder keeps every run, in the order they happened, across workers.
type recorder struct {
	mu   sync.Mutex
	runs map[string][]int // user → uids
	n    int
}

func newRecorder() *recorder { return &recorder{runs: map[string][]int{}} }

func (r *recorder) add(t *txn.Txn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs[t.User.Username] = append(r.runs[t.User.Username], int(t.Events[0].UID))
	r.n++
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// runAsync is a Submit that runs the transaction on a goroutine of its own,
// as the engine does.
func (r *recorder) runAsync(_ context.Context, t *txn.Txn, done func(bool)) error {
	go func() {
		r.add(t)
		done(true)
	}()
	return nil
}

func noGiveUp(t *testing.T) func(*txn.Txn, string, int) error {
	return func(tx *txn.Txn, reason string, n int) error {
		t.Errorf("gave up on %s after %d deliveries: %s", tx.ID, n, reason)
		return nil
	}
}

func TestOpenCreatesStreamAndConsumers(t *testing.T) {
	s := jstest.Start(t)
	o := testOptions(s.ClientURL())
	o.MaxBytes = 1 << 20
	o.MaxAge = time.Hour
	q := open(t, o)
	ctx := context.Background()
	info, err := q.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	for _, check := range []struct {
		name      string
		got, want any
	}{
		{"subjects", strings.Join(c.Subjects, ","), "pushlua.txn.*"},
		{"retention", c.Retention, natsjs.WorkQueuePolicy},
		{"discard", c.Discard, natsjs.DiscardNew},
		{"storage", c.Storage, natsjs.FileStorage},
		{"replicas", c.Replicas, 1},
		{"max bytes", c.MaxBytes, int64(1 << 20)},
		{"max age", c.MaxAge, time.Hour},
		{"duplicates", c.Duplicates, DefaultDuplicateWindow},
		{"partitions", c.Metadata[metaPartitions], "8"},
	} {
		if fmt.Sprint(check.got) != fmt.Sprint(check.want) {
			t.Errorf("stream %s: got %v; want %v", check.name, check.got, check.want)
		}
	}
	for p := range 8 {
		ci, err := q.js.Consumer(ctx, DefaultStream, fmt.Sprintf("PUSHLUA-p%d", p))
		if err != nil {
			t.Fatalf("consumer of partition %d: %v", p, err)
		}
		cc := ci.CachedInfo().Config
		if cc.MaxAckPending != 1 || cc.AckPolicy != natsjs.AckExplicitPolicy || cc.MaxDeliver != -1 || !cc.MemoryStorage ||
			cc.FilterSubject != fmt.Sprintf("pushlua.txn.%d", p) || cc.AckWait != 300*time.Millisecond {
			t.Errorf("consumer %d: %+v", p, cc)
		}
	}
	// A second worker with the same settings uses what is there.
	open(t, o)
}

func TestOpenRefusesOtherPartitionCount(t *testing.T) {
	s := jstest.Start(t)
	open(t, testOptions(s.ClientURL()))
	o := testOptions(s.ClientURL())
	o.Partitions = 16
	_, err := Open(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "created for 8 partitions, pushlua_queue_partitions is 16") {
		t.Fatalf("got %v; want the partition count refused", err)
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no url", Options{}, "no server URL"},
		{"stream with dot", Options{URL: "nats://127.0.0.1:1", Stream: "a.b"}, `stream name "a.b"`},
		{"wildcard subject", Options{URL: "nats://127.0.0.1:1", Subject: "a.*"}, `subject "a.*"`},
		{"partitions", Options{URL: "nats://127.0.0.1:1", Partitions: -1}, "partitions: expected 1 to 4096, got -1"},
		{"ack wait", Options{URL: "nats://127.0.0.1:1", AckWait: time.Millisecond}, "ack wait 1ms"},
		{"cert without key", Options{URL: "nats://127.0.0.1:1", TLSCert: "c.pem"}, "both its certificate and its key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.setDefaults()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v; want %q", err, tc.want)
			}
		})
	}
}

func TestConnectErrorNamesServerWithoutPassword(t *testing.T) {
	_, err := Open(context.Background(), Options{URL: "nats://joe:s3cret@127.0.0.1:1", Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("connected to port 1")
	}
	if !strings.Contains(err.Error(), "nats://127.0.0.1:1") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("got %q; want the server named, without its password", err)
	}
}

func TestPublishDeduplicatesByID(t *testing.T) {
	s := jstest.Start(t)
	q := open(t, testOptions(s.ClientURL()))
	ctx := context.Background()
	m := txnLine("alice", 1)
	for range 2 {
		if err := q.Publish(ctx, []Msg{m}); err != nil {
			t.Fatal(err)
		}
	}
	msgs, _, err := q.Backlog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if msgs != 1 {
		t.Errorf("stream holds %d messages; want 1", msgs)
	}
	if st := q.PublishStats(); st.Published != 2 || st.Duplicates != 1 {
		t.Errorf("stats %+v; want 2 published, 1 duplicate", st)
	}
}

func TestPublishFullStreamFails(t *testing.T) {
	s := jstest.Start(t)
	o := testOptions(s.ClientURL())
	o.MaxBytes = 4096
	q := open(t, o)
	var err error
	for i := 1; i <= 100 && err == nil; i++ {
		err = q.Publish(context.Background(), []Msg{txnLine("alice", i)})
	}
	if err == nil || !strings.Contains(err.Error(), "maximum bytes exceeded") {
		t.Fatalf("got %v; want the full stream's refusal", err)
	}
	if q.PublishStats().Errors != 1 {
		t.Errorf("errors %d; want 1", q.PublishStats().Errors)
	}
}

// Two workers on one stream: every transaction runs once, and the runs of
// each user, across both workers, are in order.
func TestTwoConsumersKeepUserOrder(t *testing.T) {
	s := jstest.Start(t)
	o := testOptions(s.ClientURL())
	o.AckWait = 30 * time.Second // nothing is redelivered here
	rec := newRecorder()
	var cons []*Consumer
	for range 2 {
		q := open(t, o)
		c, err := q.Consume(ConsumeOptions{Submit: rec.runAsync, GiveUp: noGiveUp(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		cons = append(cons, c)
	}
	pub := open(t, o)
	const users, per = 30, 40
	for uid := 1; uid <= per; uid += 10 {
		var batch []Msg
		for u := range users {
			for k := uid; k < uid+10; k++ {
				batch = append(batch, txnLine(fmt.Sprintf("u%d", u), k))
			}
		}
		if err := pub.Publish(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	checkFor(t, "every transaction ran", func() bool { return rec.count() >= users*per })
	// Every ack is confirmed by a flush in the end: nothing stays among
	// the transactions a crash could run again.
	checkFor(t, "every ack confirmed", func() bool { return len(cons[0].InFlight())+len(cons[1].InFlight()) == 0 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for user, uids := range rec.runs {
		for i, uid := range uids {
			if uid != i+1 {
				t.Fatalf("user %s ran %v; want 1..%d once each, in order", user, uids, per)
			}
		}
	}
	for i, c := range cons {
		st := c.Stats()
		if st.Delivered == 0 {
			t.Errorf("worker %d got nothing: %+v", i, st)
		}
		if st.Redelivered != 0 || st.InFlight != 0 {
			t.Errorf("worker %d: %+v; want no redelivery, nothing in flight", i, st)
		}
	}
}

// A worker that dies with a transaction unacknowledged: the server hands it
// to the other worker after the ack wait, before the user's next one.
func TestDeadWorkersTransactionGoesToAnother(t *testing.T) {
	s := jstest.Start(t)
	o := testOptions(s.ClientURL())
	o.Partitions = 1
	o.AckWait = time.Second // 3 pings per second: a busy machine still keeps up
	took := make(chan string, 10)
	qa := open(t, o)
	a, err := qa.Consume(ConsumeOptions{GiveUp: noGiveUp(t), Submit: func(_ context.Context, tx *txn.Txn, done func(bool)) error {
		took <- tx.ID // and never finishes
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	pub := open(t, o)
	if err := pub.Publish(context.Background(), []Msg{txnLine("alice", 1), txnLine("alice", 2)}); err != nil {
		t.Fatal(err)
	}
	if id := <-took; id != "alice-1" {
		t.Fatalf("worker A took %s; want alice-1", id)
	}
	// Worker A holds alice-1 past several ack waits: its in-progress
	// signals keep it; alice-2 waits.
	time.Sleep(2 * o.AckWait)
	if got := a.InFlight(); len(got) != 1 || got[0] != "alice-1" {
		t.Fatalf("worker A in flight %v; want [alice-1]", got)
	}
	if len(took) != 0 {
		t.Fatalf("worker A took %s while alice-1 ran", <-took)
	}
	qa.Abort()
	rec := newRecorder()
	qb := open(t, o)
	b, err := qb.Consume(ConsumeOptions{Submit: rec.runAsync, GiveUp: noGiveUp(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	checkFor(t, "worker B ran both", func() bool { return rec.count() == 2 })
	if got := rec.runs["alice"]; fmt.Sprint(got) != "[1 2]" {
		t.Errorf("worker B ran %v; want [1 2]", got)
	}
	if st := b.Stats(); st.Redelivered != 1 || st.Acked != 2 {
		t.Errorf("worker B: %+v; want 1 redelivered, 2 acked", st)
	}
}

// A transaction that every worker dies on goes to the dead-letter area
// after MaxDeliver deliveries, and the user's next one runs.
func TestMaxDeliverGivesUp(t *testing.T) {
	s := jstest.Start(t)
	o := testOptions(s.ClientURL())
	o.Partitions, o.MaxDeliver = 1, 2
	pub := open(t, o)
	if err := pub.Publish(context.Background(), []Msg{txnLine("bob", 1), txnLine("bob", 2)}); err != nil {
		t.Fatal(err)
	}
	// Two workers take bob-1 and die.
	for range 2 {
		took := make(chan string, 1)
		q := open(t, o)
		if _, err := q.Consume(ConsumeOptions{GiveUp: noGiveUp(t), Submit: func(_ context.Context, tx *txn.Txn, _ func(bool)) error {
			took <- tx.ID
			return nil
		}}); err != nil {
			t.Fatal(err)
		}
		if id := <-took; id != "bob-1" {
			t.Fatalf("took %s; want bob-1", id)
		}
		q.Abort()
	}
	rec := newRecorder()
	var mu sync.Mutex
	var dead []string
	q := open(t, o)
	c, err := q.Consume(ConsumeOptions{Submit: rec.runAsync, GiveUp: func(tx *txn.Txn, reason string, n int) error {
		mu.Lock()
		defer mu.Unlock()
		dead = append(dead, fmt.Sprintf("%s %d %s", tx.ID, n, reason))
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	checkFor(t, "bob-2 ran", func() bool { return rec.count() == 1 })
	mu.Lock()
	defer mu.Unlock()
	if len(dead) != 1 || !strings.HasPrefix(dead[0], "bob-1 3 delivered 2 times without an acknowledgement (pushlua_queue_max_deliver = 2)") {
		t.Errorf("dead letters %q; want bob-1 after 3 deliveries", dead)
	}
	if got := rec.runs["bob"]; fmt.Sprint(got) != "[2]" {
		t.Errorf("ran %v; want [2]", got)
	}
	if msgs, _, _ := q.Backlog(context.Background()); msgs != 0 {
		t.Errorf("the stream keeps %d messages; want 0", msgs)
	}
}

// A message that is not a transaction goes to the dead-letter area at once.
func TestNotATransactionGivesUp(t *testing.T) {
	s := jstest.Start(t)
	o := testOptions(s.ClientURL())
	o.Partitions = 1
	q := open(t, o)
	if err := q.Publish(context.Background(), []Msg{{ID: "junk-1", User: "x", Data: []byte("{not json")}}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	c, err := q.Consume(ConsumeOptions{Submit: newRecorder().runAsync, GiveUp: func(tx *txn.Txn, reason string, n int) error {
		got <- fmt.Sprintf("%s %s:%d %q %s", tx.ID, tx.Input, tx.Line, tx.Raw, reason)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if g := <-got; !strings.HasPrefix(g, `junk-1 jetstream:PUSHLUA:1 "{not json" not a transaction: `) {
		t.Errorf("gave up with %q", g)
	}
}

// Stop gives back what arrives afterwards and what the engine did not run:
// another worker takes them at once, not after the ack wait.
func TestStopGivesBack(t *testing.T) {
	s := jstest.Start(t)
	o := testOptions(s.ClientURL())
	o.Partitions = 1
	o.AckWait = time.Hour // a redelivery after the ack wait would never come
	pub := open(t, o)
	if err := pub.Publish(context.Background(), []Msg{txnLine("carol", 1), txnLine("carol", 2)}); err != nil {
		t.Fatal(err)
	}
	dones := make(chan func(bool), 1)
	qa := open(t, o)
	a, err := qa.Consume(ConsumeOptions{GiveUp: noGiveUp(t), Submit: func(_ context.Context, _ *txn.Txn, done func(bool)) error {
		dones <- done
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	done := <-dones
	a.Stop()
	done(false) // the engine gave up on it at shutdown
	a.Close()
	if st := a.Stats(); st.Naked != 1 || st.Acked != 0 {
		t.Errorf("worker A: %+v; want 1 given back", st)
	}
	qa.Close()
	rec := newRecorder()
	b, err := open(t, o).Consume(ConsumeOptions{Submit: rec.runAsync, GiveUp: noGiveUp(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	checkFor(t, "worker B ran both", func() bool { return rec.count() == 2 })
	if got := rec.runs["carol"]; fmt.Sprint(got) != "[1 2]" {
		t.Errorf("worker B ran %v; want [1 2]", got)
	}
}

func TestReadyFollowsConnection(t *testing.T) {
	s := jstest.Start(t)
	o := testOptions(s.ClientURL())
	o.natsOptions = []nats.Option{nats.ReconnectWait(20 * time.Millisecond)}
	q := open(t, o)
	if ok, why := q.Ready(); !ok {
		t.Fatalf("not ready: %s", why)
	}
	s.Shutdown()
	checkFor(t, "not ready", func() bool { ok, _ := q.Ready(); return !ok })
	_, why := q.Ready()
	if !strings.Contains(why, "not connected to NATS") || !strings.Contains(why, s.ClientURL()) {
		t.Errorf("reason %q", why)
	}
}

func TestPartitionIsStable(t *testing.T) {
	// FNV-1a 32 of "alice" is 0x872213e7: a change of hash would reorder
	// every user of a running stream.
	if got := Partition("alice", 64); got != 0x872213e7%64 {
		t.Errorf("Partition(alice, 64) = %d; want %d", got, 0x872213e7%64)
	}
}

// The stream, not the consumers' state, holds what is not processed: after
// the NATS server restarts, the workers get exactly the transactions not
// acknowledged before, in order.
func TestServerRestartKeepsBacklog(t *testing.T) {
	dir := t.TempDir()
	s := jstest.StartIn(t, dir, -1)
	port := s.Addr().(*net.TCPAddr).Port
	o := testOptions(s.ClientURL())
	o.Partitions = 2
	o.AckWait = 30 * time.Second
	o.natsOptions = []nats.Option{nats.ReconnectWait(20 * time.Millisecond)}
	pub := open(t, o)
	var msgs []Msg
	for uid := 1; uid <= 10; uid++ {
		msgs = append(msgs, txnLine("dave", uid), txnLine("erin", uid))
	}
	if err := pub.Publish(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	// A worker runs 3 of each user's, then the server stops.
	rec := newRecorder()
	var taken sync.WaitGroup
	taken.Add(6)
	q := open(t, o)
	c, err := q.Consume(ConsumeOptions{GiveUp: noGiveUp(t), Submit: func(_ context.Context, tx *txn.Txn, done func(bool)) error {
		if tx.Events[0].UID > 3 {
			return nil // taken, never finished: in flight at the restart
		}
		rec.add(tx)
		done(true)
		taken.Done()
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	taken.Wait()
	checkFor(t, "acks stored", func() bool { n, _, _ := q.Backlog(context.Background()); return n == 14 })
	c.Stop()
	q.Abort()
	s.Shutdown()
	s.WaitForShutdown()
	s = jstest.StartIn(t, dir, port)
	rec2 := newRecorder()
	c2, err := open(t, o).Consume(ConsumeOptions{Submit: rec2.runAsync, GiveUp: noGiveUp(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	checkFor(t, "the rest ran", func() bool { return rec2.count() >= 14 })
	rec2.mu.Lock()
	defer rec2.mu.Unlock()
	for _, user := range []string{"dave", "erin"} {
		if got := fmt.Sprint(rec2.runs[user]); got != "[4 5 6 7 8 9 10]" {
			t.Errorf("after the restart %s ran %s; want [4 5 6 7 8 9 10]", user, got)
		}
	}
}

// A worker's consumer outlives a restart of the NATS server: it reconnects
// and goes on, and what it was running when the server went away runs
// again (the consumer's state was in memory).
func TestConsumerSurvivesServerRestart(t *testing.T) {
	dir := t.TempDir()
	s := jstest.StartIn(t, dir, -1)
	port := s.Addr().(*net.TCPAddr).Port
	o := testOptions(s.ClientURL())
	o.Partitions = 4
	o.AckWait = 30 * time.Second
	o.natsOptions = []nats.Option{nats.ReconnectWait(20 * time.Millisecond)}
	rec := newRecorder()
	q := open(t, o)
	c, err := q.Consume(ConsumeOptions{Submit: rec.runAsync, GiveUp: noGiveUp(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pub := open(t, o)
	publish := func(from, to int) {
		t.Helper()
		var msgs []Msg
		for uid := from; uid <= to; uid++ {
			msgs = append(msgs, txnLine("frank", uid), txnLine("gina", uid))
		}
		// The publisher reconnects too: retry while it does.
		checkFor(t, "published", func() bool { return pub.Publish(context.Background(), msgs) == nil })
	}
	publish(1, 5)
	checkFor(t, "the first ran", func() bool { return rec.count() == 10 })
	s.Shutdown()
	s.WaitForShutdown()
	checkFor(t, "not ready", func() bool { ok, _ := q.Ready(); return !ok })
	jstest.StartIn(t, dir, port)
	checkFor(t, "ready again", func() bool { ok, _ := q.Ready(); return ok })
	publish(6, 10)
	checkFor(t, "the rest ran", func() bool { return rec.count() >= 20 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, user := range []string{"frank", "gina"} {
		if got := fmt.Sprint(rec.runs[user]); got != "[1 2 3 4 5 6 7 8 9 10]" {
			t.Errorf("%s ran %s; want 1..10 in order", user, got)
		}
	}
}
