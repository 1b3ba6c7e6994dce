package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/Shopify/go-lua"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/ingest"
	"github.com/pushlua/pushlua/internal/jetstream"
	"github.com/pushlua/pushlua/internal/jetstream/jstest"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/metrics"
	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/testutil"
	"github.com/pushlua/pushlua/internal/txn"
	pushrt "github.com/pushlua/pushlua/runtime"
)

// runLog records every run of every worker, in the one order they
// happened: the script calls pushlua_test_runs.ran(user, uid) from its
// MessageNew handler.
type runLog struct {
	mu   sync.Mutex
	runs map[string][]int       // user → uids, across workers
	by   map[string]map[int]int // "user-uid" → worker → runs
	n    int
	// hang makes the run of these ids hang (a worker stuck in a handler)
	// until killed is closed.
	hang   map[string]bool
	killed chan struct{}
	// work is how long a run takes after it recorded itself (a handler
	// waiting on a push service): a killed worker has runs in flight.
	work time.Duration
}

func newRunLog() *runLog {
	return &runLog{runs: map[string][]int{}, by: map[string]map[int]int{}, killed: make(chan struct{})}
}

func (r *runLog) module(worker int) lua.RegistryFunction {
	return lua.RegistryFunction{Name: "pushlua_test_runs", Function: func(l *lua.State) int {
		lua.NewLibrary(l, []lua.RegistryFunction{{Name: "ran", Function: func(l *lua.State) int {
			user, uid := lua.CheckString(l, 1), lua.CheckInteger(l, 2)
			id := fmt.Sprintf("%s-%d", user, uid)
			r.mu.Lock()
			r.runs[user] = append(r.runs[user], uid)
			if r.by[id] == nil {
				r.by[id] = map[int]int{}
			}
			r.by[id][worker]++
			r.n++
			hang := r.hang[id]
			r.mu.Unlock()
			if hang {
				<-r.killed
			}
			if r.work > 0 {
				time.Sleep(r.work)
			}
			return 0
		}}})
		return 1
	}}
}

func (r *runLog) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// distinct returns how many different transactions ran.
func (r *runLog) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.by)
}

const jsScript = `local runs = require "pushlua_test_runs"
function dovecot_lua_notify_begin_txn(user) return user.username end
function dovecot_lua_notify_event_message_new(u, e) runs.ran(u, e.uid) end
function dovecot_lua_notify_end_txn() end
`

// jsWorker is one pushlua worker in this process: an engine, its intake on
// the JetStream queue, and HTTP ingest in front of it.
type jsWorker struct {
	data string // its data directory
	runs *runLog
	eng  *pushrt.Engine
	in   *intake
	logs *testutil.Buffer
	http *httptest.Server
}

func startJSWorker(t testing.TB, worker int, q jetstream.Options, runs *runLog) *jsWorker {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"pushlua.conf": "plugin {\n  push_notification_driver = lua:file=script.lua\n}\n",
		"script.lua":   jsScript,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := dconfig.Parse(filepath.Join(dir, "pushlua.conf"))
	if err != nil {
		t.Fatal(err)
	}
	w := &jsWorker{data: filepath.Join(dir, "data"), runs: runs, logs: &testutil.Buffer{}}
	log := slog.New(logx.NewText(w.logs, nil))
	w.eng, err = pushrt.New(context.Background(), pushrt.Options{Config: cfg, Store: store.NewMemory(), Logger: log, Jobs: 8,
		Preload: []lua.RegistryFunction{runs.module(worker)}})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry())
	w.in, err = openIntake(context.Background(), w.data, durableSettings{on: true, poison: 3, queue: q}, 64, w.eng, m, log)
	if err != nil {
		t.Fatal(err)
	}
	o := ingest.Options{Logger: log, Metrics: m}
	ids := txn.NewIDs()
	o.IDs = ids
	w.in.ingestOptions(&o, ids)
	w.http = httptest.NewServer(ingest.New(o))
	t.Cleanup(w.http.Close)
	return w
}

// stop shuts the worker down as serve does.
func (w *jsWorker) stop() {
	w.in.Stop()
	_ = w.eng.Close(context.Background())
	w.in.Close()
}

