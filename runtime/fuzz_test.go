package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/internal/txn"
)

// fuzzScript walks the whole event table, so that everything pushed is
// read back by Lua, and returns the two fields every event has.
const fuzzScript = `
local function walk(v, depth)
  if type(v) == "table" then
    for _, x in pairs(v) do walk(x, depth + 1) end
  end
end
function handler(ctx, e)
  assert(ctx == "ctx", "ctx")
  walk(e, 0)
  return e.name, e.mailbox
end
`

// FuzzDecodePush decodes a line as ingest and pushlua run do (txn.Parse),
// then pushes each event into a Lua state the way the runtime does
// (pushEvent inside State.invoke's protected call) and calls a handler.
// No input may panic; every transaction the decoder accepts must reach
// the handler whole (txn.MaxNesting is below luax.MaxDepth); and a JSON
// value pushed as it is, without the decoder's bound, fails cleanly
// exactly when it nests deeper than luax.MaxDepth.
//
//	go test -run '^$' -fuzz FuzzDecodePush -fuzztime 20s ./runtime
func FuzzDecodePush(f *testing.F) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	event := func(extra string) string {
		return `{"user":"a","events":[{"name":"MessageNew","mailbox":"INBOX","uid":1` + extra + `}]}`
	}
	for _, seed := range []string{
		// The 157-byte POST that killed the daemon: 37 nested arrays.
		event(`,"x":` + deep(37)),
		event(`,"x":` + deep(txn.MaxNesting)),
		event(`,"x":` + deep(luax.MaxDepth+1)),
		event(`,"x":{"a":[1,{"b":[true,null,"s"]}],"c":-1.5e300}`),
		`{"id":"t-1","user":{"username":"alice","uid":1000},"success":true,"events":[` +
			`{"name":"MessageNew","mailbox":"INBOX","uid":1,"uid_validity":5,"date":1732611600,"tz":60,"from":"A <a@x>","to":"b@y","subject":"Hi","snippet":null,"message_id":"<m@x>","flags":["\\Seen"],"keywords":["$Label1"]},` +
			`{"name":"FlagsClear","mailbox":"INBOX","uid":1,"flags":["\\Seen"],"flags_old":["\\Seen","\\Flagged"],"keywords":[],"keywords_old":["k"]},` +
			`{"name":"MailboxRename","mailbox":"B","mailbox_old":"A"},{"name":"MessageRead","mailbox":"INBOX","uid":2}],` +
			`"status":{"INBOX":{"messages":1,"uidvalidity":5}},"metadata":{"/private/x":"1"}}`,
		`{"user":"a","events":[{"name":"MessageNew","mailbox":"\u0000\ud800","uid":4294967295,"subject":"\"[{"}]}`,
		`{"user":"a","success":false}`,
		`not json`,
	} {
		f.Add([]byte(seed))
	}
	st, err := newState(context.Background(), &scriptSpec{Path: "fuzz.lua", Source: []byte(fuzzScript), Budget: DefaultBudget},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	l := st.L
	f.Fuzz(func(t *testing.T, line []byte) {
		base := l.Top()
		tx, err := txn.Parse(line, nil)
		var le *txn.LineError
		if err != nil && !errors.As(err, &le) {
			t.Fatalf("Parse: got %T %v; want a *txn.LineError", err, err)
		}
		if err == nil {
			for i := range tx.Events {
				e := &tx.Events[i]
				err := st.invoke(context.Background(), func(l *lua.State) {
					pushGlobal(l, "handler")
					l.PushString("ctx")
					pushEvent(l, e)
				}, 2)
				if err != nil {
					t.Fatalf("event %d of an accepted transaction: %v", i, err)
				}
				name, _ := l.ToString(-2)
				mailbox, _ := l.ToString(-1)
				l.Pop(2)
				if name != e.Info.Name || mailbox != e.Mailbox {
					t.Errorf("event %d: the handler got %q, %q; want %q, %q", i, name, mailbox, e.Info.Name, e.Mailbox)
				}
			}
		}
		// Without the decoder's bound: any JSON value, pushed as it is.
		var v any
		if json.Unmarshal(line, &v) == nil {
			_, err := st.prepare(func(l *lua.State) { luax.Push(l, v) })
			tooDeep := depthOf(v) > luax.MaxDepth
			switch {
			case err == nil && tooDeep:
				t.Errorf("a value %d levels deep was pushed; want an error past %d", depthOf(v), luax.MaxDepth)
			case err != nil && (!tooDeep || err.Error() != fmt.Sprintf("value nested deeper than %d levels", luax.MaxDepth)):
				t.Errorf("pushing a value %d levels deep: %v", depthOf(v), err)
			}
			if err == nil {
				l.Pop(1)
			}
		}
		if st.broken {
			t.Fatal("the state was marked broken")
		}
		if got := l.Top(); got != base {
			t.Fatalf("the stack holds %d values after the input; want %d", got, base)
		}
	})
}

// depthOf returns how deeply arrays and objects nest in a decoded JSON
// value (0 for a scalar).
func depthOf(v any) int {
	most := 0
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			most = max(most, depthOf(x))
		}
	case map[string]any:
		for _, x := range v {
			most = max(most, depthOf(x))
		}
	default:
		return 0
	}
	return most + 1
}
