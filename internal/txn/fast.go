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

// str reads a JSON string.
func (s *scanner) str() (string, bool) {
	b, ok := s.strBytes()
	if string(b) == "INBOX" { // most events' mailbox: not copied
		return "INBOX", ok
	}
	return string(b), ok
}

// strBytes reads a JSON string and returns its content: a slice of the
// input when it has no escapes, else a new slice with them decoded. Escapes
// are decoded as encoding/json decodes them, but for surrogates (\ud800 to
// \udfff), which are left to encoding/json itself, as parseSlow does. A
// string with invalid UTF-8 is not taken (parseSlow would replace it).
func (s *scanner) strBytes() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i
	s.i++
	escaped := false
	var high byte // the OR of every byte: >= 0x80 when there is non-ASCII
	for s.i < len(s.d) {
		c := s.d[s.i]
		switch {
		case c == '"':
			s.i++
			raw := s.d[start+1 : s.i-1]
			if high >= utf8.RuneSelf && !utf8.Valid(raw) {
				return nil, false
			}
			if !escaped {
				return raw, true
			}
			if out, ok := unescape(raw); ok {
				return out, true
			}
			var out string
			if json.Unmarshal(s.d[start:s.i], &out) != nil {
				return nil, false
			}
			return []byte(out), true
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return nil, false
		default:
			high |= c
			s.i++
		}
	}
	return nil, false
}

// unescape decodes the escapes of a JSON string's content (valid UTF-8).
// It gives up (ok false) on a surrogate and on anything invalid: the
// caller lets encoding/json decide those.
func unescape(raw []byte) ([]byte, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+4 >= len(raw) {
				return nil, false
			}
			var r rune
			for _, h := range raw[i+1 : i+5] {
				switch {
				case h >= '0' && h <= '9':
					r = r<<4 | rune(h-'0')
				case h >= 'a' && h <= 'f':
					r = r<<4 | rune(h-'a'+10)
				case h >= 'A' && h <= 'F':
					r = r<<4 | rune(h-'A'+10)
				default:
					return nil, false
				}
			}
			if r >= 0xd800 && r <= 0xdfff {
				return nil, false
			}
			out = utf8.AppendRune(out, r)
			i += 4
		default:
			return nil, false
		}
	}
	return out, true
}

// key reads an object key and its colon. The key is a slice of the input
// (or of a decoded copy): callers compare it, and convert it to a string
// only where they keep it.
func (s *scanner) key() ([]byte, bool) {
	k, ok := s.strBytes()
	if !ok || !s.eat(':') {
		return nil, false
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
	if n, ok := smallInt(s.d[start:s.i]); ok {
		return n, true
	}
	f, err := strconv.ParseFloat(string(s.d[start:s.i]), 64)
	return f, err == nil
}

// smallInt converts a JSON integer of at most 15 digits (exact in a
// float64, as ParseFloat would give it) without ParseFloat.
func smallInt(b []byte) (float64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		if n == 0 {
			return math.Copysign(0, -1), true // -0, as ParseFloat gives it
		}
		n = -n
	}
	return float64(n), true
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
func (s *scanner) object(field func(k []byte) bool) bool {
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
func (s *scanner) members(field func(k []byte) bool) bool {
	var keys seen
	return s.object(func(k []byte) bool { return keys.first(k) && field(k) })
}

// seen records the fields an object had, to refuse duplicates (their
// meaning is parseSlow's to decide). Objects of this format have few
// fields: a linear search over an array costs no allocation.
type seen struct {
	keys [24][]byte
	n    int
}

func (m *seen) first(k []byte) bool {
	for _, x := range m.keys[:m.n] {
		if string(x) == string(k) {
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
	ok := s.object(func(k []byte) bool {
		var bit uint8
		var ok bool
		switch string(k) {
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
	ok := s.members(func(k []byte) bool {
		var ok bool
		switch string(k) {
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
		k   []byte
		val []byte
	}
	var members [24]member
	list := members[:0]
	var name string
	has := 0
	ok := s.members(func(k []byte) bool {
		if string(k) == "name" {
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
		switch k := string(m.k); {
		case k == "mailbox":
			e.Mailbox, ok = sub.str()
			has |= hasMailbox
		case info.Kind == MessageEvent && k == "uid":
			e.UID, ok = sub.u32()
			has |= hasUID
		case info.Kind == MessageEvent && k == "uid_validity":
			e.UIDValidity, ok = sub.u32()
		case known[k]:
			ok = sub.eventField(k, e)
			if k == "mailbox_old" {
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
				e.Extra[string(m.k)] = x
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
	return s.members(func(box []byte) bool {
		var st store.Status
		ok := s.members(func(k []byte) bool {
			var ok bool
			switch string(k) {
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
		t.Status[string(box)] = st
		return ok
	})
}

func (s *scanner) metadata(t *Txn) bool {
	t.Metadata = map[string]*string{}
	return s.members(func(kb []byte) bool {
		k := string(kb)
		if _, err := store.ServerKey(k); err != nil {
			return false
		}
		v, ok := s.optStr()
		t.Metadata[k] = v
		return ok
	})
}
