package main

import (
	"bytes"
	"context"
	binenc "encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Issue 9 item 4: a store file truncated to half crashed every start with
// SIGSEGV in bbolt's loadFreelist, and garbage data pages failed an
// assertion on the first transaction, forever.

const storeUsers = 300

func storeUser(i int) string { return fmt.Sprintf("u%03d@example.com", i) }

const gateKey = "/private/vendor/vendor.dovecot/http-notify"

// runBinary runs pushlua in dir with a deadline, so that a command that
// should have refused to start cannot hang the test.
func runBinary(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return runBinaryIn(t, dir, "", args...)
}

// runBinaryIn is runBinary with stdin.
func runBinaryIn(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_STATE_HOME="+filepath.Join(dir, "state"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("pushlua %s did not end within 60 s:\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// noCrash fails the test when a command's output shows a Go panic or a
// fault.
func noCrash(t *testing.T, what string, r result) {
	t.Helper()
	for _, bad := range []string{"panic", "goroutine ", "SIGSEGV", "SIGBUS", "fatal error"} {
		if strings.Contains(r.stdout+r.stderr, bad) {
			t.Errorf("%s crashed (%q in its output):\n%s%s", what, bad, r.stdout, r.stderr)
			return
		}
	}
}

// populateStore fills dir/data/pushlua.db through the binary: a status
// snapshot for each of storeUsers users, and the OX gate key set by the
// operator for u000 and u001.
func populateStore(t *testing.T, dir string) {
	t.Helper()
	var in strings.Builder
	for i := range storeUsers {
		fmt.Fprintf(&in, `{"user": %q, "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d}], "status": {"INBOX": {"messages": %d, "uidnext": %d}}}`+"\n",
			storeUser(i), i+1, i+1, i+2)
	}
	if r := runBinaryIn(t, dir, in.String(), "run", "-c", "p.conf", "--data-dir", "data", "-"); r.code != 0 {
		t.Fatalf("run: exit %d:\n%s", r.code, r.stderr)
	}
	for _, u := range []string{storeUser(0), storeUser(1)} {
		if r := runBinary(t, dir, "metadata", "set", "--data-dir", "data", "-u", u, "-s", "", gateKey, "user=ox-"+u); r.code != 0 {
			t.Fatalf("metadata set: exit %d:\n%s", r.code, r.stderr)
		}
	}
}

// garbageUserPages overwrites the leaf pages of the store's state bucket
// that hold three users' records with random bytes, and returns how many
// users' records were on them.
func garbageUserPages(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int64(db.Info().PageSize)
	var root int64
	err = db.View(func(tx *bolt.Tx) error {
		root = int64(tx.Bucket([]byte("state")).Root())
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Walk the bucket's pages (bbolt's format: a 16-byte page header
	// with flags and count, then 16-byte elements whose key position is
	// relative to the element).
	ne := binenc.NativeEndian
	leafOf, onPage := map[string]int64{}, map[int64]int{}
	var walk func(id int64)
	walk = func(id int64) {
		p := data[id*pageSize : (id+1)*pageSize]
		branch := ne.Uint16(p[8:]) == 0x01
		for i := range int(ne.Uint16(p[10:])) {
			e := p[16+16*i:]
			if branch {
				walk(int64(ne.Uint64(e[8:])))
				continue
			}
			pos, ksize := ne.Uint32(e[4:]), ne.Uint32(e[8:])
			leafOf[string(e[pos:pos+ksize])] = id
			onPage[id]++
		}
	}
	walk(root)
	pages := map[int64]bool{}
	for _, i := range []int{150, 210, 280} {
		pages[leafOf[storeUser(i)]] = true
	}
	if pages[leafOf[storeUser(0)]] {
		t.Fatal("u000's record shares a page with the damaged ones: damage others")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(1, 2))
	lost := 0
	for p := range pages {
		b := make([]byte, pageSize)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if _, err := f.WriteAt(b, p*pageSize); err != nil {
			t.Fatal(err)
		}
		lost += onPage[p]
	}
	return lost
}

func TestHostileStore(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string) int // the users lost, -1: unknown
		want   string                              // in the refusal
		// kept: the salvage keeps the operator's setting of u000 and
		// the users whose pages were not touched.
		kept bool
	}{
		{"truncated to half", func(t *testing.T, path string) int {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
			return -1
		}, "the file was truncated", false},
		{"garbage pages", garbageUserPages, "garbage or misplaced data", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{
				"p.conf": "plugin {\npush_notification_driver = lua:file=s.lua\n}\n", "s.lua": script,
			})
			populateStore(t, dir)
			path := filepath.Join(dir, "data", "pushlua.db")
			lost := tt.damage(t, path)

			// Every command that opens the store refuses it, naming
			// the file and the repair command, with exit 1 like any
			// other store it cannot open.
			in := filepath.Join(dir, "in.jsonl")
			if err := os.WriteFile(in, []byte(`{"user": "u003@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 9}]}`+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"serve", "-c", "p.conf", "--data-dir", "data", "--listen", "127.0.0.1:0"},
				{"run", "-c", "p.conf", "--data-dir", "data", "in.jsonl"},
				{"metadata", "get", "--data-dir", "data", "-u", storeUser(3), gateKey},
			} {
				r := runBinary(t, dir, args...)
				noCrash(t, args[0], r)
				if r.code != 1 {
					t.Errorf("%s: exit %d; want 1:\n%s", args[0], r.code, r.stderr)
				}
				for _, want := range []string{"data/pushlua.db is damaged", tt.want, "run `pushlua store repair", "--data-dir data`"} {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("%s: stderr lacks %q:\n%s", args[0], want, r.stderr)
					}
				}
			}

			r := runBinary(t, dir, "store", "check", "--data-dir", "data")
			noCrash(t, "store check", r)
			if r.code != 1 || !strings.Contains(r.stdout, "data/pushlua.db: damaged:") || !strings.Contains(r.stdout, tt.want) ||
				!strings.Contains(r.stdout, "run `pushlua store repair --data-dir data`") {
				t.Errorf("store check: exit %d; want 1 and the damage:\n%s%s", r.code, r.stdout, r.stderr)
			}

			r = runBinary(t, dir, "store", "repair", "--data-dir", "data")
			noCrash(t, "store repair", r)
			if r.code != 0 {
				t.Fatalf("store repair: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
			}
			m := regexp.MustCompile(`salvaged (\d+) users`).FindStringSubmatch(r.stdout)
			kept := regexp.MustCompile(`the damaged file is kept as (\S+)\n`).FindStringSubmatch(r.stdout)
			if m == nil || kept == nil || !strings.HasPrefix(kept[1], "data/pushlua.db.corrupt-") {
				t.Fatalf("store repair does not say what it salvaged and where the damaged file is:\n%s", r.stdout)
			}
			if _, err := os.Stat(filepath.Join(dir, kept[1])); err != nil {
				t.Errorf("the damaged file is not kept: %v", err)
			}
			salvaged, _ := strconv.Atoi(m[1])
			if tt.kept && salvaged != storeUsers-lost {
				t.Errorf("salvaged %d users; want %d (only the pages of three users' records were damaged, holding %d records)", salvaged, storeUsers-lost, lost)
			}
			if r := runBinary(t, dir, "store", "check", "--data-dir", "data"); r.code != 0 || !strings.Contains(r.stdout, ": ok: ") {
				t.Errorf("store check after repair: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
			}
			// The operator's setting of an undamaged user survives. (A
			// user's state is one record: u000 kept its setting if and
			// only if it was salvaged; what a truncation keeps depends
			// on where bbolt put the pages.)
			r = runBinary(t, dir, "metadata", "get", "--data-dir", "data", "-u", storeUser(0), gateKey)
			u000Kept := r.code == 0 && r.stdout == "user=ox-"+storeUser(0)+"\n"
			if tt.kept && !u000Kept {
				t.Errorf("metadata get after repair: exit %d, %q; want the operator's value", r.code, r.stdout)
			}

			// serve starts on the repaired store and works.
			s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
			if code, body := s.post(t, `{"user": "u000@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 42}]}`, ""); code != 202 {
				t.Fatalf("POST: %d %s", code, body)
			}
			gate := "nil"
			if u000Kept {
				gate = "user=ox-" + storeUser(0)
			}
			s.waitLog(t, regexp.MustCompile(regexp.QuoteMeta("Info: new 42 gate="+gate)))
			wantUsers := float64(salvaged)
			if !u000Kept {
				wantUsers++ // u000 is new
			}
			waitMetric(t, s, "pushlua_store_users", wantUsers)
			if b := s.metric(t, "pushlua_store_bytes"); b <= 0 {
				t.Errorf("pushlua_store_bytes = %v; want the file's size", b)
			}
			if code := s.stop(t, syscall.SIGTERM); code != 0 {
				t.Errorf("serve exit %d:\n%s", code, s.log())
			}
			if strings.Contains(s.log(), "panic") {
				t.Errorf("serve log shows a panic:\n%s", s.log())
			}
		})
	}
}

// TestStoreCommand: the store command's usage, a store that does not
// exist yet, a healthy one, and pushlua_store_expire's validation.
func TestStoreCommand(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.conf":   "plugin {\npush_notification_driver = dlog\n}\n",
		"bad.conf": "pushlua_store_expire = soon\nplugin {\npush_notification_driver = dlog\n}\n",
	})
	if r := runBinary(t, dir, "store"); r.code != 2 || !strings.Contains(r.stderr, "usage: pushlua store check") {
		t.Errorf("store: exit %d %q", r.code, r.stderr)
	}
	if r := runBinary(t, dir, "store", "fix"); r.code != 2 || !strings.Contains(r.stderr, `unknown subcommand "fix"`) {
		t.Errorf("store fix: exit %d %q", r.code, r.stderr)
	}
	if r := runBinary(t, dir, "store", "check", "--data-dir", "data"); r.code != 0 || !strings.Contains(r.stdout, "no store yet") {
		t.Errorf("store check without a store: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runBinary(t, dir, "metadata", "set", "--data-dir", "data", "-u", "a", gateKey, "user=1"); r.code != 0 {
		t.Fatalf("metadata set: %d %s", r.code, r.stderr)
	}
	if r := runBinary(t, dir, "store", "check", "--data-dir", "data"); r.code != 0 || !regexp.MustCompile(`data/pushlua.db: ok: 1 users, \d+ records`).MatchString(r.stdout) {
		t.Errorf("store check: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runBinary(t, dir, "store", "repair", "--data-dir", "data"); r.code != 0 || !strings.Contains(r.stdout, "ok, nothing to repair") {
		t.Errorf("store repair of a healthy store: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// While serve has the store, check waits for the lock, then says so.
	s := startServe(t, dir, "-c", "p.conf", "--listen", "127.0.0.1:0")
	if r := runBinary(t, dir, "store", "check", "--data-dir", "data"); r.code != 1 || !strings.Contains(r.stderr, "another pushlua process holds the database") {
		t.Errorf("store check while serve runs: exit %d %q", r.code, r.stderr)
	}
	if v := s.metric(t, "pushlua_store_users"); v != 1 {
		t.Errorf("pushlua_store_users = %v; want 1", v)
	}
	s.stop(t, syscall.SIGTERM)

	for _, args := range [][]string{
		{"serve", "-c", "bad.conf", "--data-dir", "data", "--listen", "127.0.0.1:0"},
		{"run", "-c", "p.conf", "-o", "pushlua_store_expire=soon", "--data-dir", "data", "-"},
	} {
		r := runBinary(t, dir, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "pushlua_store_expire: Invalid time interval: soon") {
			t.Errorf("%s with a bad pushlua_store_expire: exit %d %q", args[0], r.code, r.stderr)
		}
	}
	if r := runBinary(t, dir, "run", "-c", "p.conf", "-o", "pushlua_store_expire=0", "--data-dir", "data", "-"); r.code != 0 {
		t.Errorf("pushlua_store_expire=0: exit %d %q", r.code, r.stderr)
	}
}

// waitMetric polls /metrics until name has the value want; the deadline
// catches a hang, it does not measure speed.
func waitMetric(t *testing.T, s *server, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := s.metric(t, name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v; want %v", name, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
