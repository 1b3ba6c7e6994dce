package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pushlua/pushlua/internal/metrics"
	"github.com/pushlua/pushlua/internal/txn"
)

// queue records submitted transactions; it fails from the failAt'th
// submission on (1-based; 0 never).
type queue struct {
	mu     sync.Mutex
	txns   []*txn.Txn
	failAt int
	calls  int
}

var errShutdown = errors.New("pushlua is shutting down")

func (q *queue) submit(_ context.Context, t *txn.Txn) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls++
	if q.failAt > 0 && q.calls >= q.failAt {
		return errShutdown
	}
	q.txns = append(q.txns, t)
	return nil
}

func (q *queue) ids() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, t := range q.txns {
		out = append(out, t.ID)
	}
	return out
}

const (
	good1    = `{"id":"t1","user":"alice@example.com","events":[{"name":"MessageNew","mailbox":"INBOX","uid":1}]}`
	good2    = `{"id":"t2","user":{"username":"bob@example.com","service":"lmtp"}}`
	noID     = `{"user":"carol@example.com"}`
	missUID  = `{"id":"t3","user":"alice@example.com","events":[{"name":"MessageNew","mailbox":"INBOX"}]}`
	badJSON  = `{"id":"t4","user":nul}`
	badField = `{"id":"t5","user":"alice@example.com","bogus":1}`
)

const pretty = `{
  "id": "p1",
  "user": {
    "username": "alice@example.com",
    "service": "lmtp"
  },
  "events": [
    {"name": "MessageNew", "mailbox": "INBOX", "uid": 7}
  ]
}
`

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, srv *httptest.Server, method, path, token string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, data}
}

func newServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(opts)) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv
}

func TestTransactions(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		failAt    int
		status    int
		accepted  []AcceptedLine
		rejected  []RejectedLine // Error compared by prefix
		submitted []string
	}{
		{
			name:      "one line",
			body:      good1,
			status:    http.StatusAccepted,
			accepted:  []AcceptedLine{{Line: 1, ID: "t1"}},
			submitted: []string{"t1"},
		},
		{
			name:      "one line with newline",
			body:      good1 + "\n",
			status:    http.StatusAccepted,
			accepted:  []AcceptedLine{{Line: 1, ID: "t1"}},
			submitted: []string{"t1"},
		},
		{
			name:      "pretty-printed object",
			body:      pretty,
			status:    http.StatusAccepted,
			accepted:  []AcceptedLine{{Line: 1, ID: "p1"}},
			submitted: []string{"p1"},
		},
		{
			name:      "pretty-printed object after blank lines",
			body:      "\n  \r\n" + pretty,
			status:    http.StatusAccepted,
			accepted:  []AcceptedLine{{Line: 3, ID: "p1"}},
			submitted: []string{"p1"},
		},
		{
			name:      "batch with blank lines and CRLF",
			body:      good1 + "\r\n\r\n" + good2 + "\r\n",
			status:    http.StatusAccepted,
			accepted:  []AcceptedLine{{Line: 1, ID: "t1"}, {Line: 3, ID: "t2"}},
			submitted: []string{"t1", "t2"},
		},
		{
			name:   "mixed batch",
			body:   strings.Join([]string{good1, badJSON, missUID, good2, badField}, "\n"),
			status: http.StatusBadRequest,
			accepted: []AcceptedLine{
				{Line: 1, ID: "t1"},
				{Line: 4, ID: "t2"},
			},
			rejected: []RejectedLine{
				{Line: 2, Field: "", Error: "invalid JSON"},
				{Line: 3, Field: "events[0].uid", Error: "missing (required for MessageNew)"},
				{Line: 5, Field: "bogus", Error: "unknown field"},
			},
			submitted: []string{"t1", "t2"},
		},
		{
			name:     "all bad",
			body:     missUID,
			status:   http.StatusBadRequest,
			accepted: []AcceptedLine{},
			rejected: []RejectedLine{{Line: 1, Field: "events[0].uid", Error: "missing"}},
		},
		{
			name:   "not an object",
			body:   `[1, 2]`,
			status: http.StatusBadRequest,
			rejected: []RejectedLine{
				{Line: 1, Error: "invalid JSON"},
			},
		},
		{
			name:     "submit fails",
			body:     strings.Join([]string{good1, good2, missUID, `{"id":"t6","user":"x"}`}, "\n"),
			failAt:   2,
			status:   http.StatusServiceUnavailable,
			accepted: []AcceptedLine{{Line: 1, ID: "t1"}},
			rejected: []RejectedLine{
				{Line: 2, Error: "not queued: pushlua is shutting down"},
				{Line: 3, Field: "events[0].uid", Error: "missing"},
				{Line: 4, Error: "not queued: pushlua is shutting down"},
			},
			submitted: []string{"t1"},
		},
		{
			name:     "submit fails at once",
			body:     good1,
			failAt:   1,
			status:   http.StatusServiceUnavailable,
			accepted: []AcceptedLine{},
			rejected: []RejectedLine{{Line: 1, Error: "not queued: pushlua is shutting down"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &queue{failAt: tt.failAt}
			srv := newServer(t, Options{Submit: q.submit})
			res := do(t, srv, http.MethodPost, "/v1/transactions", "", strings.NewReader(tt.body))
			if res.status != tt.status {
				t.Fatalf("status %d; want %d (body %s)", res.status, tt.status, res.body)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q; want application/json", ct)
			}
			var got Result
			if err := json.Unmarshal(res.body, &got); err != nil {
				t.Fatalf("body %s: %v", res.body, err)
			}
			if got.Accepted == nil || got.Rejected == nil {
				t.Errorf("body %s: lists must be [] rather than null", res.body)
			}
			if tt.accepted == nil {
				tt.accepted = []AcceptedLine{}
			}
			if !slices.Equal(got.Accepted, tt.accepted) {
				t.Errorf("accepted %+v; want %+v", got.Accepted, tt.accepted)
			}
			if len(got.Rejected) != len(tt.rejected) {
				t.Fatalf("rejected %+v; want %+v", got.Rejected, tt.rejected)
			}
			for i, want := range tt.rejected {
				r := got.Rejected[i]
				if r.Line != want.Line || r.Field != want.Field || !strings.HasPrefix(r.Error, want.Error) {
					t.Errorf("rejected[%d] = %+v; want %+v", i, r, want)
				}
			}
			if got := q.ids(); !slices.Equal(got, tt.submitted) {
				t.Errorf("submitted %q; want %q", got, tt.submitted)
			}
		})
	}
}

