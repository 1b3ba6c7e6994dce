package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pushlua/pushlua/internal/txn"
)

// BenchmarkTransactions measures the handler alone (no network, a Submit
// that takes everything) on a JSON Lines batch of 100 transactions.
//
//	go test -run '^$' -bench Transactions ./internal/ingest/
func BenchmarkTransactions(b *testing.B) {
	var batch bytes.Buffer
	for i := range 100 {
		fmt.Fprintf(&batch, `{"user": "user%d@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d, "uid_validity": 7, "subject": "hi"}]}`+"\n", i%50, i+1)
	}
	body := batch.Bytes()
	h := New(Options{Submit: func(context.Context, *txn.Txn) error { return nil }})
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/transactions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-ndjson")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
