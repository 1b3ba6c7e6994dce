package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultBoltTimeout is how long OpenBolt waits for the database's file lock
// when BoltOptions.Timeout is zero.
const DefaultBoltTimeout = 2 * time.Second

// DefaultFlushInterval is BoltOptions.FlushInterval's default.
const DefaultFlushInterval = time.Second

// DefaultCacheUsers is BoltOptions.CacheUsers's default.
const DefaultCacheUsers = 100_000

// BoltOptions configures OpenBolt. The zero value is ready to use.
type BoltOptions struct {
	// Timeout bounds the wait for the file lock that an open database
	// holds, so that a second pushlua process on the same file fails
	// instead of hanging. Zero means DefaultBoltTimeout; a negative value
	// means a single attempt.
	Timeout time.Duration

	// SyncApply makes Apply write what it changed, and fsync it, before
	// it returns. By default it does not: snapshots are a cache of the
	// mail server's state that the next transaction repairs, and writing
	// them behind (FlushInterval) is what makes Apply cheap.
	// SetAttribute and UnsetAttribute always write and sync before they
	// return.
	SyncApply bool

	// FlushInterval is how long a change that Apply made may wait in
	// memory before it is written to the file. Changes are written in
	// one bbolt transaction per interval (sooner when many users have
	// changed); Close writes what is left. A crash loses the changes of
	// the last interval: status records, mailboxes and transaction-learned
	// METADATA, all of which the next transactions carry again. Zero
	// means DefaultFlushInterval; a negative value writes each Apply's
	// changes before it returns (without fsync unless SyncApply).
	FlushInterval time.Duration

	// CacheUsers is how many users' state the store keeps in memory at
	// most; past it, users without unwritten changes are dropped from
	// memory and read again from the file when next needed. Zero means
	// DefaultCacheUsers.
	CacheUsers int

	// Expire is how long a user's state is kept after the last
	// transaction or attribute write touched it; ExpireIdle and RunExpiry
	// remove it then (see ExpireIdle for what is kept). Zero means
	// DefaultExpire; NeverExpire (any negative value) keeps everything.
	Expire time.Duration

	// Now is the clock that touches and expiry read. Nil means time.Now.
	Now func() time.Time

	// Logger receives the errors of the writes behind; nil discards
	// them (Close and Flush return them too).
	Logger *slog.Logger
}

// Bolt is a Store kept in a bbolt file, with each user's state in one
// key, and a cache of the users' state in memory in front of it. Its
// layout:
//
//	state/<user>              the user's record (see userState.encode):
//	                          status records, attributes and their pinned
//	                          marks, last touch
//	expiry/<touched> <user>   (empty) index of the touches, oldest first
//
// An attribute is pinned when SetAttribute set it; ExpireIdle keeps those.
//
// Apply compares a snapshot with the user's state in memory (read from the
// file on first use) and changes nothing when the snapshot tells nothing
// new; what it changes is written behind, in batches (see
// BoltOptions.FlushInterval). SetAttribute and UnsetAttribute write through
// and sync. Users do not share a lock: transactions of different users
// apply in parallel.
//
// One process at a time can open the file (bbolt holds a flock on it).
// OpenBolt checks the file's structure before bbolt maps it (see Check)
// and refuses a damaged file with a *CorruptError; Repair salvages it. A
// file in the layout of earlier versions (users/<user>/status/<mailbox>,
// .../attr/..., .../pinned/..., .../touched: nested buckets per user) is
// converted when it is opened.
type Bolt struct {
	db     *bolt.DB
	path   string
	noSync bool // Apply commits without fsync

	now        func() time.Time
	expire     time.Duration // < 0: never
	touchEvery time.Duration // a touch younger than this is not rewritten
	users      atomic.Int64  // users with a record, for Users

	shards   [nShards]shard
	seed     maphash.Seed
	perShard int // cached users per shard at most

	// Writing: wmu orders the writes of the cache's changes (Flush) so
	// that the last state encoded is the last one committed.
	wmu          sync.Mutex
	writeThrough bool
	queued       atomic.Int64 // users with changes waiting for a write
	flushAt      int64        // queued users that start a write early
	kick         chan struct{}
	stop         chan struct{}
	done         chan struct{}
	closed       atomic.Bool
	log          *slog.Logger
}

var _ Store = (*Bolt)(nil)

// nShards is how many locks the cache is split under.
const nShards = 64

// shard is one part of the cache: the users whose name hashes to it.
type shard struct {
	mu    sync.Mutex
	users map[string]*entry
	queue []*entry // entries with changes not yet handed to a write
}