func TestAssignsIDsAndLines(t *testing.T) {
	q := &queue{}
	srv := newServer(t, Options{Submit: q.submit, IDs: txn.NewIDs()})
	res := do(t, srv, http.MethodPost, "/v1/transactions", "", strings.NewReader(noID+"\n"+noID+"\n"))
	if res.status != http.StatusAccepted {
		t.Fatalf("status %d; want 202 (%s)", res.status, res.body)
	}
	var got Result
	if err := json.Unmarshal(res.body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Accepted) != 2 || got.Accepted[0].ID == "" || got.Accepted[0].ID == got.Accepted[1].ID {
		t.Fatalf("accepted %+v; want two distinct assigned ids", got.Accepted)
	}
	for i, tx := range q.txns {
		if tx.ID != got.Accepted[i].ID || tx.Line != i+1 || tx.Input != "http" {
			t.Errorf("txn %d: id %q line %d input %q; want %q, %d, http", i, tx.ID, tx.Line, tx.Input, got.Accepted[i].ID, i+1)
		}
	}
}

func TestRefused(t *testing.T) {
	const token = "s3cret"
	tests := []struct {
		name, method, path, auth string
		body                     io.Reader
		status                   int
		header                   map[string]string
	}{
		{name: "empty body", method: "POST", path: "/v1/transactions", auth: "Bearer " + token,
			body: strings.NewReader(""), status: 400},
		{name: "blank body", method: "POST", path: "/v1/transactions", auth: "Bearer " + token,
			body: strings.NewReader(" \n\r\n\t"), status: 400},
		{name: "no token", method: "POST", path: "/v1/transactions", body: strings.NewReader(good1),
			status: 401, header: map[string]string{"WWW-Authenticate": `Bearer realm="pushlua"`}},
		{name: "wrong token", method: "POST", path: "/v1/transactions", auth: "Bearer nope", body: strings.NewReader(good1),
			status: 401, header: map[string]string{"WWW-Authenticate": `Bearer realm="pushlua", error="invalid_token"`}},
		{name: "token prefix", method: "POST", path: "/v1/transactions", auth: "Bearer s3cre", body: strings.NewReader(good1),
			status: 401},
		{name: "basic auth", method: "POST", path: "/v1/transactions", auth: "Basic czNjcmV0Og==", body: strings.NewReader(good1),
			status: 401},
		{name: "no token, wrong method", method: "GET", path: "/v1/transactions", status: 401},
		{name: "no token, unknown path", method: "GET", path: "/v1/other", status: 401},
		{name: "wrong method", method: "GET", path: "/v1/transactions", auth: "Bearer " + token,
			status: 405, header: map[string]string{"Allow": "POST"}},
		{name: "PUT", method: "PUT", path: "/v1/transactions", auth: "Bearer " + token, body: strings.NewReader(good1),
			status: 405},
		{name: "unknown path", method: "POST", path: "/v1/other", auth: "Bearer " + token, status: 404},
		{name: "lower-case scheme", method: "POST", path: "/v1/transactions", auth: "bearer " + token,
			body: strings.NewReader(good1), status: 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &queue{}
			srv := newServer(t, Options{Submit: q.submit, AuthToken: token})
			res := do(t, srv, tt.method, tt.path, tt.auth, tt.body)
			if res.status != tt.status {
				t.Fatalf("status %d; want %d (%s)", res.status, tt.status, res.body)
			}
			for k, v := range tt.header {
				if got := res.header.Get(k); got != v {
					t.Errorf("%s: %q; want %q", k, got, v)
				}
			}
			if tt.status != 202 {
				var e ErrorBody
				if err := json.Unmarshal(res.body, &e); err != nil || e.Error == "" {
					t.Errorf("body %s; want {\"error\": ...} (%v)", res.body, err)
				}
				if len(q.txns) > 0 {
					t.Errorf("submitted %d transactions; want none", len(q.txns))
				}
			}
		})
	}
}

