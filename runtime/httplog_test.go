package runtime

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHTTPDebugLines: an HTTP request writes no line of its own unless
// debugging is on (it used to log "pushlua: Debug: http: performing
// request" for every request, without user or transaction): socket.http's
// line follows mail_debug, dovecot.http's the client's debug setting, and
// both carry the transaction's user and id.
func TestHTTPDebugLines(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	script := `URL = "` + srv.URL + `"
function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new(ctx, e)
  require("socket.http").request(URL .. "/socket")
  dovecot.http.client({}):request({url = URL .. "/quiet"}):submit()
  dovecot.http.client({debug = true}):request({url = URL .. "/loud"}):submit()
end
function dovecot_lua_notify_end_txn() end
`
	line := `{"id": "t-1", "user": "alice", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}`
	for _, debug := range []bool{false, true} {
		conf := "plugin {\n  push_notification_driver = lua:file=script.lua\n}\n"
		if debug {
			conf = "mail_debug = yes\n" + conf
		}
		te := newTestEngine(t, map[string]string{"pushlua.conf": conf, "script.lua": script})
		te.run(t, line)
		var httpLines []string
		for _, l := range strings.Split(te.Logs.String(), "\n") {
			if strings.Contains(l, "http:") {
				httpLines = append(httpLines, l)
			}
		}
		want := []string{"pushlua(alice)<t-1>: Debug: http: GET " + srv.URL + "/loud: 204 No Content (1 attempt, "}
		if debug {
			want = []string{
				"pushlua(alice)<t-1>: Debug: http: GET " + srv.URL + "/socket: 204 No Content (1 attempt, ",
				"pushlua(alice)<t-1>: Debug: http: GET " + srv.URL + "/loud: 204 No Content (1 attempt, ",
			}
		}
		if len(httpLines) != len(want) {
			t.Fatalf("mail_debug %v: got HTTP lines\n%s\nwant %d", debug, strings.Join(httpLines, "\n"), len(want))
		}
		for i, w := range want {
			if !strings.HasPrefix(httpLines[i], w) {
				t.Errorf("mail_debug %v: line %q; want prefix %q", debug, httpLines[i], w)
			}
		}
	}
}
