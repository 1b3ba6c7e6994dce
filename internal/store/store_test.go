package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
)

func ptr(s string) *string { return &s }

func TestServerKey(t *testing.T) {
	tests := []struct {
		name, key, want string
		err             error
	}{
		{"private", "/private/x", "/private/vendor/vendor.dovecot/pvt/server/x", nil},
		{"shared", "/shared/a/b", "/shared/vendor/vendor.dovecot/pvt/server/a/b", nil},
		{"private root", "/private/", "/private/vendor/vendor.dovecot/pvt/server/", nil},
		{"empty", "", "", ErrBadKey},
		{"no slash", "private/x", "", ErrBadKey},
		{"other", "/public/x", "", ErrBadKey},
		{"no trailing slash", "/private", "", ErrBadKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ServerKey(tt.key)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ServerKey(%q) error = %v; want %v", tt.key, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("ServerKey(%q) = %q; want %q", tt.key, got, tt.want)
			}
			if err == nil {
				if back := UserKey(got); back != tt.key {
					t.Errorf("UserKey(ServerKey(%q)) = %q; want the key back", tt.key, back)
				}
			}
		})
	}
}

func TestUserKey(t *testing.T) {
	tests := []struct{ name, key, want string }{
		{"server", "/private/vendor/vendor.dovecot/pvt/server/x", "/private/x"},
		{"shared", "/shared/vendor/vendor.dovecot/pvt/server/x", "/shared/x"},
		{"plain", "/private/x", "/private/x"},
		{"first only", "/private/vendor/vendor.dovecot/pvt/server/vendor/vendor.dovecot/pvt/server/x",
			"/private/vendor/vendor.dovecot/pvt/server/x"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UserKey(tt.key); got != tt.want {
				t.Errorf("UserKey(%q) = %q; want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestSnapshotEmpty(t *testing.T) {
	tests := []struct {
		name string
		snap Snapshot
		want bool
	}{
		{"zero", Snapshot{}, true},
		{"empty maps", Snapshot{Status: map[string]Status{}, Metadata: map[string]*string{}}, true},
		{"status", Snapshot{Status: map[string]Status{"INBOX": {}}}, false},
		{"metadata", Snapshot{Metadata: map[string]*string{"/private/x": nil}}, false},
		{"ensure", Snapshot{Ensure: []string{"a"}}, false},
		{"renames", Snapshot{Renames: map[string]string{"a": "b"}}, false},
		{"deletes", Snapshot{Deletes: []string{"a"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.snap.Empty(); got != tt.want {
				t.Errorf("Empty() = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestEachRename(t *testing.T) {
	tests := []struct {
		name    string
		renames map[string]string
		exists  []string
		want    []string // "from>to" in call order
	}{
		{"chain into free name", map[string]string{"A": "B", "B": "C"}, []string{"A"}, []string{"A>B", "B>C"}},
		{"chain out of taken name", map[string]string{"A": "B", "B": "C"}, []string{"A", "B"}, []string{"B>C", "A>B"}},
		{"swap falls back to name order", map[string]string{"A": "B", "B": "A"}, []string{"A", "B"}, []string{"A>B", "B>A"}},
		{"unknown sources in name order", map[string]string{"y": "z", "w": "x"}, nil, []string{"w>x", "y>z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exists := map[string]bool{}
			for _, n := range tt.exists {
				exists[n] = true
			}
			var got []string
			err := eachRename(tt.renames, func(n string) bool { return exists[n] }, func(from, to string) error {
				got = append(got, from+">"+to)
				if exists[from] && !exists[to] {
					exists[to] = true
				}
				delete(exists, from)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("order = %q; want %q", got, tt.want)
			}
		})
	}
}

// state is everything a store holds for one user, as its methods show it.
type state struct {
	Mailboxes []string
	Status    map[string]Status
	Attrs     map[string]map[string]string
}

// dump reads user's state through the Store methods. Attributes are read
// for the known mailboxes plus extra.
func dump(t *testing.T, s Store, user string, extra ...string) state {
	t.Helper()
	ctx := context.Background()
	names, err := s.Mailboxes(ctx, user)
	if err != nil {
		t.Fatalf("Mailboxes: %v", err)
	}
	st := state{Mailboxes: names, Status: map[string]Status{}, Attrs: map[string]map[string]string{}}
	for _, n := range names {
		if st.Status[n], err = s.Status(ctx, user, n); err != nil {
			t.Fatalf("Status(%q): %v", n, err)
		}
	}
	for _, n := range append(slices.Clone(names), extra...) {
		a, err := s.ListAttributes(ctx, user, n, "")
		if err != nil {
			t.Fatalf("ListAttributes(%q): %v", n, err)
		}
		if len(a) > 0 {
			st.Attrs[n] = a
		}
	}
	return st
}

func mustApply(t *testing.T, s Store, user string, snap *Snapshot) {
	t.Helper()
	if err := s.Apply(context.Background(), user, snap); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func mustSet(t *testing.T, s Store, user, mailbox, key, value string) {
	t.Helper()
	if err := s.SetAttribute(context.Background(), user, mailbox, key, value); err != nil {
		t.Fatalf("SetAttribute(%q, %q): %v", mailbox, key, err)
	}
}

func checkState(t *testing.T, s Store, user string, want state, extra ...string) {
	t.Helper()
	if got := dump(t, s, user, extra...); !reflect.DeepEqual(got, want) {
		t.Errorf("state of %q:\n got %+v\nwant %+v", user, got, want)
	}
}

// testStore is the behavioural suite every Store implementation passes. open
// returns a fresh, empty store; the suite closes it.
func testStore(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	fresh := func(t *testing.T) Store {
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}

	t.Run("UnknownUser", func(t *testing.T) {
		s := fresh(t)
		for _, user := range []string{"nobody", ""} {
			checkState(t, s, user, state{
				Mailboxes: []string{"INBOX"},
				Status:    map[string]Status{"INBOX": {}},
				Attrs:     map[string]map[string]string{},
			}, "Other")
			if _, err := s.Status(ctx, user, "Other"); !errors.Is(err, ErrNoMailbox) {
				t.Errorf("Status(%q, Other) error = %v; want ErrNoMailbox", user, err)
			}
			if v, ok, err := s.GetAttribute(ctx, user, "INBOX", "/private/x"); v != "" || ok || err != nil {
				t.Errorf("GetAttribute(%q) = %q, %v, %v; want \"\", false, nil", user, v, ok, err)
			}
		}
	})

	t.Run("Status", func(t *testing.T) {
		s := fresh(t)
		inbox := Status{Messages: 3, Unseen: 1, UIDValidity: 7, UIDNext: 4, HighestModseq: 1 << 40,
			Keywords: []string{"$Junk", "work"}, PermanentKeywords: true, HaveGUIDs: true}
		mustApply(t, s, "u", &Snapshot{Status: map[string]Status{"INBOX": inbox, "Sent": {Messages: 1}, "Archive": {}}})
		mustApply(t, s, "v", &Snapshot{Status: map[string]Status{"Drafts": {Messages: 9}}})
		checkState(t, s, "u", state{
			Mailboxes: []string{"Archive", "INBOX", "Sent"},
			Status:    map[string]Status{"INBOX": inbox, "Sent": {Messages: 1}, "Archive": {}},
			Attrs:     map[string]map[string]string{},
		})
		if _, err := s.Status(ctx, "u", "Drafts"); !errors.Is(err, ErrNoMailbox) {
			t.Errorf("Status(u, Drafts) error = %v; want ErrNoMailbox (users are separate)", err)
		}
		// A later snapshot replaces the whole record.
		mustApply(t, s, "u", &Snapshot{Status: map[string]Status{"INBOX": {Messages: 5}}})
		if got, _ := s.Status(ctx, "u", "INBOX"); !reflect.DeepEqual(got, Status{Messages: 5}) {
			t.Errorf("Status(INBOX) = %+v; want {Messages: 5}", got)
		}
		names, _ := s.Mailboxes(ctx, "v")
		if want := []string{"Drafts", "INBOX"}; !slices.Equal(names, want) {
			t.Errorf("Mailboxes(v) = %q; want %q", names, want)
		}
	})

	t.Run("NoAliasing", func(t *testing.T) {
		s := fresh(t)
		kw := []string{"a", "b"}
		mustApply(t, s, "u", &Snapshot{Status: map[string]Status{"INBOX": {Keywords: kw}}})
		kw[0] = "changed"
		got, _ := s.Status(ctx, "u", "INBOX")
		got.Keywords[1] = "changed"
		again, _ := s.Status(ctx, "u", "INBOX")
		if want := []string{"a", "b"}; !slices.Equal(again.Keywords, want) {
			t.Errorf("Keywords = %q; want %q", again.Keywords, want)
		}
	})

	t.Run("Ensure", func(t *testing.T) {
		s := fresh(t)
		mustApply(t, s, "u", &Snapshot{Status: map[string]Status{"A": {Messages: 2}}})
		mustApply(t, s, "u", &Snapshot{Ensure: []string{"A", "B", "B", ""}})
		checkState(t, s, "u", state{
			Mailboxes: []string{"A", "B", "INBOX"},
			Status:    map[string]Status{"A": {Messages: 2}, "B": {}, "INBOX": {}},
			Attrs:     map[string]map[string]string{},
		})
	})

	t.Run("Delete", func(t *testing.T) {
		s := fresh(t)
		mustApply(t, s, "u", &Snapshot{Status: map[string]Status{"INBOX": {Messages: 1}, "A": {Messages: 2}, "A/sub": {}}})
		mustSet(t, s, "u", "A", "/private/comment", "a")
		mustSet(t, s, "u", "A/sub", "/private/comment", "sub")
		mustSet(t, s, "u", "INBOX", "/private/comment", "inbox")
		mustApply(t, s, "u", &Snapshot{Deletes: []string{"A", "INBOX", "Unknown"}})
		checkState(t, s, "u", state{
			Mailboxes: []string{"A/sub", "INBOX"},
			Status:    map[string]Status{"A/sub": {}, "INBOX": {}},
			Attrs: map[string]map[string]string{
				"A/sub": {"/private/comment": "sub"},
				"INBOX": {"/private/comment": "inbox"}, // server METADATA lives here
			},
		}, "A")
	})

	t.Run("Rename", func(t *testing.T) {
		before := &Snapshot{Status: map[string]Status{"INBOX": {Messages: 1}, "A": {Messages: 2}, "B": {Messages: 3}}}
		attrs := map[string]map[string]string{
			"INBOX": {"/private/i": "inbox"},
			"A":     {"/private/a": "a"},
			"B":     {"/private/b": "b"},
			"Free":  {"/private/stale": "stale"},
		}
		tests := []struct {
			name    string
			renames map[string]string
			want    state
		}{
			{"to free name", map[string]string{"A": "Free"}, state{
				Mailboxes: []string{"B", "Free", "INBOX"},
				Status:    map[string]Status{"INBOX": {Messages: 1}, "Free": {Messages: 2}, "B": {Messages: 3}},
				Attrs:     map[string]map[string]string{"INBOX": {"/private/i": "inbox"}, "Free": {"/private/a": "a"}, "B": {"/private/b": "b"}},
			}},
			{"to known name", map[string]string{"A": "B"}, state{
				Mailboxes: []string{"B", "INBOX"},
				Status:    map[string]Status{"INBOX": {Messages: 1}, "B": {Messages: 3}},
				Attrs:     map[string]map[string]string{"INBOX": {"/private/i": "inbox"}, "B": {"/private/b": "b"}, "Free": {"/private/stale": "stale"}},
			}},
			{"chain through free name", map[string]string{"A": "C", "C": "D"}, state{
				Mailboxes: []string{"B", "D", "INBOX"},
				Status:    map[string]Status{"INBOX": {Messages: 1}, "D": {Messages: 2}, "B": {Messages: 3}},
				Attrs:     map[string]map[string]string{"INBOX": {"/private/i": "inbox"}, "D": {"/private/a": "a"}, "B": {"/private/b": "b"}, "Free": {"/private/stale": "stale"}},
			}},
			{"chain out of known name", map[string]string{"A": "B", "B": "C"}, state{
				Mailboxes: []string{"B", "C", "INBOX"},
				Status:    map[string]Status{"INBOX": {Messages: 1}, "B": {Messages: 2}, "C": {Messages: 3}},
				Attrs:     map[string]map[string]string{"INBOX": {"/private/i": "inbox"}, "B": {"/private/a": "a"}, "C": {"/private/b": "b"}, "Free": {"/private/stale": "stale"}},
			}},
			{"INBOX keeps its attributes", map[string]string{"INBOX": "Old"}, state{
				Mailboxes: []string{"A", "B", "INBOX", "Old"},
				Status:    map[string]Status{"INBOX": {}, "Old": {Messages: 1}, "A": {Messages: 2}, "B": {Messages: 3}},
				Attrs:     map[string]map[string]string{"INBOX": {"/private/i": "inbox"}, "A": {"/private/a": "a"}, "B": {"/private/b": "b"}, "Free": {"/private/stale": "stale"}},
			}},
			{"same and empty names", map[string]string{"A": "A", "": "B", "B": ""}, state{
				Mailboxes: []string{"A", "B", "INBOX"},
				Status:    map[string]Status{"INBOX": {Messages: 1}, "A": {Messages: 2}, "B": {Messages: 3}},
				Attrs:     map[string]map[string]string{"INBOX": {"/private/i": "inbox"}, "A": {"/private/a": "a"}, "B": {"/private/b": "b"}, "Free": {"/private/stale": "stale"}},
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := fresh(t)
				mustApply(t, s, "u", before)
				for mb, kv := range attrs {
					for k, v := range kv {
						mustSet(t, s, "u", mb, k, v)
					}
				}
				mustApply(t, s, "u", &Snapshot{Renames: tt.renames})
				checkState(t, s, "u", tt.want, "A", "C", "Free")
			})
		}
	})

	t.Run("ApplyOrder", func(t *testing.T) {
		s := fresh(t)
		mustApply(t, s, "u", &Snapshot{Status: map[string]Status{"X": {Messages: 1}, "A": {Messages: 2}, "D": {Messages: 3}}})
		mustSet(t, s, "u", "X", "/private/x", "x")
		mustSet(t, s, "u", "A", "/private/a", "a")
		mustApply(t, s, "u", &Snapshot{
			Deletes: []string{"X", "D"},          // before Ensure and Status
			Renames: map[string]string{"A": "B"}, // before Ensure
			Ensure:  []string{"X", "B"},          // X comes back empty; B keeps A's record
			Status:  map[string]Status{"D": {Messages: 4}, "INBOX": {Messages: 5}},
			Metadata: map[string]*string{
				"/private/comment": ptr("hi"),
				"/shared/gone":     nil,
			},
		})
		checkState(t, s, "u", state{
			Mailboxes: []string{"B", "D", "INBOX", "X"},
			Status:    map[string]Status{"B": {Messages: 2}, "D": {Messages: 4}, "INBOX": {Messages: 5}, "X": {}},
			Attrs: map[string]map[string]string{
				"B":     {"/private/a": "a"},
				"INBOX": {"/private/vendor/vendor.dovecot/pvt/server/comment": "hi"},
			},
		}, "A")
		// A rename then a status for the new name: the status wins.
		mustApply(t, s, "u", &Snapshot{Renames: map[string]string{"B": "C"}, Status: map[string]Status{"C": {Messages: 6}}})
		if got, err := s.Status(ctx, "u", "C"); err != nil || got.Messages != 6 {
			t.Errorf("Status(C) = %+v, %v; want Messages 6", got, err)
		}
	})

	t.Run("Metadata", func(t *testing.T) {
		s := fresh(t)
		mustSet(t, s, "u", "INBOX", "/private/plain", "mailbox attribute")
		mustApply(t, s, "u", &Snapshot{Metadata: map[string]*string{
			"/private/a": ptr("1"), "/private/b": ptr("2"), "/shared/c": ptr(""),
		}})
		mustApply(t, s, "u", &Snapshot{Metadata: map[string]*string{"/private/b": nil, "/private/never": nil}})
		got, err := s.ListAttributes(ctx, "u", "INBOX", "/private/"+ServerPrefix)
		if err != nil {
			t.Fatal(err)
		}
		user := map[string]string{}
		for k, v := range got {
			user[UserKey(k)] = v
		}
		if want := map[string]string{"/private/a": "1"}; !reflect.DeepEqual(user, want) {
			t.Errorf("private server metadata = %v; want %v", user, want)
		}
		k, _ := ServerKey("/shared/c")
		if v, ok, err := s.GetAttribute(ctx, "u", "INBOX", k); v != "" || !ok || err != nil {
			t.Errorf("GetAttribute(%q) = %q, %v, %v; want \"\", true, nil", k, v, ok, err)
		}
		if v, ok, _ := s.GetAttribute(ctx, "u", "INBOX", "/private/plain"); v != "mailbox attribute" || !ok {
			t.Errorf("GetAttribute(/private/plain) = %q, %v; want it untouched", v, ok)
		}
	})

	t.Run("InvalidApplyChangesNothing", func(t *testing.T) {
		tests := []struct {
			name string
			snap *Snapshot
			err  error
		}{
			{"bad metadata key", &Snapshot{
				Deletes:  []string{"A"},
				Renames:  map[string]string{"B": "C"},
				Ensure:   []string{"E"},
				Status:   map[string]Status{"INBOX": {Messages: 99}},
				Metadata: map[string]*string{"/private/ok": ptr("x"), "/private/old": nil, "bad": ptr("y")},
			}, ErrBadKey},
			{"NUL in mailbox", &Snapshot{
				Deletes: []string{"A"},
				Ensure:  []string{"E\x00F"},
			}, nil},
			{"NUL in rename", &Snapshot{
				Status:  map[string]Status{"INBOX": {Messages: 99}},
				Renames: map[string]string{"B": "C\x00"},
			}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := fresh(t)
				mustApply(t, s, "u", &Snapshot{
					Status:   map[string]Status{"INBOX": {Messages: 1}, "A": {Messages: 2}, "B": {Messages: 3}},
					Metadata: map[string]*string{"/private/old": ptr("old")},
				})
				mustSet(t, s, "u", "A", "/private/a", "a")
				before := dump(t, s, "u")
				err := s.Apply(ctx, "u", tt.snap)
				if err == nil || (tt.err != nil && !errors.Is(err, tt.err)) {
					t.Fatalf("Apply error = %v; want %v", err, tt.err)
				}
				checkState(t, s, "u", before)
			})
		}
	})

	t.Run("EmptySnapshots", func(t *testing.T) {
		s := fresh(t)
		for _, snap := range []*Snapshot{nil, {}, {Ensure: []string{""}, Status: map[string]Status{"": {Messages: 1}}, Deletes: []string{""}}} {
			mustApply(t, s, "u", snap)
		}
		checkState(t, s, "u", state{Mailboxes: []string{"INBOX"}, Status: map[string]Status{"INBOX": {}}, Attrs: map[string]map[string]string{}})
		if err := s.Apply(ctx, "", &Snapshot{Ensure: []string{"A"}}); err == nil {
			t.Error("Apply for user \"\" succeeded; want an error")
		}
	})

	t.Run("Attributes", func(t *testing.T) {
		s := fresh(t)
		mustSet(t, s, "u", "A", "/private/a", "1")
		mustSet(t, s, "u", "A", "/private/a", "2") // overwrite
		mustSet(t, s, "u", "A", "/private/ab", "3")
		mustSet(t, s, "u", "A", "/shared/a", "4")
		mustSet(t, s, "u", "A", "/private/empty", "")
		mustSet(t, s, "u", "AB", "/private/a", "other mailbox")
		mustSet(t, s, "v", "A", "/private/a", "other user")
		if err := s.UnsetAttribute(ctx, "u", "A", "/private/missing"); err != nil {
			t.Errorf("UnsetAttribute(missing) = %v; want nil", err)
		}
		if err := s.UnsetAttribute(ctx, "nobody", "A", "/private/a"); err != nil {
			t.Errorf("UnsetAttribute(unknown user) = %v; want nil", err)
		}
		gets := []struct {
			mailbox, key, want string
			ok                 bool
		}{
			{"A", "/private/a", "2", true},
			{"A", "/private/empty", "", true},
			{"A", "/private/b", "", false},
			{"AB", "/private/a", "other mailbox", true},
			{"B", "/private/a", "", false},
		}
		for _, g := range gets {
			v, ok, err := s.GetAttribute(ctx, "u", g.mailbox, g.key)
			if v != g.want || ok != g.ok || err != nil {
				t.Errorf("GetAttribute(%q, %q) = %q, %v, %v; want %q, %v, nil", g.mailbox, g.key, v, ok, err, g.want, g.ok)
			}
		}
		lists := []struct {
			prefix string
			want   map[string]string
		}{
			{"", map[string]string{"/private/a": "2", "/private/ab": "3", "/shared/a": "4", "/private/empty": ""}},
			{"/private/a", map[string]string{"/private/a": "2", "/private/ab": "3"}},
			{"/shared/", map[string]string{"/shared/a": "4"}},
			{"/none/", map[string]string{}},
		}
		for _, l := range lists {
			got, err := s.ListAttributes(ctx, "u", "A", l.prefix)
			if err != nil || !reflect.DeepEqual(got, l.want) {
				t.Errorf("ListAttributes(A, %q) = %v, %v; want %v", l.prefix, got, err, l.want)
			}
		}
		if err := s.UnsetAttribute(ctx, "u", "A", "/private/a"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.GetAttribute(ctx, "u", "A", "/private/a"); ok {
			t.Error("attribute still set after UnsetAttribute")
		}
		// Attributes do not make a mailbox known.
		if names, _ := s.Mailboxes(ctx, "u"); !slices.Equal(names, []string{"INBOX"}) {
			t.Errorf("Mailboxes = %q; want [INBOX]", names)
		}
	})

	t.Run("AttributeArgumentErrors", func(t *testing.T) {
		s := fresh(t)
		calls := []struct {
			name string
			call func(user, mailbox string) error
		}{
			{"Get", func(u, m string) error { _, _, err := s.GetAttribute(ctx, u, m, "/private/a"); return err }},
			{"Set", func(u, m string) error { return s.SetAttribute(ctx, u, m, "/private/a", "v") }},
			{"Unset", func(u, m string) error { return s.UnsetAttribute(ctx, u, m, "/private/a") }},
			{"List", func(u, m string) error { _, err := s.ListAttributes(ctx, u, m, ""); return err }},
		}
		for _, c := range calls {
			t.Run(c.name, func(t *testing.T) {
				if err := c.call("u", ""); !errors.Is(err, errEmptyMailbox) {
					t.Errorf("mailbox \"\": error = %v; want %v", err, errEmptyMailbox)
				}
				if err := c.call("u", "A\x00B"); err == nil {
					t.Error("mailbox with NUL: error = nil; want one")
				}
			})
		}
		for _, c := range calls[1:3] {
			if err := c.call("", "INBOX"); !errors.Is(err, errEmptyUser) {
				t.Errorf("%s for user \"\": error = %v; want %v", c.name, err, errEmptyUser)
			}
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		s := fresh(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		errs := map[string]error{
			"Apply":          s.Apply(cctx, "u", &Snapshot{Ensure: []string{"A"}}),
			"SetAttribute":   s.SetAttribute(cctx, "u", "INBOX", "/private/a", "v"),
			"UnsetAttribute": s.UnsetAttribute(cctx, "u", "INBOX", "/private/a"),
		}
		_, errs["Status"] = s.Status(cctx, "u", "INBOX")
		_, errs["Mailboxes"] = s.Mailboxes(cctx, "u")
		_, _, errs["GetAttribute"] = s.GetAttribute(cctx, "u", "INBOX", "/private/a")
		_, errs["ListAttributes"] = s.ListAttributes(cctx, "u", "INBOX", "")
		for name, err := range errs {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s error = %v; want context.Canceled", name, err)
			}
		}
		checkState(t, s, "u", state{Mailboxes: []string{"INBOX"}, Status: map[string]Status{"INBOX": {}}, Attrs: map[string]map[string]string{}})
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := fresh(t)
		const workers, rounds = 8, 50
		var wg sync.WaitGroup
		errc := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				user := fmt.Sprintf("user%d", w%2) // two users, shared by workers
				mb := fmt.Sprintf("box%d", w)
				for i := range rounds {
					snap := &Snapshot{
						Status:   map[string]Status{mb: {Messages: uint32(i)}, "INBOX": {Messages: uint32(w)}},
						Metadata: map[string]*string{fmt.Sprintf("/private/w%d", w): ptr(fmt.Sprint(i))},
					}
					if err := s.Apply(ctx, user, snap); err != nil {
						errc <- err
						return
					}
					if err := s.SetAttribute(ctx, user, mb, "/private/i", fmt.Sprint(i)); err != nil {
						errc <- err
						return
					}
					if _, err := s.Status(ctx, user, mb); err != nil {
						errc <- err
						return
					}
					if _, err := s.Mailboxes(ctx, user); err != nil {
						errc <- err
						return
					}
					if _, err := s.ListAttributes(ctx, user, "INBOX", ""); err != nil {
						errc <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
		for w := range workers {
			user, mb := fmt.Sprintf("user%d", w%2), fmt.Sprintf("box%d", w)
			if st, err := s.Status(ctx, user, mb); err != nil || st.Messages != rounds-1 {
				t.Errorf("Status(%s, %s) = %+v, %v; want Messages %d", user, mb, st, err, rounds-1)
			}
			if v, _, _ := s.GetAttribute(ctx, user, mb, "/private/i"); v != fmt.Sprint(rounds-1) {
				t.Errorf("attribute of %s/%s = %q; want %d", user, mb, v, rounds-1)
			}
			k, _ := ServerKey(fmt.Sprintf("/private/w%d", w))
			if v, _, _ := s.GetAttribute(ctx, user, "INBOX", k); v != fmt.Sprint(rounds-1) {
				t.Errorf("server metadata %s of %s = %q; want %d", k, user, v, rounds-1)
			}
		}
	})
}
