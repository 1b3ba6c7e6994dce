package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultBoltTimeout is how long OpenBolt waits for the database's file lock
// when BoltOptions.Timeout is zero.
const DefaultBoltTimeout = 2 * time.Second

// BoltOptions configures OpenBolt. The zero value is ready to use.
type BoltOptions struct {
	// Timeout bounds the wait for the file lock that an open database
	// holds, so that a second pushlua process on the same file fails
	// instead of hanging. Zero means DefaultBoltTimeout; a negative value
	// means a single attempt.
	Timeout time.Duration

	// SyncApply makes Apply fsync each commit. By default it does not:
	// snapshots are a cache of the mail server's state that the next
	// transaction repairs, and skipping fsync is what makes Apply cheap.
	// SetAttribute and UnsetAttribute always sync before they return.
	SyncApply bool

	// Expire is how long a user's state is kept after the last
	// transaction or attribute write touched it; ExpireIdle and RunExpiry
	// remove it then (see ExpireIdle for what is kept). Zero means
	// DefaultExpire; NeverExpire (any negative value) keeps everything.
	Expire time.Duration

	// Now is the clock that touches and expiry read. Nil means time.Now.
	Now func() time.Time
}

// Bolt is a Store kept in a bbolt file. Its layout:
//
//	users/<user>/status/<mailbox>             JSON-encoded Status
//	users/<user>/attr/<mailbox> "\x00" <key>  attribute value
//	users/<user>/pinned/<mailbox> "\x00" <key> (empty) the attribute was set by SetAttribute
//	users/<user>/touched                      last touch, Unix seconds, 8 bytes big-endian
//	expiry/<touched> <user>                   (empty) index of the touches, oldest first
//
// A user's pinned bucket exists only once an attribute has been set
// through SetAttribute; ExpireIdle keeps those attributes.
//
// One process at a time can open the file (bbolt holds a flock on it).
// OpenBolt checks the file's structure before bbolt maps it (see Check)
// and refuses a damaged file with a *CorruptError; Repair salvages it.
type Bolt struct {
	db     *bolt.DB
	path   string
	noSync bool // Apply commits without fsync

	now        func() time.Time
	expire     time.Duration // < 0: never
	touchEvery time.Duration // a touch younger than this is not rewritten
	users      atomic.Int64  // user buckets, for Users
}

var _ Store = (*Bolt)(nil)

var (
	bucketUsers  = []byte("users")
	bucketStatus = []byte("status")
	bucketAttr   = []byte("attr")
	bucketPinned = []byte("pinned")
	bucketExpiry = []byte("expiry")
	keyTouched   = []byte("touched")

	// emptyStatus is the record Ensure writes.
	emptyStatus, _ = json.Marshal(Status{})
)

// OpenBolt opens the database at path, creating it (mode 0600) and its
// parent directories (mode 0700) if needed. It takes the file's lock,
// checks the file (see Check) and refuses a damaged one with a
// *CorruptError (errors.Is(err, ErrCorrupt)) instead of letting bbolt
// crash on it.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := lockFile(f, path, true, opts.Timeout); err != nil {
		f.Close()
		return nil, err
	}
	rep, err := checkFile(f, path)
	if err == nil {
		err = rep.Err()
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &Bolt{path: path, noSync: !opts.SyncApply, now: opts.Now, expire: opts.Expire}
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case s.expire == 0:
		s.expire = DefaultExpire
	case s.expire < 0:
		s.expire = NeverExpire
	}
	s.touchEvery = touchResolution(s.expire)
	if err := s.open(f, opts); err != nil {
		return nil, err
	}
	return s, nil
}

