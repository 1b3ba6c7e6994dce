package conformance

import (
	"context"
	"testing"
)

// A case's transactions.jsonl may be one pretty-printed transaction, as
// pushlua run, send and serve accept it (txn.Split); "#" lines are
// comments and line numbers stay those of the file.
func TestCaseTransactionsPrettyPrinted(t *testing.T) {
	data := "A pretty-printed delivery.\n-- transactions.jsonl --\n# one transaction over three lines\n" +
		"{\"user\": \"alice@example.com\",\n \"events\": [{\"name\": \"MessageNew\", \"mailbox\": \"INBOX\",\n   \"uid\": 7, \"uid_validity\": 1}]}\n" +
		"-- error_log --\nInfo: new 7\n"
	c, err := parseCase("c.txtar", "", []byte(data), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Txns) != 1 || c.Txns[0].Line != 4 {
		t.Fatalf("transactions %+v; want one, at line 4", c.Txns)
	}

	dir := t.TempDir()
	writeFile(t, dir, "s.lua", `function dovecot_lua_notify_begin_txn() return {} end
function dovecot_lua_notify_event_message_new(ctx, e) dovecot.i_info("new " .. e.uid) end
function dovecot_lua_notify_end_txn() end
`)
	writeFile(t, dir, "pretty.txtar", data)
	rep, err := Run(context.Background(), Options{Script: dir + "/s.lua", Cases: []string{dir + "/pretty.txtar"}, RunRegexp: "pretty"})
	if err != nil {
		t.Fatal(err)
	}
	if passed, failed, _ := rep.Counts(); passed != 1 || failed != 0 {
		t.Errorf("%d passed, %d failed; want the case to pass: %+v", passed, failed, rep.Suites[0].Tests[0])
	}
}
