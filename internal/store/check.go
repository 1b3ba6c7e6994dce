package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A damaged bbolt file cannot be opened safely: bbolt maps the file and
// follows the page ids it finds there, so a truncated file faults in
// loadFreelist (SIGSEGV/SIGBUS, which recover cannot catch) and a garbage
// page fails an assertion on the first transaction that reads it. Before
// bbolt maps a file, OpenBolt therefore reads it with plain reads and
// checks its structure: the meta pages (magic, version, checksum), that
// every page the tree, the freelist and the meta page name lies inside the
// file and below the high-water mark, that each page says it is the page
// it is read as and has the type its parent expects, that every element
// lies inside its page, that keys are non-empty and in order, that no page
// is referenced twice, and that the freelist neither frees a page in use
// nor a page twice. This is what bbolt's own Tx.Check verifies, done
// without trusting the file: Tx.Check runs on the mapped file in a
// goroutine of its own, where a fault still kills the process. The check
// also decodes every user's record (a damaged one would fail the user's
// every transaction).

// ErrCorrupt reports a store file whose structure is damaged; the error
// that wraps it is a *CorruptError naming the file and the damage.
var ErrCorrupt = errors.New("store file is damaged")

// CorruptError reports a damaged store file.
type CorruptError struct {
	Path     string
	Problems []string // what is wrong, one problem each, page ids included
}

func (e *CorruptError) Error() string {
	msg := fmt.Sprintf("store: %s is damaged: %s", e.Path, e.Problems[0])
	if n := len(e.Problems) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more problem%s)", n, plural(n))
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Report is the result of checking a store file.
type Report struct {
	Path     string
	Size     int64  // bytes
	PageSize int    // bytes; 0 when no meta page is valid
	TxID     uint64 // the transaction the file's current meta page records
	Pages    uint64 // the high-water mark: pages in use or free
	Users    int    // users found
	Records  int    // keys found outside the bucket structure: user records, index entries (earlier layout: status records, attributes, ...)
	// Problems is the damage: any problem makes OpenBolt refuse the file.
	Problems []string
	// Warnings are harmless oddities: a meta page that fails its checksum
	// while the other one is good (what an interrupted commit leaves),
	// pages neither in use nor free (space that repair reclaims).
	Warnings []string
}

// OK reports whether the file has no problem.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Err returns a *CorruptError for a damaged file, else nil.
func (r *Report) Err() error {
	if r.OK() {
		return nil
	}
	return &CorruptError{Path: r.Path, Problems: r.Problems}
}

// maxProblems bounds the problems a check keeps: past it the walk goes on
// (a repair still salvages everything it can) but stops recording.
const maxProblems = 100

