package ingest

import (
	"sync"

	"github.com/pushlua/pushlua/internal/txn"
)

// DefaultRecentIDs is the size of the recent-ids set serve uses.
const DefaultRecentIDs = 100_000

// RecentIDs is a bounded set of the transaction ids accepted last: a
// sender that retries a POST it saw time out (Dovecot's forwarder sends a
// stable id with every transaction) gets its duplicate recognized, and the
// transaction runs once. It forgets the oldest id when full, and
// everything on restart: it catches retries, not replays.
type RecentIDs struct {
	mu   sync.Mutex
	ids  map[string]uint64 // id → its sequence number
	ring []string          // ring[seq % len(ring)] is the id added as seq
	next uint64
}

// NewRecentIDs returns a set that remembers the last n ids (n <= 0:
// DefaultRecentIDs).
func NewRecentIDs(n int) *RecentIDs {
	if n <= 0 {
		n = DefaultRecentIDs
	}
	return &RecentIDs{ids: make(map[string]uint64, min(n, 1<<16)), ring: make([]string, n)}
}

// Add adds id and reports whether it was new; false means a duplicate.
func (s *RecentIDs) Add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false
	}
	n := uint64(len(s.ring))
	slot := s.next % n
	if s.next >= n {
		// Evict the id this slot held, unless it was removed (and
		// maybe added again since, in another slot).
		old := s.ring[slot]
		if seq, ok := s.ids[old]; ok && seq == s.next-n {
			delete(s.ids, old)
		}
	}
	s.ring[slot] = id
	s.ids[id] = s.next
	s.next++
	return true
}

// Remove forgets id (its transaction was not accepted after all, so a
// retry must run it).
func (s *RecentIDs) Remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, id)
}

// Len returns how many ids the set holds.
func (s *RecentIDs) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// duplicate reports whether t's id, given by the sender, was accepted
// recently; if not, it is remembered from now on (forget undoes that when
// t is not accepted after all).
func (h *handler) duplicate(t *txn.Txn) bool {
	if h.opts.Recent == nil || h.opts.IDs.Assigned(t.ID) {
		return false
	}
	if h.opts.Recent.Add(t.ID) {
		return false
	}
	h.log.Info("duplicate transaction not queued again", "id", t.ID)
	return true
}

// forget drops t's id from the recent ids: it was not accepted.
func (h *handler) forget(t *txn.Txn) {
	if h.opts.Recent != nil && !h.opts.IDs.Assigned(t.ID) {
		h.opts.Recent.Remove(t.ID)
	}
}