// kill stops the worker abruptly: its NATS connection closes first (no
// ack goes out after it), then its engine stops with every running call
// canceled. It returns the transactions the worker had taken and not
// settled with the server (those in flight at the stop, which the server
// may deliver again) and how many of them it had not even acknowledged
// (which the server certainly delivers again; the others' acks were sent
// and may have arrived).
func (w *jsWorker) kill() (inFlight []string, unacked int) {
	w.in.js.q.Abort()
	w.in.js.local.Stop()
	select {
	case <-w.runs.killed:
	default:
		close(w.runs.killed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = w.eng.Close(ctx)
	inFlight, unacked = w.in.js.cons.InFlight(), w.in.js.cons.Stats().InFlight
	w.in.js.cons.Close()
	return inFlight, unacked
}

// Three workers on one stream, 20,000 transactions of 500 users posted
// over HTTP ingest; one worker is killed mid-stream. Every transaction
// runs, each user's transactions run in order across the workers, and
// only the killed worker's transactions in flight run twice.
func TestJetStreamThreeWorkersOneKilled(t *testing.T) {
	s := jstest.Start(t)
	q := jetstream.Options{URL: s.ClientURL(), AckWait: 2 * time.Second}
	runs := newRunLog()
	runs.work = time.Millisecond
	var workers []*jsWorker
	for i := range 3 {
		workers = append(workers, startJSWorker(t, i, q, runs))
	}
	for _, w := range workers[:2] {
		t.Cleanup(w.stop)
	}
	victim := workers[2]

	const users, per, posters = 500, 40, 4
	// Four senders, each with its own users, each user's transactions in
	// order; every POST has one transaction of each of its users.
	posted := make(chan error, posters)
	for g := range posters {
		go func() {
			client := &http.Client{Timeout: 30 * time.Second}
			for uid := 1; uid <= per; uid++ {
				var b strings.Builder
				for u := g; u < users; u += posters {
					fmt.Fprintf(&b, `{"id":"u%d-%d","user":"u%d","events":[{"name":"MessageNew","mailbox":"INBOX","uid":%d}]}`+"\n", u, uid, u, uid)
				}
				resp, err := client.Post(workers[(g+uid)%2].http.URL+"/v1/transactions", "application/x-ndjson", strings.NewReader(b.String()))
				if err != nil {
					posted <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					posted <- fmt.Errorf("POST: %s", resp.Status)
					return
				}
			}
			posted <- nil
		}()
	}

	poll(t, "a quarter ran", func() bool { return runs.count() >= users*per/4 })
	ranByVictim := func() int {
		runs.mu.Lock()
		defer runs.mu.Unlock()
		n := 0
		for _, by := range runs.by {
			n += by[2]
		}
		return n
	}
	if ranByVictim() == 0 {
		t.Fatal("the third worker ran nothing before it was killed: the test proves nothing")
	}
	// Killed while it runs something, so that the kill has work in flight.
	poll(t, "the third worker runs something", func() bool { return victim.in.js.cons.Stats().InFlight > 0 })
	inFlight, unacked := victim.kill()
	killedAt := runs.count()
	t.Logf("killed worker 3 after %d runs (%d by it), with %d transactions in flight (%d not acknowledged)", killedAt, ranByVictim(), len(inFlight), unacked)
	for range posters {
		if err := <-posted; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("posted all at %d runs", runs.count())
	poll(t, "every transaction ran", func() bool { return runs.distinct() == users*per })
	if killedAt >= users*per {
		t.Fatal("everything ran before the kill: the test proves nothing")
	}

	runs.mu.Lock()
	defer runs.mu.Unlock()
	dups := 0
	for u := range users {
		user := fmt.Sprintf("u%d", u)
		uids := runs.runs[user]
		for i, uid := range uids {
			prev := 0
			if i > 0 {
				prev = uids[i-1]
			}
			switch {
			case uid == prev+1:
			case uid == prev:
				dups++
				if !slices.Contains(inFlight, fmt.Sprintf("%s-%d", user, uid)) {
					t.Errorf("%s-%d ran twice but was not in flight at the kill (%v)", user, uid, inFlight)
				}
			default:
				t.Fatalf("user %s ran %v: order broken at %d", user, uids, uid)
			}
		}
		if len(uids) == 0 || uids[len(uids)-1] != per {
			t.Fatalf("user %s ran %v; want 1..%d", user, uids, per)
		}
	}
	redelivered := uint64(0)
	for _, w := range workers[:2] {
		st := w.in.js.stats()
		redelivered += st.Redelivered
		if st.GaveUp != 0 {
			t.Errorf("a worker gave up on %d transactions", st.GaveUp)
		}
	}
	if redelivered < uint64(unacked) {
		t.Errorf("the other workers got %d redeliveries; want at least the %d not acknowledged at the kill", redelivered, unacked)
	}
	poll(t, "the stream is empty", func() bool { return workers[0].in.js.stats().StreamMessages == 0 })
	t.Logf("%d transactions ran twice (in flight at the kill: %d), %d redelivered", dups, len(inFlight), redelivered)
}

// A transaction whose handler kills every worker that runs it (here: the
// worker is killed while running it) goes to the dead-letter area after
// pushlua_queue_max_deliver deliveries, and pushlua dlq shows it.
func TestJetStreamMaxDeliverToDLQ(t *testing.T) {
	s := jstest.Start(t)
	q := jetstream.Options{URL: s.ClientURL(), AckWait: 300 * time.Millisecond, MaxDeliver: 2, Partitions: 4}
	pub, err := jetstream.Open(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	line := `{"id":"poison-1","user":"p","events":[{"name":"MessageNew","mailbox":"INBOX","uid":1}]}`
	if err := pub.Publish(context.Background(), []jetstream.Msg{{ID: "poison-1", User: "p", Data: []byte(line)}}); err != nil {
		t.Fatal(err)
	}
	// Workers that take it and die: the script hangs in the handler.
	for range 2 {
		runs := newRunLog()
		runs.hang = map[string]bool{"p-1": true}
		w := startJSWorker(t, 0, q, runs)
		poll(t, "the worker took it", func() bool { return runs.count() == 1 })
		if got, _ := w.kill(); !slices.Equal(got, []string{"poison-1"}) {
			t.Fatalf("in flight at the kill: %v", got)
		}
	}
	runs := newRunLog()
	w := startJSWorker(t, 0, q, runs)
	defer w.stop()
	// The consumer puts the letter, logs it and then counts it: wait for
	// all three before looking.
	poll(t, "dead letter", func() bool {
		return w.in.dead.Len() == 1 && w.in.js.stats().GaveUp == 1 &&
			strings.Contains(w.logs.String(), "put into the dead-letter area")
	})
	if runs.count() != 0 {
		t.Errorf("the third worker ran it")
	}
	l, err := w.in.dead.Get("poison-1")
	if err != nil {
		t.Fatal(err)
	}
	if l.Line != line || l.User != "p" || l.Attempts != 2 || !strings.HasPrefix(l.Source, "jetstream:PUSHLUA:") ||
		!strings.Contains(l.Reason, "pushlua_queue_max_deliver = 2") {
		t.Errorf("letter %+v", l)
	}
	if st := w.in.js.stats(); st.GaveUp != 1 || st.Redelivered != 1 {
		t.Errorf("stats %+v; want 1 given up, redelivered", st)
	}
	if !strings.Contains(w.logs.String(), "put into the dead-letter area") {
		t.Errorf("no log line:\n%s", w.logs)
	}
	// pushlua dlq replay writes it into the worker's log directory, which
	// serve publishes back to the stream: it runs.
	if err := w.in.dead.Replay("poison-1", walDir(w.data)); err != nil {
		t.Fatal(err)
	}
	poll(t, "the replayed transaction ran", func() bool { return runs.count() == 1 })
	if fmt.Sprint(runs.runs["p"]) != "[1]" || w.in.dead.Len() != 0 {
		t.Errorf("after the replay: ran %v, %d dead letters", runs.runs, w.in.dead.Len())
	}
}

// BenchmarkJetStreamServe measures transactions per second through
// pushlua on JetStream, end to end in one process: 4 senders POST b.N
// transactions of 500 users (25 per request, each user's in order) to
// HTTP ingest, which publishes them; 1 or 2 workers (engine, consumer,
// their own NATS connection each) run them through a Lua handler that
// records the run. The embedded server (64 partitions, file storage)
// shares the machine's cores with them.
//
//	go test -run '^$' -bench JetStreamServe -benchtime 20000x ./cmd/pushlua
func BenchmarkJetStreamServe(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			s := jstest.Start(b)
			q := jetstream.Options{URL: s.ClientURL()}
			runs := newRunLog()
			var workers []*jsWorker
			for i := range n {
				w := startJSWorker(b, i, q, runs)
				b.Cleanup(w.stop)
				workers = append(workers, w)
			}
			const users, senders, batch = 500, 4, 25
			var bodies [senders][]string
			for g := range senders {
				var lines []string
				for k := g; k < b.N; k += senders {
					// k%users ≡ g (mod senders): sender g has its own users.
					u, uid := k%users, k/users+1
					lines = append(lines, fmt.Sprintf(`{"id":"u%d-%d","user":"u%d","events":[{"name":"MessageNew","mailbox":"INBOX","uid":%d}]}`, u, uid, u, uid))
				}
				for len(lines) > 0 {
					m := min(batch, len(lines))
					bodies[g] = append(bodies[g], strings.Join(lines[:m], "\n")+"\n")
					lines = lines[m:]
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			errs := make(chan error, senders)
			for g := range senders {
				go func() {
					client := &http.Client{Timeout: 30 * time.Second}
					for i, body := range bodies[g] {
						resp, err := client.Post(workers[(g+i)%n].http.URL+"/v1/transactions", "application/x-ndjson", strings.NewReader(body))
						if err != nil {
							errs <- err
							return
						}
						resp.Body.Close()
						if resp.StatusCode != http.StatusAccepted {
							errs <- fmt.Errorf("POST: %s", resp.Status)
							return
						}
					}
					errs <- nil
				}()
			}
			for range senders {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			for runs.count() < b.N {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "txn/s")
		})
	}
}