// Check checks the store file at path without opening it with bbolt: it
// takes the file's shared lock (so it fails, after timeout, while another
// process has the store open; see BoltOptions.Timeout), reads the file and
// reports its state. A missing file is reported as OK with Size 0. The
// error is for failures to read the file; damage is in the Report.
func Check(path string, timeout time.Duration) (*Report, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Report{Path: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	defer f.Close()
	if err := lockFile(f, path, false, timeout); err != nil {
		return nil, err
	}
	return checkFile(f, path)
}

// checkFile reads the store file f (named path) and reports its state.
func checkFile(f *os.File, path string) (rep *Report, err error) {
	defer func() {
		// The walk recovers by itself; this catches a fault on the
		// mapping outside it (the file shrank under the lock).
		if r := recover(); r != nil {
			rep, err = nil, fmt.Errorf("store: check %s: reading it failed: %v", path, r)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: check %s: %w", path, err)
	}
	rep = &Report{Path: path, Size: fi.Size()}
	if rep.Size == 0 {
		return rep, nil // a new file: bbolt initialises it
	}
	src, unmap := mapFile(f, rep.Size)
	defer unmap()
	// A fault on the mapping (the file shrank under it, by a process
	// that ignores the lock) becomes a panic the walk recovers from.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	metas, warnings := readMetas(src, rep.Size)
	rep.Warnings = append(rep.Warnings, warnings...)
	if len(metas) == 0 {
		rep.Problems = append(rep.Problems, "not a bbolt database, or both of its meta pages are damaged (no valid meta page)")
		return rep, nil
	}
	for page := range int64(2) {
		// The checksum covers the meta, not the page header, which
		// bbolt's Tx.Check asserts on. A meta page that an interrupted
		// commit left invalid still has its header.
		hdr := make([]byte, pageHeaderSize)
		if _, err := src.ReadAt(hdr, page*int64(metas[0].pageSize)); err != nil {
			return nil, fmt.Errorf("store: check %s: %w", path, err)
		}
		if id, flags := ne.Uint64(hdr), ne.Uint16(hdr[8:]); id != uint64(page) || flags != metaPageFlag {
			rep.Problems = append(rep.Problems, fmt.Sprintf("meta page %d: its page header is damaged (id %d, flags %#x)", page, id, flags))
		}
	}
	m := metas[0] // bbolt uses the valid meta page with the highest txid
	rep.PageSize, rep.TxID, rep.Pages = int(m.pageSize), m.txid, m.pgid
	w := newWalker(src, rep.Size, m, nil)
	w.run()
	rep.Users, rep.Records = w.users, w.records
	rep.Problems = append(rep.Problems, w.problems...)
	if w.dropped > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("... and %d more problems", w.dropped))
	}
	rep.Warnings = append(rep.Warnings, w.warnings...)
	return rep, nil
}

// bbolt's on-disk format (version 2), in the machine's byte order.
const (
	pageHeaderSize   = 16 // id uint64, flags uint16, count uint16, overflow uint32
	pageElementSize  = 16 // branch: pos, ksize uint32, pgid uint64; leaf: flags, pos, ksize, vsize uint32
	bucketHeaderSize = 16 // root pgid uint64, sequence uint64
	metaOffset       = pageHeaderSize
	metaSize         = 64 // magic, version, pageSize, flags uint32; root bucket 16; freelist, pgid, txid, checksum uint64

	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	metaPageFlag     = 0x04
	freelistPageFlag = 0x10
	bucketLeafFlag   = 0x01

	boltMagic   = 0xED0CDAED
	boltVersion = 2
	noFreelist  = ^uint64(0)

	minPageSize = 512
	maxPageSize = 1 << 24 // bbolt probes page sizes up to 16 MiB
	maxDepth    = 64      // deeper than any real tree: a loop
)

var ne = binary.NativeEndian

// boltMeta is one decoded, valid meta page.
type boltMeta struct {
	page     int // 0 or 1
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // high-water mark
	txid     uint64
}

// decodeMeta decodes the meta page in b (the page from its header on) and
// validates magic, version and checksum as bbolt does.
func decodeMeta(b []byte) (boltMeta, error) {
	if len(b) < metaOffset+metaSize {
		return boltMeta{}, errors.New("short")
	}
	mb := b[metaOffset : metaOffset+metaSize]
	switch {
	case ne.Uint32(mb[0:]) != boltMagic:
		return boltMeta{}, errors.New("bad magic")
	case ne.Uint32(mb[4:]) != boltVersion:
		return boltMeta{}, fmt.Errorf("format version %d, not %d", ne.Uint32(mb[4:]), boltVersion)
	}
	h := fnv.New64a()
	h.Write(mb[:56])
	if h.Sum64() != ne.Uint64(mb[56:]) {
		return boltMeta{}, errors.New("checksum mismatch")
	}
	return boltMeta{
		pageSize: ne.Uint32(mb[8:]),
		root:     ne.Uint64(mb[16:]),
		freelist: ne.Uint64(mb[32:]),
		pgid:     ne.Uint64(mb[40:]),
		txid:     ne.Uint64(mb[48:]),
	}, nil
}

