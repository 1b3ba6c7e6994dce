package main

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// natsServerBinary builds the nats-server of go.mod (the module the
// embedded tests use) once, into the user's cache directory, named by its
// version, and returns its path.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	version := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/nats-io/nats-server/v2" {
				version = d.Version
			}
		}
	}
	if version == "" {
		// Test binaries do not always carry their dependencies' versions.
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/nats-io/nats-server/v2").Output()
		if err != nil {
			t.Fatalf("go list -m github.com/nats-io/nats-server/v2: %v", err)
		}
		version = strings.TrimSpace(string(out))
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "pushlua-test")
	bin := filepath.Join(dir, "nats-server-"+version)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "nats-server")
	build := exec.Command("go", "build", "-o", tmp, "github.com/nats-io/nats-server/v2")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building nats-server %s: %v\n%s", version, err, out)
	}
	// Another test process may have built it meanwhile: a rename
	// replaces it with the same thing.
	if err := os.Rename(tmp, bin); err != nil {
		data, rerr := os.ReadFile(tmp)
		if rerr != nil || os.WriteFile(bin, data, 0o755) != nil {
			t.Fatalf("caching nats-server: %v", err)
		}
	}
	return bin
}

// natsProcess is a nats-server process with JetStream on 127.0.0.1.
type natsProcess struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

