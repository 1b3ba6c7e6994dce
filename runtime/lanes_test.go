package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/txn"
)

// gate is a Lua module whose wait() blocks until the test releases it:
// a handler that hangs, as one calling an endpoint that never answers.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (g *gate) module() lua.RegistryFunction {
	return lua.RegistryFunction{Name: "pushlua_test_gate", Function: func(l *lua.State) int {
		lua.NewLibrary(l, []lua.RegistryFunction{{Name: "wait", Function: func(l *lua.State) int {
			g.entered <- struct{}{}
			<-g.release
			return 0
		}}})
		return 1
	}}
}

// depthObserver records the last QueueDepth it was told.
type depthObserver struct {
	nopObserver
	mu    sync.Mutex
	depth int
	calls int
}

func (o *depthObserver) QueueDepth(n int) {
	o.mu.Lock()
	o.depth, o.calls = n, o.calls+1
	o.mu.Unlock()
}

func (o *depthObserver) last() (depth, calls int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.depth, o.calls
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

const gateScript = `local gate = require("pushlua_test_gate")
function dovecot_lua_notify_begin_txn(user) return user.username end
function dovecot_lua_notify_event_message_new(u, e)
  if u == "slow" then gate.wait() end
  dovecot.i_info("done " .. u .. " " .. e.uid)
end
function dovecot_lua_notify_end_txn() end`

func msgFor(t *testing.T, user string, uid int) *txn.Txn {
	t.Helper()
	tx, err := txn.Parse(fmt.Appendf(nil, `{"user": %q, "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d}]}`, user, uid), nil)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// A user whose handler hangs fills its own lane (UserQueueSize) and is
// refused at once with ErrUserQueueFull; the other users' transactions
// are still queued and run; QueueDepth follows every Submit.
func TestUserLaneFull(t *testing.T) {
	g := newGate()
	obs := &depthObserver{}
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": gateScript}, func(o *Options) {
		o.Jobs, o.QueueSize, o.UserQueueSize = 2, 16, 3
		o.Observer = obs
		o.Budget.Timeout = time.Hour
		o.Preload = append(o.Preload, g.module())
	})
	released := false
	release := func() {
		if !released {
			released = true
			close(g.release)
		}
	}
	defer release()

	var slowWG sync.WaitGroup
	for uid := 1; uid <= 3; uid++ {
		slowWG.Add(1)
		if err := te.Submit(context.Background(), msgFor(t, "slow", uid), func(Result) { slowWG.Done() }); err != nil {
			t.Fatalf("slow %d: %v", uid, err)
		}
		if d, _ := obs.last(); d != uid {
			t.Errorf("QueueDepth after submitting %d: got %d; want %d", uid, d, uid)
		}
	}
	<-g.entered // one slow transaction runs (and hangs), two wait

	// The lane is full: refused at once, even with a context that would
	// let Submit wait.
	err := te.Submit(context.Background(), msgFor(t, "slow", 4), nil)
	if !errors.Is(err, ErrUserQueueFull) || !strings.Contains(err.Error(), `"slow" has 3 transactions waiting or running`) {
		t.Fatalf("fourth slow transaction: got %v; want ErrUserQueueFull naming the user", err)
	}

	// Everyone else flows, more of them than the lane holds.
	var lines []string
	for u := range 10 {
		lines = append(lines, fmt.Sprintf(`{"user": "fast%d", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`, u))
	}
	te.run(t, lines...)
	if n := strings.Count(te.Logs.String(), "Info: done fast"); n != 10 {
		t.Errorf("got %d fast transactions done; want 10", n)
	}
	if n := strings.Count(te.Logs.String(), "Info: done slow"); n != 0 {
		t.Fatalf("a slow transaction finished before the release (%d); the test proves nothing", n)
	}
	waitFor(t, "queue depth back to the slow lane", func() bool {
		d, _ := obs.last()
		return d == 3 && te.QueueLen() == 3
	})

	release()
	waitGroup(t, &slowWG)
	waitFor(t, "queue depth 0 after the release", func() bool {
		d, _ := obs.last()
		return d == 0 && te.QueueLen() == 0
	})
	if n := strings.Count(te.Logs.String(), "Info: done slow"); n != 3 {
		t.Errorf("got %d slow transactions done; want 3", n)
	}
	// The lane is free again.
	te.run(t, `{"user": "slow", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 5}]}`)
}

// Without UserQueueSize the lane is the whole queue: one user may fill
// it and Submit blocks (until its context ends) instead of refusing.
func TestUserLaneDefault(t *testing.T) {
	g := newGate()
	te := newTestEngine(t, map[string]string{"pushlua.conf": luaConf(""), "script.lua": gateScript}, func(o *Options) {
		o.Jobs, o.QueueSize = 1, 4
		o.Budget.Timeout = time.Hour
		o.Preload = append(o.Preload, g.module())
	})
	defer close(g.release)
	for uid := 1; uid <= 4; uid++ {
		if err := te.Submit(context.Background(), msgFor(t, "slow", uid), nil); err != nil {
			t.Fatalf("slow %d: %v", uid, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := te.Submit(ctx, msgFor(t, "slow", 5), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("fifth: got %v; want context.Canceled (the shared queue is full)", err)
	}
}