// open hands the checked, locked file f to bbolt and initialises the
// buckets. The check leaves bbolt nothing to fault on; should it still,
// the fault (SetPanicOnFault) or panic becomes a *CorruptError.
func (s *Bolt) open(f *os.File, opts BoltOptions) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			_ = f.Close() // the mapping, if any, is leaked: bbolt's state is unknown
			err = &CorruptError{Path: s.path, Problems: []string{fmt.Sprintf("bbolt failed reading it: %v", r)}}
		}
	}()
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{
		// The file is locked already; bbolt's flock on the same open
		// file succeeds at once.
		Timeout:  time.Second,
		NoSync:   !opts.SyncApply,
		OpenFile: func(string, int, os.FileMode) (*os.File, error) { return f, nil },
	})
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	var users int64
	if err := db.Update(func(tx *bolt.Tx) error {
		ub, err := tx.CreateBucketIfNotExists(bucketUsers)
		if err != nil {
			return err
		}
		if tx.Bucket(bucketExpiry) == nil {
			if err := s.startExpiry(tx); err != nil {
				return err
			}
		}
		return ub.ForEach(func(_, v []byte) error {
			if v == nil {
				users++
			}
			return nil
		})
	}); err != nil {
		db.Close()
		return fmt.Errorf("store: init %s: %w", s.path, err)
	}
	s.db = db
	s.users.Store(users)
	return nil
}

// Path returns the database file's path.
func (s *Bolt) Path() string { return s.path }

// Close closes the database and releases its file lock.
func (s *Bolt) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// attrKey is the attr bucket key of a mailbox's attribute (or, with key "",
// the prefix of all its attributes).
func attrKey(mailbox, key string) []byte {
	b := make([]byte, 0, len(mailbox)+1+len(key))
	b = append(b, mailbox...)
	b = append(b, 0)
	return append(b, key...)
}

// readBucket returns the user's sub-bucket name, or nil if there is none.
func readBucket(tx *bolt.Tx, user string, name []byte) *bolt.Bucket {
	if user == "" {
		return nil
	}
	ub := tx.Bucket(bucketUsers).Bucket([]byte(user))
	if ub == nil {
		return nil
	}
	return ub.Bucket(name)
}

// userBuckets are one user's buckets in a write transaction.
type userBuckets struct {
	user, status, attr *bolt.Bucket
	created            bool // the user's bucket did not exist
}

// writeBuckets returns the user's bucket and its status and attr buckets,
// creating them.
func writeBuckets(tx *bolt.Tx, user string) (userBuckets, error) {
	var b userBuckets
	users := tx.Bucket(bucketUsers)
	b.created = users.Bucket([]byte(user)) == nil
	var err error
	if b.user, err = users.CreateBucketIfNotExists([]byte(user)); err != nil {
		return b, err
	}
	if b.status, err = b.user.CreateBucketIfNotExists(bucketStatus); err != nil {
		return b, err
	}
	if b.attr, err = b.user.CreateBucketIfNotExists(bucketAttr); err != nil {
		return b, err
	}
	return b, nil
}

// mailboxAttrs returns copies of the keys (without the mailbox part) and
// values of the mailbox's attributes whose key starts with prefix.
func mailboxAttrs(attr *bolt.Bucket, mailbox, prefix string) (keys, values [][]byte) {
	if attr == nil {
		return nil, nil
	}
	p := attrKey(mailbox, prefix)
	skip := len(mailbox) + 1
	c := attr.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		keys = append(keys, bytes.Clone(k[skip:]))
		values = append(values, bytes.Clone(v))
	}
	return keys, values
}

// deleteAttrs removes all attributes of the mailbox from attr (and its
// marks from pinned, which may be nil).
func deleteAttrs(attr, pinned *bolt.Bucket, mailbox string) error {
	for _, b := range []*bolt.Bucket{attr, pinned} {
		keys, _ := mailboxAttrs(b, mailbox, "")
		for _, k := range keys {
			if err := b.Delete(attrKey(mailbox, string(k))); err != nil {
				return err
			}
		}
	}
	return nil
}

