package runtime

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/internal/txn"
)

// pushEventRef is the event table of spec §4.5 built field by field with
// SetField, as pushEvent was before it interned its keys: the reference
// pushEvent must agree with.
func pushEventRef(l *lua.State, e *txn.Event) {
	l.CreateTable(0, 0)
	for k, v := range e.Extra {
		luax.Push(l, v)
		l.SetField(-2, k)
	}
	set := func(k string, push func()) { push(); l.SetField(-2, k) }
	str := func(k, v string) { set(k, func() { l.PushString(v) }) }
	opt := func(k string, v *string) {
		if v != nil {
			str(k, *v)
		}
	}
	num := func(k string, v float64) { set(k, func() { l.PushNumber(v) }) }
	strs := func(k string, v []string) { set(k, func() { luax.PushStrings(l, v) }) }
	str("name", e.Info.Name)
	switch e.Info.Name {
	case "FlagsClear":
		strs("flags", txn.FlagList(e.Flags))
		strs("flags_old", txn.FlagList(e.FlagsOld))
		strs("keywords", e.Keywords)
		strs("keywords_old", e.KeywordsOld)
	case "FlagsSet":
		strs("flags", txn.FlagList(e.Flags))
		strs("keywords", e.Keywords)
	case "MailboxRename":
		str("mailbox_old", e.MailboxOld)
	case "MessageNew", "MessageAppend":
		num("date", float64(e.Date))
		num("tz", float64(e.TZ))
		str("from", e.From)
		str("to", e.To)
		opt("snippet", e.Snippet)
		strs("flags", txn.FlagList(e.Flags))
		strs("keywords", e.Keywords)
		opt("message_id", e.MessageID)
		str("from_address", e.FromAddress)
		str("from_display_name", e.FromDisplayName)
		str("to_address", e.ToAddress)
		str("to_display_name", e.ToDisplayName)
		opt("subject", e.Subject)
	}
	str("mailbox", e.Mailbox)
	if e.IsMessage() {
		num("uid", float64(e.UID))
		num("uid_validity", float64(e.UIDValidity))
	}
}

// dumpTable writes the table on top of the stack with sorted keys, nested
// tables in braces.
func dumpTable(l *lua.State) string {
	var keys []string
	vals := map[string]string{}
	l.PushNil()
	for l.Next(-2) {
		l.PushValue(-2) // a copy: ToString converts a number key in place
		k, _ := l.ToString(-1)
		l.Pop(1)
		var v string
		switch l.TypeOf(-1) {
		case lua.TypeTable:
			v = dumpTable(l)
		case lua.TypeString:
			s, _ := l.ToString(-1)
			v = fmt.Sprintf("%q", s)
		default:
			s, _ := l.ToString(-1)
			v = lua.TypeNameOf(l, -1) + ":" + s
		}
		keys = append(keys, k)
		vals[k] = v
		l.Pop(1)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString("{")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s,", k, vals[k])
	}
	b.WriteString("}")
	return b.String()
}

// TestPushEventTable: for every event, with every field set and with the
// optional ones missing, pushEvent builds the table pushEventRef does.
func TestPushEventTable(t *testing.T) {
	s := func(v string) *string { return &v }
	full := txn.Event{Mailbox: "INBOX", UID: 7, UIDValidity: 1795978712, Date: 1732611600, TZ: -120,
		From: "A <a@b>", To: "c@d", FromAddress: "a@b", FromDisplayName: "A", ToAddress: "c@d", ToDisplayName: "C",
		Subject: s("Hi"), Snippet: s("hello"), MessageID: s("<1@b>"), Flags: 0x09, Keywords: []string{"$Label1"},
		FlagsOld: 0x02, KeywordsOld: []string{"old"}, MailboxOld: "Old", Extra: map[string]any{"x_extra": "v", "x_n": 3.0}}
	bare := txn.Event{Mailbox: "Archiv/2024"}
	l := lua.NewState()
	for _, info := range txn.Events {
		for name, base := range map[string]txn.Event{"full": full, "bare": bare} {
			e := base
			e.Info = info
			pushEvent(l, &e)
			got := dumpTable(l)
			l.Pop(1)
			pushEventRef(l, &e)
			want := dumpTable(l)
			l.Pop(1)
			if got != want {
				t.Errorf("%s %s:\n got %s\nwant %s", info.Name, name, got, want)
			}
			if l.Top() != 0 {
				t.Fatalf("%s %s: %d values left on the stack", info.Name, name, l.Top())
			}
		}
	}
}
