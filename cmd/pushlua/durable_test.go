package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
)

// durableScript takes a few milliseconds per transaction (a CPU wait, so
// the queue fills) and logs every uid it ran.
const durableScript = `function dovecot_lua_notify_begin_txn(user) return user.username end
function dovecot_lua_notify_event_message_new(u, e)
  local t = os.clock()
  while os.clock() - t < 0.002 do end
  if e.uid == 999999 then while true do end end
  dovecot.i_info("ran " .. e.uid)
end
function dovecot_lua_notify_end_txn() end
`

func durableConf(extra string) string {
	// Users here queue more than the default 64 each.
	return "pushlua_user_queue_size = 1000\n" + extra + "\nplugin {\n  push_notification_driver = lua:file=script.lua\n}\n"
}

var ranUIDRE = regexp.MustCompile(`pushlua\((d\d+)\)<([^>]+)>: Info: ran (-?\d+)`)

// ranUIDs returns, per user, the uids a server's log shows as run, in log
// order.
func ranUIDs(s *server) map[string][]int {
	out := map[string][]int{}
	for _, m := range ranUIDRE.FindAllStringSubmatch(s.log(), -1) {
		n, _ := strconv.Atoi(m[3])
		out[m[1]] = append(out[m[1]], n)
	}
	return out
}

// durableLine is user u's transaction with that uid (uids count from 1 per
// user, so a user's order is the order of its uids).
func durableLine(u, uid int) string {
	return fmt.Sprintf(`{"id":"d%d-%d","user":"d%d","events":[{"name":"MessageNew","mailbox":"INBOX","uid":%d}]}`, u, uid, u, uid)
}

// poster sends JSON Lines batches and remembers which transactions were
// answered 202.
type poster struct {
	addr     string
	client   *http.Client
	mu       sync.Mutex
	accepted map[string]bool
}

func newPoster(addr string) *poster {
	return &poster{addr: addr, client: &http.Client{Timeout: 30 * time.Second}, accepted: map[string]bool{}}
}

// post sends lines; it returns the status, or 0 when the server is gone.
func (p *poster) post(lines []string) int {
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+"/v1/transactions", strings.NewReader(strings.Join(lines, "\n")+"\n"))
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var res struct {
		Accepted []struct{ ID string } `json:"accepted"`
	}
	_ = json.Unmarshal(body, &res)
	p.mu.Lock()
	for _, a := range res.Accepted {
		p.accepted[a.ID] = true
	}
	p.mu.Unlock()
	return resp.StatusCode
}

