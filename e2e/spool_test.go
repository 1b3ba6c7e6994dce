package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
)

// The real-Dovecot tests of the forwarder's spool mode (docs/spool.md) and
// of its HTTP path's timeouts.

// pluginSettings is what startDovecot's url parameter must be for the
// forwarder's plugin block to hold url and the extra settings (each
// "name = value"): dovecotConf writes the parameter verbatim after
// "pushlua_url = ".
func pluginSettings(url string, extra ...string) string {
	return url + "\n  " + strings.Join(extra, "\n  ")
}

// newDovecotWith starts Dovecot (startDovecot) with plugin settings,
// after making the spool directory settings name by @SPOOL@.
func newDovecotWith(t *testing.T, bin string, url string, extra ...string) (*dovecotInstance, string) {
	t.Helper()
	// The instance directory is made by startDovecot; the spool goes
	// into a directory of ours that the mail uid can reach.
	base, err := os.MkdirTemp(reachableTempDir(), "pushlua-spool-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(base, "spool")
	for i := range extra {
		extra[i] = strings.ReplaceAll(extra[i], "@SPOOL@", spool)
	}
	d := startDovecot(t, bin, pluginSettings(url, extra...))
	return d, spool
}

// makeSpool creates dir for d's mail processes (see spoolDir).
func makeSpool(t *testing.T, d *dovecotInstance, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, int(d.mailUID), int(d.mailGID)); err != nil {
		t.Fatal(err)
	}
}

