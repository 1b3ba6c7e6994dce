package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Expiry. Without it the store keeps every user it has ever seen. The
// store is a cache of what the mail server tells pushlua: each
// transaction's snapshot carries the status of the mailboxes it touches
// (and, from the forwarder with imap_metadata, the METADATA gate key), so
// a user's status records and transaction-learned attributes can go once
// the user has been idle for a while and are learned again from the next
// transaction. Attributes set with SetAttribute (`pushlua metadata set`:
// an operator's setting, such as the OX driver's enable flag) are not
// learned again, so expiry keeps them, with the user's bucket, until the
// operator unsets them or a transaction's snapshot sets the same key.
//
// Each transaction (Apply) and attribute write touches its user: the time
// goes into the user's bucket and into the expiry index, a bucket ordered
// by time, so that a sweep reads only the users it removes. To keep
// Apply's common case a read, a touch younger than touchResolution(Expire)
// (at most an hour) is not rewritten: expiry is exact to within that.

const (
	// DefaultExpire is BoltOptions.Expire's default: 30 days. A user
	// who has had no transaction for a month (a holiday, a mailbox read
	// only now and then) costs one transaction with a partial view of
	// its mailboxes' status when it comes back; keeping every user ever
	// seen costs a page of the file (about 5 KB) each, forever.
	DefaultExpire = 30 * 24 * time.Hour

	// NeverExpire as BoltOptions.Expire turns expiry off.
	NeverExpire time.Duration = -1
)

// touchResolution is how old a touch may get before a transaction
// rewrites it: an hour, or a sixteenth of expire when that is shorter.
func touchResolution(expire time.Duration) time.Duration {
	if expire > 0 && expire/16 < time.Hour {
		return max(expire/16, time.Second)
	}
	return time.Hour
}

// sweepInterval is how often RunExpiry sweeps: an hour, or a quarter of
// expire when that is shorter.
func sweepInterval(expire time.Duration) time.Duration {
	if expire > 0 && expire/4 < time.Hour {
		return max(expire/4, time.Second)
	}
	return time.Hour
}

// stale reports whether the user's touch (in ub) is missing or older
// than the touch resolution at now (Unix seconds).
func (s *Bolt) stale(ub *bolt.Bucket, now int64) bool {
	v := ub.Get(keyTouched)
	if len(v) != 8 {
		return true
	}
	return now-int64(binary.BigEndian.Uint64(v)) >= int64(s.touchEvery/time.Second)
}

// indexKey is the expiry index key of a touch: the time, then the user.
func indexKey(when int64, user string) []byte {
	k := make([]byte, 8, 8+len(user))
	binary.BigEndian.PutUint64(k, uint64(when))
	return append(k, user...)
}

// touch records a touch of user (whose bucket is ub) at now in the user's
// bucket and in the expiry index.
func touch(tx *bolt.Tx, ub *bolt.Bucket, user string, now int64) error {
	idx := tx.Bucket(bucketExpiry)
	if old := ub.Get(keyTouched); len(old) == 8 {
		if err := idx.Delete(indexKey(int64(binary.BigEndian.Uint64(old)), user)); err != nil {
			return err
		}
	}
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(now))
	if err := ub.Put(keyTouched, v); err != nil {
		return err
	}
	return idx.Put(indexKey(now, user), []byte{})
}

// startExpiry creates the expiry index in a store written before pushlua
// expired users: each user counts as touched now, and every attribute it
// has is kept as if an operator had set it (the store cannot tell who set
// it, and an operator's setting must not vanish).
func (s *Bolt) startExpiry(tx *bolt.Tx) error {
	if _, err := tx.CreateBucket(bucketExpiry); err != nil {
		return err
	}
	users := tx.Bucket(bucketUsers)
	var names [][]byte
	_ = users.ForEach(func(k, v []byte) error {
		if v == nil {
			names = append(names, bytes.Clone(k))
		}
		return nil
	})
	now := s.now().Unix()
	for _, name := range names {
		ub := users.Bucket(name)
		if at := ub.Bucket(bucketAttr); at != nil && hasKeys(at) {
			pinned, err := ub.CreateBucketIfNotExists(bucketPinned)
			if err != nil {
				return err
			}
			if err := at.ForEach(func(k, _ []byte) error { return pinned.Put(bytes.Clone(k), []byte{}) }); err != nil {
				return err
			}
		}
		if err := touch(tx, ub, string(name), now); err != nil {
			return err
		}
	}
	return nil
}

// ExpireStats says what one ExpireIdle did.
type ExpireStats struct {
	// Removed is the users removed: idle, and nothing set by an operator.
	Removed int
	// Trimmed is the idle users kept for their operator-set attributes,
	// whose status records and other attributes were removed.
	Trimmed int
}

