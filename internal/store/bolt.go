package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
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
}

// Bolt is a Store kept in a bbolt file. Its layout:
//
//	users/<user>/status/<mailbox>             JSON-encoded Status
//	users/<user>/attr/<mailbox> "\x00" <key>  attribute value
//
// One process at a time can open the file (bbolt holds a flock on it).
type Bolt struct {
	db     *bolt.DB
	path   string
	noSync bool // Apply commits without fsync
}

var _ Store = (*Bolt)(nil)

var (
	bucketUsers  = []byte("users")
	bucketStatus = []byte("status")
	bucketAttr   = []byte("attr")

	// emptyStatus is the record Ensure writes.
	emptyStatus, _ = json.Marshal(Status{})
)

// OpenBolt opens the database at path, creating it (mode 0600) and its
// parent directories (mode 0700) if needed.
func OpenBolt(path string, opts BoltOptions) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultBoltTimeout
	case timeout < 0:
		timeout = time.Nanosecond // bbolt: 0 would wait forever
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: timeout,
		NoSync:  !opts.SyncApply,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: %s: another pushlua process holds the database (lock not acquired within %s): %w",
			path, timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketUsers)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	return &Bolt{db: db, path: path, noSync: !opts.SyncApply}, nil
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

// writeBuckets returns the user's status and attr buckets, creating them.
func writeBuckets(tx *bolt.Tx, user string) (status, attr *bolt.Bucket, err error) {
	ub, err := tx.Bucket(bucketUsers).CreateBucketIfNotExists([]byte(user))
	if err != nil {
		return nil, nil, err
	}
	if status, err = ub.CreateBucketIfNotExists(bucketStatus); err != nil {
		return nil, nil, err
	}
	if attr, err = ub.CreateBucketIfNotExists(bucketAttr); err != nil {
		return nil, nil, err
	}
	return status, attr, nil
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

// deleteAttrs removes all attributes of the mailbox.
func deleteAttrs(attr *bolt.Bucket, mailbox string) error {
	keys, _ := mailboxAttrs(attr, mailbox, "")
	for _, k := range keys {
		if err := attr.Delete(attrKey(mailbox, string(k))); err != nil {
			return err
		}
	}
	return nil
}

// onlyKnown reports whether p only ensures mailboxes that exist already:
// the common case (a message event in a known mailbox) then costs a read
// transaction, not a write.
func (s *Bolt) onlyKnown(user string, p *plan) bool {
	if len(p.deletes) > 0 || len(p.renames) > 0 || len(p.status) > 0 || len(p.meta) > 0 {
		return false
	}
	known := true
	_ = s.db.View(func(tx *bolt.Tx) error {
		st := readBucket(tx, user, bucketStatus)
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
	if p.empty() || s.onlyKnown(user, p) {
		return nil
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		st, at, err := writeBuckets(tx, user)
		if err != nil {
			return err
		}
		for _, name := range p.deletes {
			if err := st.Delete([]byte(name)); err != nil {
				return err
			}
			if name != inbox {
				if err := deleteAttrs(at, name); err != nil {
					return err
				}
			}
		}
		has := func(name string) bool { return st.Get([]byte(name)) != nil }
		if err := eachRename(p.renames, has, func(from, to string) error {
			return boltRename(st, at, from, to)
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
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: apply for %q: %w", user, err)
	}
	return nil
}

// boltRename renames one mailbox: if to has no status record, from's record
// and attributes replace to's; otherwise from's are dropped. INBOX's
// attributes (server METADATA) never move.
func boltRename(st, at *bolt.Bucket, from, to string) error {
	fk, tk := []byte(from), []byte(to)
	if st.Get(tk) == nil {
		if v := st.Get(fk); v != nil {
			if err := st.Put(tk, bytes.Clone(v)); err != nil {
				return err
			}
		}
		if from != inbox {
			if err := deleteAttrs(at, to); err != nil {
				return err
			}
			keys, values := mailboxAttrs(at, from, "")
			for i, k := range keys {
				if err := at.Put(attrKey(to, string(k)), values[i]); err != nil {
					return err
				}
			}
		}
	}
	if from != inbox {
		if err := deleteAttrs(at, from); err != nil {
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

// SetAttribute sets a mailbox attribute and syncs the file.
func (s *Bolt) SetAttribute(ctx context.Context, user, mailbox, key, value string) error {
	return s.updateAttr(ctx, "set", user, mailbox, func(at *bolt.Bucket) error {
		return at.Put(attrKey(mailbox, key), []byte(value))
	})
}

// UnsetAttribute removes a mailbox attribute and syncs the file.
func (s *Bolt) UnsetAttribute(ctx context.Context, user, mailbox, key string) error {
	return s.updateAttr(ctx, "unset", user, mailbox, func(at *bolt.Bucket) error {
		return at.Delete(attrKey(mailbox, key))
	})
}

// updateAttr runs fn on the user's attr bucket in a write transaction and
// makes the result durable even when Apply runs without fsync.
func (s *Bolt) updateAttr(ctx context.Context, op, user, mailbox string, fn func(*bolt.Bucket) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if user == "" {
		return fmt.Errorf("store: %s attribute: %w", op, errEmptyUser)
	}
	if err := checkMailbox(mailbox); err != nil {
		return fmt.Errorf("store: %s attribute: %w", op, err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		_, at, err := writeBuckets(tx, user)
		if err != nil {
			return err
		}
		return fn(at)
	})
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
