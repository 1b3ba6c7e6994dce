package runtime

import (
	"bufio"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pushlua/pushlua/internal/dictproxy"
)

// TestMetadataWritesReachTheDict: with mail_attribute_dict = proxy:...,
// a script's mailbox:metadata_set goes to the dict server in Dovecot's
// dict protocol, as a chat relay's script signals new mail
// (/private/messagenew), and a write the dict refuses fails the call with
// Dovecot's error. Before, the write stayed in pushlua's store.
func TestMetadataWritesReachTheDict(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "metadata.socket")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var got []string
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				refuse := false
				for sc.Scan() {
					line := sc.Text()
					mu.Lock()
					got = append(got, line)
					mu.Unlock()
					refuse = refuse || strings.Contains(line, "/refused\t")
					if strings.HasPrefix(line, "C") {
						if refuse {
							c.Write([]byte("F" + line[1:] + "\tnot here\n"))
						} else {
							c.Write([]byte("O" + line[1:] + "\n"))
						}
					}
				}
			}()
		}
	}()
	script := `function dovecot_lua_notify_begin_txn(user) return {user = user} end
function dovecot_lua_notify_event_message_new(ctx, e)
  local box = ctx.user:mailbox(e.mailbox)
  if e.uid == 1 then box:metadata_set("/private/messagenew", "") end
  if e.uid == 2 then
    local ok, err = pcall(box.metadata_set, box, "/private/refused", "x")
    dovecot.i_info("refused: " .. tostring(err))
  end
  box:free()
end
function dovecot_lua_notify_end_txn() end
`
	te := newTestEngine(t, map[string]string{
		"pushlua.conf": luaConf("mail_attribute_dict = proxy:" + sock + ":metadata"),
		"script.lua":   script,
	}, func(o *Options) { o.Jobs = 1 })
	res := te.run(t,
		`{"user": "alice@example.org", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`,
		`{"user": "alice@example.org", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 2}]}`,
	)
	if res[0].Errors != 0 || res[1].Errors != 0 {
		t.Fatalf("errors %d, %d:\n%s", res[0].Errors, res[1].Errors, te.Logs)
	}
	guid := dictproxy.MailboxGUID("alice@example.org", "INBOX")
	mu.Lock()
	lines := strings.Join(got, "\n")
	mu.Unlock()
	for _, want := range []string{
		"H3\t2\t0\t\tmetadata\nB1\talice@example.org\nS1\tpriv/" + guid + "/messagenew\t\nC1",
		"S2\tpriv/" + guid + "/refused\tx",
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("the dict got\n%s\nwant %q in it", lines, want)
		}
	}
	logLines := te.Logs.Lines()
	if !hasLine(logLines, "Info: refused: Cannot set attribute: Internal error occurred. Refer to server log for more information.") ||
		!hasLine(logLines, "Error: Mailbox INBOX: Failed to commit attribute transaction (/private/refused): dict-server returned failure: not here") {
		t.Errorf("log:\n%s", strings.Join(logLines, "\n"))
	}
	if v, ok, _ := te.Store.GetAttribute(t.Context(), "alice@example.org", "INBOX", "/private/messagenew"); !ok || v != "" {
		t.Errorf("pushlua's store: %q, %v; want the write kept", v, ok)
	}
	if _, ok, _ := te.Store.GetAttribute(t.Context(), "alice@example.org", "INBOX", "/private/refused"); ok {
		t.Error("pushlua's store kept the write the dict refused")
	}
}