// checkRuns checks that every accepted transaction ran in one of the
// runs, and that within each run every user's uids ran in increasing
// order (a run may repeat what was in flight at a crash, from that point).
func checkRuns(t *testing.T, accepted map[string]bool, runs ...*server) {
	t.Helper()
	seen := map[string]bool{}
	for r, s := range runs {
		for user, uids := range ranUIDs(s) {
			for i, uid := range uids {
				if i > 0 && uid <= uids[i-1] {
					t.Errorf("run %d, user %s: uid %d after %d (order broken): %v", r+1, user, uid, uids[i-1], uids)
					break
				}
				seen[fmt.Sprintf("%s-%d", user, uid)] = true
			}
		}
	}
	missing := 0
	for id := range accepted {
		if !seen[id] {
			missing++
			if missing <= 5 {
				t.Errorf("accepted transaction %s never ran", id)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d accepted transactions never ran", missing, len(accepted))
	}
}

// waitRan waits until every accepted transaction ran in one of the runs.
func waitRan(t *testing.T, accepted map[string]bool, runs ...*server) {
	t.Helper()
	poll(t, "every accepted transaction runs", func() bool {
		seen := map[string]bool{}
		for _, s := range runs {
			for user, uids := range ranUIDs(s) {
				for _, uid := range uids {
					seen[fmt.Sprintf("%s-%d", user, uid)] = true
				}
			}
		}
		for id := range accepted {
			if !seen[id] {
				return false
			}
		}
		return true
	})
}

// checkAccounting checks /metrics once everything ran: accepted =
// processed + dead, nothing in flight or queued, nothing dropped.
func checkAccounting(t *testing.T, s *server) {
	t.Helper()
	poll(t, "queue empty", func() bool {
		return s.metric(t, "pushlua_transactions_queued") == 0 && s.metric(t, "pushlua_transactions_in_flight") == 0
	})
	accepted := s.metric(t, "pushlua_transactions_accepted_total")
	processed := s.metric(t, `pushlua_transactions_processed_total{result="ok"}`) + s.metric(t, `pushlua_transactions_processed_total{result="failed"}`)
	dead := s.metric(t, "pushlua_transactions_dead_total")
	if accepted != processed+dead || s.metric(t, "pushlua_transactions_dropped_total") != 0 {
		t.Errorf("accounting: accepted %v, processed %v, dead %v, dropped %v\n%s", accepted, processed, dead, s.metric(t, "pushlua_transactions_dropped_total"), s.log())
	}
}

// SIGKILL with thousands of accepted transactions queued: after a restart
// on the same data dir, every one runs, in order per user.
func TestDurableSIGKILL(t *testing.T) {
	dir := writeFiles(t, map[string]string{"pushlua.conf": durableConf(""), "script.lua": durableScript})
	s1 := startServe(t, dir, "-c", "pushlua.conf", "--listen", "127.0.0.1:0", "-j", "2")
	p := newPoster(s1.addr)
	const users, per = 20, 150
	for uid := 1; uid <= per; uid += 10 {
		var batch []string
		for u := range users {
			for k := uid; k < uid+10; k++ {
				batch = append(batch, durableLine(u, k))
			}
		}
		if code := p.post(batch); code != http.StatusAccepted {
			t.Fatalf("POST: %d", code)
		}
	}
	if len(p.accepted) != users*per {
		t.Fatalf("accepted %d; want %d", len(p.accepted), users*per)
	}
	poll(t, "some ran", func() bool { return len(ranUIDRE.FindAllString(s1.log(), -1)) > 50 })
	_ = s1.cmd.Process.Kill()
	<-s1.done
	ranBefore := len(ranUIDRE.FindAllString(s1.log(), -1))
	if ranBefore >= users*per {
		t.Fatalf("everything ran before the kill (%d): the test proves nothing; make the script slower", ranBefore)
	}
	s2 := startServe(t, dir, "-c", "pushlua.conf", "--listen", "127.0.0.1:0", "-j", "2")
	s2.waitLog(t, regexp.MustCompile(`replaying \d+ accepted transactions`))
	waitRan(t, p.accepted, s1, s2)
	checkRuns(t, p.accepted, s1, s2)
	checkAccounting(t, s2)
	if code := s2.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, s2.log())
	}
	// The log is empty: a third start replays nothing.
	s3 := startServe(t, dir, "-c", "pushlua.conf", "--listen", "127.0.0.1:0")
	s3.stop(t, syscall.SIGTERM)
	if strings.Contains(s3.log(), "replaying") || len(ranUIDRE.FindAllString(s3.log(), -1)) != 0 {
		t.Errorf("a third start ran something:\n%s", s3.log())
	}
}

// SIGTERM with a drain timeout shorter than the backlog: what did not run
// stays in the log, the log line says how many, and the next start runs it.
func TestDurableDrainTimeout(t *testing.T) {
	dir := writeFiles(t, map[string]string{"pushlua.conf": durableConf("pushlua_drain_timeout = 1s"), "script.lua": durableScript})
	s1 := startServe(t, dir, "-c", "pushlua.conf", "--listen", "127.0.0.1:0", "-j", "1")
	p := newPoster(s1.addr)
	var batch []string
	for uid := 1; uid <= 100; uid++ {
		for u := range 10 {
			batch = append(batch, durableLine(u, uid))
		}
	}
	if code := p.post(batch); code != http.StatusAccepted || len(p.accepted) != 1000 {
		t.Fatalf("POST: %d, %d accepted", code, len(p.accepted))
	}
	if code := s1.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM with a drain timeout:\n%s", code, s1.log())
	}
	m := regexp.MustCompile(`(\d+) accepted transactions kept in the write-ahead log`).FindStringSubmatch(s1.log())
	if m == nil {
		t.Fatalf("no line saying how many were kept:\n%s", s1.log())
	}
	kept, _ := strconv.Atoi(m[1])
	ranBefore := len(ranUIDRE.FindAllString(s1.log(), -1))
	if kept == 0 || kept+ranBefore < 1000 {
		t.Errorf("kept %d, ran %d: together less than the 1000 accepted", kept, ranBefore)
	}
	s2 := startServe(t, dir, "-c", "pushlua.conf", "--listen", "127.0.0.1:0", "-j", "2")
	waitRan(t, p.accepted, s1, s2)
	checkRuns(t, p.accepted, s1, s2)
	checkAccounting(t, s2)
}

