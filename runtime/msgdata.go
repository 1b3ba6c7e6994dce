package runtime

import (
	"strings"

	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/txn"
)

// Message data: what Dovecot's framework fills in for MessageNew and
// MessageAppend depends on what the transaction's drivers registered
// (spec §2.2, §3.4): a Lua driver with a handler for the event asks for
// everything (flags 0xFF), the ox driver for From, Subject and Snippet of
// MessageNew when its begin_txn accepted, dlog for nothing. Data is shared
// by all drivers of the transaction, so Dovecot's dlog prints the Date,
// From, Snippet, Subject and To lines of a message whenever another driver
// asked. The bundled dlog gets the union as event.pushlua_data.

// The message data flags of spec §2.2.
const (
	msgDataFrom    = 0x01
	msgDataTo      = 0x02
	msgDataSubject = 0x04
	msgDataDate    = 0x08
	msgDataSnippet = 0x10
	msgDataAll     = 0xFF
)

// oxGateKey is the server METADATA key the ox driver is gated on.
const oxGateKey = "/private/vendor/vendor.dovecot/http-notify"

// bundledName is the lower-case name of a bundled driver, "" for a
// user's script.
func (in *luaInstance) bundledName() string {
	if !in.d.spec.Bundled {
		return ""
	}
	return strings.ToLower(in.d.name)
}

// setMessageData computes r.msgData, the flags the accepted drivers
// registered for MessageNew ([0]) and MessageAppend ([1]), when a bundled
// dlog takes part (no one else reads it).
func setMessageData(r *txnRun, accepted []driverInstance, st store.Store) {
	dlog := false
	for _, d := range accepted {
		if in, ok := d.(*luaInstance); ok && in.bundledName() == bundledDlog {
			dlog = true
		}
	}
	if !dlog {
		return
	}
	for _, d := range accepted {
		in, ok := d.(*luaInstance)
		if !ok {
			continue
		}
		switch in.bundledName() {
		case bundledDlog:
		case bundledOx:
			if oxRegisters(r, st) {
				r.msgData[0] |= msgDataFrom | msgDataSubject | msgDataSnippet
			}
		default:
			for i, ev := range []txn.EventType{txn.MessageNew, txn.MessageAppend} {
				if in.registered&(1<<ev) != 0 {
					r.msgData[i] = msgDataAll
				}
			}
		}
	}
}

// oxRegisters says whether Dovecot's ox driver would accept the
// transaction in begin_txn and register MessageNew (spec §8.3): its
// mailbox (the first event's, as the bundled ox learns it) is INBOX, and
// the user's METADATA gate (the transaction's own value, else the store's)
// names a user=.
func oxRegisters(r *txnRun, st store.Store) bool {
	t := r.t
	if len(t.Events) == 0 || t.Events[0].Mailbox != "INBOX" {
		return false
	}
	var value string
	if v, ok := t.Metadata[oxGateKey]; ok {
		if v == nil {
			return false
		}
		value = *v
	} else {
		key, err := store.ServerKey(oxGateKey)
		if err != nil {
			return false
		}
		v, found, err := st.GetAttribute(r.ctx, t.User.Username, "INBOX", key)
		if err != nil || !found {
			return false
		}
		value = v
	}
	for _, el := range strings.Split(value, "\t") {
		if strings.HasPrefix(el, "user=") {
			return true
		}
	}
	return false
}

// messageDataOf is event.pushlua_data for e: what the other drivers asked
// for, for the bundled dlog.
func (r *txnRun) messageDataOf(e *txn.Event) uint8 {
	switch e.Info.Type {
	case txn.MessageNew:
		return r.msgData[0]
	case txn.MessageAppend:
		return r.msgData[1]
	}
	return 0
}