// unsized hides the length of a body so that it is sent chunked.
type unsized struct{ io.Reader }

func TestTooLarge(t *testing.T) {
	const limit = 200
	big := strings.Repeat(good2+"\n", 10) // > limit
	tests := []struct {
		name   string
		body   io.Reader
		status int
	}{
		{"content-length", strings.NewReader(big), 413},
		{"chunked", unsized{strings.NewReader(big)}, 413},
		{"at the limit", strings.NewReader(good2 + strings.Repeat(" ", limit-len(good2))), 202},
		{"large default limit", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.body == nil {
				// Default: 10 MiB; 11 MiB is refused.
				q := &queue{}
				srv := newServer(t, Options{Submit: q.submit})
				res := do(t, srv, "POST", "/v1/transactions", "", bytes.NewReader(bytes.Repeat([]byte(" "), 11<<20)))
				if res.status != 413 {
					t.Errorf("status %d; want 413", res.status)
				}
				return
			}
			q := &queue{}
			srv := newServer(t, Options{Submit: q.submit, MaxBodyBytes: limit})
			res := do(t, srv, "POST", "/v1/transactions", "", tt.body)
			if res.status != tt.status {
				t.Fatalf("status %d; want %d (%s)", res.status, tt.status, res.body)
			}
			if tt.status == 413 {
				var e ErrorBody
				if err := json.Unmarshal(res.body, &e); err != nil || !strings.Contains(e.Error, "larger than 200 bytes") {
					t.Errorf("body %s; want a JSON error naming the limit", res.body)
				}
				if len(q.txns) > 0 {
					t.Errorf("submitted %d transactions; want none", len(q.txns))
				}
			}
		})
	}
}

func TestHealthAndReady(t *testing.T) {
	var (
		mu     sync.Mutex
		ready  bool
		reason = "no scripts loaded"
	)
	readyFn := func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return ready, reason
	}
	q := &queue{}
	srv := newServer(t, Options{Submit: q.submit, Ready: readyFn, AuthToken: "tok"})
	tests := []struct {
		name, method, path string
		ready              bool
		status             int
		body               string
	}{
		{"healthz", "GET", "/healthz", false, 200, "ok"},
		{"healthz HEAD", "HEAD", "/healthz", false, 200, ""},
		{"healthz POST", "POST", "/healthz", false, 405, "method not allowed"},
		{"readyz not ready", "GET", "/readyz", false, 503, "no scripts loaded"},
		{"readyz ready", "GET", "/readyz", true, 200, "ready"},
		{"no metrics", "GET", "/metrics", true, 404, "404 page not found"},
		{"unknown", "GET", "/", true, 404, "404 page not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			ready = tt.ready
			mu.Unlock()
			res := do(t, srv, tt.method, tt.path, "", nil)
			if res.status != tt.status {
				t.Errorf("status %d; want %d", res.status, tt.status)
			}
			if got := strings.TrimSpace(string(res.body)); got != tt.body {
				t.Errorf("body %q; want %q", got, tt.body)
			}
		})
	}
}