// onlyKnown reports whether p only ensures mailboxes that exist already
// and the user's touch is recent: the common case (a message event in a
// known mailbox) then costs a read transaction, not a write.
func (s *Bolt) onlyKnown(user string, p *plan, now int64) bool {
	if len(p.deletes) > 0 || len(p.renames) > 0 || len(p.status) > 0 || len(p.meta) > 0 {
		return false
	}
	known := true
	_ = s.db.View(func(tx *bolt.Tx) error {
		ub := tx.Bucket(bucketUsers).Bucket([]byte(user))
		if ub == nil || s.stale(ub, now) {
			known = false
			return nil
		}
		st := ub.Bucket(bucketStatus)
		for _, name := range p.ensure {
			if st == nil || st.Get([]byte(name)) == nil {
				known = false
				return nil
			}
		}
		return nil
	})
	return known
}

// Apply applies snap for user in one bbolt transaction; see Store.Apply and
// the package documentation for the order of its parts.
func (s *Bolt) Apply(ctx context.Context, user string, snap *Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := prepare(user, snap)
	if err != nil {
		return fmt.Errorf("store: apply: %w", err)
	}
	if p.empty() {
		return nil
	}
	now := s.now().Unix()
	if s.onlyKnown(user, p, now) {
		return nil
	}
	created := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := writeBuckets(tx, user)
		if err != nil {
			return err
		}
		created = b.created
		st, at, pinned := b.status, b.attr, b.user.Bucket(bucketPinned)
		for _, name := range p.deletes {
			if err := st.Delete([]byte(name)); err != nil {
				return err
			}
			if name != inbox {
				if err := deleteAttrs(at, pinned, name); err != nil {
					return err
				}
			}
		}
		has := func(name string) bool { return st.Get([]byte(name)) != nil }
		if err := eachRename(p.renames, has, func(from, to string) error {
			return boltRename(st, at, pinned, from, to)
		}); err != nil {
			return err
		}
		for _, name := range p.ensure {
			if !has(name) {
				if err := st.Put([]byte(name), emptyStatus); err != nil {
					return err
				}
			}
		}
		for _, name := range p.status {
			v, err := json.Marshal(snap.Status[name])
			if err != nil {
				return err
			}
			if err := st.Put([]byte(name), v); err != nil {
				return err
			}
		}
		for _, m := range p.meta {
			k := attrKey(inbox, m.key)
			if m.value == nil {
				err = at.Delete(k)
			} else {
				err = at.Put(k, []byte(*m.value))
			}
			if err == nil && pinned != nil {
				// The mail server's value replaces the operator's:
				// the key expires with the rest of the snapshot.
				err = pinned.Delete(k)
			}
			if err != nil {
				return err
			}
		}
		if s.stale(b.user, now) {
			return touch(tx, b.user, user, now)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: apply for %q: %w", user, err)
	}
	if created {
		s.users.Add(1)
	}
	return nil
}

// boltRename renames one mailbox: if to has no status record, from's record
// and attributes (and their pinned marks; pinned may be nil) replace to's;
// otherwise from's are dropped. INBOX's attributes (server METADATA) never
// move.
func boltRename(st, at, pinned *bolt.Bucket, from, to string) error {
	fk, tk := []byte(from), []byte(to)
	if st.Get(tk) == nil {
		if v := st.Get(fk); v != nil {
			if err := st.Put(tk, bytes.Clone(v)); err != nil {
				return err
			}
		}
		if from != inbox {
			if err := deleteAttrs(at, pinned, to); err != nil {
				return err
			}
			for _, b := range []*bolt.Bucket{at, pinned} {
				keys, values := mailboxAttrs(b, from, "")
				for i, k := range keys {
					if err := b.Put(attrKey(to, string(k)), values[i]); err != nil {
						return err
					}
				}
			}
		}
	}
	if from != inbox {
		if err := deleteAttrs(at, pinned, from); err != nil {
			return err
		}
	}
	return st.Delete(fk)
}