func startNATS(t *testing.T) *natsProcess {
	t.Helper()
	cmd := exec.Command(natsServerBinary(t), "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &natsProcess{cmd: cmd, done: make(chan struct{})}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-n.done
	})
	urls := make(chan string, 1)
	var logs strings.Builder
	var mu sync.Mutex
	go func() {
		re := regexp.MustCompile(`Listening for client connections on (127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urls <- "nats://" + m[1]
			}
		}
		_ = cmd.Wait()
		close(n.done)
	}()
	select {
	case n.url = <-urls:
	case <-n.done:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("nats-server exited:\n%s", logs.String())
	case <-time.After(20 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("nats-server did not listen within 20 s:\n%s", logs.String())
	}
	return n
}

// runRecorder is where the workers' script reports each run over HTTP,
// so that the runs of both processes are in one order.
type runRecorder struct {
	mu   sync.Mutex
	runs map[string][]int    // user → uids
	by   map[string][]string // user → worker of each run
	n    int
}

func (r *runRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	uid, _ := strconv.Atoi(q.Get("uid"))
	r.mu.Lock()
	user := q.Get("user")
	r.runs[user] = append(r.runs[user], uid)
	r.by[user] = append(r.by[user], q.Get("worker"))
	r.n++
	r.mu.Unlock()
	// The handler waits on its push service a little: a killed worker
	// has runs in flight.
	time.Sleep(time.Millisecond)
}

func (r *runRecorder) ran() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bool{}
	for user, uids := range r.runs {
		for _, uid := range uids {
			out[fmt.Sprintf("%s-%d", user, uid)] = true
		}
	}
	return out
}

// A real nats-server and two `pushlua serve` processes on one stream,
// transactions posted to both over HTTP; one process is SIGKILLed
// mid-stream. Every accepted transaction runs, each user's in order
// across both processes, and only transactions the killed process was
// running (at most one per partition) run twice.
func TestJetStreamServeE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs nats-server")
	}
	nats := startNATS(t)
	rec := &runRecorder{runs: map[string][]int{}, by: map[string][]string{}}
	recSrv := httptest.NewServer(rec)
	defer recSrv.Close()
	const partitions = 16
	start := func(name string) *server {
		script := fmt.Sprintf(`local http = require "socket.http"
function dovecot_lua_notify_begin_txn(user) return user.username end
function dovecot_lua_notify_event_message_new(u, e)
  local _, code = http.request(%q .. "?worker=%s&user=" .. u .. "&uid=" .. e.uid)
  if code ~= 200 then error("recorder: " .. tostring(code)) end
end
function dovecot_lua_notify_end_txn() end
`, recSrv.URL, name)
		conf := fmt.Sprintf("pushlua_queue = %s\npushlua_queue_ack_wait = 2s\npushlua_queue_partitions = %d\n"+
			"plugin {\n  push_notification_driver = lua:file=script.lua\n}\n", nats.url, partitions)
		dir := writeFiles(t, map[string]string{"pushlua.conf": conf, "script.lua": script})
		return startServe(t, dir, "-c", "pushlua.conf", "--listen", "127.0.0.1:0", "-j", "8")
	}
	s1, s2 := start("s1"), start("s2")
	if code, body := s1.get(t, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz: %d %s", code, body)
	}

	const users, per = 200, 20
	var killed atomic.Bool
	p1, p2 := newPoster(s1.addr), newPoster(s2.addr)
	posted := make(chan error, 2)
	for g := range 2 {
		go func() {
			for uid := 1; uid <= per; uid++ {
				var batch []string
				for u := g; u < users; u += 2 {
					batch = append(batch, durableLine(u, uid))
				}
				// Half the requests go to s2 while it lives; a request it
				// did not answer goes to s1 (the stream drops a copy s2
				// stored before it died: same ids).
				if uid%2 == 0 && !killed.Load() && p2.post(batch) == http.StatusAccepted {
					continue
				}
				if code := p1.post(batch); code != http.StatusAccepted {
					posted <- fmt.Errorf("POST to s1: %d", code)
					return
				}
			}
			posted <- nil
		}()
	}
	byS2 := func() int {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		n := 0
		for _, by := range rec.by {
			for _, w := range by {
				if w == "s2" {
					n++
				}
			}
		}
		return n
	}
	poll(t, "a quarter ran, some on s2", func() bool {
		rec.mu.Lock()
		n := rec.n
		rec.mu.Unlock()
		return n >= users*per/4 && byS2() > 0
	})
	killed.Store(true)
	_ = s2.cmd.Process.Kill()
	<-s2.done
	killedAfter := byS2()
	for range 2 {
		if err := <-posted; err != nil {
			t.Fatal(err)
		}
	}
	accepted := map[string]bool{}
	for _, p := range []*poster{p1, p2} {
		for id := range p.accepted {
			accepted[id] = true
		}
	}
	if len(accepted) != users*per {
		t.Fatalf("%d transactions accepted; want %d", len(accepted), users*per)
	}
	poll(t, "every accepted transaction ran", func() bool {
		ran := rec.ran()
		for id := range accepted {
			if !ran[id] {
				return false
			}
		}
		return true
	})

	rec.mu.Lock()
	dups := 0
	for u := range users {
		user := fmt.Sprintf("d%d", u)
		uids, by := rec.runs[user], rec.by[user]
		for i, uid := range uids {
			prev := 0
			if i > 0 {
				prev = uids[i-1]
			}
			switch {
			case uid == prev+1:
			case uid == prev:
				// Run again: the first run must be the killed process's.
				dups++
				if by[i-1] != "s2" {
					t.Errorf("%s-%d ran twice, first on %s: only the killed s2's runs may run again (%v %v)", user, uid, by[i-1], uids, by)
				}
			default:
				t.Errorf("user %s ran %v (on %v): order broken at %d", user, uids, by, uid)
			}
		}
	}
	rec.mu.Unlock()
	if dups > partitions {
		t.Errorf("%d transactions ran twice; at most %d (one per partition) can have been in flight on s2", dups, partitions)
	}
	t.Logf("s2 ran %d before the SIGKILL; %d transactions ran twice", killedAfter, dups)

	poll(t, "the stream is empty", func() bool { return s1.metric(t, "pushlua_queue_stream_messages") == 0 })
	if got := s1.metric(t, `pushlua_queue_deliveries_total{kind="redelivery"}`); got < float64(dups) {
		t.Errorf("s1 counted %v redeliveries; want at least the %d runs again", got, dups)
	}
	if got := s1.metric(t, "pushlua_transactions_dropped_total"); got != 0 {
		t.Errorf("dropped %v", got)
	}
	if got := s1.metric(t, "pushlua_queue_connected"); got != 1 {
		t.Errorf("pushlua_queue_connected %v; want 1", got)
	}

	// NATS gone: /readyz says so, ingest answers 503.
	_ = nats.cmd.Process.Kill()
	<-nats.done
	poll(t, "/readyz reports NATS", func() bool {
		code, body := s1.get(t, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "not connected to NATS")
	})
	if code, body := s1.post(t, durableLine(0, per+1)+"\n", ""); code != http.StatusServiceUnavailable {
		t.Errorf("POST without NATS: %d %s", code, body)
	}
	if code := s1.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, s1.log())
	}
}

// Bad queue settings stop serve at start, naming the setting; a NATS
// server that cannot be reached stops it too, naming the server without
// its password.
func TestJetStreamServeSettings(t *testing.T) {
	for _, tt := range []struct {
		settings string
		code     int
		want     string
	}{
		{"pushlua_queue = redis://127.0.0.1:6379", 2, `pushlua_queue: expected nats://HOST:PORT[,HOST:PORT...] or local, got the scheme "redis"`},
		{"pushlua_queue = nats://127.0.0.1", 2, `pushlua_queue: expected nats://HOST:PORT[,HOST:PORT...] or local, got "nats://127.0.0.1" (no host and port)`},
		{"pushlua_queue = nats://127.0.0.1:4222\npushlua_queue_partitions = 0", 2, `pushlua_queue_partitions: expected a positive integer, got "0"`},
		{"pushlua_queue = nats://127.0.0.1:4222\npushlua_queue_ack_wait = 0", 2, `pushlua_queue_ack_wait: must be more than 0, got "0"`},
		{"pushlua_queue = nats://127.0.0.1:4222\npushlua_queue_max_bytes = lots", 2, `pushlua_queue_max_bytes: expected a positive size`},
		{"pushlua_queue = nats://127.0.0.1:4222\npushlua_queue_tls_cert = c.pem", 2, "pushlua_queue_tls_cert and pushlua_queue_tls_key: give both or neither"},
		{"pushlua_queue = nats://127.0.0.1:4222\npushlua_durable = no", 2, "pushlua_queue: the JetStream queue is durable; pushlua_durable = no contradicts it"},
		{"pushlua_queue = nats://joe:s3cret@127.0.0.1:1", 1, "jetstream: connecting to nats://127.0.0.1:1: "},
	} {
		dir := writeFiles(t, map[string]string{"p.conf": tt.settings + "\nplugin {\n  push_notification_driver = dlog\n}\n"})
		r := pushlua(t, dir, "", "serve", "-c", "p.conf", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"))
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "s3cret") {
			t.Errorf("%q: exit %d %q; want %d and %q", tt.settings, r.code, r.stderr, tt.code, tt.want)
		}
	}
}
