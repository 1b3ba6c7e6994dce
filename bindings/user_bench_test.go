package bindings

import (
	"context"
	"testing"

	lua "github.com/Shopify/go-lua"

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
	env := &Env{Store: store.NewMemory(), Ctx: context.Background()}
	Open(l, env)
	u := &txn.User{Username: "user0042@example.com", Service: "lmtp", SessionID: "s42", UID: 995, GID: 995,
		Home: "/home/vmail/user0042", HasHome: true, SessionCreateTime: 1795978712}
	b.ReportAllocs()
	for b.Loop() {
		PushUser(l, env, u)
		l.Pop(1)
	}
}
