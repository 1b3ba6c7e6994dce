package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The layout of pushlua's store before the one-record-per-user layout:
// nested buckets per user, about 2.7 KB of file per user.
//
//	users/<user>/status/<mailbox>              JSON-encoded Status
//	users/<user>/attr/<mailbox> "\x00" <key>   attribute value
//	users/<user>/pinned/<mailbox> "\x00" <key> (empty) the attribute was set by SetAttribute
//	users/<user>/touched                       last touch, Unix seconds, 8 bytes big-endian
//	expiry/<touched> <user>                    (empty) index of the touches (as now)
//
// Stores written before expiry existed have no expiry bucket, no touches
// and no pinned marks.
var (
	oldBucketStatus = []byte("status")
	oldBucketAttr   = []byte("attr")
	oldBucketPinned = []byte("pinned")
	oldKeyTouched   = []byte("touched")
)

// oldUser reads one user's bucket of the earlier layout. Entries that
// layout's own code could not have written (a status record that is not
// JSON, an attribute key without its mailbox, a name Apply refuses) are
// left out: the store is a cache, and they were unreadable before too.
func oldUser(ub *bolt.Bucket) *userState {
	u := &userState{}
	if v := ub.Get(oldKeyTouched); len(v) == 8 {
		u.touched = int64(binary.BigEndian.Uint64(v))
	}
	if b := ub.Bucket(oldBucketStatus); b != nil {
		_ = b.ForEach(func(k, v []byte) error {
			var st Status
			if v == nil || checkMailbox(string(k)) != nil || json.Unmarshal(v, &st) != nil {
				return nil
			}
			u.boxes = append(u.boxes, boxState{name: string(k), st: cloneStatus(st)})
			return nil
		})
	}
	pinned := ub.Bucket(oldBucketPinned)
	if b := ub.Bucket(oldBucketAttr); b != nil {
		_ = b.ForEach(func(k, v []byte) error {
			mailbox, key, ok := bytes.Cut(k, []byte{0})
			if v == nil || !ok || checkMailbox(string(mailbox)) != nil {
				return nil
			}
			u.attrs = append(u.attrs, attrState{mailbox: string(mailbox), key: string(key), value: string(v),
				pinned: pinned != nil && pinned.Get(k) != nil})
			return nil
		})
	}
	slices.SortFunc(u.boxes, func(a, b boxState) int { return strings.Compare(a.name, b.name) })
	slices.SortFunc(u.attrs, func(a, b attrState) int { return compareAttr(a, b.mailbox, b.key) })
	return u
}

// migrate converts the earlier layout in tx: every user bucket becomes a
// record, and the users bucket goes. The expiry index keeps its format.
// A store written before expiry existed gets its index: each user counts
// as touched now, and every attribute it has is kept as if an operator had
// set it (the store cannot tell who set it, and an operator's setting must
// not vanish). It is one transaction: a crash leaves the earlier layout,
// converted again at the next open.
func (s *Bolt) migrate(tx *bolt.Tx) error {
	users := tx.Bucket(bucketUsers)
	startExpiry := tx.Bucket(bucketExpiry) == nil
	state, idx, err := flatBuckets(tx)
	if err != nil {
		return err
	}
	state.FillPercent = 0.9 // keys come in order
	now := s.now().Unix()
	var buf []byte
	err = users.ForEachBucket(func(name []byte) error {
		u := oldUser(users.Bucket(name))
		if startExpiry {
			for i := range u.attrs {
				u.attrs[i].pinned = true
			}
			u.touched = now
			if err := idx.Put(indexKey(now, string(name)), []byte{}); err != nil {
				return err
			}
		}
		buf = u.encode(buf[:0])
		return state.Put(bytes.Clone(name), bytes.Clone(buf))
	})
	if err != nil {
		return err
	}
	return tx.DeleteBucket(bucketUsers)
}