// Status returns the mailbox's status; see Store.Status.
func (s *Bolt) Status(ctx context.Context, user, mailbox string) (Status, error) {
	if err := ctx.Err(); err != nil {
		return Status{}, err
	}
	var st Status
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		b := readBucket(tx, user, bucketStatus)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(mailbox))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &st)
	})
	if err != nil {
		return Status{}, fmt.Errorf("store: status of %q for %q: %w", mailbox, user, err)
	}
	if !found && mailbox != inbox {
		return Status{}, fmt.Errorf("%w: %s", ErrNoMailbox, mailbox)
	}
	return st, nil
}

// Mailboxes lists the user's mailboxes, INBOX included, in name order.
func (s *Bolt) Mailboxes(ctx context.Context, user string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var names []string
	err := s.db.View(func(tx *bolt.Tx) error {
		b := readBucket(tx, user, bucketStatus)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: mailboxes of %q: %w", user, err)
	}
	return withInbox(names), nil
}

// GetAttribute returns a mailbox attribute; see Store.GetAttribute.
func (s *Bolt) GetAttribute(ctx context.Context, user, mailbox, key string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	if err := checkMailbox(mailbox); err != nil {
		return "", false, fmt.Errorf("store: get attribute: %w", err)
	}
	var (
		value string
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := readBucket(tx, user, bucketAttr); b != nil {
			if v := b.Get(attrKey(mailbox, key)); v != nil {
				value, found = string(v), true
			}
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("store: get attribute: %w", err)
	}
	return value, found, nil
}

// SetAttribute sets a mailbox attribute, marks it as the operator's (so
// that ExpireIdle keeps it; see there), touches the user and syncs the
// file.
func (s *Bolt) SetAttribute(ctx context.Context, user, mailbox, key, value string) error {
	return s.updateAttr(ctx, "set", user, mailbox, func(b userBuckets) error {
		k := attrKey(mailbox, key)
		if err := b.attr.Put(k, []byte(value)); err != nil {
			return err
		}
		pinned, err := b.user.CreateBucketIfNotExists(bucketPinned)
		if err != nil {
			return err
		}
		return pinned.Put(k, []byte{})
	})
}

// UnsetAttribute removes a mailbox attribute, touches the user and syncs
// the file.
func (s *Bolt) UnsetAttribute(ctx context.Context, user, mailbox, key string) error {
	return s.updateAttr(ctx, "unset", user, mailbox, func(b userBuckets) error {
		k := attrKey(mailbox, key)
		if pinned := b.user.Bucket(bucketPinned); pinned != nil {
			if err := pinned.Delete(k); err != nil {
				return err
			}
		}
		return b.attr.Delete(k)
	})
}

// updateAttr runs fn on the user's buckets in a write transaction that
// also touches the user, and makes the result durable even when Apply runs
// without fsync.
func (s *Bolt) updateAttr(ctx context.Context, op, user, mailbox string, fn func(userBuckets) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if user == "" {
		return fmt.Errorf("store: %s attribute: %w", op, errEmptyUser)
	}
	if err := checkMailbox(mailbox); err != nil {
		return fmt.Errorf("store: %s attribute: %w", op, err)
	}
	now := s.now().Unix()
	created := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := writeBuckets(tx, user)
		if err != nil {
			return err
		}
		created = b.created
		if err := fn(b); err != nil {
			return err
		}
		return touch(tx, b.user, user, now)
	})
	if err == nil && created {
		s.users.Add(1)
	}
	if err == nil && s.noSync {
		err = s.db.Sync()
	}
	if err != nil {
		return fmt.Errorf("store: %s attribute: %w", op, err)
	}
	return nil
}

// ListAttributes returns the mailbox's attributes whose key starts with
// prefix ("" for all).
func (s *Bolt) ListAttributes(ctx context.Context, user, mailbox, prefix string) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkMailbox(mailbox); err != nil {
		return nil, fmt.Errorf("store: list attributes: %w", err)
	}
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		keys, values := mailboxAttrs(readBucket(tx, user, bucketAttr), mailbox, prefix)
		for i, k := range keys {
			out[string(k)] = string(values[i])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: list attributes: %w", err)
	}
	return out, nil
}
