package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
	"github.com/pushlua/pushlua/scripts"
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

// mailSpool makes a directory every user can reach with a spool in it
// for the mail processes' uid (nobody, as startDovecot's), before Dovecot
// or pushlua start.
func mailSpool(t *testing.T) (dir, spool string) {
	t.Helper()
	dir, err := os.MkdirTemp(reachableTempDir(), "pushlua-spool-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	spool = filepath.Join(dir, "spool")
	if err := os.Mkdir(spool, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(spool, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir, spool
}

// makeSpool creates dir for d's mail processes: owned by their uid, mode
// 0770, as README's "Connecting Dovecot" says.
func makeSpool(t *testing.T, d *dovecotInstance, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, int(d.mailUID), int(d.mailGID)); err != nil {
		t.Fatal(err)
	}
}

// serveWith starts `pushlua serve` in dir with conf and args (plus the
// recording script testdata/record.lua, which writes dir/records.jsonl),
// keeping its data in dir/data so that a restart resumes.
func serveWith(t *testing.T, bin, dir, conf string, args ...string) *pushluaServe {
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
	s.cmd = exec.Command(bin, append([]string{"serve", "-c", filepath.Join(dir, "pushlua.conf"), "--listen", "127.0.0.1:0",
		"--data-dir", filepath.Join(dir, "data")}, args...)...)
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
			ids := map[string]bool{}
			for _, p := range posts {
				checkPost(t, p, e2eToken)
				if p.Txn != nil {
					desc = append(desc, describeTxn(p.Txn))
					// Lua states of one process made in one second must
					// not share ids (pushlua drops a duplicate).
					if ids[p.Txn.ID] {
						t.Errorf("id %s twice", p.Txn.ID)
					}
					ids[p.Txn.ID] = true
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

// sinkRequest is one request an OX sink got.
type sinkRequest struct {
	Method, URI string
	Header      http.Header
	Body        []byte
}

// oxSink records every request and answers 204, as OX's REST endpoint.
type oxSink struct {
	Addr string
	mu   sync.Mutex
	reqs []sinkRequest
}

func startSink(t *testing.T) *oxSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &oxSink{Addr: ln.Addr().String()}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		s.mu.Lock()
		s.reqs = append(s.reqs, sinkRequest{Method: r.Method, URI: r.RequestURI, Header: h, Body: body})
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *oxSink) requests() []sinkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkRequest(nil), s.reqs...)
}

// wait waits until the sink has n requests (or 30 s passed), then a little
// longer so that an extra one would show.
func (s *oxSink) wait(n int) []sinkRequest {
	deadline := time.Now().Add(30 * time.Second)
	for len(s.requests()) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	return s.requests()
}

const (
	rfc2047Raw     = "=?utf-8?b?R3LDvMOfZSBhdXMgS8O2bG4g4oCTIOKckyDwn5iA?="
	rfc2047Decoded = "Grüße aus Köln – ✓ 😀"
)

const msgRFC2047 = `From: =?iso-8859-1?q?J=F6rg_M=FCller?= <joerg@example.org>
To: Alice <alice@example.com>
Subject: ` + rfc2047Raw + `
Date: Fri, 29 Nov 2024 12:00:00 +0000
Message-ID: <rfc2047-1@example.org>

An encoded subject.
`

const msgHTML = `From: Html Sender <html@example.org>
To: Alice <alice@example.com>
Subject: HTML only
Date: Sat, 30 Nov 2024 09:30:00 +0200
Message-ID: <html-1@example.org>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><body><p>Hello&nbsp;<b>Alice</b>,</p><blockquote>quoted</blockquote><p>this is "HTML" only.</p></body></html>
`

// TestOXSideBySide: one real Dovecot runs its native ox driver (to sink A)
// and the forwarder, whose transactions pushlua's bundled ox driver turns
// into requests to sink B. For plain, RFC 2047 and HTML-only messages, with
// the METADATA gate set, changed and unset, both sinks get the same
// requests: method, target, headers (but Host's port and Date) and body
// bytes, but for one known difference: Dovecot 2.3's Lua API gives the
// forwarder only the decoded Subject, so pushlua sends that where Dovecot
// sends the raw header. Through the spool (pushlua frozen for part of the
// run: nothing is lost) and through HTTP with user_from_metadata.
func TestOXSideBySide(t *testing.T) {
	bin := requireDovecot(t)
	b := <-buildPushlua(t)
	if b.err != nil {
		t.Fatal(b.err)
	}
	for _, tc := range []struct {
		name, args string
		spool      bool
		compiled   bool // the forwarder as pushlua forwarder --compile prints it
	}{
		{"spool", "", true, false},
		{"http_user_from_metadata", " user_from_metadata", false, false},
		{"spool_compiled_forwarder", "", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			native, viaPushlua := startSink(t), startSink(t)
			oxURL := func(s *oxSink) string {
				return "ox:url=http://login:pass@" + s.Addr + "/preliminary/http-notify/v1/notify" + tc.args
			}
			dir, spool := mailSpool(t)
			conf := "pushlua_auth_token = " + e2eToken + "\nplugin {\n  push_notification_driver = " + oxURL(viaPushlua) + "\n}\n"
			extra := []string{"push_notification_driver2 = " + oxURL(native)}
			if tc.spool {
				conf = "pushlua_spool = " + spool + "\n" + conf
				extra = append(extra, "pushlua_spool = "+spool)
			}
			// One Lua state runs every transaction, so that what the ox
			// driver keeps between transactions shows.
			forwarder := scripts.Forwarder()
			if tc.compiled {
				forwarder = compiledForwarder(t, b.path)
			}
			serve := serveWith(t, b.path, filepath.Join(dir, "serve"), conf, "-j", "1")
			dc := startDovecotForwarder(t, bin, pluginSettings(serve.URL, extra...), forwarder)
			deliver := func(msg string) { lmtpDeliver(t, dc.lmtpAddr, []string{"alice@example.com"}, msg) }
			imap := dialIMAP(t, dc.imapAddr)
			imap.ok(t, `LOGIN "alice@example.com" "alicepass"`)
			setGate := func(v string) { imap.ok(t, `SETMETADATA "" (`+metadataKey+" "+v+`)`) }

			deliver(msgPlain) // no gate yet: nothing
			setGate(`"user=ox-alice@1"`)
			deliver(msgPlain)
			deliver(msgRFC2047)
			if tc.spool {
				if err := serve.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
			}
			deliver(msgHTML)
			setGate("\"user=ox-alice@2\tx=y\"")
			deliver(msgPlain)
			setGate("NIL") // unset: nothing
			deliver(msgPlain)
			if tc.spool {
				_ = serve.cmd.Process.Signal(syscall.SIGCONT)
			}
			setGate(`"user=ox-alice@3"`)
			deliver(msgHTML)
			lmtpDeliver(t, dc.lmtpAddr, []string{"bob@example.com"}, msgPlain) // bob has no gate
			imap.logout(t)

			const want = 5
			a, p := native.wait(want), viaPushlua.wait(want)
			if len(a) != want || len(p) != want {
				for i := range a {
					t.Logf("native  %d: %s", i, a[i].Body)
				}
				for i := range p {
					t.Logf("pushlua %d: %s", i, p[i].Body)
				}
				t.Fatalf("native ox sent %d requests, pushlua's %d; want %d each\npushlua serve:\n%s", len(a), len(p), want, serve.logText())
			}
			sort.SliceStable(p, func(i, j int) bool { return oxUID(p[i].Body) < oxUID(p[j].Body) })
			sawRaw := false
			for i := range a {
				na, np := a[i], p[i]
				if na.Method != np.Method || na.URI != np.URI {
					t.Errorf("request %d: native %s %s, pushlua %s %s", i, na.Method, na.URI, np.Method, np.URI)
				}
				for _, r := range []struct {
					req  sinkRequest
					sink *oxSink
				}{{na, native}, {np, viaPushlua}} {
					if h := r.req.Header.Get("Host"); h != r.sink.Addr {
						t.Errorf("request %d: Host %q, want %q", i, h, r.sink.Addr)
					}
				}
				ha, hp := na.Header.Clone(), np.Header.Clone()
				body := na.Body
				if bytes.Contains(body, []byte(`"subject":"`+rfc2047Raw+`"`)) {
					// The known difference, and the Content-Length it makes.
					sawRaw = true
					body = bytes.Replace(body, []byte(rfc2047Raw), []byte(rfc2047Decoded), 1)
					ha.Set("Content-Length", strconv.Itoa(len(body)))
				}
				for _, h := range []http.Header{ha, hp} {
					h.Del("Host")
					h.Del("Date")
				}
				if !reflect.DeepEqual(ha, hp) {
					t.Errorf("request %d headers:\nnative %v\npushlua %v", i, ha, hp)
				}
				if !bytes.Equal(body, np.Body) {
					t.Errorf("request %d body:\nnative  %s\npushlua %s", i, na.Body, np.Body)
				}
			}
			if !sawRaw {
				t.Errorf("Dovecot's ox did not send the raw encoded Subject")
			}
			dc.stop(t)
			if s := serve.logText(); strings.Contains(s, "Error") {
				t.Errorf("pushlua serve logged errors:\n%s", s)
			}
			if t.Failed() {
				for i := range a {
					t.Logf("native  %d: %s", i, a[i].Body)
				}
				for i := range p {
					t.Logf("pushlua %d: %s", i, p[i].Body)
				}
			}
		})
	}
}

// compiledForwarder is what `pushlua forwarder --compile lua5.x` prints
// for the Lua version of this machine's Dovecot (the command refuses an
// interpreter of another version than Dovecot's plugin is linked with).
func compiledForwarder(t *testing.T, pushlua string) []byte {
	t.Helper()
	var tried []string
	for _, lua := range []string{"lua5.4", "lua5.3"} {
		if _, err := exec.LookPath(lua); err != nil {
			continue
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(pushlua, "forwarder", "--compile", lua)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v: %s", lua, err, stderr.String()))
			continue
		}
		if !bytes.HasPrefix(stdout.Bytes(), []byte("\x1bLua")) {
			t.Fatalf("pushlua forwarder --compile %s printed no Lua binary chunk: %q", lua, stdout.Bytes()[:min(stdout.Len(), 16)])
		}
		return stdout.Bytes()
	}
	if os.Getenv("CI") != "" || len(tried) > 0 {
		t.Fatalf("no Lua interpreter compiles the forwarder for this Dovecot (.ci/run installs lua5.3 and lua5.4): %v", tried)
	}
	t.Skip("neither lua5.4 nor lua5.3 is installed; apt-get install lua5.4 to run this test")
	return nil
}

// oxUID is the imap-uid of an OX notification body.
func oxUID(body []byte) float64 {
	var v struct {
		UID float64 `json:"imap-uid"`
	}
	_ = json.Unmarshal(body, &v)
	return v.UID
}

// TestDovecotForwarderIDs: the POSTs of many Lua states of one LMTP
// process (one per delivery, many a second) all have distinct ids, of the
// form docs/spool.md gives: pushlua drops a transaction whose id it saw.
func TestDovecotForwarderIDs(t *testing.T) {
	bin := requireDovecot(t)
	recv := startReceiver(t, e2eToken)
	dc := startDovecot(t, bin, recv.URL)
	const n = 60
	for i := 0; i < n; i++ {
		lmtpDeliver(t, dc.lmtpAddr, []string{[]string{"alice@example.com", "bob@example.com"}[i%2]}, msgPlain)
	}
	posts := recv.waitPosts(n+2, 20*time.Second) // and the two INBOXes made
	if len(posts) != n+2 {
		t.Fatalf("%d POSTs, want %d", len(posts), n+2)
	}
	form := regexp.MustCompile(`^\d+-\d+-[0-9a-f]{8}-h\d+$`)
	seen := map[string]bool{}
	for _, p := range posts {
		checkPost(t, p, e2eToken)
		if p.Txn == nil {
			continue
		}
		if id := p.Txn.ID; seen[id] || !form.MatchString(id) {
			t.Errorf("id %q: twice, or not <pid>-<ticks>-<8 hex>-h<n>", id)
		}
		seen[p.Txn.ID] = true
	}
}
