package dlq

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPutListGetDropReplay(t *testing.T) {
	a, err := Open(filepath.Join(t.TempDir(), "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	line := `{"id":"x/../1","user":"alice","events":[]}`
	for i, id := range []string{"x/../1", "b-2"} {
		err := a.Put(Letter{ID: id, User: "alice", Reason: "budget", Attempts: 3, Time: t0.Add(time.Duration(-i) * time.Minute), Line: line})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Put(Letter{ID: "bad", Line: "{not json"}); err != nil {
		t.Fatal(err)
	}
	ls, err := a.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	if got, want := strings.Join(ids, ","), "bad,b-2,x/../1"; got != want {
		t.Fatalf("List: got %s; want %s (oldest first)", got, want)
	}
	if a.Len() != 3 {
		t.Errorf("Len: got %d; want 3", a.Len())
	}
	got, err := a.Get("x/../1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Line != line || got.Reason != "budget" || got.Attempts != 3 {
		t.Errorf("Get: got %+v", got)
	}
	// The id with a slash stayed inside the directory.
	if _, err := os.Stat(filepath.Join(a.Dir(), "..", "1")); err == nil {
		t.Error("an id with ../ wrote outside the area")
	}

	logDir := filepath.Join(t.TempDir(), "wal")
	for _, id := range []string{"x/../1", "bad"} {
		if err := a.Replay(id, logDir); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(logDir, "pl-*.jsonl"))
	if len(segs) != 2 {
		t.Fatalf("replayed segments: %v; want 2", segs)
	}
	var all string
	for _, s := range segs {
		data, _ := os.ReadFile(s)
		all += string(data)
	}
	if !strings.Contains(all, line+"\n") || !strings.Contains(all, "{not json\n") {
		t.Errorf("replayed lines: %q", all)
	}
	if _, err := a.Get("x/../1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Replay: got %v; want ErrNotFound", err)
	}
	if err := a.Drop("b-2"); err != nil {
		t.Fatal(err)
	}
	if err := a.Drop("b-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Drop: got %v; want ErrNotFound", err)
	}
	if a.Len() != 0 {
		t.Errorf("Len at the end: %d", a.Len())
	}
}
