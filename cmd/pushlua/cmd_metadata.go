package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/pushlua/pushlua/internal/store"
)

// cmdMetadata mirrors `doveadm mailbox metadata`: -s "" (or no -s) edits
// server METADATA, which Dovecot keeps on INBOX under
// /private/vendor/vendor.dovecot/pvt/server/; -s MAILBOX edits that
// mailbox's own attributes.
func cmdMetadata(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const musage = "usage: pushlua metadata set|get|unset|list -u USER [-s MAILBOX] KEY [VALUE]"
	if len(args) == 0 {
		fmt.Fprintln(stderr, musage)
		return 2
	}
	op := args[0]
	var c common
	fs := newFlagSet("metadata "+op, stderr, &c, true)
	user := fs.String("u", "", "mail user")
	mailbox := fs.String("s", "", `mailbox ("" = server metadata)`)
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
			fmt.Fprintln(stderr, "pushlua metadata:", err)
			return 1
		}
		cfg = loaded
	}
	st, err := c.openStore(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua metadata:", err)
		return 1
	}
	defer st.Close()

	box := *mailbox
	server := box == ""
	keyOf := func(k string) (string, error) {
		if server {
			return store.ServerKey(k)
		}
		if _, err := store.ServerKey(k); err != nil {
			return "", err
		}
		return k, nil
	}
	if server {
		box = "INBOX"
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "pushlua metadata %s: %v\n", op, err)
		return 1
	}
	switch op {
	case "set", "get", "unset":
		key, err := keyOf(fs.Arg(0))
		if err != nil {
			return fail(err)
		}
		switch op {
		case "set":
			err = st.SetAttribute(ctx, *user, box, key, fs.Arg(1))
		case "unset":
			err = st.UnsetAttribute(ctx, *user, box, key)
		case "get":
			var v string
			var found bool
			v, found, err = st.GetAttribute(ctx, *user, box, key)
			if err == nil && found {
				fmt.Fprintln(stdout, v)
			}
		}
		if err != nil {
			return fail(err)
		}
	case "list":
		prefix := ""
		if fs.NArg() == 1 {
			p, err := keyOf(fs.Arg(0))
			if err != nil {
				return fail(err)
			}
			prefix = p
		}
		m, err := st.ListAttributes(ctx, *user, box, prefix)
		if err != nil {
			return fail(err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			if server {
				if _, ok := cutServer(k); !ok {
					continue
				}
				k = store.UserKey(k)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			orig := k
			if server {
				orig, _ = store.ServerKey(k)
			}
			fmt.Fprintf(stdout, "%s=%s\n", k, m[orig])
		}
	}
	return 0
}

// cutServer reports whether an INBOX attribute key is a server METADATA key.
func cutServer(k string) (string, bool) {
	u := store.UserKey(k)
	return u, u != k
}
