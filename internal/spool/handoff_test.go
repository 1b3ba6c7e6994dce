package spool

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/txn"
	"github.com/pushlua/pushlua/internal/wal"
)

// handoffLog is pushlua serve's wiring: a write-ahead log whose committed
// lines are handed to the Reader, tagged with their decoded transactions.
// parsed counts the lines the Reader decoded itself (read back).
type handoffLog struct {
	t      *testing.T
	log    *wal.Log
	r      *Reader
	ids    *txn.IDs
	parsed atomic.Int64
	n      int
}

func startHandoff(t *testing.T, fx *fixture) *handoffLog {
	t.Helper()
	h := &handoffLog{t: t, ids: txn.NewIDs()}
	var r atomic.Pointer[Reader]
	l, err := wal.Open(wal.Options{Dir: fx.dir, Preallocate: true,
		OnSegment: func(name string) { r.Load().Expect(name) },
		OnAppended: func(seg string, as []wal.Appended) {
			hs := make([]Handed, len(as))
			for i, a := range as {
				hs[i] = Handed{Start: a.Start, End: a.End, Line: a.Line, Txn: a.Tag.(*txn.Txn)}
			}
			r.Load().Handoff(seg, hs)
		}})
	if err != nil {
		t.Fatal(err)
	}
	h.log = l
	h.r = fx.start(t, func(o *Options) { h.readerOptions(o) })
	r.Store(h.r)
	return h
}

func (h *handoffLog) readerOptions(o *Options) {
	o.Padded, o.StaleAfter = true, time.Hour
	o.Parse = func(line []byte, ids *txn.IDs) (*txn.Txn, error) {
		h.parsed.Add(1)
		return txn.Parse(line, ids)
	}
}

// append commits n transactions of user in one Append and returns their
// ids.
func (h *handoffLog) append(user string, n int) []string {
	h.t.Helper()
	var ids []string
	var lines [][]byte
	var tags []any
	for range n {
		h.n++
		line := fmt.Sprintf(`{"id":"h-%d","user":{"username":%q},"events":[{"name":"MailboxCreate","mailbox":"INBOX"}]}`, h.n, user)
		tx, err := txn.Parse([]byte(line), h.ids)
		if err != nil {
			h.t.Fatal(err)
		}
		ids, lines, tags = append(ids, tx.ID), append(lines, []byte(line)), append(tags, tx)
	}
	if err := h.log.AppendTagged(context.Background(), tags, lines); err != nil {
		h.t.Fatal(err)
	}
	return ids
}

// TestHandoffRestartReplaysOnlyUnfinished: lines the log hands over are
// submitted without being read back, their dones (out of order) move the
// watermark as read lines' do, and a restart reads exactly the lines from
// the first unfinished one on.
func TestHandoffRestartReplaysOnlyUnfinished(t *testing.T) {
	fx := newFixture(t)
	var ids []string
	h := startHandoff(t, fx)
	// Lines 3 and 6 stay in flight; the others are done.
	fx.eng.hold = func(tx *txn.Txn) bool { return tx.ID == "h-3" || tx.ID == "h-6" }
	ids = append(ids, h.append("u", 2)...)
	ids = append(ids, h.append("u", 4)...)
	checkFor(t, "six submitted", func() bool { return fx.eng.count() == 6 })
	if got := fx.eng.ids(); !slices.Equal(got, ids) {
		t.Errorf("order: got %v; want %v", got, ids)
	}
	if n := h.parsed.Load(); n != 0 {
		t.Errorf("%d lines read back; want 0 (all handed over)", n)
	}
	for i, tx := range fx.eng.got {
		if tx.Line != i+1 || tx.Input == "" || string(tx.Raw) == "" {
			t.Errorf("txn %d: Input %q, Line %d, Raw %q; want the segment, line %d and the line", i, tx.Input, tx.Line, tx.Raw, i+1)
		}
	}
	checkFor(t, "the watermark after line 2", func() bool {
		for _, rec := range fx.saved(t) {
			return rec.Line == 2
		}
		return false
	})
	h.r.Stop()
	if err := h.r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.log.Close(); err != nil {
		t.Fatal(err)
	}

	eng := &engine{}
	fx.eng = eng
	h2 := &handoffLog{t: t}
	r2 := fx.start(t, func(o *Options) { h2.readerOptions(o) })
	checkFor(t, "the rerun", func() bool { return eng.count() == 4 })
	if got, want := eng.ids(), ids[2:]; !slices.Equal(got, want) {
		t.Errorf("after restart: got %v; want only the lines from the first not done on (%v)", got, want)
	}
	checkFor(t, "the segment deleted once done", func() bool { return r2.Stats().Files == 0 && len(fx.saved(t)) == 0 })
}

// TestHandoffOverflowReadsTheFile: while the engine takes nothing, more
// lines are handed over than the Reader keeps; the rest are read back
// from the segment, and every line is submitted once, in order.
func TestHandoffOverflowReadsTheFile(t *testing.T) {
	fx := newFixture(t)
	fx.eng.gate = make(chan struct{})
	h := startHandoff(t, fx)
	var ids []string
	for range 5 {
		ids = append(ids, h.append("u", maxHanded/3)...)
	}
	close(fx.eng.gate)
	checkFor(t, "every line submitted", func() bool { return fx.eng.count() >= len(ids) })
	time.Sleep(50 * time.Millisecond) // none more
	if got := fx.eng.ids(); !slices.Equal(got, ids) {
		t.Errorf("got %d transactions; want the %d appended, once each, in order", len(got), len(ids))
	}
	if h.parsed.Load() == 0 {
		t.Error("nothing read back; want the lines past the bound read from the file")
	}
	if err := h.log.Close(); err != nil {
		t.Fatal(err)
	}
	checkFor(t, "the segment deleted", func() bool { return h.r.Stats().Files == 0 })
}
