package store

import (
	"reflect"
	"testing"
)

func recordSamples() []*userState {
	return []*userState{
		{},
		{touched: 1795978712, boxes: []boxState{{name: inbox, st: Status{Messages: 3, UIDNext: 4, UIDValidity: 1795978712, HaveGUIDs: true}}}},
		{
			touched: 1,
			boxes: []boxState{
				{name: inbox, st: Status{Keywords: []string{"$Junk", "work"}, HighestModseq: 1 << 40, PermanentFlags: 0x3f}},
				{name: "Sent", st: Status{}},
				{name: "Ärchiv/2024", st: Status{Unseen: 1 << 31}},
			},
			attrs: []attrState{
				{mailbox: inbox, key: "/private/vendor/vendor.dovecot/pvt/server/vendor/vendor.dovecot/http-notify", value: "user=1@3"},
				{mailbox: inbox, key: "/private/vendor/vendor.dovecot/pvt/server/x", value: "", pinned: true},
				{mailbox: inbox, key: "/shared/vendor/vendor.dovecot/pvt/server/y", value: "\x00\xff"},
				{mailbox: "Sent", key: "/shared/comment", value: "sent mail", pinned: true},
			},
		},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for i, u := range recordSamples() {
		rec := u.encode(nil)
		got, err := decodeRecord(rec)
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if !sameState(got, u) {
			t.Errorf("sample %d: decoded %+v; want %+v", i, got, u)
		}
		// Every prefix of a record is damaged, never a panic.
		for n := range len(rec) {
			if _, err := decodeRecord(rec[:n]); err == nil {
				t.Errorf("sample %d: the first %d of %d bytes decode", i, n, len(rec))
			}
		}
		if _, err := decodeRecord(append(rec, 0)); err == nil {
			t.Errorf("sample %d: a trailing byte decodes", i)
		}
	}
}

// sameState compares states, an empty list as none.
func sameState(a, b *userState) bool {
	norm := func(u *userState) userState {
		c := *u
		if len(c.boxes) == 0 {
			c.boxes = nil
		}
		if len(c.attrs) == 0 {
			c.attrs = nil
		}
		return c
	}
	x, y := norm(a), norm(b)
	if x.touched != y.touched || len(x.boxes) != len(y.boxes) || !reflect.DeepEqual(x.attrs, y.attrs) {
		return false
	}
	for i := range x.boxes {
		if x.boxes[i].name != y.boxes[i].name || !statusEqual(x.boxes[i].st, y.boxes[i].st) {
			return false
		}
	}
	return true
}

// FuzzRecord: decoding never panics, and what decodes encodes to a
// record that decodes to the same state.
//
//	go test -run '^$' -fuzz FuzzRecord -fuzztime 1m ./internal/store/
func FuzzRecord(f *testing.F) {
	for _, u := range recordSamples() {
		f.Add(u.encode(nil))
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		u, err := decodeRecord(rec)
		if err != nil {
			return
		}
		again, err := decodeRecord(u.encode(nil))
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !sameState(u, again) {
			t.Fatalf("re-encoded record decodes to %+v; want %+v", again, u)
		}
	})
}
