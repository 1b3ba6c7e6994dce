package doveadm

import (
	"context"
	"fmt"
	"strconv"

	"github.com/pushlua/pushlua/internal/store"
)

// StatusFields are the mailboxStatus fields MailboxStatus asks for: every
// one of Dovecot 2.3's that store.Status has. doveadm has no others
// (vsize, guid and firstsaved are not status items), so the rest of a
// store.Status stays zero.
var StatusFields = []string{"messages", "recent", "uidnext", "uidvalidity", "unseen", "highestmodseq"}

// MailboxStatus returns the status of the user's mailbox (a vname) as
// `doveadm mailbox status -u user "messages recent uidnext uidvalidity
// unseen highestmodseq" mailbox` reports it. A mailbox that does not exist
// is an error matching ErrNotFound.
func (c *Client) MailboxStatus(ctx context.Context, user, mailbox string) (store.Status, error) {
	const name = "mailboxStatus"
	res, err := c.Run(ctx, Command{Name: name, Params: map[string]any{
		"user": user, "field": StatusFields, "mailboxMask": []string{mailbox}}})
	if err != nil {
		return store.Status{}, err
	}
	// The mask is a pattern ('*' and '%' match): take the mailbox's own row.
	for _, row := range res[0] {
		if row["mailbox"] != mailbox {
			continue
		}
		st, err := parseStatus(row)
		if err != nil {
			return store.Status{}, &Error{Command: name, URL: c.redacted, Err: err}
		}
		return st, nil
	}
	return store.Status{}, &Error{Command: name, URL: c.redacted, Type: "exitCode", ExitCode: ExitNotFound}
}

// parseStatus reads one mailboxStatus row.
func parseStatus(row map[string]string) (store.Status, error) {
	var st store.Status
	for _, f := range []struct {
		name string
		u32  *uint32
		u64  *uint64
	}{
		{name: "messages", u32: &st.Messages},
		{name: "recent", u32: &st.Recent},
		{name: "uidnext", u32: &st.UIDNext},
		{name: "uidvalidity", u32: &st.UIDValidity},
		{name: "unseen", u32: &st.Unseen},
		{name: "highestmodseq", u64: &st.HighestModseq},
	} {
		v, ok := row[f.name]
		if !ok {
			return st, fmt.Errorf("answer has no field %s", f.name)
		}
		bits := 64
		if f.u32 != nil {
			bits = 32
		}
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return st, fmt.Errorf("field %s: %w", f.name, err)
		}
		if f.u32 != nil {
			*f.u32 = uint32(n)
		} else {
			*f.u64 = n
		}
	}
	return st, nil
}

// MetadataGet returns the attribute key ("/private/..." or "/shared/...")
// of the user's mailbox and whether it is set, as `doveadm mailbox metadata
// get` and `list` report it. Server METADATA is the INBOX attribute under
// store.ServerKey, as in pushlua's store. A mailbox that does not exist is
// an error matching ErrNotFound.
//
// Dovecot lists its internal attributes (/private/comment,
// /private/specialuse, /shared/comment, ...) whether or not they have a
// value; for those an empty value counts as unset.
func (c *Client) MetadataGet(ctx context.Context, user, mailbox, key string) (string, bool, error) {
	res, err := c.Run(ctx,
		Command{Name: "mailboxMetadataGet", Params: map[string]any{"user": user, "mailbox": mailbox, "key": key}},
		Command{Name: "mailboxMetadataList", Params: map[string]any{"user": user, "mailbox": mailbox, "keyPrefix": key}})
	if err != nil {
		return "", false, err
	}
	if len(res[0]) != 1 {
		return "", false, &Error{Command: "mailboxMetadataGet", URL: c.redacted,
			Err: fmt.Errorf("%d rows, want 1", len(res[0]))}
	}
	value := res[0][0]["value"]
	listed := false
	for _, row := range res[1] {
		if k, ok := row["key"]; ok && k == "" { // the prefix itself
			listed = true
		}
	}
	if !listed || (value == "" && internalAttribute(key)) {
		return "", false, nil
	}
	return value, true, nil
}

// internalAttribute reports whether Dovecot 2.3 always lists key
// (mailbox_internal_attributes: the mailbox comment, special-use and the
// server's admin and comment).
func internalAttribute(key string) bool {
	switch key {
	case "/private/comment", "/private/specialuse", "/shared/comment",
		"/shared/" + store.ServerPrefix + "admin", "/shared/" + store.ServerPrefix + "comment":
		return true
	}
	return false
}
