package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
	"github.com/pushlua/pushlua/scripts"
)

// The real-Dovecot end-to-end test: a self-contained Dovecot 2.3 (its own
// base_dir, state_dir, log, maildir store and passwd-file, listening on
// 127.0.0.1 only) runs scripts/dovecot/forward.lua; LMTP deliveries and
// IMAP commands must reach the receiver as exactly the transactions the
// reference recordings show (../shared/spec/traces/FINDINGS.md §4).

const (
	e2eToken   = "e2e-secret"
	gateValue  = "user=e2e@1"
	plainMsgID = "<plain-1@example.org>"
)

const msgPlain = `From: Sender One <sender1@example.org>
To: Alice <alice@example.com>
Subject: Plain hello
Date: Tue, 26 Nov 2024 10:00:00 +0100
Message-ID: <plain-1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Hello Alice,
this is a plain test message.
`

const msgTwoRcpts = `From: =?iso-8859-1?q?J=F6rg_M=FCller?= <joerg@example.org>
To: alice@example.com, bob@example.com
Subject: =?utf-8?b?R3LDvMOfZSBhdXMgS8O2bG4g4oCTIOKckyDwn5iA?=
Date: Fri, 29 Nov 2024 12:00:00 +0000
Message-ID: <both-4@example.org>

One message, two recipients in one LMTP transaction.
`

const msgAppend = `From: Appender <appender@example.org>
To: Alice <alice@example.com>
Subject: Appended via IMAP
Date: Sat, 30 Nov 2024 09:30:00 +0200
Message-ID: <append-1@example.org>

This message was stored with IMAP APPEND.
`

// step is one operation and the transactions it must produce, each as
// "username service: event, event, ..." (see describeTxn).
type step struct {
	name string
	run  func(t *testing.T)
	want []string
	// check looks closer at the step's transactions.
	check func(t *testing.T, got []*txn.Txn)
}

