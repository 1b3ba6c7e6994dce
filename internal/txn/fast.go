package txn

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/pushlua/pushlua/internal/store"
)

// The fast decoder reads the transaction format in one pass over the bytes,
// without reflection and without a map per JSON object. It gives up (ok
// false) on anything it does not handle the common way — an error of any
// kind, a duplicate field, an extra event field nested too deep — and Parse
// then runs the validating decoder (parseSlow), which finds the same
// transaction or names the bad field. So the fast decoder never decides an
// error message, and it accepts a line only when parseSlow would accept it
// with the same result: FuzzFastDecode checks that.

type scanner struct {
	d []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.d) {
		switch s.d[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.d) {
		return s.d[s.i]
	}
	return 0
}

func (s *scanner) eat(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// str reads a JSON string. Strings without escapes and with valid UTF-8
// are sliced; others are decoded by encoding/json, as parseSlow does.
func (s *scanner) str() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	start := s.i
	s.i++
	escaped := false
	for s.i < len(s.d) {
		c := s.d[s.i]
		switch {
		case c == '"':
			s.i++
			raw := s.d[start+1 : s.i-1]
			if !escaped && utf8.Valid(raw) {
				return string(raw), true
			}
			var out string
			if json.Unmarshal(s.d[start:s.i], &out) != nil {
				return "", false
			}
			return out, true
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return "", false
		default:
			s.i++
		}
	}
	return "", false
}

// key reads an object key and its colon.
func (s *scanner) key() (string, bool) {
	k, ok := s.str()
	if !ok || !s.eat(':') {
		return "", false
	}
	return k, true
}

