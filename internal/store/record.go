package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// userState is everything the store knows about one user: the status
// records of its mailboxes, its mailbox attributes and its last touch. It
// is what Bolt caches, compares snapshots with, and writes as one record
// (one key per user: see Bolt).
type userState struct {
	boxes   []boxState  // by name
	attrs   []attrState // by mailbox, then key
	touched int64       // Unix seconds of the last touch; 0: none
}

// boxState is one mailbox's status record.
type boxState struct {
	name string
	st   Status
}

// attrState is one mailbox attribute. pinned marks an attribute set by
// SetAttribute (an operator), which expiry keeps.
type attrState struct {
	mailbox, key, value string
	pinned              bool
}

// box returns the index of the mailbox's status record and whether it has
// one (else where it would go).
func (u *userState) box(name string) (int, bool) {
	return slices.BinarySearchFunc(u.boxes, name, func(b boxState, name string) int {
		return strings.Compare(b.name, name)
	})
}

func (u *userState) hasBox(name string) bool {
	_, ok := u.box(name)
	return ok
}

func compareAttr(a attrState, mailbox, key string) int {
	if c := strings.Compare(a.mailbox, mailbox); c != 0 {
		return c
	}
	return strings.Compare(a.key, key)
}

// attr returns the index of the attribute and whether it is set.
func (u *userState) attr(mailbox, key string) (int, bool) {
	return slices.BinarySearchFunc(u.attrs, [2]string{mailbox, key}, func(a attrState, k [2]string) int {
		return compareAttr(a, k[0], k[1])
	})
}

// mailboxAttrs returns the range of the mailbox's attributes.
func (u *userState) mailboxAttrs(mailbox string) (lo, hi int) {
	lo, _ = u.attr(mailbox, "")
	hi = lo
	for hi < len(u.attrs) && u.attrs[hi].mailbox == mailbox {
		hi++
	}
	return lo, hi
}

// setAttr sets an attribute and its pinned mark and reports whether
// anything changed.
func (u *userState) setAttr(mailbox, key, value string, pinned bool) bool {
	i, ok := u.attr(mailbox, key)
	if ok {
		a := &u.attrs[i]
		if a.value == value && a.pinned == pinned {
			return false
		}
		a.value, a.pinned = value, pinned
		return true
	}
	u.attrs = slices.Insert(u.attrs, i, attrState{mailbox: mailbox, key: key, value: value, pinned: pinned})
	return true
}

// unsetAttr removes an attribute and reports whether it was set.
func (u *userState) unsetAttr(mailbox, key string) bool {
	i, ok := u.attr(mailbox, key)
	if ok {
		u.attrs = slices.Delete(u.attrs, i, i+1)
	}
	return ok
}

// dropAttrs removes all attributes of the mailbox and reports whether
// there were any.
func (u *userState) dropAttrs(mailbox string) bool {
	lo, hi := u.mailboxAttrs(mailbox)
	u.attrs = slices.Delete(u.attrs, lo, hi)
	return hi > lo
}

// setStatus sets a mailbox's status record and reports whether it
// changed.
func (u *userState) setStatus(name string, st Status) bool {
	i, ok := u.box(name)
	if ok {
		if statusEqual(u.boxes[i].st, st) {
			return false
		}
		u.boxes[i].st = cloneStatus(st)
		return true
	}
	u.boxes = slices.Insert(u.boxes, i, boxState{name: name, st: cloneStatus(st)})
	return true
}

// dropStatus removes a mailbox's status record and reports whether it had
// one.
func (u *userState) dropStatus(name string) bool {
	i, ok := u.box(name)
	if ok {
		u.boxes = slices.Delete(u.boxes, i, i+1)
	}
	return ok
}

