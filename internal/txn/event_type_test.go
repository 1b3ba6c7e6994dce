package txn

import "testing"

func TestEventType(t *testing.T) {
	for i, ev := range Events {
		if got := ev.Type.String(); got != ev.Name {
			t.Errorf("Events[%d].Type.String() = %q; want %q", i, got, ev.Name)
		}
		info, ok := LookupEvent(ev.Name)
		if !ok || info.Type != ev.Type || int(info.Type) != info.Index {
			t.Errorf("LookupEvent(%q) = %v (Type %d, Index %d), %v; want Type and Index %d", ev.Name, info.Name, info.Type, info.Index, ok, i)
		}
	}
	if got, want := MessageNew.String(), "MessageNew"; got != want {
		t.Errorf("MessageNew.String() = %q; want %q", got, want)
	}
	if got, want := EventType(200).String(), "EventType(200)"; got != want {
		t.Errorf("EventType(200).String() = %q; want %q", got, want)
	}
	if got, want := MailboxEvent.String(), "mailbox"; got != want {
		t.Errorf("MailboxEvent.String() = %q; want %q", got, want)
	}
}
