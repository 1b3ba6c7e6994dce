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
// learned again, so expiry keeps them, with the user's record, until the
// operator unsets them or a transaction's snapshot sets the same key.
//
// Each transaction (Apply) and attribute write touches its user: the time
// goes into the user's record and into the expiry index, a bucket ordered
// by time, so that a sweep reads only the users it removes. To keep
// Apply's common case free of writes, a touch younger than
// touchResolution(Expire) (at most an hour) is not rewritten: expiry is
// exact to within that.

const (
	// DefaultExpire is BoltOptions.Expire's default: 30 days. A user
	// who has had no transaction for a month (a holiday, a mailbox read
	// only now and then) costs one transaction with a partial view of
	// its mailboxes' status when it comes back; keeping every user ever
	// seen costs its record (about 200 bytes of file) forever.
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

// ExpireStats says what one ExpireIdle did.
type ExpireStats struct {
	// Removed is the users removed: idle, and nothing set by an operator.
	Removed int
	// Trimmed is the idle users kept for their operator-set attributes,
	// whose status records and other attributes were removed.
	Trimmed int
}

// expireBatch is how many users one write transaction of ExpireIdle
// handles, so that a large sweep does not hold up the other writes for
// long.
const expireBatch = 500

// ExpireIdle removes the state of every user that no transaction (Apply)
// and no attribute write has touched for Expire (to within the touch
// resolution, at most an hour): its status records and the attributes a
// transaction's snapshot set. Attributes set with SetAttribute stay, and
// with them the user; such a user is not looked at again until it is
// touched again. With NeverExpire it does nothing. It reads only the users
// it removes (the expiry index is ordered by time) and writes what it
// removed before it returns.
func (s *Bolt) ExpireIdle(ctx context.Context) (ExpireStats, error) {
	var total ExpireStats
	if s.expire < 0 {
		return total, nil
	}
	if s.closed.Load() {
		return total, errClosed
	}
	cutoff := s.now().Add(-s.expire).Unix()
	// The index in the file is the one to read: write what is in memory.
	if err := s.Flush(); err != nil {
		return total, fmt.Errorf("store: expire: %w", err)
	}
	var after []byte // the last index key handled
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var keys [][]byte
		more := false
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketExpiry).Cursor()
			k, _ := c.First()
			if after != nil {
				if k, _ = c.Seek(after); bytes.Equal(k, after) {
					k, _ = c.Next()
				}
			}
			for ; k != nil; k, _ = c.Next() {
				if len(k) >= 8 && int64(binary.BigEndian.Uint64(k)) > cutoff {
					break
				}
				if len(keys) == expireBatch {
					more = true
					break
				}
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("store: expire %s: %w", s.path, err)
		}
		if len(keys) > 0 {
			after = keys[len(keys)-1]
		}
		var (
			st      ExpireStats
			orphans [][]byte // index entries no record has (any more)
		)
		for _, k := range keys {
			if len(k) <= 8 {
				orphans = append(orphans, k)
				continue
			}
			when, name := int64(binary.BigEndian.Uint64(k)), string(k[8:])
			sh := s.shard(name)
			sh.mu.Lock()
			e, err := s.entry(sh, name)
			switch {
			case err != nil:
			case e.stored && e.st.touched != 0 && e.st.touched <= cutoff:
				if e.st.trimToPinned() {
					st.Trimmed++
				} else {
					e.st, e.stored = &userState{}, false
					s.users.Add(-1)
					st.Removed++
				}
				// The write removes the index entry with the
				// record's touch.
				s.enqueue(sh, e)
				if when != e.disk {
					orphans = append(orphans, k)
				}
			case when != e.disk || !e.diskStored:
				// Touched since (the next write replaces the entry
				// of the file's touch, not this one) or left over.
				orphans = append(orphans, k)
			}
			sh.mu.Unlock()
			if err != nil {
				return total, fmt.Errorf("store: expire %s: %w", s.path, err)
			}
		}
		s.wmu.Lock()
		err = s.flushLocked()
		if err == nil && len(orphans) > 0 {
			err = s.db.Update(func(tx *bolt.Tx) error {
				idx := tx.Bucket(bucketExpiry)
				for _, k := range orphans {
					if err := idx.Delete(k); err != nil {
						return err
					}
				}
				return nil
			})
		}
		s.wmu.Unlock()
		if err != nil {
			return total, fmt.Errorf("store: expire: %w", err)
		}
		total.Removed += st.Removed
		total.Trimmed += st.Trimmed
		if !more {
			return total, nil
		}
	}
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
