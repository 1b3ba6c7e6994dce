package runtime

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/doveadm"
	"github.com/pushlua/pushlua/internal/store"
)

func TestLiveStoreSettings(t *testing.T) {
	base := store.NewMemory()
	for _, tc := range []struct {
		name     string
		settings map[string]string
		env      string
		live     bool
		url      string
		err      string
	}{
		{name: "off", settings: map[string]string{}},
		{name: "on", settings: map[string]string{"pushlua_doveadm_url": "http://127.0.0.1:8080", "pushlua_doveadm_key": "k"},
			live: true, url: "http://127.0.0.1:8080/doveadm/v1"},
		{name: "key from the environment", settings: map[string]string{"pushlua_doveadm_url": "http://127.0.0.1:8080"}, env: "k",
			live: true, url: "http://127.0.0.1:8080/doveadm/v1"},
		{name: "timeout", settings: map[string]string{"pushlua_doveadm_url": "http://127.0.0.1:8080/", "pushlua_doveadm_key": "k", "pushlua_doveadm_timeout": "250ms"},
			live: true, url: "http://127.0.0.1:8080/doveadm/v1"},
		{name: "no key", settings: map[string]string{"pushlua_doveadm_url": "http://127.0.0.1:8080"},
			err: "pushlua_doveadm_url needs pushlua_doveadm_key (or $PUSHLUA_DOVEADM_KEY)"},
		{name: "key without url", settings: map[string]string{"pushlua_doveadm_key": "k"},
			err: "pushlua_doveadm_key is set but pushlua_doveadm_url is not"},
		{name: "bad url", settings: map[string]string{"pushlua_doveadm_url": "127.0.0.1:8080", "pushlua_doveadm_key": "k"},
			err: "pushlua_doveadm_url: url: "},
		{name: "bad timeout", settings: map[string]string{"pushlua_doveadm_url": "http://h:1", "pushlua_doveadm_key": "k", "pushlua_doveadm_timeout": "5"},
			err: "pushlua_doveadm_timeout: Time interval '5' is missing units"},
		{name: "zero timeout", settings: map[string]string{"pushlua_doveadm_url": "http://h:1", "pushlua_doveadm_key": "k", "pushlua_doveadm_timeout": "0"},
			err: `pushlua_doveadm_timeout: must be more than 0, got "0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PUSHLUA_DOVEADM_KEY", tc.env)
			st, err := liveStore(&dconfig.Config{Settings: tc.settings}, base)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Errorf("got %v; want an error starting %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ls, live := st.(*doveadm.Store)
			if live != tc.live || (!live && st != base) {
				t.Fatalf("got %T, want live %v", st, tc.live)
			}
			if live && (ls.Store != base || ls.Client.URL() != tc.url) {
				t.Errorf("got a store over %v asking %s; want the base store asking %s", ls.Store, ls.Client.URL(), tc.url)
			}
			if tc.settings["pushlua_doveadm_timeout"] == "250ms" && ls.Client.Timeout().Milliseconds() != 250 {
				t.Errorf("timeout %s, want 250ms", ls.Client.Timeout())
			}
		})
	}
}

// TestLiveEngine: with pushlua_doveadm_url, a script's mailbox:status()
// and user:metadata_get() read doveadm's answers for what a transaction's
// snapshot does not carry, and the snapshot for what it does.
func TestLiveEngine(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		requests++
		mu.Unlock()
		if strings.Contains(string(b), `"mailboxStatus"`) {
			_, _ = io.WriteString(w, `[["doveadmResponse",[{"mailbox":"INBOX","messages":"7","recent":"0","uidnext":"8","uidvalidity":"42","unseen":"3","highestmodseq":"9"}],"c0"]]`)
			return
		}
		_, _ = io.WriteString(w, `[["doveadmResponse",[{"value":"live"}],"c0"],["doveadmResponse",[{"key":""}],"c1"]]`)
	}))
	t.Cleanup(fake.Close)
	te := newTestEngine(t, map[string]string{
		"pushlua.conf": luaConf("pushlua_doveadm_url = " + fake.URL + "\npushlua_doveadm_key = k"),
		"script.lua": `
function dovecot_lua_notify_begin_txn(user)
  local st = user:mailbox("INBOX"):status(dovecot.storage.STATUS_MESSAGES, dovecot.storage.STATUS_UNSEEN)
  dovecot.i_info(string.format("messages=%d unseen=%d uidvalidity=%d key=%s", st.messages, st.unseen, st.uidvalidity,
    tostring(user:metadata_get("/private/key"))))
  return {}
end
function dovecot_lua_notify_event_message_new(ctx, event) end
function dovecot_lua_notify_end_txn(ctx, success) end
`})
	te.run(t, `{"user": "alice", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`)
	te.run(t, `{"user": "alice", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}],
	  "status": {"INBOX": {"messages": 1, "unseen": 1, "uidvalidity": 5}}, "metadata": {"/private/key": "snap"}}`)
	lines := te.Logs.Lines()
	if !containsInOrder(lines, []string{
		"Info: messages=7 unseen=3 uidvalidity=42 key=live",
		"Info: messages=1 unseen=1 uidvalidity=5 key=snap",
	}) {
		t.Errorf("log:\n%s", strings.Join(lines, "\n"))
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 2 {
		t.Errorf("%d requests to doveadm, want 2 (status and key of the first transaction)", requests)
	}
}