// serveWith starts `pushlua serve` in dir with conf (plus the recording
// script testdata/record.lua, which writes dir/records.jsonl), keeping its
// data in dir/data so that a restart resumes.
func serveWith(t *testing.T, bin, dir, conf string) *pushluaServe {
	t.Helper()
	src, err := os.ReadFile("testdata/record.lua")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &pushluaServe{records: filepath.Join(dir, "records.jsonl"), done: make(chan struct{})}
	conf = strings.ReplaceAll(conf, "@RECORDS@", s.records)
	for name, data := range map[string]string{"record.lua": string(src), "pushlua.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.cmd = exec.Command(bin, "serve", "-c", filepath.Join(dir, "pushlua.conf"), "--listen", "127.0.0.1:0",
		"--data-dir", filepath.Join(dir, "data"))
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		defer close(s.done)
		re := regexp.MustCompile(`listening on (\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		_ = s.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
	select {
	case a := <-addr:
		s.URL = "http://" + a + TransactionsPath
	case <-s.done:
		t.Fatalf("pushlua serve exited:\n%s", s.logText())
	case <-time.After(20 * time.Second):
		t.Fatalf("pushlua serve did not start:\n%s", s.logText())
	}
	return s
}

// stop ends pushlua serve with SIGTERM and waits for it.
func (s *pushluaServe) stop(t *testing.T) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("pushlua serve did not stop on SIGTERM:\n%s", s.logText())
	}
}

// readRecords returns what record.lua wrote so far.
func readRecords(t *testing.T, path string) []*txn.Txn {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []*txn.Txn
	for i, l := range strings.Split(string(data), "\n") {
		if l == "" {
			continue
		}
		x, err := txn.Parse([]byte(l), nil)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		out = append(out, x)
	}
	return out
}

// waitRecords waits until path holds n records (a deadline, not a speed:
// a spool is read as it is written) and then a little longer, so that a
// duplicate would show.
func waitRecords(t *testing.T, path string, n int) []*txn.Txn {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(readRecords(t, path)) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	return readRecords(t, path)
}

const msgLater = `From: Later Sender <later@example.org>
To: Bob <bob@example.com>
Subject: Written while pushlua was down
Date: Sun, 01 Dec 2024 08:00:00 +0000
Message-ID: <later-1@example.org>

This one waits in the spool.
`

// spoolScenario drives Dovecot through deliveries and IMAP changes;
// middle runs halfway (the spool test stops pushlua there and starts it
// again after more mail). It returns the transactions Dovecot must hand
// over, described as describeTxn does, sorted.
func spoolScenario(t *testing.T, dc *dovecotInstance, middle, after func()) []string {
	t.Helper()
	lmtpDeliver(t, dc.lmtpAddr, []string{"alice@example.com"}, msgPlain)
	lmtpDeliver(t, dc.lmtpAddr, []string{"alice@example.com", "bob@example.com"}, msgTwoRcpts)
	imap := dialIMAP(t, dc.imapAddr)
	imap.ok(t, `LOGIN "alice@example.com" "alicepass"`)
	imap.ok(t, "SELECT INBOX")
	imap.ok(t, `STORE 1 +FLAGS (\Seen)`)
	imap.ok(t, `SETMETADATA "" (`+metadataKey+` "`+gateValue+`")`)
	imap.ok(t, "CREATE Work")
	middle()
	imap.appendMsg(t, "Work", `\Seen $AppendKw`, msgAppend)
	lmtpDeliver(t, dc.lmtpAddr, []string{"bob@example.com"}, msgLater)
	imap.ok(t, `STORE 2 +FLAGS (\Flagged $Custom)`)
	after()
	lmtpDeliver(t, dc.lmtpAddr, []string{"alice@example.com"}, msgAppend)
	imap.logout(t)
	want := []string{
		"alice@example.com lmtp: MailboxCreate(INBOX)",
		"alice@example.com lmtp: MessageNew(INBOX uid=1 flags=[] kw=[])",
		"alice@example.com lmtp: MessageNew(INBOX uid=2 flags=[] kw=[])",
		"bob@example.com lmtp: MailboxCreate(INBOX)",
		"bob@example.com lmtp: MessageNew(INBOX uid=1 flags=[] kw=[])",
		`alice@example.com imap: FlagsClear(INBOX uid=1 flags=[] kw=[] old=[\Recent] kwold=[]), ` +
			`FlagsSet(INBOX uid=1 flags=[\Seen] kw=[]), MessageRead(INBOX uid=1)`,
		"alice@example.com imap: MailboxCreate(Work)",
		`alice@example.com imap: MessageAppend(Work uid=1 flags=[\Seen] kw=[$AppendKw])`,
		"bob@example.com lmtp: MessageNew(INBOX uid=2 flags=[] kw=[])",
		`alice@example.com imap: FlagsClear(INBOX uid=2 flags=[] kw=[] old=[\Recent] kwold=[]), ` +
			`FlagsSet(INBOX uid=2 flags=[\Flagged] kw=[$Custom])`,
		"alice@example.com lmtp: MessageNew(INBOX uid=3 flags=[] kw=[])",
	}
	sort.Strings(want)
	return want
}

// normalTxn is a transaction without what differs between two Dovecot
// instances (ids, sessions, homes, UIDVALIDITY), as JSON.
func normalTxn(x *txn.Txn) string {
	c := *x
	c.ID, c.Input, c.Line = "", "", 0
	c.User.SessionID, c.User.SessionCreateTime, c.User.Home = "", 0, ""
	c.Events = append([]txn.Event(nil), x.Events...)
	for i := range c.Events {
		c.Events[i].UIDValidity = 0
	}
	st := map[string]any{}
	for box, s := range x.Status {
		s.UIDValidity = 0
		st[box] = s
	}
	c.Status = nil
	b, _ := json.Marshal(struct {
		T      txn.Txn
		Status map[string]any
	}{c, st})
	return string(b)
}

// byDescription sorts transactions by describeTxn, then by their JSON.
func byDescription(xs []*txn.Txn) ([]string, []string) {
	sort.SliceStable(xs, func(i, j int) bool {
		di, dj := describeTxn(xs[i]), describeTxn(xs[j])
		if di != dj {
			return di < dj
		}
		return normalTxn(xs[i]) < normalTxn(xs[j])
	})
	var desc, norm []string
	for _, x := range xs {
		desc = append(desc, describeTxn(x))
		norm = append(norm, normalTxn(x))
	}
	return desc, norm
}

// TestDovecotSpool runs one scenario twice against a real Dovecot 2.3:
// through the HTTP path, and through the spool with pushlua serve stopped
// for part of it. Through the spool every transaction reaches pushlua's
// script exactly once, with every field equal to the HTTP path's (but for
// the instance's ids, sessions and UIDVALIDITY); Dovecot never falls back
// to HTTP and logs no error; the spool holds one file per mail process.
func TestDovecotSpool(t *testing.T) {
	bin := requireDovecot(t)
	b := <-buildPushlua(t)
	if b.err != nil {
		t.Fatal(b.err)
	}

	// HTTP: Dovecot posts to pushlua serve.
	httpServe := serveWith(t, b.path, t.TempDir(), "pushlua_auth_token = "+e2eToken+
		"\nplugin {\n  push_notification_driver = lua:file=record.lua\n  record_file = @RECORDS@\n}\n")
	dcHTTP := startDovecot(t, bin, httpServe.URL)
	want := spoolScenario(t, dcHTTP, func() {}, func() {})
	viaHTTP := waitRecords(t, httpServe.records, len(want))
	dcHTTP.stop(t)

	// Spool: pushlua serve reads the directory Dovecot writes; a receiver
	// would catch a fallback POST.
	recv := startReceiver(t, e2eToken)
	dc, spool := newDovecotWith(t, bin, recv.URL, "pushlua_spool = @SPOOL@")
	makeSpool(t, dc, spool)
	serveDir := t.TempDir()
	conf := "pushlua_spool = " + spool + "\npushlua_spool_stale_after = 1s\nplugin {\n" +
		"  push_notification_driver = lua:file=record.lua\n  record_file = @RECORDS@\n}\n"
	serve := serveWith(t, b.path, serveDir, conf)
	var stoppedAt int
	got := spoolScenario(t, dc, func() {
		waitRecords(t, serve.records, 7)
		serve.stop(t)
		stoppedAt = len(readRecords(t, serve.records))
	}, func() {
		if n := len(readRecords(t, serve.records)); n != stoppedAt {
			t.Errorf("%d records while pushlua was stopped, want %d", n, stoppedAt)
		}
		lines, _, _, _ := readSpool(t, spool)
		if len(lines) < 3 {
			t.Errorf("%d lines in the spool while pushlua was stopped, want the 3 written since", len(lines))
		}
		serve = serveWith(t, b.path, serveDir, conf)
	})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("scenarios differ:\n%v\n%v", got, want)
	}
	viaSpool := waitRecords(t, serve.records, len(want))

	ids := map[string]bool{}
	for _, x := range viaSpool {
		if ids[x.ID] {
			t.Errorf("transaction %s twice", x.ID)
		}
		ids[x.ID] = true
	}
	dHTTP, nHTTP := byDescription(viaHTTP)
	dSpool, nSpool := byDescription(viaSpool)
	if !reflect.DeepEqual(dHTTP, want) {
		t.Errorf("through HTTP:\n  %s\nwant\n  %s", strings.Join(dHTTP, "\n  "), strings.Join(want, "\n  "))
	}
	if !reflect.DeepEqual(dSpool, want) {
		t.Errorf("through the spool:\n  %s\nwant\n  %s", strings.Join(dSpool, "\n  "), strings.Join(want, "\n  "))
	} else {
		for i := range nSpool {
			if nSpool[i] != nHTTP[i] {
				t.Errorf("%s: through the spool\n %s\nthrough HTTP\n %s", dSpool[i], nSpool[i], nHTTP[i])
			}
		}
	}
	if n := len(recv.Posts()); n != 0 {
		t.Errorf("%d POSTs: Dovecot fell back to HTTP", n)
	}
	dc.stop(t)
	if errorLine.MatchString(dc.log()) {
		t.Errorf("Dovecot logged errors:%s", dc.logExcerpt())
	}
	if s := serve.logText(); strings.Contains(s, "Error") {
		t.Errorf("pushlua serve logged errors:\n%s", s)
	}
	if t.Failed() {
		t.Logf("pushlua serve:\n%s", serve.logText())
	}
}

// TestDovecotSpoolFallback: a spool directory that does not exist, and one
// on a full filesystem, make the forwarder POST to pushlua_url instead,
// with one error per mail process; nothing is lost and mail is delivered.
func TestDovecotSpoolFallback(t *testing.T) {
	bin := requireDovecot(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dc *dovecotInstance, spool string)
		error string
	}{
		{"missing", func(t *testing.T, dc *dovecotInstance, spool string) {}, "No such file or directory"},
		{"full", func(t *testing.T, dc *dovecotInstance, spool string) {
			makeSpool(t, dc, spool)
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=64k,mode=0770,uid=%d,gid=%d", dc.mailUID, dc.mailGID),
				"pushlua-e2e-full", spool).CombinedOutput(); err != nil {
				t.Skipf("cannot mount a small tmpfs: %v %s", err, out)
			}
			t.Cleanup(func() { _ = exec.Command("umount", spool).Run() })
			// Fill it (a new file still gets an inode; its write fails).
			f, err := os.Create(filepath.Join(spool, "filler"))
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			for {
				if _, err := f.Write(buf); err != nil {
					break
				}
			}
			f.Close()
		}, "No space left on device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := startReceiver(t, e2eToken)
			dc, spool := newDovecotWith(t, bin, recv.URL, "pushlua_spool = @SPOOL@")
			tc.setup(t, dc, spool)
			// One LMTP session, three deliveries: one process, three Lua
			// states (one per recipient user).
			for _, rcpt := range []string{"alice@example.com", "bob@example.com", "alice@example.com"} {
				lmtpDeliver(t, dc.lmtpAddr, []string{rcpt}, msgPlain)
			}
			posts := recv.waitPosts(5, 10*time.Second)
			var desc []string
			for _, p := range posts {
				checkPost(t, p, e2eToken)
				if p.Txn != nil {
					desc = append(desc, describeTxn(p.Txn))
				}
			}
			want := []string{
				"alice@example.com lmtp: MailboxCreate(INBOX)",
				"alice@example.com lmtp: MessageNew(INBOX uid=1 flags=[] kw=[])",
				"bob@example.com lmtp: MailboxCreate(INBOX)",
				"bob@example.com lmtp: MessageNew(INBOX uid=1 flags=[] kw=[])",
				"alice@example.com lmtp: MessageNew(INBOX uid=2 flags=[] kw=[])",
			}
			if !reflect.DeepEqual(desc, want) {
				t.Errorf("POSTs:\n  %s\nwant\n  %s", strings.Join(desc, "\n  "), strings.Join(want, "\n  "))
			}
			dc.stop(t)
			log := dc.log()
			errs := regexp.MustCompile(`(?m)^.*Error: pushlua forward: .*$`).FindAllString(log, -1)
			lmtpPids := map[string]bool{}
			for _, m := range regexp.MustCompile(`lmtp\((\d+)\)`).FindAllStringSubmatch(log, -1) {
				lmtpPids[m[1]] = true
			}
			if len(errs) != len(lmtpPids) || len(errs) == 0 {
				t.Errorf("%d errors from %d LMTP processes, want one each:\n%s", len(errs), len(lmtpPids), strings.Join(errs, "\n"))
			}
			for _, e := range errs {
				if !strings.Contains(e, "cannot use the spool directory "+spool) || !strings.Contains(e, tc.error) ||
					!strings.Contains(e, "POSTing to pushlua_url instead") {
					t.Errorf("error line %q, want the directory, %q and the fallback", e, tc.error)
				}
			}
		})
	}
}

// TestDovecotFrozenPushlua: pushlua stopped by SIGSTOP (its port open, the
// process frozen) holds an LMTP delivery no longer than
// pushlua_timeout_msecs, also when the delivering process has an idle
// keep-alive connection to it; the mail is delivered. The bound asserted is
// the timeout plus a generous margin, not a speed.
func TestDovecotFrozenPushlua(t *testing.T) {
	bin := requireDovecot(t)
	b := <-buildPushlua(t)
	if b.err != nil {
		t.Fatal(b.err)
	}
	serve := serveWith(t, b.path, t.TempDir(), "pushlua_auth_token = "+e2eToken+
		"\nplugin {\n  push_notification_driver = lua:file=record.lua\n  record_file = @RECORDS@\n}\n")
	const timeout = 5000 * time.Millisecond // dovecotConf's pushlua_timeout_msecs
	dc := startDovecot(t, bin, pluginSettings(serve.URL, "pushlua_max_attempts = 2"))

	// Deliveries that leave the LMTP process a keep-alive connection to
	// pushlua (and both INBOXes made: one transaction per delivery).
	lmtpDeliver(t, dc.lmtpAddr, []string{"alice@example.com", "bob@example.com"}, msgPlain)
	waitRecords(t, serve.records, 4)

	if err := serve.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = serve.cmd.Process.Signal(syscall.SIGCONT) }()
	const limit = timeout + 3*time.Second
	for i, rcpt := range []string{"alice@example.com", "bob@example.com"} {
		start := time.Now()
		lmtpDeliver(t, dc.lmtpAddr, []string{rcpt}, msgTwoRcpts)
		if took := time.Since(start); took > limit {
			t.Errorf("delivery %d to %s with pushlua frozen took %s, over %s", i, rcpt, took.Round(time.Millisecond), limit)
		}
	}
	_ = serve.cmd.Process.Signal(syscall.SIGCONT)

	imap := dialIMAP(t, dc.imapAddr)
	imap.ok(t, `LOGIN "bob@example.com" "bobpass"`)
	if untagged := strings.Join(imap.ok(t, "STATUS INBOX (MESSAGES)"), " "); !strings.Contains(untagged, "MESSAGES 2") {
		t.Errorf("bob's INBOX: %s, want the delivered message", untagged)
	}
	imap.logout(t)
	dc.stop(t)
	if log := dc.log(); !strings.Contains(log, "Error: pushlua forward: POST") || !strings.Contains(log, "failed: 9008") {
		t.Errorf("want the timed-out POSTs logged (9008):%s", dc.logExcerpt())
	}
}