// num reads a JSON number as encoding/json does into a float64.
func (s *scanner) num() (float64, bool) {
	s.ws()
	start := s.i
	if s.i < len(s.d) && s.d[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.d) && s.d[s.i] >= '0' && s.d[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	intStart := s.i
	if n := digits(); n == 0 || (n > 1 && s.d[intStart] == '0') {
		return 0, false
	}
	if s.i < len(s.d) && s.d[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return 0, false
		}
	}
	if s.i < len(s.d) && (s.d[s.i] == 'e' || s.d[s.i] == 'E') {
		s.i++
		if s.i < len(s.d) && (s.d[s.i] == '+' || s.d[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(s.d[start:s.i]), 64)
	return f, err == nil
}

func (s *scanner) integer(lo, hi float64) (int64, bool) {
	f, ok := s.num()
	if !ok || f != math.Trunc(f) || f < lo || f > hi {
		return 0, false
	}
	return int64(f), true
}

func (s *scanner) u32() (uint32, bool) {
	n, ok := s.integer(0, math.MaxUint32)
	return uint32(n), ok
}

func (s *scanner) literal(word string) bool {
	s.ws()
	if len(s.d)-s.i >= len(word) && string(s.d[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

func (s *scanner) boolean() (bool, bool) {
	switch s.peek() {
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	}
	return false, false
}

// optStr reads a string or null.
func (s *scanner) optStr() (*string, bool) {
	if s.peek() == 'n' {
		return nil, s.literal("null")
	}
	v, ok := s.str()
	if !ok {
		return nil, false
	}
	return &v, true
}

// strs reads an array of strings (never nil).
func (s *scanner) strs() ([]string, bool) {
	if !s.eat('[') {
		return nil, false
	}
	out := make([]string, 0, 2)
	if s.eat(']') {
		return out, true
	}
	for {
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if s.eat(']') {
			return out, true
		}
		if !s.eat(',') {
			return nil, false
		}
	}
}

func (s *scanner) flags() (uint8, bool) {
	names, ok := s.strs()
	if !ok {
		return 0, false
	}
	var bits uint8
	for _, n := range names {
		b, ok := FlagBit(n)
		if !ok {
			return 0, false
		}
		bits |= b
	}
	return bits, true
}

// skip passes over one value and returns its bytes. The bytes are
// checked by the caller (encoding/json or a sub-scanner), so skip only
// needs to find where the value ends.
func (s *scanner) skip() ([]byte, bool) {
	s.ws()
	start := s.i
	depth := 0
	for s.i < len(s.d) {
		switch c := s.d[s.i]; c {
		case '"':
			if !s.skipStr() {
				return nil, false
			}
			if depth == 0 {
				return s.d[start:s.i], true
			}
			continue
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				return s.d[start:s.i], start < s.i
			}
			depth--
			if depth == 0 {
				s.i++
				return s.d[start:s.i], true
			}
		case ',':
			if depth == 0 {
				return s.d[start:s.i], start < s.i
			}
		}
		s.i++
	}
	return s.d[start:s.i], depth == 0 && start < s.i
}

// skipStr passes over a string without decoding it.
func (s *scanner) skipStr() bool {
	for s.i++; s.i < len(s.d); s.i++ {
		switch s.d[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return true
		}
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.d)
}

// object calls field for every member of an object; field reads the value.
func (s *scanner) object(field func(k string) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		k, ok := s.key()
		if !ok || !field(k) {
			return false
		}
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// members is object for an object whose members must have distinct keys:
// a duplicate gives up (its meaning is parseSlow's to decide).
func (s *scanner) members(field func(k string) bool) bool {
	var keys seen
	return s.object(func(k string) bool { return keys.first(k) && field(k) })
}

// seen records the fields an object had, to refuse duplicates (their
// meaning is parseSlow's to decide). Objects of this format have few
// fields: a linear search over an array costs no allocation.
type seen struct {
	keys [24]string
	n    int
}

func (m *seen) first(k string) bool {
	for _, x := range m.keys[:m.n] {
		if x == k {
			return false
		}
	}
	if m.n == len(m.keys) {
		return false // too many to track: let parseSlow decide
	}
	m.keys[m.n] = k
	m.n++
	return true
}

// parseFast decodes a transaction the way parseSlow does, or reports that
// it cannot (ok false).
func parseFast(data []byte, ids *IDs) (*Txn, bool) {
	s := &scanner{d: data}
	t := &Txn{Success: true}
	var top uint8 // bits: id, user, success, events, status, metadata
	ok := s.object(func(k string) bool {
		var bit uint8
		var ok bool
		switch k {
		case "id":
			bit = 1
			t.ID, ok = s.str()
		case "user":
			bit = 2
			ok = s.user(&t.User)
		case "success":
			bit = 4
			t.Success, ok = s.boolean()
		case "events":
			bit = 8
			ok = s.events(t)
		case "status":
			bit = 16
			ok = s.status(t)
		case "metadata":
			bit = 32
			ok = s.metadata(t)
		default:
			return false
		}
		if top&bit != 0 {
			return false
		}
		top |= bit
		return ok
	})
	if !ok || top&2 == 0 || !s.end() {
		return nil, false
	}
	if t.ID == "" {
		if ids == nil {
			ids = defaultIDs
		}
		t.ID = ids.Next()
	}
	for i := range t.Events {
		e := &t.Events[i]
		if e.IsMessage() && e.UIDValidity == 0 {
			if st, ok := t.Status[e.Mailbox]; ok {
				e.UIDValidity = st.UIDValidity
			}
		}
	}
	return t, true
}

func (s *scanner) user(u *User) bool {
	if s.peek() == '"' {
		var ok bool
		u.Username, ok = s.str()
		return ok && u.Username != ""
	}
	ok := s.members(func(k string) bool {
		var ok bool
		switch k {
		case "username":
			u.Username, ok = s.str()
		case "service":
			u.Service, ok = s.str()
		case "session_id":
			u.SessionID, ok = s.str()
		case "home":
			if s.peek() == 'n' {
				return s.literal("null")
			}
			u.Home, ok = s.str()
			u.HasHome = ok
		case "uid":
			u.UID, ok = s.u32()
		case "gid":
			u.GID, ok = s.u32()
		case "session_create_time":
			u.SessionCreateTime, ok = s.integer(0, 1<<53)
		case "admin":
			u.Admin, ok = s.boolean()
		case "anonymous":
			u.Anonymous, ok = s.boolean()
		case "autocreated":
			u.Autocreated, ok = s.boolean()
		case "nonexistent":
			u.Nonexistent, ok = s.boolean()
		case "fuzzy_search":
			u.FuzzySearch, ok = s.boolean()
		case "dsyncing":
			u.Dsyncing, ok = s.boolean()
		case "session_restored":
			u.SessionRestored, ok = s.boolean()
		}
		return ok
	})
	return ok && u.Username != ""
}

func (s *scanner) events(t *Txn) bool {
	if !s.eat('[') {
		return false
	}
	t.Events = make([]Event, 0, 1)
	if s.eat(']') {
		return true
	}
	for {
		t.Events = append(t.Events, Event{})
		if !s.event(&t.Events[len(t.Events)-1]) {
			return false
		}
		if s.eat(']') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// The fields an event had, as bits.
const (
	hasName = 1 << iota
	hasMailbox
	hasUID
	hasMailboxOld
)

func (s *scanner) event(e *Event) bool {
	// name decides what the other fields mean, and it may come last: read
	// the fields first, then interpret them.
	type member struct {
		k   string
		val []byte
	}
	var members [24]member
	list := members[:0]
	var name string
	has := 0
	ok := s.members(func(k string) bool {
		if k == "name" {
			var ok bool
			name, ok = s.str()
			has |= hasName
			return ok
		}
		v, ok := s.skip()
		list = append(list, member{k, v})
		return ok
	})
	if !ok || has&hasName == 0 {
		return false
	}
	info, ok := LookupEvent(name)
	if !ok {
		return false
	}
	e.Info = info
	known := eventFields[info.Type]
	for _, m := range list {
		sub := &scanner{d: m.val}
		var ok bool
		switch {
		case m.k == "mailbox":
			e.Mailbox, ok = sub.str()
			has |= hasMailbox
		case info.Kind == MessageEvent && m.k == "uid":
			e.UID, ok = sub.u32()
			has |= hasUID
		case info.Kind == MessageEvent && m.k == "uid_validity":
			e.UIDValidity, ok = sub.u32()
		case known[m.k]:
			ok = sub.eventField(m.k, e)
			if m.k == "mailbox_old" {
				has |= hasMailboxOld
			}
		default:
			if nesting(m.val) > MaxNesting {
				return false
			}
			var x any
			if json.Unmarshal(m.val, &x) != nil {
				return false
			}
			if x != nil {
				if e.Extra == nil {
					e.Extra = map[string]any{}
				}
				e.Extra[m.k] = x
			}
			continue
		}
		if !ok || !sub.end() {
			return false
		}
	}
	if has&hasMailbox == 0 || (info.Kind == MessageEvent && has&hasUID == 0) ||
		(info.Type == MailboxRename && has&hasMailboxOld == 0) {
		return false
	}
	return true
}

func (s *scanner) eventField(k string, e *Event) bool {
	var ok bool
	switch k {
	case "date":
		e.Date, ok = s.integer(-1<<53, 1<<53)
	case "tz":
		var n int64
		n, ok = s.integer(-24*60*7, 24*60*7)
		e.TZ = int32(n)
	case "from":
		e.From, ok = s.str()
	case "to":
		e.To, ok = s.str()
	case "from_address":
		e.FromAddress, ok = s.str()
	case "from_display_name":
		e.FromDisplayName, ok = s.str()
	case "to_address":
		e.ToAddress, ok = s.str()
	case "to_display_name":
		e.ToDisplayName, ok = s.str()
	case "subject":
		e.Subject, ok = s.optStr()
	case "snippet":
		e.Snippet, ok = s.optStr()
	case "message_id":
		e.MessageID, ok = s.optStr()
	case "flags":
		e.Flags, ok = s.flags()
	case "flags_old":
		e.FlagsOld, ok = s.flags()
	case "keywords":
		e.Keywords, ok = s.strs()
	case "keywords_old":
		e.KeywordsOld, ok = s.strs()
	case "mailbox_old":
		e.MailboxOld, ok = s.str()
	}
	return ok
}

func (s *scanner) status(t *Txn) bool {
	t.Status = map[string]store.Status{}
	return s.members(func(box string) bool {
		var st store.Status
		ok := s.members(func(k string) bool {
			var ok bool
			switch k {
			case "messages":
				st.Messages, ok = s.u32()
			case "recent":
				st.Recent, ok = s.u32()
			case "unseen":
				st.Unseen, ok = s.u32()
			case "uidvalidity":
				st.UIDValidity, ok = s.u32()
			case "uidnext":
				st.UIDNext, ok = s.u32()
			case "first_unseen_seq":
				st.FirstUnseenSeq, ok = s.u32()
			case "first_recent_uid":
				st.FirstRecentUID, ok = s.u32()
			case "highest_modseq":
				var n int64
				n, ok = s.integer(0, 1<<53)
				st.HighestModseq = uint64(n)
			case "highest_pvt_modseq":
				var n int64
				n, ok = s.integer(0, 1<<53)
				st.HighestPvtModseq = uint64(n)
			case "permanent_flags":
				st.PermanentFlags, ok = s.u32()
			case "flags":
				st.Flags, ok = s.u32()
			case "keywords":
				st.Keywords, ok = s.strs()
			case "permanent_keywords":
				st.PermanentKeywords, ok = s.boolean()
			case "allow_new_keywords":
				st.AllowNewKeywords, ok = s.boolean()
			case "nonpermanent_modseqs":
				st.NonpermanentModseqs, ok = s.boolean()
			case "no_modseq_tracking":
				st.NoModseqTracking, ok = s.boolean()
			case "have_guids":
				st.HaveGUIDs, ok = s.boolean()
			case "have_save_guids":
				st.HaveSaveGUIDs, ok = s.boolean()
			case "have_only_guid128":
				st.HaveOnlyGUID128, ok = s.boolean()
			}
			return ok
		})
		t.Status[box] = st
		return ok
	})
}

func (s *scanner) metadata(t *Txn) bool {
	t.Metadata = map[string]*string{}
	return s.members(func(k string) bool {
		if _, err := store.ServerKey(k); err != nil {
			return false
		}
		v, ok := s.optStr()
		t.Metadata[k] = v
		return ok
	})
}
