package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// forwarder writes a spool as docs/spool.md says the Dovecot-side
// forwarder does: its own file, every transaction one line written with one
// write, the file renamed to .jsonl when it reaches the rotation size.
type forwarder struct {
	t      *testing.T
	dir    string
	rand   int
	rotate int // lines per file
	f      *os.File
	stem   string
	n      int      // lines in the current file
	stems  []string // every file written, in order
	lines  map[string][]string
}

func (w *forwarder) write(user string) {
	w.t.Helper()
	if w.f == nil {
		w.rand++
		w.stem = fmt.Sprintf("pl-%d-%d-%08x", os.Getpid(), time.Now().Unix(), w.rand)
		f, err := os.OpenFile(filepath.Join(w.dir, w.stem+".open"), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if err != nil {
			w.t.Fatal(err)
		}
		w.f, w.n = f, 0
		w.stems = append(w.stems, w.stem)
	}
	w.n++
	id := fmt.Sprintf("%s-%d", strings.TrimPrefix(w.stem, "pl-"), w.n)
	line := fmt.Sprintf(`{"id":%q,"user":{"username":%q,"service":"lmtp"},"events":[{"name":"MailboxCreate","mailbox":"INBOX"}]}`+"\n", id, user)
	if _, err := w.f.WriteString(line); err != nil {
		w.t.Fatal(err)
	}
	w.lines[w.stem] = append(w.lines[w.stem], id)
	if w.n == w.rotate {
		w.close()
	}
}

func (w *forwarder) close() {
	w.t.Helper()
	if w.f == nil {
		return
	}
	w.f.Close()
	w.f = nil
	if err := os.Rename(filepath.Join(w.dir, w.stem+".open"), filepath.Join(w.dir, w.stem+".jsonl")); err != nil {
		w.t.Fatal(err)
	}
}

// ran returns the transaction ids a server's log shows as processed (its
// end_txn ran), in log order.
var ranRE = regexp.MustCompile(`pushlua\((u\d)\)<([^>]+)>: Info: done`)

func ran(s *server) (ids []string) {
	for _, m := range ranRE.FindAllStringSubmatch(s.log(), -1) {
		ids = append(ids, m[2])
	}
	return ids
}

// lineOf splits an id <pid>-<start>-<rand>-<n> into its file stem and n.
func lineOf(t *testing.T, id string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(id, '-')
	n, err := strconv.Atoi(id[i+1:])
	if err != nil {
		t.Fatalf("id %q", id)
	}
	return "pl-" + id[:i], n
}

// slowSpoolServe writes a configuration that reads the spool directory it
// makes, with a handler that takes a little time (so that a stop or a kill
// lands with transactions in flight); it returns both directories.
func slowSpoolServe(t *testing.T) (dir, spool string) {
	t.Helper()
	dir = writeFiles(t, map[string]string{
		"p.conf": "pushlua_spool = spool\nplugin {\n  push_notification_driver = lua:file=s.lua\n}\n",
		"s.lua": `function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_event_mailbox_create(ctx, e) local x = 0 for i = 1, 20000 do x = x + i end end
function dovecot_lua_notify_end_txn(ctx, success) dovecot.i_info("done") end
`,
	})
	spool = filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o770); err != nil {
		t.Fatal(err)
	}
	return dir, spool
}