func TestDovecotEndToEnd(t *testing.T) {
	bin := requireDovecot(t)
	start := time.Now()

	b := <-buildPushlua(t)
	if b.err != nil {
		t.Fatal(b.err)
	}
	// Dovecot's forwarder posts to recv, which records each request and
	// hands it on to a real `pushlua serve` running a recording script.
	serve := startServe(t, b.path, e2eToken)
	recv := startReceiver(t, e2eToken)
	recv.upstream = serve.forward
	// Every transaction with the status of every mailbox it touched, which
	// the steps check (the default, pushlua_status = yes, has only what
	// the bundled ox driver needs).
	dc := startDovecot(t, bin, pluginSettings(recv.URL, "pushlua_status = all"))
	mailUID := dc.mailUID

	var imap *imapConn
	var uidValidity uint32
	steps := []step{
		{name: "LMTP first delivery to alice", run: func(t *testing.T) {
			lmtpDeliver(t, dc.lmtpAddr, []string{"alice@example.com"}, msgPlain)
		}, want: []string{
			"alice@example.com lmtp: MailboxCreate(INBOX)",
			"alice@example.com lmtp: MessageNew(INBOX uid=1 flags=[] kw=[])",
		}, check: func(t *testing.T, got []*txn.Txn) {
			x := got[1]
			u := x.User
			if u.SessionID == "" || !u.HasHome || u.Home != filepath.Join(dc.dir, "mail", "example.com", "alice") ||
				u.UID != mailUID || u.GID != dc.mailGID || time.Since(time.Unix(u.SessionCreateTime, 0)) > 5*time.Minute {
				t.Errorf("user = %+v", u)
			}
			e := x.Events[0]
			uidValidity = e.UIDValidity
			if e.UIDValidity == 0 || e.Date != 1732611600 || e.TZ != 60 ||
				e.From != "Sender One <sender1@example.org>" || e.FromAddress != "sender1@example.org" ||
				e.FromDisplayName != "Sender One" || e.To != "Alice <alice@example.com>" ||
				e.ToAddress != "alice@example.com" || e.ToDisplayName != "Alice" ||
				str(e.Subject) != "Plain hello" || str(e.MessageID) != plainMsgID ||
				str(e.Snippet) != "Hello Alice, this is a plain test message." {
				t.Errorf("MessageNew = %s", dump(e))
			}
			st, ok := x.Status["INBOX"]
			if !ok || st.Messages != 1 || st.Unseen != 1 || st.UIDNext != 2 || st.UIDValidity != e.UIDValidity ||
				st.HighestModseq == 0 || st.PermanentFlags == 0 {
				t.Errorf("INBOX status = %+v", x.Status)
			}
			for _, y := range got {
				if v, ok := y.Metadata[metadataKey]; !ok || v != nil {
					t.Errorf("metadata = %v, want %s: null", y.Metadata, metadataKey)
				}
			}
		}},
		{name: "LMTP one transaction to alice and bob", run: func(t *testing.T) {
			lmtpDeliver(t, dc.lmtpAddr, []string{"alice@example.com", "bob@example.com"}, msgTwoRcpts)
		}, want: []string{
			"alice@example.com lmtp: MessageNew(INBOX uid=2 flags=[] kw=[])",
			"bob@example.com lmtp: MailboxCreate(INBOX)",
			"bob@example.com lmtp: MessageNew(INBOX uid=1 flags=[] kw=[])",
		}, check: func(t *testing.T, got []*txn.Txn) {
			for _, x := range []*txn.Txn{got[0], got[2]} {
				e := x.Events[0]
				if str(e.Subject) != "Grüße aus Köln – ✓ 😀" || e.FromDisplayName != "Jörg Müller" ||
					e.From != "=?iso-8859-1?q?J=F6rg_M=FCller?= <joerg@example.org>" || e.Date != 1732881600 || e.TZ != 0 {
					t.Errorf("%s MessageNew = %s", x.User.Username, dump(e))
				}
			}
			if got[0].Status["INBOX"].Messages != 2 || got[2].Status["INBOX"].Messages != 1 {
				t.Errorf("status: alice %+v, bob %+v", got[0].Status, got[2].Status)
			}
		}},
		{name: "IMAP LOGIN alice, SELECT INBOX", run: func(t *testing.T) {
			imap = dialIMAP(t, dc.imapAddr)
			imap.ok(t, `LOGIN "alice@example.com" "alicepass"`)
			imap.ok(t, "SELECT INBOX")
		}},
		{name: `STORE 1 +FLAGS (\Seen)`, run: func(t *testing.T) {
			imap.ok(t, `STORE 1 +FLAGS (\Seen)`)
		}, want: []string{
			`alice@example.com imap: FlagsClear(INBOX uid=1 flags=[] kw=[] old=[\Recent] kwold=[]), ` +
				`FlagsSet(INBOX uid=1 flags=[\Seen] kw=[]), MessageRead(INBOX uid=1)`,
		}, check: func(t *testing.T, got []*txn.Txn) {
			if st := got[0].Status["INBOX"]; st.Messages != 2 || st.Unseen != 1 || st.UIDValidity != uidValidity {
				t.Errorf("INBOX status = %+v", st)
			}
			if got[0].Events[0].UIDValidity != uidValidity {
				t.Errorf("uid_validity %d, want %d", got[0].Events[0].UIDValidity, uidValidity)
			}
		}},
		{name: `STORE 2 +FLAGS (\Flagged $Custom)`, run: func(t *testing.T) {
			imap.ok(t, `STORE 2 +FLAGS (\Flagged $Custom)`)
		}, want: []string{
			`alice@example.com imap: FlagsClear(INBOX uid=2 flags=[] kw=[] old=[\Recent] kwold=[]), ` +
				`FlagsSet(INBOX uid=2 flags=[\Flagged] kw=[$Custom])`,
		}},
		{name: "SETMETADATA of the push gate key", run: func(t *testing.T) {
			imap.ok(t, `SETMETADATA "" (`+metadataKey+` "`+gateValue+`")`)
		}},
		{name: "MULTIAPPEND rolled back (second message empty)", run: func(t *testing.T) {
			// Dovecot calls begin_txn and end_txn(ctx, false) (its debug
			// log shows the call); the forwarder sends nothing.
			const endTxn = "lua: Calling dovecot_lua_notify_end_txn"
			before := strings.Count(dc.log(), endTxn)
			imap.multiappendFail(t, "INBOX", msgAppend)
			for deadline := time.Now().Add(5 * time.Second); strings.Count(dc.log(), endTxn) == before; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("Dovecot did not call end_txn for the rolled-back MULTIAPPEND")
				}
			}
		}},
		{name: "CREATE Work", run: func(t *testing.T) {
			imap.ok(t, "CREATE Work")
		}, want: []string{"alice@example.com imap: MailboxCreate(Work)"},
			check: func(t *testing.T, got []*txn.Txn) {
				if v := got[0].Metadata[metadataKey]; v == nil || *v != gateValue {
					t.Errorf("metadata = %v, want %s: %q", got[0].Metadata, metadataKey, gateValue)
				}
				if st, ok := got[0].Status["Work"]; !ok || st.Messages != 0 || st.UIDValidity == 0 {
					t.Errorf("status = %+v", got[0].Status)
				}
			}},
		{name: "SUBSCRIBE Work", run: func(t *testing.T) {
			imap.ok(t, "SUBSCRIBE Work")
		}, want: []string{"alice@example.com imap: MailboxSubscribe(Work)"}},
		{name: "RENAME Work Work2", run: func(t *testing.T) {
			imap.ok(t, "RENAME Work Work2")
		}, want: []string{"alice@example.com imap: MailboxRename(Work2 old=Work)"},
			check: func(t *testing.T, got []*txn.Txn) {
				if _, ok := got[0].Status["Work2"]; !ok || len(got[0].Status) != 1 {
					t.Errorf("status = %+v, want Work2's only", got[0].Status)
				}
			}},
		{name: `APPEND Work2 (\Seen $AppendKw)`, run: func(t *testing.T) {
			imap.appendMsg(t, "Work2", `\Seen $AppendKw`, msgAppend)
		}, want: []string{`alice@example.com imap: MessageAppend(Work2 uid=1 flags=[\Seen] kw=[$AppendKw])`},
			check: func(t *testing.T, got []*txn.Txn) {
				e := got[0].Events[0]
				if str(e.Subject) != "Appended via IMAP" || e.Date != 1732951800 || e.TZ != 120 ||
					str(e.Snippet) != "This message was stored with IMAP APPEND." {
					t.Errorf("MessageAppend = %s", dump(e))
				}
				if st := got[0].Status["Work2"]; st.Messages != 1 || st.Unseen != 0 || st.UIDNext != 2 {
					t.Errorf("Work2 status = %+v", st)
				}
			}},
		{name: "DELETE Work2 (not empty)", run: func(t *testing.T) {
			imap.ok(t, "DELETE Work2")
		}, want: []string{
			"alice@example.com imap: MessageExpunge(Work2 uid=1)",
			"alice@example.com imap: MailboxDelete(Work2)",
		}, check: func(t *testing.T, got []*txn.Txn) {
			if _, ok := got[1].Status["Work2"]; ok {
				t.Errorf("status of the deleted mailbox: %+v", got[1].Status)
			}
		}},
		{name: "LOGOUT", run: func(t *testing.T) {
			imap.logout(t)
		}},
	}

	total := 0
	for _, s := range steps {
		before := len(recv.Posts())
		t.Logf("step: %s", s.name)
		s.run(t) // fails the test with t.Fatal when the server says no
		posts := recv.waitPosts(before+len(s.want), 10*time.Second)[before:]
		total += len(s.want)
		var got []*txn.Txn
		var desc []string
		for _, p := range posts {
			checkPost(t, p, e2eToken)
			if p.Err == nil {
				got = append(got, p.Txn)
				desc = append(desc, describeTxn(p.Txn))
				if floatNumber.Match(p.Body) {
					t.Errorf("step %q: a whole number printed as a float: %s", s.name, p.Body)
				}
			}
		}
		if strings.Join(desc, "\n") != strings.Join(s.want, "\n") {
			t.Errorf("step %q: transactions\n  %s\nwant\n  %s", s.name,
				strings.Join(desc, "\n  "), strings.Join(s.want, "\n  "))
			continue
		}
		if s.check != nil {
			s.check(t, got)
		}
	}
	time.Sleep(300 * time.Millisecond) // anything late would show here
	posts := recv.Posts()
	if len(posts) != total {
		t.Errorf("%d transactions in all, want %d", len(posts), total)
	}
	dc.stop(t)
	if t.Failed() || os.Getenv("E2E_DUMP") != "" { // E2E_DUMP=1: always
		for i, p := range posts {
			t.Logf("transaction %d: %s", i, p.Body)
		}
	}
	if errorLine.MatchString(dc.log()) {
		t.Errorf("Dovecot logged errors:%s", dc.logExcerpt())
	}

	var posted []*txn.Txn
	committed := 0
	for _, p := range posts {
		if p.Txn != nil {
			posted = append(posted, p.Txn)
			if p.Txn.Success {
				committed++
			}
		}
	}
	compareDelivered(t, posted, serve.recorded(t, committed))
	if strings.Contains(serve.logText(), "Error:") {
		t.Errorf("pushlua serve logged errors:\n%s", serve.logText())
	}
	replayInPushlua(t, b.path, posts)
	t.Logf("%d transactions from Dovecot in %s", len(posts), time.Since(start).Round(time.Millisecond))
}

