// Package benchwork owns pushlua's standard benchmark workloads: the
// transaction files and configurations `pushlua bench` runs (collect,
// dlog, ox against a 204 sink, forwarded transactions with snapshots), and
// the reference every result is compared with: a plain loop that decodes
// each line with encoding/json and calls the collecting script's handlers
// in one go-lua state.
package benchwork

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// Workload is one standard workload.
type Workload struct {
	// Name is how `pushlua bench` names it.
	Name string
	// Desc says what it measures.
	Desc string
	// Snapshots says which transactions carry a status and METADATA
	// snapshot (what the Dovecot forwarder sends).
	Snapshots Snapshots
	// Config returns pushlua's configuration; dir holds the scripts
	// (Files) and sink is the 204 sink's base URL ("" when not needed).
	Config func(sink string) string
	// Files are written beside the configuration.
	Files map[string]string
	// NeedsSink says the workload posts to the sink.
	NeedsSink bool
}

// CollectScript is the collecting script of the collect workload and of
// the reference loop: like ../shared/dovecot-bench/lua/collect.lua, no I/O,
// one small string per event.
const CollectScript = `local total = 0

function dovecot_lua_notify_begin_txn(user)
  return {events = {}, username = user.username}
end

function dovecot_lua_notify_event_message_new(ctx, event)
  table.insert(ctx.events, event)
end

function dovecot_lua_notify_event_message_append(ctx, event)
  table.insert(ctx.events, event)
end

function dovecot_lua_notify_event_flags_set(ctx, event)
  table.insert(ctx.events, event)
end

function dovecot_lua_notify_event_flags_clear(ctx, event)
  table.insert(ctx.events, event)
end

function dovecot_lua_notify_end_txn(ctx, success)
  for _, ev in ipairs(ctx.events) do
    local body = "event=" .. ev.name .. "&from=" .. (ev.from or "") ..
                 "&subject=" .. (ev.subject or "") .. "&user=" .. ctx.username
    total = total + #body
  end
end
`

// OXPath is the path the ox workloads post to.
const OXPath = "/preliminary/http-notify/v1/notify"

func oxConfig(sink string) string {
	u := strings.Replace(sink, "http://", "http://login:pass@", 1)
	return "mail_debug = no\nplugin {\n  push_notification_driver = ox:url=" + u + OXPath + "\n}\n"
}

// Workloads lists the standard workloads in the order bench runs them.
var Workloads = []Workload{
	{Name: "collect", Desc: "a collecting script (no I/O): pushlua's own cost",
		Config: func(string) string {
			return "plugin {\n  push_notification_driver = lua:file=collect.lua\n}\n"
		},
		Files: map[string]string{"collect.lua": CollectScript}},
	{Name: "dlog", Desc: "the bundled dlog driver, mail_debug = yes (its log lines are the work)",
		Config: func(string) string {
			return "mail_debug = yes\nplugin {\n  push_notification_driver = dlog\n}\n"
		}},
	{Name: "ox", Desc: "the bundled ox driver against a 204 sink, METADATA from the store",
		Config: oxConfig, NeedsSink: true, Snapshots: FirstPerUser},
	{Name: "fwd", Desc: "forwarded transactions (status + METADATA snapshots) through the bundled ox driver",
		Config: oxConfig, NeedsSink: true, Snapshots: Every},
}

// Snapshots says which generated transactions carry snapshots.
type Snapshots int

const (
	// None: no transaction carries a snapshot.
	None Snapshots = iota
	// FirstPerUser: a user's first transaction carries the OX METADATA key
	// (the store keeps it for the later ones).
	FirstPerUser
	// Every transaction carries the INBOX status and the METADATA key.
	Every
)

// Find returns the workload named name.
func Find(name string) (Workload, bool) {
	for _, w := range Workloads {
		if w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}

// Generate writes n transactions of users distinct users as JSON Lines:
// each begin / one 17-field MessageNew / end, as an LMTP delivery makes.
// snapshots says which carry the INBOX status and the OX METADATA key. The
// same seed gives the same file.
func Generate(w io.Writer, n, users int, snapshots Snapshots, seed uint64) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	r := rand.New(rand.NewPCG(seed, 1))
	uids := make([]int, users)
	subjects := []string{"Hello", "Meeting tomorrow at 10", "Re: your invoice #4411", "Grüße aus Köln", "Weekly report"}
	for i := range n {
		u := r.IntN(users)
		uids[u]++
		user := fmt.Sprintf("user%04d@example.com", u)
		ev := map[string]any{
			"name": "MessageNew", "mailbox": "INBOX", "uid": uids[u], "uid_validity": 1795978712,
			"date": 1732611600 + i, "tz": 60,
			"from": "Sender " + fmt.Sprint(i%97) + " <sender" + fmt.Sprint(i%97) + "@example.org>",
			"to":   user, "subject": subjects[i%len(subjects)],
			"snippet":      "Hi, this is the first line of message " + fmt.Sprint(i) + ", as a snippet",
			"message_id":   fmt.Sprintf("<%d.%d@example.org>", i, u),
			"from_address": "sender" + fmt.Sprint(i%97) + "@example.org", "from_display_name": "Sender " + fmt.Sprint(i%97),
			"to_address": user, "to_display_name": "",
			"flags": []string{}, "keywords": []string{},
		}
		t := map[string]any{
			"id":      fmt.Sprintf("bench-%d", i+1),
			"user":    map[string]any{"username": user, "service": "lmtp", "session_id": fmt.Sprintf("s%d", i)},
			"success": true,
			"events":  []any{ev},
		}
		if snapshots == FirstPerUser && uids[u] == 1 {
			t["metadata"] = map[string]any{"/private/vendor/vendor.dovecot/http-notify": fmt.Sprintf("user=%d@3", u)}
		}
		if snapshots == Every {
			t["status"] = map[string]any{"INBOX": map[string]any{"messages": uids[u], "recent": 1, "unseen": 1 + uids[u]%7,
				"uidnext": uids[u] + 1, "uidvalidity": 1795978712}}
			t["metadata"] = map[string]any{"/private/vendor/vendor.dovecot/http-notify": fmt.Sprintf("user=%d@3", u)}
		}
		data, err := json.Marshal(t)
		if err != nil {
			return err
		}
		if _, err := bw.Write(append(data, '\n')); err != nil {
			return err
		}
	}
	return bw.Flush()
}
