package bindings

import (
	"context"
	"fmt"
	"maps"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/txn"
)

// aliceUser is the transaction user the Lua tests see as the global `user`.
var aliceUser = txn.User{
	Username:          "alice@example.com",
	Service:           "lmtp",
	SessionID:         "/0iFOdh1DGuAZQAAg+zDdQ",
	Home:              "/var/mail/example.com/alice",
	HasHome:           true,
	UID:               999,
	GID:               995,
	SessionCreateTime: 1795978712,
}

// userTestSetup gives the Lua tests the globals user (alice), user2 (alice
// again, another object), bob, dvtest (the spec's var_expand example) and
// nohome, and seeds alice's server METADATA as doveadm would have set it.
func userTestSetup(t *testing.T, te *testEnv) {
	t.Helper()
	push := func(name string, u txn.User) {
		PushUser(te.L, te.Env, &u)
		te.L.SetGlobal(name)
	}
	push("user", aliceUser)
	other := aliceUser
	other.SessionID = "other-session"
	push("user2", other)
	bob := aliceUser
	bob.Username, bob.Home = "bob@example.com", "/var/mail/example.com/bob"
	push("bob", bob)
	push("dvtest", txn.User{Username: "dvtest", Service: "imap", Home: "/home/dvtest", HasHome: true})
	push("nohome", txn.User{Username: "nohome@example.org", Service: "imap"})

	v := "user=11@3"
	err := te.Store.Apply(context.Background(), aliceUser.Username, &store.Snapshot{
		Metadata: map[string]*string{"/private/vendor/vendor.dovecot/http-notify": &v},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUserLua(t *testing.T) {
	runLuaTests(t, "testdata/user_test.lua", userTestSetup)
}

// luaFields reads the raw fields of the table at the top of the stack as Go
// values: string, float64, bool, or the Lua type name for anything else.
func luaFields(l *lua.State) map[string]any {
	out := map[string]any{}
	for l.PushNil(); l.Next(-2); l.Pop(1) {
		k, _ := l.ToString(-2)
		switch l.TypeOf(-1) {
		case lua.TypeString:
			out[k], _ = l.ToString(-1)
		case lua.TypeNumber:
			out[k], _ = l.ToNumber(-1)
		case lua.TypeBoolean:
			out[k] = l.ToBoolean(-1)
		default:
			out[k] = lua.TypeNameOf(l, -1)
		}
	}
	return out
}

func TestPushUser(t *testing.T) {
	tests := []struct {
		name  string
		user  txn.User
		debug bool
		want  map[string]any
	}{
		{
			name:  "full",
			debug: true,
			user: txn.User{
				Username: "alice@example.com", Service: "imap", SessionID: "sess",
				Home: "/home/alice", HasHome: true, UID: 1000, GID: 100,
				SessionCreateTime: 1795978712, Admin: true, Anonymous: true,
				Autocreated: true, Nonexistent: true, FuzzySearch: true,
				Dsyncing: true, SessionRestored: true,
			},
			want: map[string]any{
				"item": "userdata", "username": "alice@example.com", "home": "/home/alice",
				"uid": 1000.0, "gid": 100.0, "service": "imap", "session_id": "sess",
				"session_create_time": 1795978712.0,
				"nonexistent":         true, "anonymous": true, "autocreated": true, "mail_debug": true,
				"fuzzy_search": true, "dsyncing": true, "admin": true, "session_restored": true,
			},
		},
		{
			name: "no home, all false",
			user: txn.User{Username: "bob", Service: "lmtp", Home: "/ignored"},
			want: map[string]any{
				"item": "userdata", "username": "bob",
				"uid": 0.0, "gid": 0.0, "service": "lmtp", "session_id": "",
				"session_create_time": 0.0,
				"nonexistent":         false, "anonymous": false, "autocreated": false, "mail_debug": false,
				"fuzzy_search": false, "dsyncing": false, "admin": false, "session_restored": false,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestEnv(t)
			te.Host.DebugLines = tt.debug
			PushUser(te.L, te.Env, &tt.user)
			if got := te.L.Top(); got != 1 {
				t.Fatalf("stack: got %d values; want 1", got)
			}
			got := luaFields(te.L)
			if !maps.Equal(got, tt.want) {
				t.Errorf("fields:\ngot  %v\nwant %v", got, tt.want)
			}
			if !te.L.MetaTable(-1) {
				t.Fatal("no metatable")
			}
			te.L.Field(-1, "__name")
			if name, _ := te.L.ToString(-1); name != "struct mail_user" {
				t.Errorf("__name: got %q; want %q", name, "struct mail_user")
			}
		})
	}
}

func TestPushUserSnapshot(t *testing.T) {
	// The object is a snapshot: changing the txn.User afterwards changes
	// nothing, and its methods use the user it was pushed with.
	te := newTestEnv(t)
	u := aliceUser
	PushUser(te.L, te.Env, &u)
	te.L.SetGlobal("user")
	u.Username = "mallory"
	if err := lua.DoString(te.L, `user.username = "x"; return tostring(user), user:var_expand("%u")`); err != nil {
		t.Fatal(err)
	}
	for i := -1; i >= -2; i-- {
		if got, _ := te.L.ToString(i); got != aliceUser.Username {
			t.Errorf("result %d: got %q; want %q", i, got, aliceUser.Username)
		}
	}
}

func TestVarExpand(t *testing.T) {
	table := (&mailUser{env: &Env{}, u: txn.User{
		Username: "Alice.Smith@Example.com", Service: "imap", SessionID: "sid",
		Home: "/home/alice", HasHome: true, UID: 1000, GID: 100,
	}}).varTable()
	tests := []struct {
		format, want string
	}{
		{"", ""},
		{"plain", "plain"},
		{"%u|%n|%d|%h|%s|%i", "Alice.Smith@Example.com|Alice.Smith|Example.com|/home/alice|imap|1000"},
		{"%{user}|%{username}|%{domain}|%{home}|%{service}|%{session}|%{uid}|%{gid}", "Alice.Smith@Example.com|Alice.Smith|Example.com|/home/alice|imap|sid|1000|100"},
		{"%{auth_user}|%{auth_username}|%{auth_domain}", "Alice.Smith@Example.com|Alice.Smith|Example.com"},
		{"%l|%r|%{lip}|%{rip}|%{local_ip}|%{remote_ip}", "|||||"},
		{"100%%", "100%"},
		{"%%u", "%u"},
		{"trailing %", "trailing "},
		{"trailing %L", "trailing "},
		{"%Lu %Uu %L{user}", "alice.smith@example.com ALICE.SMITH@EXAMPLE.COM alice.smith@example.com"},
		{"%LUu", "ALICE.SMITH@EXAMPLE.COM"},
		{"%Ru", "moc.elpmaxE@htimS.ecilA"},
		{"%Dd", "Example,dc=com"},
		// [<offset>.]<width>: a sign before the offset only counts with a '.'.
		{"%3u|%.3u|%-3u|%3.2u|%-3.2u|%3.-2u|%3.0u", "Ali|Ali|Ali|ce|co|ce.Smith@Example.c|ce.Smith@Example.com"},
		{"%05i|%2i|%05n", "01000|10|Alice.Smith"},
		{"%-30u", "Alice.Smith@Example.com"},
		{"%Mu", "5d6ccf4b00ab19d9d44b3c8ebf1d06ad"},
		{"%Xi %X{gid} %Xn", "3e8 64 0"},
		{"%x", "UNSUPPORTED_VARIABLE_x"},
		{"%Lx|%5x", "UNSUPPORTED_VARIABLE_x|UNSUPPORTED_VARIABLE_x"},
		{"%{nope}", "UNSUPPORTED_VARIABLE_nope"},
		{"%{user:x}", "UNSUPPORTED_VARIABLE_user"},
		{"%{nope", "UNSUPPORTED_VARIABLE_{nope"},
		{"%{a{b}c}|", "UNSUPPORTED_VARIABLE_a{b}c|"},
		{"%{env:PUSHLUA_TEST_VAR}", "from env"},
	}
	t.Setenv("PUSHLUA_TEST_VAR", "from env")
	for _, tt := range tests {
		got, err := varExpand(tt.format, table)
		if err != nil {
			t.Errorf("varExpand(%q): %v", tt.format, err)
			continue
		}
		if got != tt.want {
			t.Errorf("varExpand(%q) = %q; want %q", tt.format, got, tt.want)
		}
	}
}

func TestVarExpandHash(t *testing.T) {
	table := []varEntry{{'u', "user", "alice"}}
	h := strHash("alice")
	tests := []struct {
		format string
		want   string
	}{
		{"%Hu", hex32(h)},
		{"%4Hu", hex32(h % 4)},
		{"%8.4Hu", fmt.Sprintf("%08x", h%4)}, // offset = zero-padded length
	}
	for _, tt := range tests {
		got, err := varExpand(tt.format, table)
		if err != nil || got != tt.want {
			t.Errorf("varExpand(%q) = %q, %v; want %q", tt.format, got, err, tt.want)
		}
	}
	// ((0x61<<4)+0x62)<<4 + 0x63
	if got := strHash("abc"); got != 0x6783 {
		t.Errorf("strHash(abc) = %#x; want 0x6783", got)
	}
}

func hex32(v uint32) string { return fmt.Sprintf("%x", v) }

func TestVarExpandUnsupported(t *testing.T) {
	table := []varEntry{{'u', "user", "alice"}}
	tests := []struct{ format, want string }{
		{"%{md5:%u}", "%{md5} is not supported by pushlua"},
		{"%{SHA256:%u}", "%{SHA256} is not supported by pushlua"},
		{"%{if;%u;eq;alice;yes;no}", "%{if} is not supported by pushlua"},
		{"%{userdb:quota}", "%{userdb} is not supported by pushlua"},
	}
	for _, tt := range tests {
		got, err := varExpand(tt.format, table)
		if err == nil || err.Error() != tt.want {
			t.Errorf("varExpand(%q) = %q, %v; want error %q", tt.format, got, err, tt.want)
		}
	}
}

func TestNormalizeInbox(t *testing.T) {
	tests := []struct{ in, want string }{
		{"INBOX", "INBOX"},
		{"inbox", "INBOX"},
		{"InBoX", "INBOX"},
		{"inbox/Sub", "INBOX/Sub"},
		{"inboxes", "inboxes"},
		{"Projects/inbox", "Projects/inbox"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := normalizeInbox(tt.in); got != tt.want {
			t.Errorf("normalizeInbox(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