// describeTxn is a transaction as "username service: event, ...".
func describeTxn(x *txn.Txn) string {
	var evs []string
	for i := range x.Events {
		evs = append(evs, describeEvent(&x.Events[i]))
	}
	s := x.User.Username + " " + x.User.Service + ":"
	if len(evs) > 0 {
		s += " " + strings.Join(evs, ", ")
	}
	if !x.Success {
		s += " (rolled back)"
	}
	return s
}

func describeEvent(e *txn.Event) string {
	list := func(s []string) string { return "[" + strings.Join(s, " ") + "]" }
	var b strings.Builder
	b.WriteString(e.Name() + "(" + e.Mailbox)
	if e.IsMessage() {
		fmt.Fprintf(&b, " uid=%d", e.UID)
	}
	switch e.Name() {
	case "MessageNew", "MessageAppend", "FlagsSet":
		b.WriteString(" flags=" + list(txn.FlagList(e.Flags)) + " kw=" + list(e.Keywords))
	case "FlagsClear":
		b.WriteString(" flags=" + list(txn.FlagList(e.Flags)) + " kw=" + list(e.Keywords) +
			" old=" + list(txn.FlagList(e.FlagsOld)) + " kwold=" + list(e.KeywordsOld))
	case "MailboxRename":
		b.WriteString(" old=" + e.MailboxOld)
	}
	return b.String() + ")"
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func dump(e txn.Event) string {
	return fmt.Sprintf("%+v subject=%q snippet=%q message_id=%q", e, str(e.Subject), str(e.Snippet), str(e.MessageID))
}

// requireDovecot returns the dovecot binary, or skips the test (fails it
// when $CI is set) when Dovecot or root is missing.
func requireDovecot(t *testing.T) string {
	t.Helper()
	missing := func(msg string) {
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set, so this is a failure; .ci/run installs the packages)")
		}
		t.Skip(msg)
	}
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/dovecot"); serr != nil {
			missing("dovecot is not installed: apt-get install dovecot-core dovecot-imapd dovecot-lmtpd to run the real-Dovecot end-to-end test")
			return ""
		}
		bin = "/usr/sbin/dovecot"
	}
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		missing("the real-Dovecot end-to-end test runs Dovecot's master process and needs root on Linux")
	}
	return bin
}