// entry is one cached user.
type entry struct {
	name string
	st   *userState
	// stored: the user has a record, in the file or once the queued
	// change is written.
	stored bool
	queued bool   // on its shard's queue
	gen    uint64 // changes made
	saved  uint64 // gen of the last record committed
	// What the file holds: a record, and the touch its index has (0:
	// none). Only written by a write, under wmu.
	diskStored bool
	disk       int64
}

// clean reports whether the file holds e's state, so that e can be
// dropped from memory.
func (e *entry) clean() bool { return !e.queued && e.gen == e.saved }

var (
	bucketState  = []byte("state")
	bucketExpiry = []byte("expiry")
	// bucketUsers is the nested-bucket layout of earlier versions (see
	// migrate.go).
	bucketUsers = []byte("users")
)

// errClosed is returned by the methods of a closed Bolt.
var errClosed = errors.New("store: closed")

// OpenBolt opens the database at path, creating it (mode 0600) and its
// parent directories (mode 0700) if needed. It takes the file's lock,
// checks the file (see Check) and refuses a damaged one with a
// *CorruptError (errors.Is(err, ErrCorrupt)) instead of letting bbolt
// crash on it. A file in an earlier layout is converted.
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
	s := &Bolt{path: path, noSync: !opts.SyncApply, now: opts.Now, expire: opts.Expire,
		seed: maphash.MakeSeed(), log: opts.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case s.expire == 0:
		s.expire = DefaultExpire
	case s.expire < 0:
		s.expire = NeverExpire
	}
	s.touchEvery = touchResolution(s.expire)
	cacheUsers := opts.CacheUsers
	if cacheUsers <= 0 {
		cacheUsers = DefaultCacheUsers
	}
	s.perShard = max(cacheUsers/nShards, 1)
	for i := range s.shards {
		s.shards[i].users = map[string]*entry{}
	}
	if err := s.open(f, opts); err != nil {
		return nil, err
	}
	interval := opts.FlushInterval
	if interval == 0 {
		interval = DefaultFlushInterval
	}
	s.writeThrough = interval < 0 || opts.SyncApply
	if !s.writeThrough {
		s.flushAt = int64(max(s.perShard*nShards/4, 1024))
		s.kick = make(chan struct{}, 1)
		s.stop = make(chan struct{})
		s.done = make(chan struct{})
		go s.flusher(interval)
	}
	return s, nil
}

// open hands the checked, locked file f to bbolt, converts an earlier
// layout and initialises the buckets. The check leaves bbolt nothing to
// fault on; should it still, the fault (SetPanicOnFault) or panic becomes
// a *CorruptError.
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
	// Grow the file in small steps: the file's size is what the store
	// costs, and bbolt's default step is 16 MB.
	db.AllocSize = 1 << 20
	var users int64
	if err := db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketUsers) != nil {
			if err := s.migrate(tx); err != nil {
				return fmt.Errorf("converting the store from its earlier layout: %w", err)
			}
		}
		st, _, err := flatBuckets(tx)
		if err != nil {
			return err
		}
		return st.ForEach(func(_, _ []byte) error {
			users++
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

// Close writes the changes still in memory, closes the database and
// releases its file lock.
func (s *Bolt) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.stop != nil {
		close(s.stop)
		<-s.done
	}
	err := s.Flush()
	if cerr := s.db.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("store: close %s: %w", s.path, cerr)
	}
	return err
}

// flusher writes the cache's changes every interval, and sooner when many
// users have changed, until Close.
func (s *Bolt) flusher(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		if err := s.Flush(); err != nil {
			s.log.Error(err.Error() + " (trying again in " + interval.String() + ")")
		}
	}
}

// shard returns the cache shard of user.
func (s *Bolt) shard(user string) *shard {
	return &s.shards[maphash.String(s.seed, user)%nShards]
}