// readMetas returns the file's valid meta pages, the one bbolt uses (the
// highest txid) first, and warnings about an invalid one. The page size
// comes from meta page 0, or, when it is damaged, from probing where meta
// page 1 would be for each page size bbolt supports, as bbolt does.
func readMetas(f io.ReaderAt, size int64) ([]boltMeta, []string) {
	read := func(off int64) ([]byte, error) {
		b := make([]byte, metaOffset+metaSize)
		if _, err := f.ReadAt(b, off); err != nil {
			return nil, err
		}
		return b, nil
	}
	var metas []boltMeta
	var warnings []string
	var err0 error
	pageSize := int64(0)
	if b, err := read(0); err != nil {
		err0 = err
	} else if m, err := decodeMeta(b); err != nil {
		err0 = err
	} else if int64(m.pageSize) < minPageSize || m.pageSize > maxPageSize {
		err0 = fmt.Errorf("implausible page size %d", m.pageSize)
	} else {
		pageSize = int64(m.pageSize)
		metas = append(metas, m)
	}
	if pageSize > 0 {
		b, err := read(pageSize)
		var m boltMeta
		if err == nil {
			m, err = decodeMeta(b)
		}
		if err == nil && int64(m.pageSize) != pageSize {
			err = fmt.Errorf("page size %d, meta page 0 says %d", m.pageSize, pageSize)
		}
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("meta page 1 is invalid (%v); meta page 0 is good", err))
		} else {
			m.page = 1
			metas = append(metas, m)
		}
	} else {
		for ps := int64(1024); ps <= maxPageSize && ps < size; ps <<= 1 {
			b, err := read(ps)
			if err != nil {
				continue
			}
			if m, err := decodeMeta(b); err == nil && int64(m.pageSize) == ps {
				m.page = 1
				metas = append(metas, m)
				warnings = append(warnings, fmt.Sprintf("meta page 0 is invalid (%v); meta page 1 is good", err0))
				break
			}
		}
	}
	slices.SortStableFunc(metas, func(a, b boltMeta) int {
		switch {
		case a.txid > b.txid:
			return -1
		case a.txid < b.txid:
			return 1
		}
		return 0
	})
	return metas, warnings
}

// walker reads a bbolt file's page tree with plain reads, checking every
// page before it uses it, and hands each bucket and key/value pair to its
// visitor. A damaged page is recorded as a problem and its subtree
// skipped; the walk goes on with the rest of the file.
type walker struct {
	f        io.ReaderAt
	size     int64
	ps       int64
	meta     boltMeta
	limit    uint64 // pages that can be read: below the high-water mark and inside the file
	visit    visitor
	seen     map[uint64]bool // pages in use: meta, freelist, tree (overflow pages included)
	problems []string
	dropped  int // problems not recorded past maxProblems
	warnings []string
	users    int
	records  int
}

// visitor receives what a walk finds: bucket for each bucket (path is its
// name and those of its parents, outermost first), kv for each key/value
// pair with the path of its bucket. Either may be nil. The slices are only
// valid during the call.
type visitor struct {
	bucket func(path [][]byte, seq uint64)
	kv     func(path [][]byte, k, v []byte)
}

func newWalker(f io.ReaderAt, size int64, m boltMeta, v *visitor) *walker {
	w := &walker{f: f, size: size, ps: int64(m.pageSize), meta: m, seen: map[uint64]bool{}}
	if v != nil {
		w.visit = *v
	}
	w.limit = m.pgid
	if inFile := uint64(size / w.ps); inFile < w.limit {
		w.limit = inFile
	}
	return w
}

