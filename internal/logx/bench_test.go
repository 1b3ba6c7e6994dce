package logx

import (
	"io"
	"log/slog"
	"testing"
)

// BenchmarkText is the cost of one Dovecot-shaped line of a transaction
// (escaping and redaction included: the input needs neither).
func BenchmarkText(b *testing.B) {
	l := slog.New(NewText(io.Discard, nil)).With(KeyUser, "alice@example.com", KeyTxn, "741b52ad-1")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.Debug("Message data: Mailbox [INBOX], UID [1], UIDVALIDITY [1795978712]")
	}
}