func TestReadyDefault(t *testing.T) {
	q := &queue{}
	srv := newServer(t, Options{Submit: q.submit})
	if res := do(t, srv, "GET", "/readyz", "", nil); res.status != 200 {
		t.Errorf("status %d; want 200 without Options.Ready", res.status)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	q := &queue{}
	srv := newServer(t, Options{Submit: q.submit, Metrics: m, AuthToken: "tok"})

	body := strings.Join([]string{good1, badJSON, missUID, good2}, "\n")
	if res := do(t, srv, "POST", "/v1/transactions", "Bearer tok", strings.NewReader(body)); res.status != 400 {
		t.Fatalf("status %d; want 400", res.status)
	}
	if res := do(t, srv, "POST", "/v1/transactions", "Bearer tok", strings.NewReader(noID)); res.status != 202 {
		t.Fatalf("status %d; want 202", res.status)
	}
	// Refused requests count no line.
	do(t, srv, "POST", "/v1/transactions", "", strings.NewReader(good1))
	do(t, srv, "POST", "/v1/transactions", "Bearer tok", strings.NewReader(""))

	want := `
# HELP pushlua_transactions_accepted_total Transactions accepted at ingest into the queue.
# TYPE pushlua_transactions_accepted_total counter
pushlua_transactions_accepted_total 3
# HELP pushlua_transactions_rejected_total Transaction lines rejected at ingest: invalid, or not taken by the queue.
# TYPE pushlua_transactions_rejected_total counter
pushlua_transactions_rejected_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"pushlua_transactions_accepted_total", "pushlua_transactions_rejected_total"); err != nil {
		t.Error(err)
	}

	// /metrics is served without the token.
	res := do(t, srv, "GET", "/metrics", "", nil)
	if res.status != 200 {
		t.Fatalf("GET /metrics: status %d; want 200", res.status)
	}
	if !strings.Contains(string(res.body), "pushlua_transactions_accepted_total 3\n") {
		t.Errorf("GET /metrics: missing accepted count in\n%s", res.body)
	}
}

func TestLogsRejectedLines(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	q := &queue{}
	srv := newServer(t, Options{Submit: q.submit, Logger: log})
	do(t, srv, "POST", "/v1/transactions", "", strings.NewReader(good1+"\n"+missUID+"\n"+badJSON))

	type record struct {
		Level string
		Msg   string
		Line  int
		Field string
		Error string
	}
	var got []record
	dec := json.NewDecoder(&buf)
	for {
		var r record
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []record{
		{Level: "WARN", Msg: "rejected transaction", Line: 2, Field: "events[0].uid", Error: "missing (required for MessageNew)"},
		{Level: "WARN", Msg: "rejected transaction", Line: 3, Field: ""},
	}
	if len(got) != len(want) {
		t.Fatalf("logged %+v; want %+v", got, want)
	}
	for i := range want {
		g := got[i]
		if g.Level != want[i].Level || !strings.HasPrefix(g.Msg, want[i].Msg+": line ") || g.Line != want[i].Line || g.Field != want[i].Field ||
			(want[i].Error != "" && g.Error != want[i].Error) {
			t.Errorf("record %d = %+v; want %+v", i, g, want[i])
		}
	}
}

// With Durable, lines are accepted only once it returned; when it fails,
// every line Submit took is answered 503 and undone.
func TestDurable(t *testing.T) {
	var durable [][]string
	var undone []string
	fail := false
	q := &queue{}
	srv := newServer(t, Options{Submit: q.submit,
		Durable: func(_ context.Context, ts []*txn.Txn) error {
			var ids []string
			for _, x := range ts {
				if string(x.Raw) == "" {
					t.Errorf("%s: no raw line", x.ID)
				}
				ids = append(ids, x.ID)
			}
			durable = append(durable, ids)
			if fail {
				return errors.New("disk full")
			}
			return nil
		},
		Undo: func(x *txn.Txn) { undone = append(undone, x.ID) }})
	r := do(t, srv, "POST", "/v1/transactions", "", strings.NewReader(good1+"\n"+missUID+"\n"+good2))
	if r.status != http.StatusBadRequest || len(durable) != 1 || strings.Join(durable[0], ",") != "t1,t2" {
		t.Fatalf("status %d, durable %v; want 400 (one bad line), [t1 t2] in one call", r.status, durable)
	}
	fail = true
	r = do(t, srv, "POST", "/v1/transactions", "", strings.NewReader(good1+"\n"+missUID+"\n"+good2))
	var res Result
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || len(res.Accepted) != 0 ||
		len(res.Rejected) != 3 || res.Rejected[0].Line != 1 || res.Rejected[2].Line != 3 ||
		!strings.Contains(res.Rejected[2].Error, "disk full") || strings.Join(undone, ",") != "t1,t2" {
		t.Fatalf("failing Durable: status %d, undone %v, answer %s", r.status, undone, r.body)
	}
}

func TestNewWithoutSubmitPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("New without Submit did not panic")
		}
	}()
	New(Options{})
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		lines []int
	}{
		{"empty", "", nil},
		{"blank", "\n \n", nil},
		{"one", "{}", []int{1}},
		{"pretty", "\n{\n\"a\": 1\n}\n", []int{2}},
		{"two objects on lines", "{}\n{}", []int{1, 2}},
		{"broken pretty", "{\n\"a\": \n}", []int{1, 2, 3}},
		{"array", "[{}]", []int{1}},
		{"trailing garbage", "{} x", []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			for _, l := range split([]byte(tt.body)) {
				got = append(got, l.n)
			}
			if !slices.Equal(got, tt.lines) {
				t.Errorf("lines %v; want %v", got, tt.lines)
			}
		})
	}
}

func FuzzIngest(f *testing.F) {
	for _, s := range []string{
		"", "\n", good1, pretty, noID,
		strings.Join([]string{good1, badJSON, missUID, good2, badField}, "\n"),
		`{"user":"a","events":[{"name":"FlagsClear","mailbox":"INBOX","uid":1,"flags":["\\Seen"],"flags_old":["$Junk"]}]}`,
		`{"user":"a","status":{"INBOX":{"uidvalidity":5}},"metadata":{"/private/x":null}}`,
		"{\n\"user\": \"a\"\n}\n{\"user\": \"b\"}",
		"[1,2]", "null", "{}", "{\"user\":{}}",
	} {
		f.Add([]byte(s))
	}
	h := New(Options{
		Submit:       func(context.Context, *txn.Txn) error { return nil },
		MaxBodyBytes: 1 << 20,
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/transactions", bytes.NewReader(body)))
		nonEmpty := len(bytes.TrimSpace(body)) > 0
		switch {
		case !nonEmpty && rec.Code == 400:
			return
		case len(body) > 1<<20 && rec.Code == 413:
			return
		case rec.Code != 202 && rec.Code != 400:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		var res Result
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("answer %q: %v", rec.Body.Bytes(), err)
		}
		n := len(res.Accepted) + len(res.Rejected)
		if n == 0 {
			t.Fatalf("no line reported for %q", body)
		}
		if (rec.Code == 202) != (len(res.Rejected) == 0) {
			t.Fatalf("status %d with %d rejected", rec.Code, len(res.Rejected))
		}
		lines := bytes.Count(body, []byte("\n")) + 1
		for _, a := range res.Accepted {
			if a.Line < 1 || a.Line > lines || a.ID == "" {
				t.Fatalf("accepted %+v out of range (%d lines)", a, lines)
			}
		}
		for _, r := range res.Rejected {
			if r.Line < 1 || r.Line > lines || r.Error == "" {
				t.Fatalf("rejected %+v out of range (%d lines)", r, lines)
			}
		}
	})
}

func TestManyRejectedLinesAreCut(t *testing.T) {
	var submitted int
	h := New(Options{Submit: func(context.Context, *txn.Txn) error { submitted++; return nil }})
	body := strings.Repeat("{bad\n", MaxListedRejects+500) + `{"user": "a"}` + "\n"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/transactions", strings.NewReader(body)))
	var res Result
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusBadRequest || len(res.Rejected) != MaxListedRejects || res.RejectedCount != MaxListedRejects+500 ||
		len(res.Accepted) != 1 || submitted != 1 {
		t.Errorf("got %d, %d listed, count %d, %d accepted", rec.Code, len(res.Rejected), res.RejectedCount, len(res.Accepted))
	}
}
