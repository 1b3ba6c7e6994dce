package txn

import (
	"slices"

	"github.com/pushlua/pushlua/internal/store"
)

// Txn is one push-notification transaction: what Dovecot's framework hands
// its drivers between begin_txn and end_txn.
type Txn struct {
	// ID names the transaction in logs; assigned when the input has none.
	ID string
	// User is the mail user the transaction belongs to.
	User User
	// Success is false for a rolled-back transaction: drivers then see
	// begin_txn and end_txn(ctx, false) only.
	Success bool
	// Events in the order the drivers receive them.
	Events []Event
	// Status is a snapshot of mailbox status by vname.
	Status map[string]store.Status
	// Metadata is a snapshot of the user's server METADATA
	// ("/private/..." or "/shared/..." keys); nil values unset.
	Metadata map[string]*string

	// Input and Line say where the transaction was read ("" and 0 for
	// transactions built in code).
	Input string
	Line  int
	// Raw is the line the transaction was decoded from, kept by the
	// readers whose transactions may end in the dead-letter area (ingest,
	// the spool and the write-ahead log); nil otherwise.
	Raw []byte
}

// User is the mail user of a transaction: the fields of Dovecot's Lua
// mail_user object.
type User struct {
	Username          string
	Service           string
	SessionID         string
	Home              string
	HasHome           bool
	UID, GID          uint32
	SessionCreateTime int64
	Admin             bool
	Anonymous         bool
	Autocreated       bool
	Nonexistent       bool
	FuzzySearch       bool
	Dsyncing          bool
	SessionRestored   bool
}

// Event is one event of a transaction, holding exactly what Dovecot's Lua
// driver puts into the event table (spec §4.5).
type Event struct {
	Info    EventInfo
	Mailbox string
	// Message events.
	UID, UIDValidity uint32
	// MessageNew and MessageAppend. Subject, Snippet and MessageID are
	// nil when unknown (absent from the Lua table); the other strings are
	// "" when unknown.
	Date                         int64
	TZ                           int32
	From, To                     string
	FromAddress, FromDisplayName string
	ToAddress, ToDisplayName     string
	Subject, Snippet, MessageID  *string
	Flags                        uint8 // also FlagsSet and FlagsClear
	Keywords                     []string
	FlagsOld                     uint8    // FlagsClear
	KeywordsOld                  []string // FlagsClear
	MailboxOld                   string   // MailboxRename
	// Extra holds the input fields the spec does not list for this event,
	// as decoded from JSON (string, float64, bool, []any, map[string]any);
	// they are passed to Lua unchanged.
	Extra map[string]any
}

// Name is the event's CamelCase name.
func (e *Event) Name() string { return e.Info.Name }

// IsMessage reports whether e is a message event.
func (e *Event) IsMessage() bool { return e.Info.Kind == MessageEvent }

// IsNewOrAppend reports whether e carries message header data.
func (e *Event) IsNewOrAppend() bool {
	return e.Info.Type == MessageNew || e.Info.Type == MessageAppend
}

// Snapshot returns what the transaction tells the store before its handlers
// run: the status and metadata snapshots, and the mailboxes its events show
// to exist, to be renamed or to be deleted.
func (t *Txn) Snapshot() *store.Snapshot {
	s := &store.Snapshot{Status: t.Status, Metadata: t.Metadata}
	if !t.Success {
		return s
	}
	for i := range t.Events {
		e := &t.Events[i]
		switch e.Info.Type {
		case MailboxDelete:
			s.Deletes = append(s.Deletes, e.Mailbox)
		case MailboxRename:
			if s.Renames == nil {
				s.Renames = map[string]string{}
			}
			s.Renames[e.MailboxOld] = e.Mailbox
		case MailboxSubscribe, MailboxUnsubscribe:
			// The mailbox need not exist.
		default:
			s.Ensure = append(s.Ensure, e.Mailbox)
		}
	}
	if len(s.Deletes) > 0 {
		kept := s.Ensure[:0]
		for _, m := range s.Ensure {
			if !slices.Contains(s.Deletes, m) {
				kept = append(kept, m)
			}
		}
		s.Ensure = kept
	}
	return s
}
