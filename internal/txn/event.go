package txn

import (
	"strconv"
	"strings"
)

// Kind says whether an event is about a message or a mailbox.
type Kind uint8

const (
	// MessageEvent events carry mailbox, uid and uid_validity.
	MessageEvent Kind = iota + 1
	// MailboxEvent events carry mailbox only.
	MailboxEvent
)

// String returns "message" or "mailbox".
func (k Kind) String() string {
	switch k {
	case MessageEvent:
		return "message"
	case MailboxEvent:
		return "mailbox"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// EventType is one of the twelve events; its value is the event's index
// in Events (Dovecot's registration order).
type EventType uint8

// The events, in Dovecot's registration order.
const (
	FlagsClear EventType = iota
	FlagsSet
	MailboxCreate
	MailboxDelete
	MailboxRename
	MailboxSubscribe
	MailboxUnsubscribe
	MessageAppend
	MessageExpunge
	MessageNew
	MessageRead
	MessageTrash
)

// String returns the event's CamelCase name, as in event.name.
func (t EventType) String() string {
	if int(t) < len(Events) {
		return Events[t].Name
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// EventInfo describes one of the twelve RFC 5423 events Dovecot 2.3
// implements.
type EventInfo struct {
	Type EventType
	Name string // CamelCase, as in event.name
	Kind Kind
	// Handler is the Lua global that handles the event:
	// dovecot_lua_notify_event_ + snake_case(Name).
	Handler string
	// Index is the event's position in Events: int(Type).
	Index int
}

// Events lists the events in Dovecot's registration order
// (push-notification-events-rfc5423.c), the order in which the Lua driver
// looks for handlers.
var Events = []EventInfo{
	{Type: FlagsClear, Name: "FlagsClear", Kind: MessageEvent},
	{Type: FlagsSet, Name: "FlagsSet", Kind: MessageEvent},
	{Type: MailboxCreate, Name: "MailboxCreate", Kind: MailboxEvent},
	{Type: MailboxDelete, Name: "MailboxDelete", Kind: MailboxEvent},
	{Type: MailboxRename, Name: "MailboxRename", Kind: MailboxEvent},
	{Type: MailboxSubscribe, Name: "MailboxSubscribe", Kind: MailboxEvent},
	{Type: MailboxUnsubscribe, Name: "MailboxUnsubscribe", Kind: MailboxEvent},
	{Type: MessageAppend, Name: "MessageAppend", Kind: MessageEvent},
	{Type: MessageExpunge, Name: "MessageExpunge", Kind: MessageEvent},
	{Type: MessageNew, Name: "MessageNew", Kind: MessageEvent},
	{Type: MessageRead, Name: "MessageRead", Kind: MessageEvent},
	{Type: MessageTrash, Name: "MessageTrash", Kind: MessageEvent},
}

// HandlerPrefix starts the name of every event handler function.
const HandlerPrefix = "dovecot_lua_notify_event"

var eventIndex = map[string]int{}

func init() {
	for i := range Events {
		if int(Events[i].Type) != i {
			panic("txn: Events[" + strconv.Itoa(i) + "] is " + Events[i].Name + ", out of EventType's order")
		}
		Events[i].Handler = HandlerName(Events[i].Name)
		Events[i].Index = i
		eventIndex[strings.ToLower(Events[i].Name)] = i
	}
}

// HandlerName converts an event name to its Lua handler's name the way
// push_notification_driver_lua_to_fn does: every A-Z becomes "_" plus its
// lower-case letter.
func HandlerName(event string) string {
	var b strings.Builder
	b.WriteString(HandlerPrefix)
	for i := 0; i < len(event); i++ {
		c := event[i]
		if c >= 'A' && c <= 'Z' {
			b.WriteByte('_')
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// LookupEvent finds an event by name, case-insensitively like
// push_notification_event_init.
func LookupEvent(name string) (EventInfo, bool) {
	// The names as written (CamelCase, what senders write) need no
	// lower-case copy.
	for i := range Events {
		if Events[i].Name == name {
			return Events[i], true
		}
	}
	i, ok := eventIndex[strings.ToLower(name)]
	if !ok {
		return EventInfo{}, false
	}
	return Events[i], true
}

// Mail flags (src/lib-mail/mail-types.h).
const (
	FlagAnswered uint8 = 1 << iota
	FlagFlagged
	FlagDeleted
	FlagSeen
	FlagDraft
	FlagRecent
)

// FlagNames lists the system flags in the order Dovecot's Lua driver puts
// them into a table (push_notification_driver_lua_push_flags).
var FlagNames = []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`, `\Recent`}

// FlagBit returns the bit of a system flag name (case-insensitive).
func FlagBit(name string) (uint8, bool) {
	for i, n := range FlagNames {
		if strings.EqualFold(n, name) {
			return 1 << i, true
		}
	}
	return 0, false
}

// FlagList returns the names of the bits set in flags, in Dovecot's order.
func FlagList(flags uint8) []string {
	out := make([]string, 0, 2)
	for i, n := range FlagNames {
		if flags&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}
