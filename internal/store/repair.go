package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
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
	copied, users, err := salvage(db, src, damage.Size, best, now().Unix())
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
	rr.Users, rr.Records, rr.Skipped = users, copied.records, copied.problems
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

// salvageBatch is how many users one write transaction of the salvage
// writes.
const salvageBatch = 10000

// salvager gathers the users a checked walk reads, from a file in either
// layout (records, or the earlier nested buckets; see migrate.go).
type salvager struct {
	users      map[string]*userState
	old        map[string]bool // users read from the earlier layout
	hadExpiry  bool            // the file has an expiry index
	damaged    []string        // records that do not decode
	droppedRec int
}

func (g *salvager) user(name []byte) *userState {
	u := g.users[string(name)]
	if u == nil {
		u = &userState{}
		g.users[string(name)] = u
	}
	return u
}

func (g *salvager) bucket(path [][]byte, _ uint64) {
	if len(path) == 1 && bytes.Equal(path[0], bucketExpiry) {
		g.hadExpiry = true
	}
	if len(path) == 2 && bytes.Equal(path[0], bucketUsers) {
		g.user(path[1])
		g.old[string(path[1])] = true
	}
}

func (g *salvager) kv(path [][]byte, k, v []byte) {
	switch {
	case len(path) == 1 && bytes.Equal(path[0], bucketState):
		u, err := decodeRecord(v)
		if err != nil {
			if len(g.damaged) < maxProblems {
				g.damaged = append(g.damaged, fmt.Sprintf("the record of %q: %v", k, err))
			} else {
				g.droppedRec++
			}
			return
		}
		g.users[string(k)] = u
	case len(path) == 2 && bytes.Equal(path[0], bucketUsers) && bytes.Equal(k, oldKeyTouched):
		if len(v) == 8 {
			g.user(path[1]).touched = int64(binary.BigEndian.Uint64(v))
		}
	case len(path) == 3 && bytes.Equal(path[0], bucketUsers):
		u := g.user(path[1])
		switch {
		case bytes.Equal(path[2], oldBucketStatus):
			var st Status
			if checkMailbox(string(k)) == nil && json.Unmarshal(v, &st) == nil {
				u.boxes = append(u.boxes, boxState{name: string(k), st: cloneStatus(st)})
			}
		case bytes.Equal(path[2], oldBucketAttr), bytes.Equal(path[2], oldBucketPinned):
			mailbox, key, ok := bytes.Cut(k, []byte{0})
			if !ok || checkMailbox(string(mailbox)) != nil {
				return
			}
			pinned := bytes.Equal(path[2], oldBucketPinned)
			i, found := u.attr(string(mailbox), string(key))
			switch {
			case pinned && found:
				u.attrs[i].pinned = true
			case !pinned && !found:
				u.attrs = slices.Insert(u.attrs, i, attrState{mailbox: string(mailbox), key: string(key), value: string(v)})
			}
			// (A user's attr bucket walks before its pinned bucket: a
			// mark without its attribute lost the attribute to damage,
			// and goes too.)
		}
	}
}

// salvage copies what a checked walk of f from meta m reads into db as
// records, in batches, and builds the expiry index (a user without a
// touch counts as touched at now). With m nil (no valid meta page) it only
// creates the buckets of an empty store.
func salvage(db *bolt.DB, f io.ReaderAt, size int64, m *boltMeta, now int64) (*walker, int, error) {
	g := &salvager{users: map[string]*userState{}, old: map[string]bool{}}
	w := &walker{}
	if m != nil {
		w = newWalker(f, size, *m, &visitor{bucket: g.bucket, kv: g.kv})
		w.run()
	}
	w.problems = append(w.problems, g.damaged...)
	if g.droppedRec > 0 {
		w.dropped += g.droppedRec
	}
	names := slices.Sorted(maps.Keys(g.users))
	for start := 0; ; start += salvageBatch {
		end := min(start+salvageBatch, len(names))
		err := db.Update(func(tx *bolt.Tx) error {
			state, idx, err := flatBuckets(tx)
			if err != nil {
				return err
			}
			state.FillPercent, idx.FillPercent = 0.9, 0.9
			for _, name := range names[start:end] {
				u := g.users[name]
				if g.old[name] {
					fixOld(u, !g.hadExpiry)
				}
				if u.touched == 0 {
					u.touched = now
				}
				if err := state.Put([]byte(name), u.encode(nil)); err != nil {
					return err
				}
				if err := idx.Put(indexKey(u.touched, name), []byte{}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		if end == len(names) {
			return w, len(names), nil
		}
	}
}

// fixOld finishes a user read from the earlier layout: status records in
// order and, for a store written before expiry existed, every attribute
// pinned (see migrate).
func fixOld(u *userState, pinAll bool) {
	slices.SortFunc(u.boxes, func(a, b boxState) int { return strings.Compare(a.name, b.name) })
	u.boxes = slices.CompactFunc(u.boxes, func(a, b boxState) bool { return a.name == b.name })
	if pinAll {
		for i := range u.attrs {
			u.attrs[i].pinned = true
		}
	}
}
