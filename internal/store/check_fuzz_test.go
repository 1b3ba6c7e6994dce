package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var (
	fuzzBaseOnce sync.Once
	fuzzBase     []byte
	fuzzBaseErr  error
)

// fuzzStore is a small healthy store (a branch page in the state bucket,
// a freelist) to damage.
func fuzzStore() ([]byte, error) {
	fuzzBaseOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pushlua-fuzz")
		if err != nil {
			fuzzBaseErr = err
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "store.db")
		s, err := OpenBolt(path, BoltOptions{})
		if err != nil {
			fuzzBaseErr = err
			return
		}
		ctx := context.Background()
		for i := range 120 {
			u := fmt.Sprintf("user-%03d@example.com", i)
			if err := s.Apply(ctx, u, &Snapshot{Status: map[string]Status{"INBOX": {Messages: uint32(i)}, "Sent": {}},
				Metadata: map[string]*string{"/private/gate": ptr(u)}}); err != nil {
				fuzzBaseErr = err
				return
			}
			if i%7 == 0 {
				if err := s.SetAttribute(ctx, u, "Sent", "/shared/comment", "sent mail"); err != nil {
					fuzzBaseErr = err
					return
				}
			}
		}
		if err := s.Close(); err != nil {
			fuzzBaseErr = err
			return
		}
		fuzzBase, fuzzBaseErr = os.ReadFile(path)
	})
	return fuzzBase, fuzzBaseErr
}

// FuzzCheck damages a healthy store with the patches data encodes (each:
// a 4-byte offset, a length byte, that many bytes) and holds Check to its
// promise: a file it passes is one bbolt can open, read to the end, check
// (Tx.Check finds nothing) and write to without a panic or a fault, and
// whose records all decode.
//
//	go test -run '^$' -fuzz FuzzCheck -fuzztime 2m ./internal/store/
func FuzzCheck(f *testing.F) {
	base, err := fuzzStore()
	if err != nil {
		f.Fatal(err)
	}
	seed := func(off uint32, b ...byte) []byte {
		out := binary.LittleEndian.AppendUint32(nil, off)
		return append(append(out, byte(len(b))), b...)
	}
	f.Add([]byte{})
	f.Add(seed(4096*2+8, 0xff, 0xff))                 // page 2's flags
	f.Add(seed(4096*3+10, 0xf0, 0xff))                // page 3's count
	f.Add(seed(4096*4, 1, 2, 3, 4, 5, 6, 7, 8))       // page 4's id
	f.Add(seed(4096*5+16, 0xff, 0xff, 0xff, 0x7f, 0)) // an element's pos
	f.Add(seed(4096*6+24, 0xff, 0xff, 0xff, 0xff, 0)) // an element's pgid
	f.Add(seed(16+40, 3, 0, 0, 0))                    // meta 0's high-water mark
	f.Add(append(seed(4096*7+20, 0), seed(10, 1)...)) // two patches
	f.Fuzz(func(t *testing.T, data []byte) {
		file := append([]byte(nil), base...)
		for len(data) >= 5 {
			off := int(binary.LittleEndian.Uint32(data)) % len(file)
			n := min(int(data[4]), len(data)-5)
			copy(file[off:], data[5:5+n])
			data = data[5+n:]
		}
		path := filepath.Join(t.TempDir(), "store.db")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := Check(path, -1)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			return
		}
		if msg := useWithBolt(path); msg != "" {
			t.Fatalf("Check passed the file (warnings %q), but %s", rep.Warnings, msg)
		}
	})
}

// useWithBolt opens path with bbolt, reads every key, runs Tx.Check and
// writes, and says what went wrong ("" for nothing). A panic or a fault in
// this goroutine is reported, not fatal.
func useWithBolt(path string) (msg string) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprintf("bbolt panicked: %v\n%s", r, debug.Stack())
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{})
	if err != nil {
		return "bbolt.Open: " + err.Error()
	}
	defer db.Close()
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(b.Bucket(k))
			}
			return nil
		})
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) }); err != nil {
			return err
		}
		if st := tx.Bucket(bucketState); st != nil {
			if err := st.ForEach(func(k, v []byte) error {
				if _, err := decodeRecord(v); err != nil {
					return fmt.Errorf("the record of %q: %w", k, err)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		var first error
		for err := range tx.Check() {
			// Pages neither used nor free waste space and nothing
			// else: Check only warns about them.
			if first == nil && !strings.Contains(err.Error(), "unreachable unfreed") {
				first = fmt.Errorf("bbolt's check: %w", err)
			}
		}
		return first
	}); err != nil {
		return err.Error()
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("fuzz"))
		if err != nil {
			return err
		}
		for i := range 200 {
			if err := b.Put(fmt.Appendf(nil, "k%04d", i), make([]byte, 100)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return "write: " + err.Error()
	}
	return ""
}