// buildPushlua starts building ./cmd/pushlua into a temp dir; the result
// arrives on the channel.
func buildPushlua(t *testing.T) <-chan buildResult {
	t.Helper()
	out := filepath.Join(t.TempDir(), "pushlua")
	ch := make(chan buildResult, 1)
	done := make(chan struct{})
	t.Cleanup(func() { <-done }) // before the temp dir is removed
	go func() {
		defer close(done)
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		cmd := exec.Command(goBin, "build", "-o", out, "./cmd/pushlua")
		cmd.Dir = ".."
		if b, err := cmd.CombinedOutput(); err != nil {
			ch <- buildResult{err: fmt.Errorf("go build ./cmd/pushlua: %v\n%s", err, b)}
			return
		}
		ch <- buildResult{path: out}
	}()
	return ch
}

type buildResult struct {
	path string
	err  error
}

// replayInPushlua runs what Dovecot forwarded through `pushlua run` with
// the dlog driver: pushlua must accept every transaction.
func replayInPushlua(t *testing.T, pushlua string, posts []post) {
	t.Helper()
	dir := t.TempDir()
	var in bytes.Buffer
	for _, p := range posts {
		in.Write(p.Body)
		in.WriteByte('\n')
	}
	input := filepath.Join(dir, "forwarded.jsonl")
	conf := filepath.Join(dir, "pushlua.conf")
	if err := os.WriteFile(input, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("plugin {\n  push_notification_driver = dlog\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pushlua, "run", "-c", conf, "--data-dir", filepath.Join(dir, "data"), input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	want := fmt.Sprintf("pushlua: %d transactions, ", len(posts))
	if err != nil || !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), " 0 errors, 0 rejected lines") {
		t.Errorf("pushlua run over the forwarded transactions: %v\n%s", err, stderr.String())
	}
}

