// Package store owns pushlua's embedded, persistent view of the mail store:
// the last known status of each user's mailboxes and their METADATA
// (mailbox attributes). Transactions update it from their snapshots, the
// `pushlua metadata` command edits it, and the dovecot.* bindings read it
// (mailbox:status(), user:metadata_get(), ...).
//
// Keys follow Dovecot's internal layout: server METADATA, which IMAP clients
// set with SETMETADATA "" and doveadm with `-s ""`, is stored as an INBOX
// attribute whose key carries the
// /private/vendor/vendor.dovecot/pvt/server/ prefix (see ServerKey).
//
// Apply performs a Snapshot's parts in this order, all or nothing: Deletes
// (a mailbox's status record and attributes go), Renames (the status record
// and attributes move to the new name unless it has a status record already,
// in which case the old name's are dropped), Ensure, Status and finally
// Metadata. The Renames map has lost the order of the events; Apply rebuilds
// it from Dovecot's rule that a mailbox is only renamed to a free name, and
// otherwise goes in name order. INBOX always exists, and its attributes,
// where server METADATA lives, are never removed or moved by Deletes or
// Renames. A mailbox name "" in a Snapshot names no mailbox and is skipped; a
// name containing NUL, or a Metadata key that ServerKey rejects, fails the
// whole Apply. Attributes need no status record: they can be set on a
// mailbox the store has not seen. A user the store has not seen reads as
// having only an empty INBOX.
//
// Bolt keeps the store in a bbolt file that one process at a time can open,
// one record per user (record.go), with the users' state cached in memory:
// Apply compares a snapshot with it and writes only what changed, behind,
// in batches (what a crash can lose: BoltOptions.FlushInterval). Memory
// keeps the store in memory for tests and benchmarks. OpenBolt checks the
// file's structure before bbolt maps it and refuses a damaged file with a
// *CorruptError instead of crashing on it (Check, Repair: check.go,
// repair.go), and converts a file of the earlier nested-bucket layout
// (migrate.go); Bolt forgets users that have been idle for
// BoltOptions.Expire, keeping what an operator set (ExpireIdle,
// RunExpiry: expire.go).
package store

import (
	"context"
	"errors"
	"strings"
)

// ErrNoMailbox reports that a mailbox is not known to the store.
var ErrNoMailbox = errors.New("mailbox doesn't exist")

// Status is the last known status of one mailbox. Field names follow
// Dovecot's mailbox_status and the Lua table of mailbox:status().
type Status struct {
	Messages         uint32   `json:"messages"`
	Recent           uint32   `json:"recent"`
	Unseen           uint32   `json:"unseen"`
	UIDValidity      uint32   `json:"uidvalidity"`
	UIDNext          uint32   `json:"uidnext"`
	FirstUnseenSeq   uint32   `json:"first_unseen_seq"`
	FirstRecentUID   uint32   `json:"first_recent_uid"`
	HighestModseq    uint64   `json:"highest_modseq"`
	HighestPvtModseq uint64   `json:"highest_pvt_modseq"`
	PermanentFlags   uint32   `json:"permanent_flags"`
	Flags            uint32   `json:"flags"`
	Keywords         []string `json:"keywords,omitempty"`

	PermanentKeywords   bool `json:"permanent_keywords"`
	AllowNewKeywords    bool `json:"allow_new_keywords"`
	NonpermanentModseqs bool `json:"nonpermanent_modseqs"`
	NoModseqTracking    bool `json:"no_modseq_tracking"`
	HaveGUIDs           bool `json:"have_guids"`
	HaveSaveGUIDs       bool `json:"have_save_guids"`
	HaveOnlyGUID128     bool `json:"have_only_guid128"`
}

// Snapshot is what one transaction tells the store before its handlers run.
// Status replaces the whole status record of each named mailbox. Metadata
// holds server METADATA in its user-facing form ("/private/..." or
// "/shared/..."): a non-nil value sets the key, nil unsets it, keys not
// named are left alone.
type Snapshot struct {
	Status   map[string]Status
	Metadata map[string]*string
	// Ensure lists mailboxes that the transaction's events show to exist;
	// each gets an empty status record unless it has one already.
	Ensure []string
	// Renames maps old to new mailbox names (MailboxRename events): the
	// status record moves unless the new name has one already.
	Renames map[string]string
	// Deletes lists mailboxes removed by MailboxDelete events.
	Deletes []string
}

// Empty reports whether applying s would change nothing.
func (s *Snapshot) Empty() bool {
	return len(s.Status) == 0 && len(s.Metadata) == 0 && len(s.Ensure) == 0 &&
		len(s.Renames) == 0 && len(s.Deletes) == 0
}

// Store is the seam between pushlua and its persistent mail-store view.
// Mailbox names are Dovecot vnames. The mailbox "" is not valid for the
// attribute methods: server metadata lives on INBOX under ServerKey.
// Implementations are safe for concurrent use.
type Store interface {
	// Apply applies a transaction's snapshot for user atomically.
	Apply(ctx context.Context, user string, snap *Snapshot) error

	// Status returns the status of the mailbox, or ErrNoMailbox.
	// INBOX always exists (all zero until a snapshot says otherwise).
	Status(ctx context.Context, user, mailbox string) (Status, error)
	// Mailboxes lists the user's known mailboxes in name order.
	Mailboxes(ctx context.Context, user string) ([]string, error)

	// GetAttribute returns a mailbox attribute ("/private/..." or
	// "/shared/..." key, stored as given) and whether it is set.
	GetAttribute(ctx context.Context, user, mailbox, key string) (string, bool, error)
	// SetAttribute sets a mailbox attribute.
	SetAttribute(ctx context.Context, user, mailbox, key, value string) error
	// UnsetAttribute removes a mailbox attribute; unsetting a missing key is
	// not an error.
	UnsetAttribute(ctx context.Context, user, mailbox, key string) error
	// ListAttributes returns every attribute of the mailbox whose key starts
	// with prefix.
	ListAttributes(ctx context.Context, user, mailbox, prefix string) (map[string]string, error)

	Close() error
}

// ServerPrefix is the infix Dovecot inserts into server METADATA keys
// (MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER).
const ServerPrefix = "vendor/vendor.dovecot/pvt/server/"

// ErrBadKey reports a METADATA key that starts with neither /private/ nor
// /shared/.
var ErrBadKey = errors.New("Invalid key prefix, must be /private/ or /shared/") //nolint:staticcheck // Dovecot's text

// ServerKey rewrites a user-facing server METADATA key to the INBOX
// attribute key Dovecot stores it under:
// "/private/x" -> "/private/vendor/vendor.dovecot/pvt/server/x".
func ServerKey(key string) (string, error) {
	for _, p := range []string{"/private/", "/shared/"} {
		if rest, ok := strings.CutPrefix(key, p); ok {
			return p + ServerPrefix + rest, nil
		}
	}
	return "", ErrBadKey
}

// UserKey undoes ServerKey: the first occurrence of ServerPrefix is cut out.
func UserKey(key string) string {
	if i := strings.Index(key, ServerPrefix); i >= 0 {
		return key[:i] + key[i+len(ServerPrefix):]
	}
	return key
}