// rename renames one mailbox as Apply does (see Store.Apply): if to has
// no status record, from's record and attributes (with their pinned
// marks) replace to's; otherwise from's are dropped. INBOX's attributes
// never move.
func (u *userState) rename(from, to string) bool {
	changed := false
	if !u.hasBox(to) {
		if j, ok := u.box(from); ok {
			changed = u.setStatus(to, u.boxes[j].st) || changed
		}
		if from != inbox {
			changed = u.dropAttrs(to) || changed
			lo, hi := u.mailboxAttrs(from)
			moved := slices.Clone(u.attrs[lo:hi])
			for _, a := range moved {
				changed = u.setAttr(to, a.key, a.value, a.pinned) || changed
			}
		}
	}
	if from != inbox {
		changed = u.dropAttrs(from) || changed
	}
	return u.dropStatus(from) || changed
}

// apply performs plan p (from prepare(snap)) on u and reports whether
// anything changed.
func (u *userState) apply(p *plan, snap *Snapshot) bool {
	changed := false
	for _, name := range p.deletes {
		changed = u.dropStatus(name) || changed
		if name != inbox {
			changed = u.dropAttrs(name) || changed
		}
	}
	_ = eachRename(p.renames, u.hasBox, func(from, to string) error {
		changed = u.rename(from, to) || changed
		return nil
	})
	for _, name := range p.ensure {
		if i, ok := u.box(name); !ok {
			u.boxes = slices.Insert(u.boxes, i, boxState{name: name})
			changed = true
		}
	}
	for _, name := range p.status {
		changed = u.setStatus(name, snap.Status[name]) || changed
	}
	for _, m := range p.meta {
		// The mail server's value replaces the operator's: the key
		// expires with the rest of the snapshot.
		if m.value == nil {
			changed = u.unsetAttr(inbox, m.key) || changed
		} else {
			changed = u.setAttr(inbox, m.key, *m.value, false) || changed
		}
	}
	return changed
}

// trimToPinned removes everything but the pinned attributes and the touch
// and reports whether any attribute is left.
func (u *userState) trimToPinned() bool {
	kept := u.attrs[:0]
	for _, a := range u.attrs {
		if a.pinned {
			kept = append(kept, a)
		}
	}
	clear(u.attrs[len(kept):])
	u.attrs = kept
	u.boxes = nil
	u.touched = 0
	return len(kept) > 0
}

// statusEqual reports whether a and b are the same record (an empty
// keyword list is no list).
func statusEqual(a, b Status) bool {
	return a.Messages == b.Messages && a.Recent == b.Recent && a.Unseen == b.Unseen &&
		a.UIDValidity == b.UIDValidity && a.UIDNext == b.UIDNext &&
		a.FirstUnseenSeq == b.FirstUnseenSeq && a.FirstRecentUID == b.FirstRecentUID &&
		a.HighestModseq == b.HighestModseq && a.HighestPvtModseq == b.HighestPvtModseq &&
		a.PermanentFlags == b.PermanentFlags && a.Flags == b.Flags &&
		a.PermanentKeywords == b.PermanentKeywords && a.AllowNewKeywords == b.AllowNewKeywords &&
		a.NonpermanentModseqs == b.NonpermanentModseqs && a.NoModseqTracking == b.NoModseqTracking &&
		a.HaveGUIDs == b.HaveGUIDs && a.HaveSaveGUIDs == b.HaveSaveGUIDs && a.HaveOnlyGUID128 == b.HaveOnlyGUID128 &&
		slices.Equal(a.Keywords, b.Keywords)
}

// The record of a user (the value of its key in the state bucket):
//
//	version    byte (recordVersion)
//	touched    uvarint (Unix seconds, 0 for none)
//	mailboxes  uvarint count, then per mailbox in name order:
//	           name string, status
//	attributes uvarint count, then per attribute in (mailbox, key) order:
//	           flags byte, [mailbox string,] key string, value string
//
// A string is a uvarint length and the bytes. A status is a uvarint mask
// of the fields that are not zero (bit i: the fields in the order of the
// f* constants), then each number field of the mask as a uvarint, the
// keywords as a uvarint count and strings; the bool fields are their mask
// bit. An attribute's flags are: pinned (bit 0), which of keyPrefixes the
// stored key starts with (bits 1-2; the key string is the rest), and the
// mailbox is INBOX (bit 3; then no mailbox string follows). A typical user
// (INBOX's status, the OX gate key) takes about 55 bytes.
const recordVersion = 1