// dovecotInstance is one running Dovecot master and its files.
type dovecotInstance struct {
	dir, conf          string
	imapAddr, lmtpAddr string
	doveadmAddr        string // doveadm's HTTP API (key e2eDoveadmKey)
	mailUID, mailGID   uint32
	cmd                *exec.Cmd
	output             *syncBuffer
	exited             chan struct{}
	stopped            bool
}

// startDovecot writes a self-contained configuration with the forwarder
// posting to url, starts `dovecot -F` and waits for its listeners. It is
// stopped when the test ends, if the test has not stopped it.
func startDovecot(t *testing.T, bin, url string) *dovecotInstance {
	t.Helper()
	return startDovecotForwarder(t, bin, url, scripts.Forwarder())
}

// startDovecotForwarder is startDovecot with forwarder as the forwarder's
// file (the text, or what pushlua forwarder --compile printed).
func startDovecotForwarder(t *testing.T, bin, url string, forwarder []byte) *dovecotInstance {
	t.Helper()
	for _, name := range []string{"dovecot", "dovenull"} { // default_internal_user, default_login_user
		if _, err := user.Lookup(name); err != nil {
			t.Fatalf("Dovecot needs the system user %q (the dovecot-core package creates it): %v", name, err)
		}
	}
	mail, err := user.Lookup("nobody") // the mail processes' uid (not root)
	if err != nil {
		t.Fatalf("no user nobody for the mail processes: %v", err)
	}
	uid, _ := strconv.ParseUint(mail.Uid, 10, 32)
	gid, _ := strconv.ParseUint(mail.Gid, 10, 32)

	// A short path of our own: base_dir holds UNIX sockets (108 bytes at
	// most), and every Dovecot process (root, dovecot, dovenull, nobody)
	// must reach it.
	dir, err := os.MkdirTemp(reachableTempDir(), "pushlua-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"conf", "log", "mail", "state"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(dir, "mail"), int(uid), int(gid)); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"conf/users.passwd": "alice@example.com:{PLAIN}alicepass\nbob@example.com:{PLAIN}bobpass\n",
		"conf/forward.lua":  string(forwarder),
	}
	d := &dovecotInstance{dir: dir, conf: filepath.Join(dir, "conf", "dovecot.conf"),
		imapAddr: freeAddr(t), lmtpAddr: freeAddr(t), doveadmAddr: freeAddr(t), mailUID: uint32(uid), mailGID: uint32(gid),
		output: &syncBuffer{}, exited: make(chan struct{})}
	files["conf/dovecot.conf"] = dovecotConf(d, url)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := exec.Command(bin, "-c", d.conf, "-n").CombinedOutput(); err != nil {
		t.Fatalf("Dovecot rejects the configuration: %v\n%s", err, b)
	}

	d.cmd = exec.Command(bin, "-F", "-c", d.conf)
	d.cmd.Stdout, d.cmd.Stderr = d.output, d.output
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own process group, for the final check
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting dovecot: %v", err)
	}
	go func() { _ = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Log(d.logExcerpt())
		}
	})

	for _, addr := range []string{d.imapAddr, d.lmtpAddr} {
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-d.exited:
				t.Fatalf("dovecot exited: %s\n%s%s", d.cmd.ProcessState, d.output, d.logExcerpt())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("dovecot does not listen on %s%s", addr, d.logExcerpt())
			}
		}
	}
	return d
}

// reachableTempDir is the first of $TMPDIR, /tmp and /var/tmp that every
// user can reach (all its ancestors searchable by others).
func reachableTempDir() string {
	for _, dir := range []string{os.TempDir(), "/tmp", "/var/tmp"} {
		ok := true
		for p := dir; ok; p = filepath.Dir(p) {
			fi, err := os.Stat(p)
			ok = err == nil && fi.IsDir() && fi.Mode().Perm()&0o001 != 0
			if p == filepath.Dir(p) {
				break
			}
		}
		if ok {
			return dir
		}
	}
	return os.TempDir()
}

