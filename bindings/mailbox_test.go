package bindings

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/txn"
)

// inboxStatus is alice's INBOX in the Lua tests: every field set, and
// distinct, so that a field filled from the wrong STATUS_* bit shows.
var inboxStatus = store.Status{
	Messages: 3, Recent: 2, Unseen: 1, UIDValidity: 1795977679, UIDNext: 4,
	FirstUnseenSeq: 2, FirstRecentUID: 3, HighestModseq: 14, HighestPvtModseq: 5,
	PermanentFlags: 31, Flags: 31, Keywords: []string{"$Label1", "$Foo", "$A", "$B"},
	PermanentKeywords: true, AllowNewKeywords: true, NonpermanentModseqs: true,
	NoModseqTracking: true, HaveGUIDs: true, HaveSaveGUIDs: true, HaveOnlyGUID128: false,
}

// mailboxTestSetup gives the Lua tests the globals user (alice) and bob,
// and a store where alice has INBOX (inboxStatus), "Projects/Archiv-Ä"
// (a status without keywords) and "Empty" (known, all zero).
func mailboxTestSetup(t *testing.T, te *testEnv) {
	t.Helper()
	u := aliceUser
	PushUser(te.L, te.Env, &u)
	te.L.SetGlobal("user")
	bob := txn.User{Username: "bob@example.com", Service: "imap"}
	PushUser(te.L, te.Env, &bob)
	te.L.SetGlobal("bob")
	err := te.Store.Apply(context.Background(), aliceUser.Username, &store.Snapshot{
		Status: map[string]store.Status{
			"INBOX":             inboxStatus,
			"Projects/Archiv-Ä": {Messages: 7, UIDValidity: 42, UIDNext: 8, HaveGUIDs: true},
		},
		Ensure: []string{"Empty"},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMailboxLua(t *testing.T) {
	runLuaTests(t, "testdata/mailbox_test.lua", mailboxTestSetup)
}

func TestMailboxInternalKeys(t *testing.T) {
	// mailbox_internal_attributes_get: under a prefix at "/" boundaries
	// only, relative to the prefix without its trailing "/", server
	// attributes on INBOX only (judged on the relative key).
	const server = "vendor/vendor.dovecot/pvt/server/"
	tests := []struct {
		typ, rel string
		inbox    bool
		want     []string
	}{
		{"/private/", "", false, []string{"comment", "specialuse"}},
		{"/private/", "comment", false, []string{""}},
		{"/private/", "comment/", false, []string{""}},
		{"/private/", "c", false, nil},
		{"/private/", "specialuse/x", false, nil},
		{"/private/", server, true, nil},
		{"/shared/", "", true, []string{"comment", server + "admin", server + "comment"}},
		{"/shared/", "", false, []string{"comment"}},
		{"/shared/", "vendor/", true, []string{"vendor.dovecot/pvt/server/admin", "vendor.dovecot/pvt/server/comment"}},
		{"/shared/", "vendor/", false, []string{"vendor.dovecot/pvt/server/admin", "vendor.dovecot/pvt/server/comment"}},
		{"/shared/", server, true, []string{"admin", "comment"}},
		{"/shared/", server, false, []string{"admin", "comment"}},
		{"/shared/", server + "admin", true, []string{""}},
	}
	for _, tt := range tests {
		got := internalKeys(tt.typ, tt.rel, tt.inbox)
		if !slices.Equal(got, tt.want) {
			t.Errorf("internalKeys(%q, %q, %v) = %q; want %q", tt.typ, tt.rel, tt.inbox, got, tt.want)
		}
	}
}

func TestMailboxStatusItems(t *testing.T) {
	// Which fields each STATUS_* bit fills in, from a record with every
	// field set (index_storage_get_open_status).
	always := store.Status{
		Messages: inboxStatus.Messages, UIDValidity: inboxStatus.UIDValidity,
		UIDNext: inboxStatus.UIDNext, FirstRecentUID: inboxStatus.FirstRecentUID,
		HaveGUIDs: true, HaveSaveGUIDs: true,
	}
	with := func(f func(*store.Status)) store.Status {
		s := always
		f(&s)
		return s
	}
	tests := []struct {
		name     string
		items    uint32
		flags    int64
		want     store.Status
		keywords bool
	}{
		{"none", 0, 0, store.Status{HaveGUIDs: true, HaveSaveGUIDs: true}, false},
		{"messages", StatusMessages, 0, always, false},
		{"first recent uid", StatusFirstRecentUID, 0, always, false},
		{"recent", StatusRecent, 0, with(func(s *store.Status) { s.Recent = 2 }), false},
		{"unseen", StatusUnseen, 0, with(func(s *store.Status) { s.Unseen = 1 }), false},
		{"first unseen", StatusFirstUnseenSeq, 0, with(func(s *store.Status) { s.FirstUnseenSeq = 2 }), false},
		{"modseq", StatusHighestModseq, 0, with(func(s *store.Status) {
			s.HighestModseq, s.NonpermanentModseqs, s.NoModseqTracking = 14, true, true
		}), false},
		{"pvt modseq", StatusHighestPvtModseq, 0, with(func(s *store.Status) { s.HighestPvtModseq = 5 }), false},
		{"keywords", StatusKeywords, 0, with(func(s *store.Status) { s.Keywords = inboxStatus.Keywords }), true},
		{"permanent flags", StatusPermanentFlags, 0, with(func(s *store.Status) {
			s.PermanentFlags, s.Flags, s.PermanentKeywords, s.AllowNewKeywords = 31, 31, true, true
		}), false},
		{"permanent flags, read-only box", StatusPermanentFlags, MailboxFlagReadonly, with(func(s *store.Status) { s.Flags = 31 }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestEnv(t)
			mailboxTestSetup(t, te)
			mu := &mailUser{env: te.Env, u: aliceUser}
			mb := &mailboxItem{user: mu, vname: "INBOX", flags: tt.flags}
			got, keywords, err := mb.status(tt.items)
			if err != nil {
				t.Fatal(err)
			}
			if keywords != tt.keywords {
				t.Errorf("keywords requested: got %v; want %v", keywords, tt.keywords)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("status(%#x):\ngot  %+v\nwant %+v", tt.items, got, tt.want)
			}
		})
	}
}