// keyPrefixes are the attribute key prefixes a record abbreviates: server
// METADATA is stored under the first two (ServerKey), Dovecot's own keys
// (the OX gate: vendor/vendor.dovecot/http-notify) under the third.
var keyPrefixes = [...]string{"", "/private/" + ServerPrefix, "/shared/" + ServerPrefix,
	"/private/" + ServerPrefix + "vendor/vendor.dovecot/"}

const (
	attrPinned = 1 << 0
	attrInbox  = 1 << 3
)

// Status fields, in mask order.
const (
	fMessages = iota
	fRecent
	fUnseen
	fUIDValidity
	fUIDNext
	fFirstUnseenSeq
	fFirstRecentUID
	fHighestModseq
	fHighestPvtModseq
	fPermanentFlags
	fFlags
	fKeywords
	fPermanentKeywords
	fAllowNewKeywords
	fNonpermanentModseqs
	fNoModseqTracking
	fHaveGUIDs
	fHaveSaveGUIDs
	fHaveOnlyGUID128
	nStatusFields
)

// numbers returns pointers to the number fields of st, in mask order
// (bits fMessages..fFlags).
func numbers(st *Status) [fFlags + 1]any {
	return [...]any{&st.Messages, &st.Recent, &st.Unseen, &st.UIDValidity, &st.UIDNext,
		&st.FirstUnseenSeq, &st.FirstRecentUID, &st.HighestModseq, &st.HighestPvtModseq,
		&st.PermanentFlags, &st.Flags}
}

// bools returns pointers to the bool fields of st, in mask order (bits
// fPermanentKeywords..fHaveOnlyGUID128).
func bools(st *Status) [nStatusFields - fPermanentKeywords]*bool {
	return [...]*bool{&st.PermanentKeywords, &st.AllowNewKeywords, &st.NonpermanentModseqs,
		&st.NoModseqTracking, &st.HaveGUIDs, &st.HaveSaveGUIDs, &st.HaveOnlyGUID128}
}

// encode appends u's record to b.
func (u *userState) encode(b []byte) []byte {
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, uint64(u.touched))
	b = binary.AppendUvarint(b, uint64(len(u.boxes)))
	for i := range u.boxes {
		b = appendString(b, u.boxes[i].name)
		b = appendStatus(b, &u.boxes[i].st)
	}
	b = binary.AppendUvarint(b, uint64(len(u.attrs)))
	for _, a := range u.attrs {
		code, rest := 0, a.key
		for c := 1; c < len(keyPrefixes); c++ {
			if r, ok := strings.CutPrefix(a.key, keyPrefixes[c]); ok && len(r) < len(rest) {
				code, rest = c, r
			}
		}
		flags := byte(code << 1)
		if a.pinned {
			flags |= attrPinned
		}
		if a.mailbox == inbox {
			flags |= attrInbox
		}
		b = append(b, flags)
		if a.mailbox != inbox {
			b = appendString(b, a.mailbox)
		}
		b = appendString(b, rest)
		b = appendString(b, a.value)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStatus(b []byte, st *Status) []byte {
	var mask uint64
	nums := numbers(st)
	for i, p := range nums {
		if numberOf(p) != 0 {
			mask |= 1 << i
		}
	}
	if len(st.Keywords) > 0 {
		mask |= 1 << fKeywords
	}
	for i, p := range bools(st) {
		if *p {
			mask |= 1 << (fPermanentKeywords + i)
		}
	}
	b = binary.AppendUvarint(b, mask)
	for i, p := range nums {
		if mask&(1<<i) != 0 {
			b = binary.AppendUvarint(b, numberOf(p))
		}
	}
	if mask&(1<<fKeywords) != 0 {
		b = binary.AppendUvarint(b, uint64(len(st.Keywords)))
		for _, k := range st.Keywords {
			b = appendString(b, k)
		}
	}
	return b
}

func numberOf(p any) uint64 {
	switch p := p.(type) {
	case *uint32:
		return uint64(*p)
	case *uint64:
		return *p
	}
	return 0
}

// errRecord is wrapped by the errors of decodeRecord.
var errRecord = errors.New("damaged record")

// recordReader reads a record; the first error sticks.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errRecord, what)
	}
}