// waitSpoolEmpty waits until s has processed and removed every file of the
// spool directory.
func waitSpoolEmpty(t *testing.T, s *server, spool string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		left, _ := filepath.Glob(filepath.Join(spool, "pl-*"))
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool files left: %v\n%s", left, s.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeSpoolCrashAndCatchUp(t *testing.T) {
	dir, spool := slowSpoolServe(t)
	// Three writers (three Dovecot processes), users spread over them.
	var ws []*forwarder
	for i := range 3 {
		ws = append(ws, &forwarder{t: t, dir: spool, rand: i << 16, rotate: 150, lines: map[string][]string{}})
	}
	write := func(n int) {
		for i := range n {
			ws[i%3].write(fmt.Sprintf("u%d", i%4))
		}
	}
	s1 := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	write(600)
	deadline := time.Now().Add(30 * time.Second)
	for len(ran(s1)) < 150 {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not process the spool:\n%s", s1.log())
		}
		time.Sleep(5 * time.Millisecond)
	}
	s1.stop(t, syscall.SIGKILL)
	run1 := ran(s1)
	if len(run1) >= 600 {
		t.Logf("all 600 ran before the kill; the crash window is not exercised this time")
	}

	// The watermarks on disk at the kill: nothing before them may run
	// again. They are written at most once a second: a kill before the
	// first write leaves none, and everything may run again.
	var saved struct {
		Files map[string]struct{ Line int } `json:"files"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "data", "spool-offsets.json"))
	if err == nil {
		err = json.Unmarshal(data, &saved)
	} else if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if err != nil {
		t.Fatal(err)
	}

	// pushlua is down: the spool grows.
	write(600)

	s2 := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	write(300)
	for _, w := range ws {
		w.close()
	}
	total := 1500
	waitSpoolEmpty(t, s2, spool)
	run2 := ran(s2)

	// Every transaction ran at least once; the ones that ran twice were
	// after their file's watermark at the kill.
	seen := map[string]int{}
	for _, id := range run1 {
		seen[id]++
	}
	twice := 0
	for _, id := range run2 {
		if seen[id] > 0 {
			twice++
			stem, n := lineOf(t, id)
			if n <= saved.Files[stem].Line {
				t.Errorf("%s ran again although the watermark of %s was at line %d", id, stem, saved.Files[stem].Line)
			}
		}
		seen[id]++
	}
	for _, w := range ws {
		for stem, ids := range w.lines {
			for _, id := range ids {
				if seen[id] == 0 {
					t.Errorf("%s (%s) never ran", id, stem)
				}
			}
		}
	}
	if len(seen) != total {
		t.Errorf("distinct transactions: got %d; want %d", len(seen), total)
	}
	t.Logf("run 1: %d, run 2: %d, ran twice: %d", len(run1), len(run2), twice)

	// Per file and user, each run keeps the order of the lines.
	for i, s := range []*server{s1, s2} {
		last := map[string]int{}
		for _, m := range ranRE.FindAllStringSubmatch(s.log(), -1) {
			stem, n := lineOf(t, m[2])
			key := stem + "|" + m[1]
			if n <= last[key] {
				t.Errorf("run %d: %s ran after line %d of the same file and user", i+1, m[2], last[key])
			}
			last[key] = n
		}
	}

	// Caught up: nothing waits, /readyz is ready, the offsets are gone.
	if code, body := s2.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz: %d %s", code, body)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		_, m := s2.get(t, "/metrics")
		if strings.Contains(m, `pushlua_spool_depth_bytes{spool="forwarder"} 0`) && strings.Contains(m, `pushlua_spool_files{spool="forwarder"} 0`) {
			if !strings.Contains(m, fmt.Sprintf(`pushlua_spool_lines_total{result="submitted",spool="forwarder"} %d`, len(run2))) {
				t.Errorf("submitted lines: want %d in\n%s", len(run2), grepLines(m, "pushlua_spool"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool metrics:\n%s", grepLines(m, "pushlua_spool"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		data, err := os.ReadFile(filepath.Join(dir, "data", "spool-offsets.json"))
		if err == nil && !strings.Contains(string(data), `"pl-`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("offsets left: %s", data)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A clean stop persists the offsets and exits 0.
	if code := s2.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: exit %d\n%s", code, s2.log())
	}
}

func grepLines(s, substr string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, substr) {
			out = append(out, strings.TrimRight(l, "\n"))
		}
	}
	return strings.Join(out, "\n")
}

