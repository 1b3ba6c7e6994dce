package ingest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestRecentIDs(t *testing.T) {
	type step struct {
		op   string // "add" or "remove"
		id   string
		want bool // Add's answer
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"oldest evicted", []step{
			{"add", "a", true},
			{"add", "a", false},
			{"add", "b", true},
			{"add", "c", true},
			{"add", "d", true}, // evicts a
			{"add", "a", true}, // evicts b
			{"add", "c", false},
			{"add", "b", true}, // evicts c
			{"add", "d", false},
			{"add", "c", true}, // evicts d
			{"add", "d", true},
		}},
		{"removed and added again", []step{
			{"add", "p", true}, // slot 0
			{"remove", "p", false},
			{"add", "p", true}, // slot 1
			{"add", "q", true}, // slot 2
			{"add", "r", true}, // slot 0: its old p is stale, p stays
			{"add", "p", false},
			{"add", "s", true}, // slot 1: evicts p
			{"add", "p", true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewRecentIDs(3)
			for _, st := range tc.steps {
				if st.op == "remove" {
					s.Remove(st.id)
					continue
				}
				if got := s.Add(st.id); got != st.want {
					t.Fatalf("Add(%q): got %v; want %v", st.id, got, st.want)
				}
				if s.Len() > 3 {
					t.Fatalf("Len after Add(%q): %d; want at most 3", st.id, s.Len())
				}
			}
		})
	}
}

func TestDuplicateIDsRunOnce(t *testing.T) {
	q := &queue{}
	srv := newServer(t, Options{Submit: q.submit, Recent: NewRecentIDs(100)})
	answer := func(body string) (int, Result) {
		t.Helper()
		r := do(t, srv, http.MethodPost, "/v1/transactions", "", strings.NewReader(body))
		var res Result
		if err := json.Unmarshal(r.body, &res); err != nil {
			t.Fatalf("%d %s: %v", r.status, r.body, err)
		}
		return r.status, res
	}
	if code, res := answer(good1); code != http.StatusAccepted || res.Accepted[0].Duplicate {
		t.Fatalf("first POST: %d %+v", code, res)
	}
	// The retry of a POST that timed out at the sender, and a batch
	// holding it again with a new one.
	code, res := answer(good1)
	if code != http.StatusAccepted || !slices.Equal(res.Accepted, []AcceptedLine{{Line: 1, ID: "t1", Duplicate: true}}) {
		t.Errorf("retry: %d %+v; want 202 and duplicate", code, res)
	}
	code, res = answer(good1 + "\n" + good2)
	if code != http.StatusAccepted || !slices.Equal(res.Accepted, []AcceptedLine{{Line: 1, ID: "t1", Duplicate: true}, {Line: 2, ID: "t2"}}) {
		t.Errorf("batch: %d %+v", code, res)
	}
	// Transactions without an id are never duplicates of each other.
	answer(noID)
	answer(noID)
	if got := q.ids(); len(got) != 4 || !slices.Equal(got[:2], []string{"t1", "t2"}) {
		t.Errorf("submitted: %v; want t1, t2 and the two without an id", got)
	}
	r := do(t, srv, http.MethodPost, "/v1/transactions", "", strings.NewReader(good1))
	if want := `"duplicate":true`; !strings.Contains(string(r.body), want) {
		t.Errorf("answer %s does not say %s", r.body, want)
	}
}

func TestNotQueuedIsNotADuplicate(t *testing.T) {
	q := &queue{failAt: 1}
	srv := newServer(t, Options{Submit: q.submit, Recent: NewRecentIDs(100)})
	if r := do(t, srv, http.MethodPost, "/v1/transactions", "", strings.NewReader(good1)); r.status != http.StatusServiceUnavailable {
		t.Fatalf("first POST: %d %s; want 503", r.status, r.body)
	}
	q.mu.Lock()
	q.failAt = 0
	q.mu.Unlock()
	r := do(t, srv, http.MethodPost, "/v1/transactions", "", strings.NewReader(good1))
	if r.status != http.StatusAccepted || strings.Contains(string(r.body), "duplicate") {
		t.Fatalf("retry after a 503: %d %s; want it queued", r.status, r.body)
	}
	if got := q.ids(); !slices.Equal(got, []string{"t1"}) {
		t.Errorf("submitted: %v", got)
	}
}

func BenchmarkRecentIDs(b *testing.B) {
	s := NewRecentIDs(DefaultRecentIDs)
	ids := make([]string, 4*DefaultRecentIDs)
	for i := range ids {
		ids[i] = fmt.Sprintf("4242-1733000000-0a0b0c0d-%d", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(ids[i%len(ids)])
		i++
	}
}