func (r *recordReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad " + what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a count of items that take at least min bytes each.
func (r *recordReader) count(what string, min int) int {
	n := r.uvarint(what)
	if n > uint64(len(r.b)/min) {
		r.fail(what + " exceeds the record")
		return 0
	}
	return int(n)
}

func (r *recordReader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("missing " + what)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *recordReader) string(what string) string {
	n := r.uvarint(what + " length")
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail(what + " exceeds the record")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *recordReader) status() Status {
	var st Status
	mask := r.uvarint("status mask")
	if mask>>nStatusFields != 0 {
		r.fail("unknown status fields")
		return st
	}
	for i, p := range numbers(&st) {
		if mask&(1<<i) == 0 {
			continue
		}
		v := r.uvarint("status field")
		switch p := p.(type) {
		case *uint32:
			if v > 1<<32-1 {
				r.fail("status field out of range")
			}
			*p = uint32(v)
		case *uint64:
			*p = v
		}
		if v == 0 {
			r.fail("status field encoded as zero")
		}
	}
	if mask&(1<<fKeywords) != 0 {
		n := r.count("keyword count", 1)
		if n == 0 {
			r.fail("empty keyword list")
		}
		st.Keywords = make([]string, n)
		for i := range st.Keywords {
			st.Keywords[i] = r.string("keyword")
		}
	}
	for i, p := range bools(&st) {
		*p = mask&(1<<(fPermanentKeywords+i)) != 0
	}
	return st
}

// decodeRecord decodes a record (see encode). It fails, and never
// panics, on anything encode does not write: an unknown version,
// truncation, trailing bytes, names out of order, a mailbox or key that
// Apply would refuse.
func decodeRecord(b []byte) (*userState, error) {
	r := &recordReader{b: b}
	if v := r.byte("version"); r.err == nil && v != recordVersion {
		return nil, fmt.Errorf("%w: unknown version %d", errRecord, v)
	}
	u := &userState{}
	t := r.uvarint("touch")
	if t > 1<<62 {
		r.fail("touch out of range")
	}
	u.touched = int64(t)
	if n := r.count("mailbox count", 2); n > 0 {
		u.boxes = make([]boxState, n)
	}
	for i := range u.boxes {
		u.boxes[i].name = r.string("mailbox name")
		u.boxes[i].st = r.status()
		if r.err == nil && checkMailbox(u.boxes[i].name) != nil {
			r.fail("bad mailbox name")
		}
		if r.err == nil && i > 0 && u.boxes[i-1].name >= u.boxes[i].name {
			r.fail("mailboxes out of order")
		}
	}
	if n := r.count("attribute count", 3); n > 0 {
		u.attrs = make([]attrState, n)
	}
	for i := range u.attrs {
		a := &u.attrs[i]
		flags := r.byte("attribute flags")
		if flags>>4 != 0 {
			r.fail("bad attribute flags")
			break
		}
		a.pinned = flags&attrPinned != 0
		if flags&attrInbox != 0 {
			a.mailbox = inbox
		} else if a.mailbox = r.string("attribute mailbox"); a.mailbox == inbox {
			r.fail("INBOX spelled out")
		}
		a.key = keyPrefixes[flags>>1&3] + r.string("attribute key")
		a.value = r.string("attribute value")
		if r.err == nil && checkMailbox(a.mailbox) != nil {
			r.fail("bad attribute mailbox")
		}
		if r.err == nil && i > 0 && compareAttr(u.attrs[i-1], a.mailbox, a.key) >= 0 {
			r.fail("attributes out of order")
		}
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail(fmt.Sprintf("%d bytes after its end", len(r.b)))
	}
	if r.err != nil {
		return nil, r.err
	}
	return u, nil
}