func TestServeSpoolReadyz(t *testing.T) {
	t.Run("lag over pushlua_spool_max_age", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{
			"p.conf": "pushlua_spool = spool\npushlua_spool_max_age = 5m\nplugin {\n  push_notification_driver = dlog\n}\n",
		})
		spool := filepath.Join(dir, "spool")
		if err := os.Mkdir(spool, 0o770); err != nil {
			t.Fatal(err)
		}
		// A live writer's file created ten minutes ago whose second line
		// is not complete yet.
		name := filepath.Join(spool, fmt.Sprintf("pl-%d-%d-0000abcd.open", os.Getpid(), time.Now().Add(-10*time.Minute).Unix()))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString(`{"id":"a-1","user":{"username":"u1"}}` + "\n" + `{"id":"a-2","user":{"user`)
		s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
		s.waitLog(t, regexp.MustCompile(`pushlua\(u1\)<a-1>`))
		code, body := s.get(t, "/readyz")
		if code != 503 || !regexp.MustCompile(`spool .* lags: 25 bytes in 1 files not processed, the oldest for 10m\d+s \(limit 5m0s\)`).MatchString(body) {
			t.Errorf("/readyz: %d %q; want 503 and the lag", code, body)
		}
		f.WriteString(`name":"u1"}}` + "\n")
		s.waitLog(t, regexp.MustCompile(`pushlua\(u1\)<a-2>`))
		s.waitReady(t, "after catching up")
	})
	t.Run("unreadable spool directory", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{
			"p.conf":    "pushlua_spool = not-a-dir\nplugin {\n  push_notification_driver = dlog\n}\n",
			"not-a-dir": "x",
		})
		s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
		s.waitLog(t, regexp.MustCompile(`cannot read the spool directory`))
		code, body := s.get(t, "/readyz")
		if code != 503 || !strings.Contains(body, "not-a-dir: not a directory") {
			t.Errorf("/readyz: %d %q; want 503 naming the directory", code, body)
		}
		// HTTP still works.
		if code, body := s.post(t, `{"id":"h-1","user":{"username":"u2"}}`, ""); code != 202 {
			t.Errorf("POST: %d %s", code, body)
		}
		s.waitLog(t, regexp.MustCompile(`pushlua\(u2\)<h-1>`))
		if n := strings.Count(s.log(), "cannot read the spool directory"); n != 1 {
			t.Errorf("%d error lines; want 1:\n%s", n, s.log())
		}
	})
	t.Run("bad setting", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{
			"p.conf": "pushlua_spool = spool\npushlua_spool_max_age = soon\nplugin {\n  push_notification_driver = dlog\n}\n",
		})
		r := pushlua(t, dir, "", "serve", "-c", "p.conf", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"))
		if r.code != 2 || !strings.Contains(r.stderr, "pushlua_spool_max_age") {
			t.Errorf("got %d %q; want 2 naming the setting", r.code, r.stderr)
		}
	})
}

func TestServeDuplicateID(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dir, "--listen", "127.0.0.1:0")
	body := `{"id":"fwd-7","user":{"username":"dup@example.com"},"events":[{"name":"MailboxCreate","mailbox":"INBOX"}]}`
	if code, answer := s.post(t, body, ""); code != 202 || strings.Contains(answer, "duplicate") {
		t.Fatalf("first POST: %d %s", code, answer)
	}
	// The forwarder's retry after its timeout fired.
	code, answer := s.post(t, body, "")
	if code != 202 || !strings.Contains(answer, `{"line":1,"id":"fwd-7","duplicate":true}`) {
		t.Errorf("retry: %d %s; want 202 with duplicate", code, answer)
	}
	// Another transaction after both, so that the log is complete up to
	// it: fwd-7 ran once.
	if code, answer := s.post(t, `{"id":"fwd-8","user":{"username":"dup@example.com"}}`, ""); code != 202 {
		t.Fatalf("third POST: %d %s", code, answer)
	}
	s.waitLog(t, regexp.MustCompile(`<fwd-8>: Debug: Called end_txn`))
	if n := strings.Count(s.log(), "<fwd-7>: Debug: Called begin_txn"); n != 1 {
		t.Errorf("fwd-7 ran %d times; want once:\n%s", n, s.log())
	}
}

// A clean stop stops reading, lets the engine drain what it took, and only
// then writes the watermarks: the next start runs nothing again.
func TestServeSpoolCleanStopRerunsNothing(t *testing.T) {
	dir, spool := slowSpoolServe(t)
	w := &forwarder{t: t, dir: spool, rotate: 1000, lines: map[string][]string{}}
	for i := range 800 {
		w.write(fmt.Sprintf("u%d", i%4))
	}
	s1 := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	deadline := time.Now().Add(30 * time.Second)
	for len(ran(s1)) < 100 {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not process the spool:\n%s", s1.log())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code := s1.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, s1.log())
	}
	run1 := ran(s1)

	w.close()
	s2 := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	waitSpoolEmpty(t, s2, spool)
	seen := map[string]int{}
	for _, id := range append(run1, ran(s2)...) {
		seen[id]++
		if seen[id] == 2 {
			t.Errorf("%s ran twice after a clean stop", id)
		}
	}
	if len(seen) != 800 {
		t.Errorf("distinct transactions: got %d; want 800", len(seen))
	}
	t.Logf("before the stop: %d, after: %d", len(run1), len(seen)-len(run1))
}
