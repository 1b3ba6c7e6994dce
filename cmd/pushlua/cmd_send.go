package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
)

// cmdSend posts transactions to a running `pushlua serve`: from files or
// stdin (JSON Lines), or one sample transaction (--sample EVENT).
func cmdSend(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var c common
	fs := newFlagSet("send", stderr, &c, true)
	addr := fs.String("url", "", "pushlua's address: http://host:port, host:port or unix:/path (default: pushlua_listen of -c CONFIG, else "+defaultListen+")")
	token := fs.String("token", "", "bearer token (default: pushlua_auth_token of -c CONFIG or $PUSHLUA_AUTH_TOKEN)")
	sample := fs.String("sample", "", "send one sample transaction with this event (MessageNew, FlagsSet, MailboxCreate, ...)")
	user := fs.String("user", "alice@example.com", "the user of --sample")
	if code, done := parseArgs(ctx, fs, args, stdout); done {
		return code
	}
	cfg := emptyConfig()
	if c.config != "" {
		loaded, err := c.loadConfig()
		if err != nil {
			fmt.Fprintln(stderr, "pushlua send:", err)
			return 2
		}
		cfg = loaded
	}
	set, err := readServeSettings(cfg, *addr)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua send:", err)
		return 2
	}
	if *token != "" {
		set.token = *token
	}

	var body []byte
	if *sample != "" {
		if fs.NArg() > 0 {
			fmt.Fprintln(stderr, "pushlua send: give --sample or files, not both")
			return 2
		}
		line, err := sampleTxn(*sample, *user)
		if err != nil {
			fmt.Fprintln(stderr, "pushlua send:", err)
			return 2
		}
		body = line
	} else {
		inputs := fs.Args()
		if len(inputs) == 0 {
			inputs = []string{"-"}
		}
		var buf bytes.Buffer
		for _, name := range inputs {
			r := stdin
			if name != "-" {
				f, err := os.Open(name)
				if err != nil {
					fmt.Fprintln(stderr, "pushlua send:", err)
					return 1
				}
				defer f.Close()
				r = f
			}
			data, err := io.ReadAll(r)
			if err != nil {
				fmt.Fprintln(stderr, "pushlua send:", err)
				return 1
			}
			// One pretty-printed transaction (txn.Split's whole input) is
			// sent as one line, so that several files of them make a
			// JSON Lines body.
			if chunks := txn.Split(data); len(chunks) == 1 && txn.IsWholeObject(chunks[0].Data) &&
				json.Compact(&buf, chunks[0].Data) == nil {
				data = nil
			}
			buf.Write(data)
			if buf.Len() > 0 && buf.Bytes()[buf.Len()-1] != '\n' {
				buf.WriteByte('\n')
			}
		}
		body = buf.Bytes()
	}

	client, url := httpClientFor(set.listen)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/transactions", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(stderr, "pushlua send:", err)
		return 2
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if set.token != "" {
		req.Header.Set("Authorization", "Bearer "+set.token)
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua send:", err)
		return 1
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	fmt.Fprintf(stdout, "%s\n%s", resp.Status, out)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		fmt.Fprintln(stdout)
	}
	if resp.StatusCode != http.StatusAccepted {
		return 1
	}
	return 0
}

// httpClientFor returns a client and base URL for a listen address.
func httpClientFor(addr string) (*http.Client, string) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}}
		return &http.Client{Transport: tr, Timeout: time.Minute}, "http://pushlua"
	}
	if !strings.HasPrefix(addr, "http://") && !strings.HasPrefix(addr, "https://") {
		addr = "http://" + addr
	}
	return &http.Client{Timeout: time.Minute}, strings.TrimSuffix(addr, "/")
}

// sampleTxn builds a plausible transaction with one event.
func sampleTxn(event, user string) ([]byte, error) {
	info, ok := txn.LookupEvent(event)
	if !ok {
		var names []string
		for _, e := range txn.Events {
			names = append(names, e.Name)
		}
		return nil, fmt.Errorf("unknown event %q (one of %s)", event, strings.Join(names, ", "))
	}
	now := time.Now().Unix()
	ev := map[string]any{"name": info.Name, "mailbox": "INBOX"}
	if info.Kind == txn.MessageEvent {
		ev["uid"], ev["uid_validity"] = 1, 1795978712
	}
	switch info.Type {
	case txn.MessageNew, txn.MessageAppend:
		ev["date"], ev["tz"] = now, 0
		ev["from"], ev["from_address"], ev["from_display_name"] = "Sender <sender@example.org>", "sender@example.org", "Sender"
		ev["to"], ev["to_address"], ev["to_display_name"] = user, user, ""
		ev["subject"], ev["snippet"], ev["message_id"] = "Hello from pushlua send", "This is a sample message.", "<sample@pushlua>"
		ev["flags"], ev["keywords"] = []string{}, []string{}
	case txn.FlagsSet:
		ev["flags"], ev["keywords"] = []string{`\Seen`}, []string{}
	case txn.FlagsClear:
		ev["flags"], ev["flags_old"], ev["keywords"], ev["keywords_old"] = []string{`\Seen`}, []string{`\Seen`}, []string{}, []string{}
	case txn.MailboxRename:
		ev["mailbox"], ev["mailbox_old"] = "Archive", "Old"
	case txn.MailboxCreate, txn.MailboxDelete, txn.MailboxSubscribe, txn.MailboxUnsubscribe:
		ev["mailbox"] = "Projects"
	}
	t := map[string]any{"user": map[string]any{"username": user, "service": "lmtp"}, "events": []any{ev}}
	if info.Kind == txn.MessageEvent {
		t["status"] = map[string]any{"INBOX": map[string]any{"messages": 1, "unseen": 1, "recent": 1, "uidnext": 2, "uidvalidity": 1795978712}}
	}
	b, err := json.Marshal(t)
	return append(b, '\n'), err
}