// entry returns user's cache entry, reading the user's record from the
// file when it is not in memory. sh (user's shard) is locked.
func (s *Bolt) entry(sh *shard, user string) (*entry, error) {
	if e := sh.users[user]; e != nil {
		return e, nil
	}
	e := &entry{name: user, st: &userState{}}
	if user != "" {
		err := s.db.View(func(tx *bolt.Tx) error {
			v := tx.Bucket(bucketState).Get([]byte(user))
			if v == nil {
				return nil
			}
			st, err := decodeRecord(v)
			if err != nil {
				return err
			}
			e.st, e.stored, e.diskStored, e.disk = st, true, true, st.touched
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("the record of %q in %s: %w", user, s.path, err)
		}
	}
	if len(sh.users) >= s.perShard {
		s.evict(sh)
	}
	sh.users[user] = e
	return e, nil
}

// evict drops about an eighth of the shard's users whose state the file
// holds (map order: at random). sh is locked.
func (s *Bolt) evict(sh *shard) {
	n := max(s.perShard/8, 1)
	for name, e := range sh.users {
		if n == 0 {
			return
		}
		if e.clean() {
			delete(sh.users, name)
			n--
		}
	}
}

// changed records a change of e's state: e now has a record, and is
// queued for the next write. sh is locked.
func (s *Bolt) changed(sh *shard, e *entry) {
	if !e.stored {
		e.stored = true
		s.users.Add(1)
	}
	s.enqueue(sh, e)
}

// enqueue queues e for the next write. sh is locked.
func (s *Bolt) enqueue(sh *shard, e *entry) {
	e.gen++
	if e.queued {
		return
	}
	e.queued = true
	sh.queue = append(sh.queue, e)
	if n := s.queued.Add(1); s.kick != nil && n == s.flushAt {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// stale reports whether a touch at touched (Unix seconds; 0: none) is
// older than the touch resolution at now.
func (s *Bolt) stale(touched, now int64) bool {
	return touched == 0 || now-touched >= int64(s.touchEvery/time.Second)
}

// Apply applies snap for user (see Store.Apply and the package
// documentation for the order of its parts) to the user's state in
// memory; when that changes anything, the change is written behind (or
// at once with SyncApply or a negative FlushInterval).
func (s *Bolt) Apply(ctx context.Context, user string, snap *Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return errClosed
	}
	p, err := prepare(user, snap)
	if err != nil {
		return fmt.Errorf("store: apply: %w", err)
	}
	if p.empty() {
		return nil
	}
	now := s.now().Unix()
	sh := s.shard(user)
	sh.mu.Lock()
	e, err := s.entry(sh, user)
	if err != nil {
		sh.mu.Unlock()
		return fmt.Errorf("store: apply for %q: %w", user, err)
	}
	changed := e.st.apply(p, snap)
	if s.stale(e.st.touched, now) {
		e.st.touched = now
		changed = true
	}
	if changed {
		s.changed(sh, e)
	}
	sh.mu.Unlock()
	if changed && s.writeThrough {
		if err := s.Flush(); err != nil {
			return fmt.Errorf("store: apply for %q: %w", user, err)
		}
	}
	return nil
}

// pendingWrite is one user's state as a write takes it.
type pendingWrite struct {
	e          *entry
	gen        uint64
	rec        []byte // nil: remove the record
	touched    int64  // the index's new touch (0: none)
	diskStored bool   // the file has a record now
	disk       int64  // the index's touch now
}

// Flush writes every change still in memory in one bbolt transaction
// (without fsync unless SyncApply).
func (s *Bolt) Flush() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.flushLocked()
}

// flushLocked is Flush with wmu held.
func (s *Bolt) flushLocked() error {
	var (
		ws  []pendingWrite
		buf []byte
	)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for j, e := range sh.queue {
			w := pendingWrite{e: e, gen: e.gen, diskStored: e.diskStored, disk: e.disk}
			if e.stored {
				start := len(buf)
				buf = e.st.encode(buf)
				w.rec = buf[start:len(buf):len(buf)]
				w.touched = e.st.touched
			}
			e.queued = false
			ws = append(ws, w)
			sh.queue[j] = nil
		}
		sh.queue = sh.queue[:0]
		sh.mu.Unlock()
	}
	if len(ws) == 0 {
		return nil
	}
	s.queued.Add(-int64(len(ws)))
	// In name order, in transactions of flushChunk users: each rewrites
	// the leaf pages of one range of names, and the pages one frees are
	// reused by the next but one, so that the file grows by a few chunks'
	// pages, not by every page the write rewrites.
	slices.SortFunc(ws, func(a, b pendingWrite) int { return cmp.Compare(a.e.name, b.e.name) })
	for start := 0; start < len(ws); start += flushChunk {
		chunk := ws[start:min(start+flushChunk, len(ws))]
		if err := s.db.Update(func(tx *bolt.Tx) error { return writeChunk(tx, chunk) }); err != nil {
			// Queued again: the next write tries again.
			for _, w := range ws[start:] {
				sh := s.shard(w.e.name)
				sh.mu.Lock()
				if !w.e.queued {
					w.e.queued = true
					sh.queue = append(sh.queue, w.e)
					s.queued.Add(1)
				}
				sh.mu.Unlock()
			}
			return fmt.Errorf("store: writing %s: %w", s.path, err)
		}
		for _, w := range chunk {
			sh := s.shard(w.e.name)
			sh.mu.Lock()
			w.e.saved = w.gen
			w.e.diskStored = w.rec != nil
			w.e.disk = w.touched
			sh.mu.Unlock()
		}
	}
	return nil
}

// flushChunk is how many users one bbolt transaction of a write handles.
const flushChunk = 256

