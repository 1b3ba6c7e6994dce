package main

import (
	"context"
	"fmt"
	"io"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/store"
)

// cmdMetadata mirrors `doveadm mailbox metadata`: -s "" (or no -s) edits
// server METADATA, which Dovecot keeps on INBOX under
// /private/vendor/vendor.dovecot/pvt/server/; -s MAILBOX edits that
// mailbox's own attributes. It opens the store file; when another process
// holds it (a running serve), it asks that serve instead, on its
// /v1/metadata endpoint: at --url, else the -c configuration's
// pushlua_listen, else 127.0.0.1:8787, with the token as send finds it.
func cmdMetadata(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const musage = "usage: pushlua metadata set|get|unset|list -u USER [-s MAILBOX] [--url ADDR] [--token T] KEY [VALUE]"
	if len(args) == 0 {
		fmt.Fprintln(stderr, musage)
		return 2
	}
	op := args[0]
	var c common
	fs := newFlagSet("metadata "+op, stderr, &c, true)
	user := fs.String("u", "", "mail user")
	mailbox := fs.String("s", "", `mailbox ("" = server metadata)`)
	addr := fs.String("url", "", "a running pushlua serve to ask when it holds the store: http://host:port, host:port or unix:/path (default: pushlua_listen of -c CONFIG, else "+defaultListen+")")
	token := fs.String("token", "", "bearer token for --url (default: pushlua_auth_token of -c CONFIG or $PUSHLUA_AUTH_TOKEN)")
	if code, done := parseArgs(ctx, fs, args[1:], stdout); done {
		return code
	}
	want := map[string]int{"set": 2, "get": 1, "unset": 1, "list": -1}
	n, ok := want[op]
	switch {
	case !ok:
		fmt.Fprintf(stderr, "pushlua metadata: unknown operation %q\n%s\n", op, musage)
		return 2
	case *user == "":
		fmt.Fprintf(stderr, "pushlua metadata %s: -u USER is required\n", op)
		return 2
	case n >= 0 && fs.NArg() != n, n < 0 && fs.NArg() > 1:
		fmt.Fprintln(stderr, musage)
		return 2
	}
	var cfg = emptyConfig()
	if c.config != "" {
		loaded, err := c.loadConfig()
		if err != nil {
			printLines(stderr, "pushlua metadata: ", err.Error())
			return 2
		}
		cfg = loaded
	}
	fail := func(err error) int {
		printLines(stderr, "pushlua metadata "+op+": ", err.Error())
		return 1
	}
	ops, closeStore, err := metadataOps(&c, cfg, *addr, *token)
	if err != nil {
		return fail(err)
	}
	defer closeStore()

	box, key := *mailbox, fs.Arg(0)
	switch op {
	case "set":
		err = ops.set(ctx, *user, box, key, fs.Arg(1))
	case "unset":
		err = ops.unset(ctx, *user, box, key)
	case "get":
		var v string
		var found bool
		if v, found, err = ops.get(ctx, *user, box, key); err == nil && found {
			fmt.Fprintln(stdout, v)
		}
	case "list":
		var m map[string]string
		if m, err = ops.list(ctx, *user, box, key); err == nil {
			for _, line := range listLines(m) {
				fmt.Fprintln(stdout, line)
			}
		}
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// metadataOperations are the four operations, on the store file or
// through serve.
type metadataOperations interface {
	get(ctx context.Context, user, mailbox, key string) (string, bool, error)
	set(ctx context.Context, user, mailbox, key, value string) error
	unset(ctx context.Context, user, mailbox, key string) error
	list(ctx context.Context, user, mailbox, prefix string) (map[string]string, error)
}

// localMetadata does them on the store file.
type localMetadata struct{ st store.Store }

func (m localMetadata) get(ctx context.Context, user, mailbox, key string) (string, bool, error) {
	return metadataGet(ctx, m.st, user, mailbox, key)
}
func (m localMetadata) set(ctx context.Context, user, mailbox, key, value string) error {
	return metadataSet(ctx, m.st, user, mailbox, key, value)
}
func (m localMetadata) unset(ctx context.Context, user, mailbox, key string) error {
	return metadataUnset(ctx, m.st, user, mailbox, key)
}
func (m localMetadata) list(ctx context.Context, user, mailbox, prefix string) (map[string]string, error) {
	return metadataList(ctx, m.st, user, mailbox, prefix)
}

// metadataOps opens the store file (one attempt at its lock); when
// another process holds it, the operations go to the running serve.
func metadataOps(c *common, cfg *dconfig.Config, addr, token string) (metadataOperations, func(), error) {
	path, err := c.storePath(cfg)
	if err != nil {
		return nil, nil, err
	}
	opts, err := storeOptions(cfg)
	if err != nil {
		return nil, nil, err
	}
	opts.Timeout = -1 // one attempt: a held store means a running serve
	st, err := store.OpenBolt(path, opts)
	if err == nil {
		return localMetadata{st}, func() { st.Close() }, nil
	}
	if !storeHeld(err) {
		return nil, nil, c.storeError(err)
	}
	set, err := readServeSettings(cfg, addr)
	if err != nil {
		return nil, nil, err
	}
	if token != "" {
		set.token = token
	}
	client, base := httpClientFor(set.listen)
	mc := &metadataClient{client: client, base: base, addr: set.listen, token: set.token}
	return heldMetadata{mc: mc, path: path}, func() {}, nil
}

// heldMetadata is metadataClient with the held store named in its errors.
type heldMetadata struct {
	mc   *metadataClient
	path string
}

func (h heldMetadata) explain(err error) error {
	if err == nil {
		return nil
	}
	who := "another process"
	if hd := storeHolder(h.path); hd != "" {
		who = hd
	}
	return fmt.Errorf("%s holds the store %s, so pushlua metadata asked the running pushlua serve: %w", who, h.path, err)
}

func (h heldMetadata) get(ctx context.Context, user, mailbox, key string) (string, bool, error) {
	v, found, err := h.mc.get(ctx, user, mailbox, key)
	return v, found, h.explain(err)
}
func (h heldMetadata) set(ctx context.Context, user, mailbox, key, value string) error {
	return h.explain(h.mc.set(ctx, user, mailbox, key, value))
}
func (h heldMetadata) unset(ctx context.Context, user, mailbox, key string) error {
	return h.explain(h.mc.unset(ctx, user, mailbox, key))
}
func (h heldMetadata) list(ctx context.Context, user, mailbox, prefix string) (map[string]string, error) {
	m, err := h.mc.list(ctx, user, mailbox, prefix)
	return m, h.explain(err)
}

// cutServer reports whether an INBOX attribute key is a server METADATA key.
func cutServer(k string) (string, bool) {
	u := store.UserKey(k)
	return u, u != k
}
