package bindings

import (
	"context"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/txn"
)

// BenchmarkPushUser measures the mail_user object that begin_txn gets for
// every transaction.
//
//	go test -run '^$' -bench PushUser -benchmem ./bindings/
func BenchmarkPushUser(b *testing.B) {
	l := lua.NewState()
	lua.OpenLibraries(l)
	env := &Env{Store: store.NewMemory(), Host: &luax.StaticHost{Ctx: context.Background()}}
	Open(l, env)
	u := &txn.User{Username: "user0042@example.com", Service: "lmtp", SessionID: "s42", UID: 995, GID: 995,
		Home: "/home/vmail/user0042", HasHome: true, SessionCreateTime: 1795978712}
	b.ReportAllocs()
	for b.Loop() {
		PushUser(l, env, u)
		l.Pop(1)
	}
}

// BenchmarkMailboxStatus measures what the bundled ox driver does for
// every new message: user:mailbox("INBOX"):status(STATUS_UNSEEN), the
// status from the store (in memory).
//
//	go test -run '^$' -bench MailboxStatus -benchmem ./bindings/
func BenchmarkMailboxStatus(b *testing.B) {
	l := lua.NewState()
	lua.OpenLibraries(l)
	st := store.NewMemory()
	ctx := context.Background()
	if err := st.Apply(ctx, "u", &store.Snapshot{Status: map[string]store.Status{"INBOX": {Messages: 3, Unseen: 2, UIDNext: 4}}}); err != nil {
		b.Fatal(err)
	}
	env := &Env{Store: st, Host: &luax.StaticHost{Ctx: ctx}}
	Open(l, env)
	if err := lua.DoString(l, `function status(user)
  local box = user:mailbox("INBOX", dovecot.storage.MAILBOX_FLAG_READONLY)
  box:sync()
  local s = box:status(dovecot.storage.STATUS_UNSEEN)
  box:free()
  return s.unseen
end`); err != nil {
		b.Fatal(err)
	}
	u := &txn.User{Username: "u"}
	b.ReportAllocs()
	for b.Loop() {
		l.Global("status")
		PushUser(l, env, u)
		l.Call(1, 1)
		if n, _ := l.ToNumber(-1); n != 2 {
			b.Fatalf("unseen = %v", n)
		}
		l.Pop(1)
	}
}
