package bindings

import (
	"testing"

	lua "github.com/Shopify/go-lua"
)

// dovecotTestSetup registers the Go helpers the Lua tests of the dovecot
// global and the events use:
//   - test_where() returns "<file>:<line>: " of its caller, the prefix
//     Lua's own argument checkers put in front of their messages;
//   - test_set_debug(bool) sets the host's Debug (mail_debug).
func dovecotTestSetup(t *testing.T, te *testEnv) {
	t.Helper()
	te.L.Register("test_where", func(l *lua.State) int {
		lua.Where(l, 1)
		return 1
	})
	te.L.Register("test_set_debug", func(l *lua.State) int {
		te.Host.DebugLines = l.ToBoolean(1)
		return 0
	})
}

func TestDovecotLua(t *testing.T) {
	runLuaTests(t, "testdata/dovecot_test.lua", dovecotTestSetup)
}

// TestDovecotOpeners checks that openDovecot, openEvent and openStorage
// leave the stack as they found it.
func TestDovecotOpeners(t *testing.T) {
	l := lua.NewState()
	lua.OpenLibraries(l)
	env := &Env{LogPrefix: "lua: "}
	for _, m := range []struct {
		name string
		open func(*lua.State, *Env)
	}{{"dovecot", openDovecot}, {"event", openEvent}, {"storage", openStorage}} {
		m.open(l, env)
		if got := l.Top(); got != 0 {
			t.Errorf("after open %s: stack has %d values; want 0", m.name, got)
		}
	}
}