// Killed while requests wait for their fsync: every transaction answered
// 202 runs after the restart; the others may or may not.
func TestDurableKillDuringFsync(t *testing.T) {
	dir := writeFiles(t, map[string]string{"pushlua.conf": durableConf(""), "script.lua": durableScript})
	s1 := startServe(t, dir, "-c", "pushlua.conf", "--listen", "127.0.0.1:0", "-j", "2")
	p := newPoster(s1.addr)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for u := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for uid := 1; ; uid++ {
				select {
				case <-stop:
					return
				default:
				}
				if p.post([]string{durableLine(u, uid)}) == 0 {
					return // the server is gone
				}
			}
		}()
	}
	poll(t, "posts accepted", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.accepted) > 300
	})
	time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond) // anywhere in a commit
	_ = s1.cmd.Process.Kill()
	<-s1.done
	close(stop)
	wg.Wait()
	s2 := startServe(t, dir, "-c", "pushlua.conf", "--listen", "127.0.0.1:0", "-j", "2")
	waitRan(t, p.accepted, s1, s2)
	checkRuns(t, p.accepted, s1, s2)
	checkAccounting(t, s2)
}

// A transaction whose handler always exceeds the budget goes to the
// dead-letter area after pushlua_poison_attempts runs; the user's next
// one runs; pushlua dlq lists, shows, replays (into the running serve)
// and drops it.
func TestDurablePoisonAndDLQ(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"pushlua.conf": durableConf("pushlua_handler_instructions = 200000\npushlua_poison_attempts = 2"),
		"script.lua":   durableScript,
	})
	s := startServe(t, dir, "-c", "pushlua.conf", "--listen", "127.0.0.1:0", "-j", "1")
	p := newPoster(s.addr)
	poison := `{"id":"poison-1","user":"d7","events":[{"name":"MessageNew","mailbox":"INBOX","uid":999999}]}`
	if code := p.post([]string{durableLine(7, 1), poison, durableLine(7, 2)}); code != http.StatusAccepted {
		t.Fatalf("POST: %d", code)
	}
	s.waitLog(t, regexp.MustCompile(`Info: ran 2`))
	s.waitLog(t, regexp.MustCompile(`giving up on the transaction after 2 attempts`))
	s.waitLog(t, regexp.MustCompile(`put into the dead-letter area`))
	if got := ranUIDs(s)["d7"]; fmt.Sprint(got) != "[1 2]" {
		t.Errorf("d7 ran %v; want [1 2]", got)
	}
	checkAccounting(t, s)
	if s.metric(t, "pushlua_transactions_dead_total") != 1 {
		t.Errorf("dead_total: %v; want 1", s.metric(t, "pushlua_transactions_dead_total"))
	}
	data := filepath.Join(dir, "data")
	r := pushlua(t, dir, "", "dlq", "list", "--data-dir", data)
	if r.code != 0 || !strings.Contains(r.stdout, "poison-1  user=d7  attempts=2") || !strings.Contains(r.stdout, "1 dead letter(s)") {
		t.Fatalf("dlq list: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = pushlua(t, dir, "", "dlq", "show", "--data-dir", data, "poison-1")
	var shown struct {
		Line   string
		Reason string
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || shown.Line != poison || !strings.Contains(shown.Reason, "budget") {
		t.Fatalf("dlq show: %v\n%s", err, r.stdout)
	}
	// Fix the script (hot reload), then replay: it runs in this serve.
	fixed := strings.Replace(durableScript, "if e.uid == 999999 then while true do end end", "", 1)
	if err := os.WriteFile(filepath.Join(dir, "script.lua"), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, regexp.MustCompile(`reloaded script.lua`))
	r = pushlua(t, dir, "", "dlq", "replay", "--data-dir", data, "poison-1")
	if r.code != 0 {
		t.Fatalf("dlq replay: %d %s", r.code, r.stderr)
	}
	s.waitLog(t, regexp.MustCompile(`<poison-1>: Info: ran 999999`))
	if r = pushlua(t, dir, "", "dlq", "list", "--data-dir", data); !strings.Contains(r.stdout, "0 dead letter(s)") {
		t.Errorf("after replay: %s", r.stdout)
	}
	if r = pushlua(t, dir, "", "dlq", "drop", "--data-dir", data, "nope"); r.code != 1 || !strings.Contains(r.stderr, "no such dead letter") {
		t.Errorf("drop of an unknown id: %d %s", r.code, r.stderr)
	}
	checkAccounting(t, s)
}

// A full log refuses more with 503 and Retry-After, says so on /readyz,
// and takes transactions again once the backlog ran.
func TestDurableLogFull(t *testing.T) {
	// The first transaction waits until the test creates the file "go":
	// nothing is processed meanwhile, so the log only grows.
	dir := writeFiles(t, map[string]string{
		"pushlua.conf": durableConf("pushlua_wal_max_bytes = 20k\npushlua_handler_timeout = 2m\npushlua_handler_instructions = 100000000000000"),
		"script.lua": strings.Replace(durableScript, "local t = os.clock()",
			`if e.uid == 1 and u == "d1" then while not io.open(os.getenv("GO_FILE")) do end end
  local t = os.clock()`, 1),
	})
	t.Setenv("GO_FILE", filepath.Join(dir, "go"))
	s := startServe(t, dir, "-c", "pushlua.conf", "--listen", "127.0.0.1:0", "-j", "1")
	p := newPoster(s.addr)
	var full int
	for uid := 1; uid <= 400 && full == 0; uid++ {
		if code := p.post([]string{durableLine(1, uid)}); code == http.StatusServiceUnavailable {
			full = uid
		} else if code != http.StatusAccepted {
			t.Fatalf("POST %d: %d", uid, code)
		}
	}
	if full == 0 {
		t.Fatal("the log never filled")
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/v1/transactions", bytes.NewReader([]byte(durableLine(2, 1))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "write-ahead log is full") {
		t.Errorf("full log: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if code, text := s.get(t, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(text, "write-ahead log is full") {
		t.Errorf("/readyz with a full log: %d %s", code, text)
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitRan(t, p.accepted, s)
	poll(t, "room again", func() bool { return p.post([]string{durableLine(2, 1)}) == http.StatusAccepted })
	waitRan(t, p.accepted, s)
	checkRuns(t, p.accepted, s)
}

// decodedLines hands back the transaction put for a line, once, and
// decodes any other line itself.
func TestDecodedLines(t *testing.T) {
	var d decodedLines
	a := []byte(`{"id":"a","user":"u"}`)
	b := []byte(`{"id":"b","user":"u"}`)
	ta, tb := &txn.Txn{ID: "a-put"}, &txn.Txn{ID: "b-put"}
	d.put([][]byte{a, b}, []*txn.Txn{ta, tb})
	d.drop([][]byte{b})
	for _, tc := range []struct {
		line []byte
		want string
	}{{a, "a-put"}, {a, "a"}, {b, "b"}, {[]byte(`{"id":"c","user":"u"}`), "c"}} {
		got, err := d.parse(append([]byte(nil), tc.line...), nil)
		if err != nil || got.ID != tc.want {
			t.Errorf("parse(%s) = %v, %v; want id %s", tc.line, got, err, tc.want)
		}
	}
}
