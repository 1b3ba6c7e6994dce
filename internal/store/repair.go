package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RepairReport says what Repair did.
type RepairReport struct {
	Path string
	// Damage is the check of the file before the repair; when it is OK,
	// Repair changed nothing.
	Damage *Report
	// TxID is the transaction of the meta page the salvage read from (the
	// one that gave the most records).
	TxID    uint64
	Users   int // users salvaged
	Records int // status records, attributes and other keys salvaged
	// Skipped is the damage the salvage went around: each entry cost the
	// keys under one page or bucket.
	Skipped []string
	// MovedTo is where the damaged file now is.
	MovedTo string
}

// Repair salvages a damaged store file: it takes the file's lock (see
// BoltOptions.Timeout), reads everything readable with the same checked
// walk as Check, from the meta page that yields the most (the newest one
// on a tie), copies it into a new file, rebuilds the expiry index (users
// whose touch was lost count as touched now, by opts.Now), moves the
// damaged file aside as PATH.corrupt-<UTC timestamp> and puts the new file
// in its place. A file Check finds OK is left alone. The keys under a
// damaged page are lost; the report lists the damage.
func Repair(path string, opts BoltOptions) (*RepairReport, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("store: repair: %w", err)
	}
	defer f.Close()
	if err := lockFile(f, path, true, opts.Timeout); err != nil {
		return nil, err
	}
	damage, err := checkFile(f, path)
	if err != nil {
		return nil, err
	}
	rr := &RepairReport{Path: path, Damage: damage}
	if damage.OK() {
		return rr, nil
	}

	src, unmap := mapFile(f, damage.Size)
	defer unmap()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	// Choose the meta page to salvage from: a dry walk from each.
	metas, _ := readMetas(src, damage.Size)
	var best *boltMeta
	for i := range metas {
		w := newWalker(src, damage.Size, metas[i], nil)
		w.run()
		if best == nil || w.records > rr.Records {
			best, rr.Records = &metas[i], w.records
		}
	}

	tmp := path + ".repair-tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("store: repair: %w", err)
	}
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: repair: create %s: %w", tmp, err)
	}
	copied, err := salvage(db, src, damage.Size, best, now().Unix())
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("store: repair %s: %w", path, err)
	}
	if best != nil {
		rr.TxID = best.txid
	} else {
		copied.problems = append(copied.problems, "no valid meta page: nothing could be salvaged")
	}
	rr.Users, rr.Records, rr.Skipped = copied.users, copied.records, copied.problems
	if copied.dropped > 0 {
		rr.Skipped = append(rr.Skipped, fmt.Sprintf("... and %d more", copied.dropped))
	}

	rr.MovedTo = path + ".corrupt-" + now().UTC().Format("20060102T150405Z")
	if err := os.Rename(path, rr.MovedTo); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("store: repair: moving the damaged file aside: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("store: repair: the damaged file is %s, but the salvaged store %s could not take its place: %w", rr.MovedTo, tmp, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return rr, nil
}

// salvageBatch is how many keys one write transaction of the salvage
// copies.
const salvageBatch = 10000

// salvage copies what a checked walk of f from meta m reads into db, in
// batches, leaving out the expiry index, which it then rebuilds (a user
// without a touch counts as touched at now). With m nil (no valid meta
// page) it only creates the buckets of an empty store.
func salvage(db *bolt.DB, f io.ReaderAt, size int64, m *boltMeta, now int64) (*walker, error) {
	tx, err := db.Begin(true)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var werr error
	n := 0
	bucketAt := func(path [][]byte) (*bolt.Bucket, error) {
		b, err := tx.CreateBucketIfNotExists(path[0])
		for _, name := range path[1:] {
			if err != nil {
				break
			}
			b, err = b.CreateBucketIfNotExists(name)
		}
		return b, err
	}
	skip := func(path [][]byte) bool { return bytes.Equal(path[0], bucketExpiry) }
	v := &visitor{
		bucket: func(path [][]byte, _ uint64) {
			if werr == nil && !skip(path) {
				_, werr = bucketAt(path)
			}
		},
		kv: func(path [][]byte, k, v []byte) {
			if werr != nil || len(path) == 0 || skip(path) {
				return // the root holds only buckets
			}
			b, err := bucketAt(path)
			if err == nil {
				err = b.Put(bytes.Clone(k), bytes.Clone(v))
			}
			if err != nil {
				werr = err
				return
			}
			if n++; n%salvageBatch == 0 {
				if werr = tx.Commit(); werr == nil {
					tx, werr = db.Begin(true)
				}
			}
		},
	}
	w := &walker{}
	if m != nil {
		w = newWalker(f, size, *m, v)
		w.run()
	}
	if werr != nil {
		return nil, werr
	}
	if err := rebuildExpiry(tx, now); err != nil {
		return nil, err
	}
	return w, tx.Commit()
}

// rebuildExpiry creates the users bucket if the salvage found none and
// indexes every user's touch, touching at now those without one.
func rebuildExpiry(tx *bolt.Tx, now int64) error {
	users, err := tx.CreateBucketIfNotExists(bucketUsers)
	if err != nil {
		return err
	}
	if tx.Bucket(bucketExpiry) != nil {
		if err := tx.DeleteBucket(bucketExpiry); err != nil {
			return err
		}
	}
	idx, err := tx.CreateBucket(bucketExpiry)
	if err != nil {
		return err
	}
	var names [][]byte
	_ = users.ForEach(func(k, v []byte) error {
		if v == nil {
			names = append(names, bytes.Clone(k))
		}
		return nil
	})
	for _, name := range names {
		ub := users.Bucket(name)
		if t := ub.Get(keyTouched); len(t) == 8 {
			if err := idx.Put(indexKey(int64(binary.BigEndian.Uint64(t)), string(name)), []byte{}); err != nil {
				return err
			}
			continue
		}
		if err := touch(tx, ub, string(name), now); err != nil {
			return err
		}
	}
	return nil
}
