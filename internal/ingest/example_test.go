package ingest_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/pushlua/pushlua/internal/ingest"
	"github.com/pushlua/pushlua/internal/txn"
)

func ExampleNew() {
	h := ingest.New(ingest.Options{
		Submit: func(ctx context.Context, t *txn.Txn) error {
			fmt.Println("queued", t.ID, "for", t.User.Username)
			return nil
		},
	})
	body := `{"id": "a1", "user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}
{"id": "a2", "user": "alice@example.com", "events": [{"name": "MessageNew", "mailbox": "INBOX"}]}
`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/transactions", strings.NewReader(body)))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// queued a1 for alice@example.com
	// 400 {"accepted":[{"line":1,"id":"a1"}],"rejected":[{"line":2,"field":"events[0].uid","error":"missing (required for MessageNew)"}]}
}
