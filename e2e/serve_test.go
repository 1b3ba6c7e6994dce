package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
)

// pushluaServe is a running `pushlua serve` whose only driver is
// testdata/record.lua: every transaction its script gets is written to
// records, one JSON line each.
type pushluaServe struct {
	URL     string // the transactions URL
	records string
	cmd     *exec.Cmd
	mu      sync.Mutex
	log     bytes.Buffer
	done    chan struct{}
}

func startServe(t *testing.T, bin, token string) *pushluaServe {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/record.lua")
	if err != nil {
		t.Fatal(err)
	}
	s := &pushluaServe{records: filepath.Join(dir, "records.jsonl"), done: make(chan struct{})}
	conf := fmt.Sprintf("pushlua_auth_token = %s\nplugin {\n  push_notification_driver = lua:file=record.lua\n  record_file = %s\n}\n", token, s.records)
	os.WriteFile(filepath.Join(dir, "record.lua"), src, 0o644)
	os.WriteFile(filepath.Join(dir, "pushlua.conf"), []byte(conf), 0o644)
	s.cmd = exec.Command(bin, "serve", "-c", filepath.Join(dir, "pushlua.conf"), "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"))
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
	case <-time.After(20 * time.Second):
		t.Fatalf("pushlua serve did not start:\n%s", s.logText())
	}
	return s
}

func (s *pushluaServe) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// forward posts a body as the forwarder sent it and returns serve's status.
func (s *pushluaServe) forward(p post) int {
	req, err := http.NewRequest(http.MethodPost, s.URL, bytes.NewReader(p.Body))
	if err != nil {
		return http.StatusBadGateway
	}
	req.Header.Set("Content-Type", p.Header.Get("Content-Type"))
	if a := p.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return http.StatusBadGateway
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// recorded waits until the script has written n transactions and returns
// them parsed.
func (s *pushluaServe) recorded(t *testing.T, n int) []*txn.Txn {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, _ := os.ReadFile(s.records)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(data) > 0 && len(lines) >= n || time.Now().After(deadline) {
			var out []*txn.Txn
			for i, l := range lines {
				if l == "" {
					continue
				}
				x, err := txn.Parse([]byte(l), nil)
				if err != nil {
					t.Fatalf("record %d: %v\n%s", i+1, err, l)
				}
				out = append(out, x)
			}
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// compareDelivered checks that the script behind pushlua serve got the
// transactions Dovecot forwarded: per user, in order, with the same events
// (every field), status and METADATA.
func compareDelivered(t *testing.T, posted, got []*txn.Txn) {
	t.Helper()
	byUser := func(xs []*txn.Txn) map[string][]*txn.Txn {
		m := map[string][]*txn.Txn{}
		for _, x := range xs {
			m[x.User.Username] = append(m[x.User.Username], x)
		}
		return m
	}
	var committed []*txn.Txn
	for _, x := range posted {
		if x.Success {
			committed = append(committed, x)
		}
	}
	want, have := byUser(committed), byUser(got)
	if len(got) != len(committed) {
		t.Errorf("the script got %d transactions; Dovecot forwarded %d", len(got), len(committed))
	}
	for user, ws := range want {
		hs := have[user]
		if len(hs) != len(ws) {
			t.Errorf("%s: the script got %d transactions; want %d", user, len(hs), len(ws))
			continue
		}
		for i := range ws {
			w, h := ws[i], hs[i]
			if describeTxn(w) != describeTxn(h) {
				t.Errorf("%s #%d: got %s; want %s", user, i, describeTxn(h), describeTxn(w))
				continue
			}
			for j := range w.Events {
				if !reflect.DeepEqual(w.Events[j], h.Events[j]) {
					t.Errorf("%s #%d event %d:\n got %s\nwant %s", user, i, j, dump(h.Events[j]), dump(w.Events[j]))
				}
			}
			if w.User.SessionID != h.User.SessionID || w.User.Home != h.User.Home || w.User.UID != h.User.UID {
				t.Errorf("%s #%d user: got %+v; want %+v", user, i, h.User, w.User)
			}
			for box, ws := range w.Status {
				hs := h.Status[box]
				if ws.Messages != hs.Messages || ws.Unseen != hs.Unseen || ws.UIDNext != hs.UIDNext || ws.UIDValidity != hs.UIDValidity {
					t.Errorf("%s #%d status %s: got %+v; want %+v", user, i, box, hs, ws)
				}
			}
			if !reflect.DeepEqual(w.Metadata, h.Metadata) {
				t.Errorf("%s #%d metadata: got %v; want %v", user, i, h.Metadata, w.Metadata)
			}
		}
	}
}