func dovecotConf(d *dovecotInstance, url string) string {
	imapHost, imapPort, _ := net.SplitHostPort(d.imapAddr)
	lmtpHost, lmtpPort, _ := net.SplitHostPort(d.lmtpAddr)
	doveadmHost, doveadmPort, _ := net.SplitHostPort(d.doveadmAddr)
	r := strings.NewReplacer("@DIR@", d.dir, "@UID@", fmt.Sprint(d.mailUID), "@GID@", fmt.Sprint(d.mailGID),
		"@IMAP_HOST@", imapHost, "@IMAP_PORT@", imapPort, "@LMTP_HOST@", lmtpHost, "@LMTP_PORT@", lmtpPort,
		"@URL@", url, "@TOKEN@", e2eToken,
		"@DOVEADM_HOST@", doveadmHost, "@DOVEADM_PORT@", doveadmPort, "@DOVEADM_KEY@", e2eDoveadmKey)
	return r.Replace(`# pushlua end-to-end test instance (generated)
instance_name = pushlua-e2e
base_dir = @DIR@/base
state_dir = @DIR@/state
protocols = imap lmtp
listen = 127.0.0.1

log_path = @DIR@/log/dovecot.log
info_log_path = @DIR@/log/dovecot.log
debug_log_path = @DIR@/log/dovecot.log
mail_debug = yes

ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login

first_valid_uid = @UID@
last_valid_uid = @UID@
first_valid_gid = @GID@
last_valid_gid = @GID@

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u @DIR@/conf/users.passwd
}
userdb {
  driver = static
  args = uid=@UID@ gid=@GID@ home=@DIR@/mail/%d/%n
}

mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
  prefix =
}
mail_attribute_dict = file:%h/dovecot-attributes
imap_metadata = yes
mail_plugins = $mail_plugins notify push_notification push_notification_lua mail_lua

service imap-login {
  inet_listener imap {
    address = @IMAP_HOST@
    port = @IMAP_PORT@
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0600
  }
  inet_listener lmtp {
    address = @LMTP_HOST@
    port = @LMTP_PORT@
  }
}
doveadm_api_key = @DOVEADM_KEY@
service doveadm {
  inet_listener http {
    address = @DOVEADM_HOST@
    port = @DOVEADM_PORT@
  }
}

plugin {
  push_notification_driver = lua:file=@DIR@/conf/forward.lua
  pushlua_url = @URL@
  pushlua_token = @TOKEN@
  pushlua_timeout_msecs = 5000
}
`)
}

// stop sends SIGTERM to the master, waits for it, and makes sure no
// process of its group is left (SIGKILL, and a test error, otherwise).
func (d *dovecotInstance) stop(t *testing.T) {
	t.Helper()
	if d.stopped {
		return
	}
	d.stopped = true
	pgid := d.cmd.Process.Pid
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		t.Errorf("dovecot master %d did not stop on SIGTERM; killing its process group", pgid)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-d.exited
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes of dovecot's group %d still run after the master stopped: %s; killing them",
				pgid, strings.Join(groupMembers(pgid), ", "))
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// groupMembers lists "pid (comm)" of the processes in process group pgid.
func groupMembers(pgid int) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			out = append(out, e.Name()+" "+s[strings.IndexByte(s, '('):i+1])
		}
	}
	return out
}

func (d *dovecotInstance) log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "log", "dovecot.log"))
	return string(b)
}

var errorLine = regexp.MustCompile(`: (Error|Panic|Fatal): |pushlua forward`)

var interestingLog = regexp.MustCompile(`: (Error|Panic|Fatal|Warning): |pushlua forward`)

// logExcerpt is the instance's interesting log lines, for failures.
func (d *dovecotInstance) logExcerpt() string {
	var lines []string
	for _, l := range strings.Split(d.log(), "\n") {
		if interestingLog.MatchString(l) {
			lines = append(lines, l)
		}
	}
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	return "\ndovecot log excerpt:\n" + strings.Join(lines, "\n")
}