func (w *walker) problem(format string, args ...any) {
	if len(w.problems) >= maxProblems {
		w.dropped++
		return
	}
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

// run walks the whole file: the meta page's bounds, the tree, the
// freelist, and the pages neither used nor free.
func (w *walker) run() {
	defer func() {
		if r := recover(); r != nil {
			w.problem("reading the file failed: %v", r)
		}
	}()
	m := w.meta
	if m.pgid > uint64(w.size/w.ps) {
		w.problem("the file is %d bytes but its meta page %d says the database spans %d pages of %d bytes: the file was truncated",
			w.size, m.page, m.pgid, w.ps)
	} else if w.size%w.ps != 0 {
		w.warnings = append(w.warnings, fmt.Sprintf("the file size %d is not a multiple of the page size %d", w.size, w.ps))
	}
	if m.pgid < 3 {
		w.problem("meta page %d: high-water mark %d is below the first data page", m.page, m.pgid)
		return
	}
	w.seen[0], w.seen[1] = true, true
	if m.root < 2 || m.root >= m.pgid {
		w.problem("meta page %d: root page %d outside pages 2..%d", m.page, m.root, m.pgid-1)
	} else {
		w.tree(nil, m.root, 0)
	}
	freed := w.freelist()
	leaked := 0
	for id := uint64(2); id < w.limit; id++ {
		if !w.seen[id] && !freed[id] {
			leaked++
		}
	}
	if leaked > 0 && len(w.problems) == 0 {
		// (With damage, the unreadable pages would count too.)
		w.warnings = append(w.warnings, fmt.Sprintf("%d page%s neither in use nor free (lost space; repair reclaims it)", leaked, plural(leaked)))
	}
}

// page reads page id with its overflow pages, checking that it lies below
// the high-water mark and inside the file and that its header names it.
func (w *walker) page(id uint64) ([]byte, error) {
	if id < 2 || id >= w.meta.pgid {
		return nil, fmt.Errorf("page %d: outside pages 2..%d", id, w.meta.pgid-1)
	}
	if id >= w.limit {
		return nil, fmt.Errorf("page %d: beyond the end of the file (%d bytes)", id, w.size)
	}
	hdr, err := w.read(int64(id)*w.ps, pageHeaderSize)
	if err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	if got := ne.Uint64(hdr); got != id {
		return nil, fmt.Errorf("page %d: its header says it is page %d (garbage or misplaced data)", id, got)
	}
	overflow := uint64(ne.Uint32(hdr[12:]))
	if id+overflow >= w.limit {
		return nil, fmt.Errorf("page %d: its %d overflow pages run past the %s", id, overflow,
			map[bool]string{true: "end of the file", false: "high-water mark"}[w.limit < w.meta.pgid])
	}
	b, err := w.read(int64(id)*w.ps, int64(overflow+1)*w.ps)
	if err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	return b, nil
}

// read returns n bytes of the file at off: a slice of the mapping when
// the file is mapped, else a copy.
func (w *walker) read(off, n int64) ([]byte, error) {
	if m, ok := w.f.(mapped); ok {
		if off < 0 || n < 0 || off+n > int64(len(m)) {
			return nil, io.ErrUnexpectedEOF
		}
		return m[off : off+n : off+n], nil
	}
	b := make([]byte, n)
	if _, err := w.f.ReadAt(b, off); err != nil {
		return nil, err
	}
	return b, nil
}

// mapped is a file mapped read-only into memory (see mapFile).
type mapped []byte

// ReadAt copies from the mapping.
func (m mapped) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// use marks the pages of b (page id and its overflow) as in use; a page
// already in use is a problem.
func (w *walker) use(id uint64, b []byte) bool {
	n := uint64(int64(len(b)) / w.ps)
	for i := uint64(0); i < n; i++ {
		if w.seen[id+i] {
			w.problem("page %d: referenced more than once", id+i)
			return false
		}
	}
	for i := uint64(0); i < n; i++ {
		w.seen[id+i] = true
	}
	return true
}

// tree walks the bucket whose root page is root. Each bucket is walked
// under a recover, so that a mistake in reading one bucket's pages costs
// that bucket, not the walk.
func (w *walker) tree(path [][]byte, root uint64, depth int) {
	defer func() {
		if r := recover(); r != nil {
			w.problem("bucket %s: reading it failed: %v", pathString(path), r)
		}
	}()
	w.node(path, root, nil, nil, depth)
}

// node walks page id of the bucket at path; its keys must lie in
// [min, max) (nil: unbounded).
func (w *walker) node(path [][]byte, id uint64, min, max []byte, depth int) {
	if depth > maxDepth {
		w.problem("bucket %s: page %d: the tree is deeper than %d levels", pathString(path), id, maxDepth)
		return
	}
	b, err := w.page(id)
	if err != nil {
		w.problem("bucket %s: %v", pathString(path), err)
		return
	}
	if !w.use(id, b) {
		return
	}
	flags, count := ne.Uint16(b[8:]), int(ne.Uint16(b[10:]))
	switch flags {
	case branchPageFlag:
		type child struct {
			key []byte
			id  uint64
		}
		children := make([]child, 0, count)
		prev := min
		for i := 0; i < count; i++ {
			k, _, pgid, err := element(b, i, false)
			if err == nil {
				err = keyOrder(k, prev, max, i == 0)
			}
			if err != nil {
				w.problem("bucket %s: branch page %d: element %d: %v", pathString(path), id, i, err)
				return
			}
			children = append(children, child{k, pgid})
			prev = k
		}
		if count == 0 {
			w.problem("bucket %s: branch page %d has no elements", pathString(path), id)
			return
		}
		for i, c := range children {
			next := max
			if i+1 < len(children) {
				next = children[i+1].key
			}
			w.node(path, c.id, c.key, next, depth+1)
		}
	case leafPageFlag:
		w.leaf(path, fmt.Sprintf("leaf page %d", id), b, count, min, max, depth)
	default:
		w.problem("bucket %s: page %d: expected a branch or leaf page, found flags %#x", pathString(path), id, flags)
	}
}

// leaf walks the elements of a leaf page (b from its header on; where
// names it in messages): key/value pairs and nested buckets.
func (w *walker) leaf(path [][]byte, where string, b []byte, count int, min, max []byte, depth int) {
	prev := min
	for i := 0; i < count; i++ {
		k, v, flags, err := element(b, i, true)
		if err == nil {
			err = keyOrder(k, prev, max, i == 0)
		}
		if err != nil {
			w.problem("bucket %s: %s: element %d: %v", pathString(path), where, i, err)
			return
		}
		prev = k
		if flags&bucketLeafFlag == 0 {
			w.records++
			if len(path) == 1 && bytes.Equal(path[0], bucketState) {
				w.users++
				if _, err := decodeRecord(v); err != nil {
					w.problem("bucket %s: %s: the record of %q: %v", pathString(path), where, k, err)
				}
			}
			if w.visit.kv != nil {
				w.visit.kv(path, k, v)
			}
			continue
		}
		sub := append(slices.Clip(path), k)
		if len(v) < bucketHeaderSize {
			w.problem("bucket %s: %s: element %d: a bucket value of %d bytes", pathString(sub), where, i, len(v))
			continue
		}
		if len(path) == 1 && bytes.Equal(path[0], bucketUsers) {
			w.users++ // the earlier layout (migrate.go)
		}
		if w.visit.bucket != nil {
			w.visit.bucket(sub, ne.Uint64(v[8:]))
		}
		if root := ne.Uint64(v); root != 0 {
			w.tree(sub, root, depth+1)
			continue
		}
		// An inline bucket: its one leaf page follows the header.
		page := v[bucketHeaderSize:]
		if len(page) < pageHeaderSize {
			w.problem("bucket %s: inline page of %d bytes", pathString(sub), len(page))
			continue
		}
		if f := ne.Uint16(page[8:]); f != leafPageFlag {
			w.problem("bucket %s: inline page: expected a leaf page, found flags %#x", pathString(sub), f)
			continue
		}
		w.leaf(sub, "inline page", page, int(ne.Uint16(page[10:])), nil, nil, depth+1)
	}
}

// element decodes element i of the branch or leaf page b (from its
// header on): its key, and the value (leaf) or the child page id
// (branch) or the leaf flags, checking that everything lies inside b.
func element(b []byte, i int, leaf bool) (key, value []byte, n uint64, err error) {
	off := pageHeaderSize + i*pageElementSize
	if off+pageElementSize > len(b) {
		return nil, nil, 0, fmt.Errorf("element table runs past the page (%d elements)", ne.Uint16(b[10:]))
	}
	e := b[off : off+pageElementSize]
	var pos, ksize, vsize uint64
	if leaf {
		n = uint64(ne.Uint32(e[0:]))
		pos, ksize, vsize = uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
	} else {
		pos, ksize = uint64(ne.Uint32(e[0:])), uint64(ne.Uint32(e[4:]))
		n = ne.Uint64(e[8:])
	}
	start := uint64(off) + pos
	end := start + ksize + vsize
	if end > uint64(len(b)) {
		return nil, nil, 0, fmt.Errorf("key/value at offset %d, %d+%d bytes, runs past the page (%d bytes)", start, ksize, vsize, len(b))
	}
	if ksize == 0 {
		return nil, nil, 0, errors.New("zero-length key")
	}
	key = b[start : start+ksize]
	return key, b[start+ksize : end], n, nil
}

// keyOrder checks key against its predecessor (the lower bound, inclusive
// for the first key of a page) and the upper bound max (exclusive).
func keyOrder(key, prev, max []byte, first bool) error {
	if prev != nil {
		c := bytes.Compare(prev, key)
		if c > 0 || (c == 0 && !first) {
			return fmt.Errorf("key %q out of order (after %q)", key, prev)
		}
	}
	if max != nil && bytes.Compare(key, max) >= 0 {
		return fmt.Errorf("key %q not below its parent's next key %q", key, max)
	}
	return nil
}

// freelist checks the freelist page and returns the free pages.
func (w *walker) freelist() map[uint64]bool {
	freed := map[uint64]bool{}
	id := w.meta.freelist
	if id == noFreelist {
		return freed
	}
	b, err := w.page(id)
	if err != nil {
		w.problem("freelist: %v", err)
		return freed
	}
	if flags := ne.Uint16(b[8:]); flags != freelistPageFlag {
		w.problem("freelist: page %d: expected a freelist page, found flags %#x", id, flags)
		return freed
	}
	if !w.use(id, b) {
		return freed
	}
	idx, count := uint64(0), uint64(ne.Uint16(b[10:]))
	if count == 0xFFFF {
		if len(b) < pageHeaderSize+8 {
			w.problem("freelist: page %d: too short", id)
			return freed
		}
		idx, count = 1, ne.Uint64(b[pageHeaderSize:])
	}
	if avail := uint64(len(b)-pageHeaderSize) / 8; count > avail || idx+count > avail {
		w.problem("freelist: page %d lists %d pages but has room for %d", id, count, avail-idx)
		return freed
	}
	for i := idx; i < idx+count; i++ {
		p := ne.Uint64(b[pageHeaderSize+8*i:])
		switch {
		case p < 2 || p >= w.meta.pgid:
			w.problem("freelist: page %d: frees page %d, outside pages 2..%d", id, p, w.meta.pgid-1)
		case freed[p]:
			w.problem("freelist: page %d is freed twice", p)
		case w.seen[p]:
			w.problem("freelist: page %d is free but in use", p)
		}
		freed[p] = true
	}
	return freed
}

// pathString names a bucket path for messages: users/alice@example.com/status.
// A name with a slash or an unprintable byte is quoted.
func pathString(path [][]byte) string {
	if len(path) == 0 {
		return "(root)"
	}
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = string(p)
		for _, c := range p {
			if c < 0x21 || c > 0x7e || c == '/' || c == '"' {
				parts[i] = strconv.Quote(string(p))
				break
			}
		}
	}
	return strings.Join(parts, "/")
}