// TestStorageConstants checks dovecot.storage against spec §6.4: 26 numbers
// (upstream's list, with MAILBOX_FLAG_AUTO_CREATE and _AUTO_SUBSCRIBE) and
// 3 strings.
func TestStorageConstants(t *testing.T) {
	wantNumbers := map[string]float64{
		"STATUS_MESSAGES":                    1,
		"STATUS_RECENT":                      2,
		"STATUS_UIDNEXT":                     4,
		"STATUS_UIDVALIDITY":                 8,
		"STATUS_UNSEEN":                      16,
		"STATUS_FIRST_UNSEEN_SEQ":            32,
		"STATUS_KEYWORDS":                    64,
		"STATUS_HIGHESTMODSEQ":               128,
		"STATUS_PERMANENT_FLAGS":             512,
		"STATUS_FIRST_RECENT_UID":            1024,
		"STATUS_HIGHESTPVTMODSEQ":            8192,
		"MAILBOX_FLAG_READONLY":              1,
		"MAILBOX_FLAG_SAVEONLY":              2,
		"MAILBOX_FLAG_DROP_RECENT":           4,
		"MAILBOX_FLAG_NO_INDEX_FILES":        16,
		"MAILBOX_FLAG_KEEP_LOCKED":           32,
		"MAILBOX_FLAG_IGNORE_ACLS":           256,
		"MAILBOX_FLAG_AUTO_CREATE":           4096,
		"MAILBOX_FLAG_AUTO_SUBSCRIBE":        8192,
		"MAILBOX_SYNC_FLAG_FULL_READ":        1,
		"MAILBOX_SYNC_FLAG_FULL_WRITE":       2,
		"MAILBOX_SYNC_FLAG_FAST":             4,
		"MAILBOX_SYNC_FLAG_NO_EXPUNGES":      8,
		"MAILBOX_SYNC_FLAG_FIX_INCONSISTENT": 64,
		"MAILBOX_SYNC_FLAG_EXPUNGE":          128,
		"MAILBOX_SYNC_FLAG_FORCE_RESYNC":     256,
	}
	wantStrings := map[string]string{
		"MAILBOX_ATTRIBUTE_PREFIX_DOVECOT":            "vendor/vendor.dovecot/",
		"MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT":        "vendor/vendor.dovecot/pvt/",
		"MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER": "vendor/vendor.dovecot/pvt/server/",
	}

	t.Run("go list", func(t *testing.T) {
		if got, want := len(storageConstants), len(wantNumbers)+len(wantStrings); got != want {
			t.Errorf("len(storageConstants) = %d; want %d", got, want)
		}
		seen := map[string]bool{}
		for _, c := range storageConstants {
			if seen[c.name] {
				t.Errorf("%s listed twice", c.name)
			}
			seen[c.name] = true
			if s, ok := wantStrings[c.name]; ok {
				if c.str != s {
					t.Errorf("%s = %q; want %q", c.name, c.str, s)
				}
				continue
			}
			n, ok := wantNumbers[c.name]
			if !ok {
				t.Errorf("unexpected constant %s", c.name)
				continue
			}
			if c.str != "" || c.number != n {
				t.Errorf("%s = %v %q; want %v", c.name, c.number, c.str, n)
			}
		}
	})

	t.Run("go consts", func(t *testing.T) {
		for _, c := range []struct {
			name string
			got  int
			want float64
		}{
			{"StatusMessages", StatusMessages, wantNumbers["STATUS_MESSAGES"]},
			{"StatusRecent", StatusRecent, wantNumbers["STATUS_RECENT"]},
			{"StatusUIDNext", StatusUIDNext, wantNumbers["STATUS_UIDNEXT"]},
			{"StatusUIDValidity", StatusUIDValidity, wantNumbers["STATUS_UIDVALIDITY"]},
			{"StatusUnseen", StatusUnseen, wantNumbers["STATUS_UNSEEN"]},
			{"StatusFirstUnseenSeq", StatusFirstUnseenSeq, wantNumbers["STATUS_FIRST_UNSEEN_SEQ"]},
			{"StatusKeywords", StatusKeywords, wantNumbers["STATUS_KEYWORDS"]},
			{"StatusHighestModseq", StatusHighestModseq, wantNumbers["STATUS_HIGHESTMODSEQ"]},
			{"StatusPermanentFlags", StatusPermanentFlags, wantNumbers["STATUS_PERMANENT_FLAGS"]},
			{"StatusFirstRecentUID", StatusFirstRecentUID, wantNumbers["STATUS_FIRST_RECENT_UID"]},
			{"StatusHighestPvtModseq", StatusHighestPvtModseq, wantNumbers["STATUS_HIGHESTPVTMODSEQ"]},
			{"MailboxFlagAutoCreate", MailboxFlagAutoCreate, wantNumbers["MAILBOX_FLAG_AUTO_CREATE"]},
			{"MailboxFlagAutoSubscribe", MailboxFlagAutoSubscribe, wantNumbers["MAILBOX_FLAG_AUTO_SUBSCRIBE"]},
		} {
			if float64(c.got) != c.want {
				t.Errorf("%s = %d; want %v", c.name, c.got, c.want)
			}
		}
	})

	t.Run("lua table", func(t *testing.T) {
		te := newTestEnv(t)
		l := te.L
		l.Global("dovecot")
		l.Field(-1, "storage")
		if !l.IsTable(-1) {
			t.Fatalf("dovecot.storage is %s; want table", lua.TypeNameOf(l, -1))
		}
		count := 0
		for l.PushNil(); l.Next(-2); l.Pop(1) {
			count++
			key, _ := l.ToString(-2)
			if s, ok := wantStrings[key]; ok {
				if got, _ := l.ToString(-1); l.TypeOf(-1) != lua.TypeString || got != s {
					t.Errorf("dovecot.storage.%s = %v; want %q", key, l.ToValue(-1), s)
				}
				continue
			}
			n, ok := wantNumbers[key]
			if !ok {
				t.Errorf("unexpected key dovecot.storage.%s", key)
				continue
			}
			if got, _ := l.ToNumber(-1); l.TypeOf(-1) != lua.TypeNumber || got != n {
				t.Errorf("dovecot.storage.%s = %v; want %v", key, l.ToValue(-1), n)
			}
		}
		if want := len(wantNumbers) + len(wantStrings); count != want {
			t.Errorf("dovecot.storage has %d keys; want %d", count, want)
		}
	})
}