// expireBatch is how many users one write transaction of ExpireIdle
// handles, so that a large sweep does not hold up Apply for long.
const expireBatch = 500

// ExpireIdle removes the state of every user that no transaction (Apply)
// and no attribute write has touched for Expire (to within the touch
// resolution, at most an hour): its status records and the attributes a
// transaction's snapshot set. Attributes set with SetAttribute stay, and
// with them the user; such a user is not looked at again until it is
// touched again. With NeverExpire it does nothing. It reads only the users
// it removes (the expiry index is ordered by time).
func (s *Bolt) ExpireIdle(ctx context.Context) (ExpireStats, error) {
	var total ExpireStats
	if s.expire < 0 {
		return total, nil
	}
	cutoff := s.now().Add(-s.expire).Unix()
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var st ExpireStats
		more := false
		err := s.db.Update(func(tx *bolt.Tx) error {
			st, more = ExpireStats{}, false
			idx, users := tx.Bucket(bucketExpiry), tx.Bucket(bucketUsers)
			var keys [][]byte
			c := idx.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if len(k) >= 8 && int64(binary.BigEndian.Uint64(k)) > cutoff {
					break
				}
				if len(keys) == expireBatch {
					more = true
					break
				}
				keys = append(keys, bytes.Clone(k))
			}
			for _, k := range keys {
				if err := idx.Delete(k); err != nil {
					return err
				}
				if len(k) < 8 {
					continue
				}
				name := k[8:]
				ub := users.Bucket(name)
				if ub == nil {
					continue
				}
				if v := ub.Get(keyTouched); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > cutoff {
					continue // touched since: a newer index entry exists
				}
				kept, err := trimToPinned(ub)
				if err != nil {
					return err
				}
				if kept {
					st.Trimmed++
					continue
				}
				if err := users.DeleteBucket(name); err != nil {
					return err
				}
				st.Removed++
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("store: expire %s: %w", s.path, err)
		}
		s.users.Add(-int64(st.Removed))
		total.Removed += st.Removed
		total.Trimmed += st.Trimmed
		if !more {
			return total, nil
		}
	}
}

// trimToPinned removes from an idle user's bucket everything but its
// pinned attributes (and their marks) and reports whether any is left.
// Without, the caller removes the bucket.
func trimToPinned(ub *bolt.Bucket) (bool, error) {
	pinned, at := ub.Bucket(bucketPinned), ub.Bucket(bucketAttr)
	if pinned == nil || at == nil {
		return false, nil
	}
	var drop, unpin [][]byte
	_ = at.ForEach(func(k, _ []byte) error {
		if pinned.Get(k) == nil {
			drop = append(drop, bytes.Clone(k))
		}
		return nil
	})
	kept := 0
	_ = pinned.ForEach(func(k, _ []byte) error {
		if at.Get(k) == nil {
			unpin = append(unpin, bytes.Clone(k))
		} else {
			kept++
		}
		return nil
	})
	if kept == 0 {
		return false, nil
	}
	for _, k := range drop {
		if err := at.Delete(k); err != nil {
			return false, err
		}
	}
	for _, k := range unpin {
		if err := pinned.Delete(k); err != nil {
			return false, err
		}
	}
	if ub.Bucket(bucketStatus) != nil {
		if err := ub.DeleteBucket(bucketStatus); err != nil {
			return false, err
		}
	}
	return true, ub.Delete(keyTouched)
}

// RunExpiry calls ExpireIdle now and then every hour (or every quarter of
// Expire, when that is shorter) until ctx ends, logging what each sweep
// removed and any error. With NeverExpire it returns at once.
func (s *Bolt) RunExpiry(ctx context.Context, log *slog.Logger) {
	if s.expire < 0 {
		return
	}
	sweep := func() {
		st, err := s.ExpireIdle(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error(err.Error())
		case st.Removed+st.Trimmed > 0:
			log.Info(fmt.Sprintf("store: expired %d users idle for %s (%d of them kept for their pushlua metadata settings)",
				st.Removed+st.Trimmed, DurationString(s.expire), st.Trimmed))
		}
	}
	sweep()
	t := time.NewTicker(sweepInterval(s.expire))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sweep()
		}
	}
}

// Users returns the number of users the store holds.
func (s *Bolt) Users() int { return int(s.users.Load()) }

// SizeBytes returns the size of the store's file, 0 if it cannot be read.
func (s *Bolt) SizeBytes() int64 {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// hasKeys reports whether b holds any key.
func hasKeys(b *bolt.Bucket) bool {
	k, _ := b.Cursor().First()
	return k != nil
}

// DurationString writes d as Dovecot's settings do where it is whole:
// "30d", "12h", "15m", "90s"; other durations as Go does.
func DurationString(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d > 0 && d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.name)
		}
	}
	return d.String()
}