// writeChunk writes users' records and index entries in tx.
func writeChunk(tx *bolt.Tx, ws []pendingWrite) error {
	st, idx := tx.Bucket(bucketState), tx.Bucket(bucketExpiry)
	// Names come at random: pages split in half fill best. The index
	// is appended to (touches only grow).
	st.FillPercent, idx.FillPercent = 0.5, 0.95
	for _, w := range ws {
		key := []byte(w.e.name)
		switch {
		case w.rec != nil:
			if err := st.Put(key, w.rec); err != nil {
				return err
			}
		case w.diskStored:
			if err := st.Delete(key); err != nil {
				return err
			}
		}
		if w.disk != w.touched {
			if w.disk != 0 {
				if err := idx.Delete(indexKey(w.disk, w.e.name)); err != nil {
					return err
				}
			}
			if w.touched != 0 {
				if err := idx.Put(indexKey(w.touched, w.e.name), []byte{}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// read calls fn with user's state, locked.
func (s *Bolt) read(user string, fn func(u *userState)) error {
	if s.closed.Load() {
		return errClosed
	}
	if user == "" {
		fn(&userState{})
		return nil
	}
	sh := s.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, err := s.entry(sh, user)
	if err != nil {
		return err
	}
	fn(e.st)
	return nil
}

// Status returns the mailbox's status; see Store.Status.
func (s *Bolt) Status(ctx context.Context, user, mailbox string) (Status, error) {
	if err := ctx.Err(); err != nil {
		return Status{}, err
	}
	var (
		st    Status
		found bool
	)
	err := s.read(user, func(u *userState) {
		if i, ok := u.box(mailbox); ok {
			st, found = cloneStatus(u.boxes[i].st), true
		}
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
	err := s.read(user, func(u *userState) {
		for _, b := range u.boxes {
			names = append(names, b.name)
		}
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
	err := s.read(user, func(u *userState) {
		if i, ok := u.attr(mailbox, key); ok {
			value, found = u.attrs[i].value, true
		}
	})
	if err != nil {
		return "", false, fmt.Errorf("store: get attribute: %w", err)
	}
	return value, found, nil
}

// SetAttribute sets a mailbox attribute, marks it as the operator's (so
// that ExpireIdle keeps it; see there), touches the user and writes and
// syncs the file.
func (s *Bolt) SetAttribute(ctx context.Context, user, mailbox, key, value string) error {
	return s.updateAttr(ctx, "set", user, mailbox, func(u *userState) {
		u.setAttr(mailbox, key, value, true)
	})
}

// UnsetAttribute removes a mailbox attribute, touches the user and writes
// and syncs the file.
func (s *Bolt) UnsetAttribute(ctx context.Context, user, mailbox, key string) error {
	return s.updateAttr(ctx, "unset", user, mailbox, func(u *userState) {
		u.unsetAttr(mailbox, key)
	})
}

// updateAttr runs fn on the user's state, touches the user, and makes the
// result durable even when Apply writes behind.
func (s *Bolt) updateAttr(ctx context.Context, op, user, mailbox string, fn func(*userState)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return errClosed
	}
	if user == "" {
		return fmt.Errorf("store: %s attribute: %w", op, errEmptyUser)
	}
	if err := checkMailbox(mailbox); err != nil {
		return fmt.Errorf("store: %s attribute: %w", op, err)
	}
	now := s.now().Unix()
	sh := s.shard(user)
	sh.mu.Lock()
	e, err := s.entry(sh, user)
	if err == nil {
		fn(e.st)
		e.st.touched = now
		s.changed(sh, e)
	}
	sh.mu.Unlock()
	if err == nil {
		s.wmu.Lock()
		err = s.flushLocked()
		if err == nil && s.noSync {
			err = s.db.Sync()
		}
		s.wmu.Unlock()
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
	err := s.read(user, func(u *userState) {
		lo, hi := u.mailboxAttrs(mailbox)
		for _, a := range u.attrs[lo:hi] {
			if strings.HasPrefix(a.key, prefix) {
				out[a.key] = a.value
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("store: list attributes: %w", err)
	}
	return out, nil
}

// indexKey is the expiry index key of a touch: the time, then the user.
func indexKey(when int64, user string) []byte {
	k := make([]byte, 8, 8+len(user))
	binary.BigEndian.PutUint64(k, uint64(when))
	return append(k, user...)
}

// flatBuckets returns the two buckets of the flat layout, the per-user
// records and the expiry index, creating them when missing.
func flatBuckets(tx *bolt.Tx) (state, expiry *bolt.Bucket, err error) {
	if state, err = tx.CreateBucketIfNotExists(bucketState); err != nil {
		return nil, nil, err
	}
	if expiry, err = tx.CreateBucketIfNotExists(bucketExpiry); err != nil {
		return nil, nil, err
	}
	return state, expiry, nil
}
