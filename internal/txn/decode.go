package txn

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/pushlua/pushlua/internal/store"
)

// MaxLine is the longest input line Reader accepts.
const MaxLine = 16 << 20

// LineError reports a transaction that was rejected: where it was read and
// which field was wrong.
type LineError struct {
	Input string // input name ("-" for stdin)
	Line  int    // 1-based line number
	Field string // JSON path of the bad field, "" when the line is not JSON
	Err   error
}

func (e *LineError) Error() string {
	where := e.Input
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: field %s: %v", where, e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v", where, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// Reader reads transactions from JSON Lines input, or from an input that
// is one pretty-printed JSON object: what Split accepts, read as a stream.
// A bad line yields a *LineError from Next and reading goes on with the
// next line.
type Reader struct {
	name string
	r    *bufio.Reader
	line int
	off  int // bytes read before the current line
	ids  *IDs
	seen bool // a non-blank line was read
}

// NewReader reads transactions from r, which is called name in errors.
// Transactions without an id get one from ids (NewIDs() when nil).
func NewReader(name string, r io.Reader, ids *IDs) *Reader {
	if ids == nil {
		ids = NewIDs()
	}
	return &Reader{name: name, r: bufio.NewReaderSize(r, 64<<10), ids: ids}
}

// Next returns the next transaction, a *LineError for a bad line (invalid
// UTF-8 included, as ParseChunk rejects it), or io.EOF.
func (rd *Reader) Next() (*Txn, error) {
	for {
		start := rd.off
		line, err := rd.readLine()
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		first := rd.line
		if !rd.seen {
			rd.seen = true
			if whole, ok := rd.wholeObject(line); ok {
				line = whole
			}
		}
		t, err := ParseChunk(Chunk{Line: first, Offset: start, Data: line}, rd.ids)
		if err != nil {
			var le *LineError
			if errors.As(err, &le) {
				le.Input, le.Line = rd.name, first
				return nil, le
			}
			return nil, &LineError{Input: rd.name, Line: first, Err: err}
		}
		t.Input, t.Line = rd.name, first
		return t, nil
	}
}

// wholeObject is Split's whole-input case for a stream: when the first
// non-blank line starts a JSON object it does not finish, the rest of the
// input (up to MaxLine bytes in all) is read, and when the whole is one
// JSON object it is the only transaction. Otherwise what was read is put
// back and the input is read line by line.
func (rd *Reader) wholeObject(first []byte) ([]byte, bool) {
	trimmed := bytes.TrimSpace(first)
	if trimmed[0] != '{' || json.Valid(trimmed) {
		return nil, false
	}
	rest, err := io.ReadAll(io.LimitReader(rd.r, int64(MaxLine+1-len(first))))
	whole := append(append([]byte(nil), first...), rest...)
	if err == nil && len(whole) <= MaxLine && IsWholeObject(bytes.TrimSpace(whole)) {
		// Fewer bytes than the limit: the input ended.
		rd.line += bytes.Count(rest, []byte("\n"))
		rd.off += len(rest)
		return bytes.TrimSpace(whole), true
	}
	rd.r = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(rest), rd.r), 64<<10)
	return nil, false
}

func (rd *Reader) readLine() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := rd.r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > MaxLine {
			// Skip the rest of the line, then report it.
			n := len(buf)
			for errors.Is(err, bufio.ErrBufferFull) {
				var more []byte
				more, err = rd.r.ReadSlice('\n')
				n += len(more)
			}
			rd.line++
			rd.off += n
			return nil, &LineError{Input: rd.name, Line: rd.line, Err: fmt.Errorf("line longer than %d bytes", MaxLine)}
		}
		switch {
		case err == nil:
			rd.line++
			rd.off += len(buf)
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			rd.line++
			rd.off += len(buf)
			return buf, nil
		default:
			return nil, err
		}
	}
}

// IDs assigns transaction ids: a random per-process prefix and a counter.
type IDs struct {
	prefix string
	n      atomic.Uint64
}

// NewIDs returns a fresh id source.
func NewIDs() *IDs {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &IDs{prefix: hex.EncodeToString(b[:])}
}

// Next returns a new id.
func (g *IDs) Next() string {
	var buf [64]byte
	b := append(append(buf[:0], g.prefix...), '-')
	return string(strconv.AppendUint(b, g.n.Add(1), 10)) // one allocation
}

// Assigned reports whether id has the form of g's ids: a transaction whose
// input had no id got it from g (readers that name such transactions
// otherwise, or track only ids given by the sender, ask this).
func (g *IDs) Assigned(id string) bool {
	rest, ok := strings.CutPrefix(id, g.prefix+"-")
	if !ok || rest == "" {
		return false
	}
	_, err := strconv.ParseUint(rest, 10, 64)
	return err == nil
}

// Parse decodes and validates one transaction object. Errors are
// *LineError values with Field set (Input and Line are left to the caller).
func Parse(data []byte, ids *IDs) (*Txn, error) {
	if t, ok := parseFast(data, ids); ok {
		return t, nil
	}
	return parseSlow(data, ids)
}

// parseSlow is the validating decoder: encoding/json into a map per object,
// every field checked in key order, the first bad one named.
func parseSlow(data []byte, ids *IDs) (*Txn, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, &LineError{Err: fmt.Errorf("invalid JSON: %w", err)}
	}
	if raw == nil {
		return nil, &LineError{Err: errors.New("expected a JSON object, got null")}
	}
	p := parser{}
	t := &Txn{Success: true}
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		switch k {
		case "id":
			p.str(k, v, &t.ID)
		case "user":
			p.user(v, &t.User)
		case "success":
			p.boolean(k, v, &t.Success)
		case "events":
			p.events(v, t)
		case "status":
			p.status(v, t)
		case "metadata":
			p.metadata(v, t)
		default:
			p.fail(k, errors.New("unknown field"))
		}
		if p.err != nil {
			return nil, p.err
		}
	}
	if _, ok := raw["user"]; !ok {
		return nil, &LineError{Field: "user", Err: errors.New("missing")}
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
	return t, nil
}

var defaultIDs = NewIDs()

type parser struct{ err *LineError }

func (p *parser) fail(field string, err error) {
	if p.err == nil {
		p.err = &LineError{Field: field, Err: err}
	}
}

// jsonType is the kind of the JSON value v.
func jsonType(v json.RawMessage) jsonKind {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return jsonNothing
	}
	switch v[0] {
	case '"':
		return jsonString
	case '{':
		return jsonObject
	case '[':
		return jsonArray
	case 't', 'f':
		return jsonBool
	case 'n':
		return jsonNull
	default:
		return jsonNumber
	}
}

// jsonKind is the kind of a JSON value, by its first byte; String is how
// an error message names it ("expected a number, got a string").
type jsonKind uint8

const (
	jsonNothing jsonKind = iota
	jsonString
	jsonObject
	jsonArray
	jsonBool
	jsonNull
	jsonNumber
)

var jsonKindNames = [...]string{jsonNothing: "nothing", jsonString: "a string", jsonObject: "an object",
	jsonArray: "an array", jsonBool: "a boolean", jsonNull: "null", jsonNumber: "a number"}

func (k jsonKind) String() string { return jsonKindNames[k] }

func (p *parser) str(field string, v json.RawMessage, dst *string) bool {
	if err := json.Unmarshal(v, dst); err != nil || jsonType(v) != jsonString {
		p.fail(field, fmt.Errorf("expected a string, got %s", jsonType(v)))
		return false
	}
	return true
}

func (p *parser) optStr(field string, v json.RawMessage, dst **string) {
	if jsonType(v) == jsonNull {
		*dst = nil
		return
	}
	var s string
	if p.str(field, v, &s) {
		*dst = &s
	}
}

func (p *parser) boolean(field string, v json.RawMessage, dst *bool) {
	if jsonType(v) != jsonBool {
		p.fail(field, fmt.Errorf("expected true or false, got %s", jsonType(v)))
		return
	}
	_ = json.Unmarshal(v, dst)
}

func (p *parser) integer(field string, v json.RawMessage, lo, hi float64) (int64, bool) {
	var f float64
	if jsonType(v) != jsonNumber || json.Unmarshal(v, &f) != nil {
		p.fail(field, fmt.Errorf("expected a number, got %s", jsonType(v)))
		return 0, false
	}
	if f != math.Trunc(f) || f < lo || f > hi {
		p.fail(field, fmt.Errorf("expected an integer from %.0f to %.0f, got %s", lo, hi, bytes.TrimSpace(v)))
		return 0, false
	}
	return int64(f), true
}

func (p *parser) u32(field string, v json.RawMessage, dst *uint32) {
	if n, ok := p.integer(field, v, 0, math.MaxUint32); ok {
		*dst = uint32(n)
	}
}

func (p *parser) u64(field string, v json.RawMessage, dst *uint64) {
	if n, ok := p.integer(field, v, 0, 1<<53); ok {
		*dst = uint64(n)
	}
}

func (p *parser) object(field string, v json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if jsonType(v) != jsonObject || json.Unmarshal(v, &m) != nil {
		p.fail(field, fmt.Errorf("expected an object, got %s", jsonType(v)))
		return nil
	}
	return m
}

func (p *parser) strings(field string, v json.RawMessage) []string {
	var raw []json.RawMessage
	if jsonType(v) != jsonArray || json.Unmarshal(v, &raw) != nil {
		p.fail(field, fmt.Errorf("expected an array of strings, got %s", jsonType(v)))
		return nil
	}
	out := make([]string, len(raw))
	for i, r := range raw {
		if !p.str(fmt.Sprintf("%s[%d]", field, i), r, &out[i]) {
			return nil
		}
	}
	return out
}

func (p *parser) flags(field string, v json.RawMessage) uint8 {
	var bits uint8
	for i, name := range p.strings(field, v) {
		b, ok := FlagBit(name)
		if !ok {
			p.fail(fmt.Sprintf("%s[%d]", field, i), fmt.Errorf("unknown system flag %q (keywords go into the keywords array)", name))
			return 0
		}
		bits |= b
	}
	return bits
}

func (p *parser) user(v json.RawMessage, u *User) {
	if jsonType(v) == jsonString {
		p.str("user", v, &u.Username)
	} else {
		m := p.object("user", v)
		for _, k := range sortedKeys(m) {
			fv := m[k]
			f := "user." + k
			switch k {
			case "username":
				p.str(f, fv, &u.Username)
			case "service":
				p.str(f, fv, &u.Service)
			case "session_id":
				p.str(f, fv, &u.SessionID)
			case "home":
				if jsonType(fv) != jsonNull {
					u.HasHome = p.str(f, fv, &u.Home)
				}
			case "uid":
				p.u32(f, fv, &u.UID)
			case "gid":
				p.u32(f, fv, &u.GID)
			case "session_create_time":
				u.SessionCreateTime, _ = p.integer(f, fv, 0, 1<<53)
			case "admin":
				p.boolean(f, fv, &u.Admin)
			case "anonymous":
				p.boolean(f, fv, &u.Anonymous)
			case "autocreated":
				p.boolean(f, fv, &u.Autocreated)
			case "nonexistent":
				p.boolean(f, fv, &u.Nonexistent)
			case "fuzzy_search":
				p.boolean(f, fv, &u.FuzzySearch)
			case "dsyncing":
				p.boolean(f, fv, &u.Dsyncing)
			case "session_restored":
				p.boolean(f, fv, &u.SessionRestored)
			default:
				p.fail(f, errors.New("unknown field"))
			}
		}
	}
	if p.err == nil && u.Username == "" {
		p.fail("user.username", errors.New("missing or empty"))
	}
}

func (p *parser) events(v json.RawMessage, t *Txn) {
	var raw []json.RawMessage
	if jsonType(v) != jsonArray || json.Unmarshal(v, &raw) != nil {
		p.fail("events", fmt.Errorf("expected an array, got %s", jsonType(v)))
		return
	}
	t.Events = make([]Event, len(raw))
	for i, r := range raw {
		p.event(fmt.Sprintf("events[%d]", i), r, &t.Events[i])
		if p.err != nil {
			return
		}
	}
}

// eventFields lists, per event, the fields of spec §4.5 it carries besides
// name and mailbox (and uid/uid_validity for message events).
var eventFields = map[EventType]map[string]bool{
	MessageNew:    newAppendFields,
	MessageAppend: newAppendFields,
	FlagsSet:      {"flags": true, "keywords": true},
	FlagsClear:    {"flags": true, "flags_old": true, "keywords": true, "keywords_old": true},
	MailboxRename: {"mailbox_old": true},
}

var newAppendFields = map[string]bool{
	"date": true, "tz": true, "from": true, "to": true, "subject": true, "snippet": true,
	"message_id": true, "from_address": true, "from_display_name": true, "to_address": true,
	"to_display_name": true, "flags": true, "keywords": true,
}

func (p *parser) event(path string, v json.RawMessage, e *Event) {
	m := p.object(path, v)
	if m == nil {
		return
	}
	nameRaw, ok := m["name"]
	if !ok {
		p.fail(path+".name", errors.New("missing"))
		return
	}
	var name string
	if !p.str(path+".name", nameRaw, &name) {
		return
	}
	info, ok := LookupEvent(name)
	if !ok {
		p.fail(path+".name", fmt.Errorf("unknown event %q", name))
		return
	}
	e.Info = info
	mbRaw, ok := m["mailbox"]
	if !ok {
		p.fail(path+".mailbox", errors.New("missing"))
		return
	}
	p.str(path+".mailbox", mbRaw, &e.Mailbox)
	if info.Kind == MessageEvent {
		uid, ok := m["uid"]
		if !ok {
			p.fail(path+".uid", fmt.Errorf("missing (required for %s)", info.Name))
			return
		}
		p.u32(path+".uid", uid, &e.UID)
		if uv, ok := m["uid_validity"]; ok {
			p.u32(path+".uid_validity", uv, &e.UIDValidity)
		}
	}
	if info.Type == MailboxRename {
		if _, ok := m["mailbox_old"]; !ok {
			p.fail(path+".mailbox_old", errors.New("missing (required for MailboxRename)"))
			return
		}
	}
	known := eventFields[info.Type]
	for _, k := range sortedKeys(m) {
		fv := m[k]
		f := path + "." + k
		switch {
		case k == "name" || k == "mailbox":
		case info.Kind == MessageEvent && (k == "uid" || k == "uid_validity"):
		case known[k]:
			p.eventField(f, k, fv, e)
		default:
			if nesting(fv) > MaxNesting {
				p.fail(f, fmt.Errorf("arrays and objects nested more than %d levels deep", MaxNesting))
				return
			}
			var x any
			if err := json.Unmarshal(fv, &x); err != nil {
				p.fail(f, err)
			}
			if x == nil {
				continue // null: absent from the Lua table
			}
			if e.Extra == nil {
				e.Extra = map[string]any{}
			}
			e.Extra[k] = x
		}
		if p.err != nil {
			return
		}
	}
}

// MaxNesting is how deeply arrays and objects may nest in an event's extra
// field (one that spec §4.5 does not define and that reaches the script as
// it came). A value [[1]] nests 2 levels.
const MaxNesting = 32

// nesting returns how deeply arrays and objects nest in the valid JSON
// value v, counting no further than MaxNesting+1.
func nesting(v []byte) int {
	depth, most := 0, 0
	inString, escaped := false, false
	for _, c := range v {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > most {
				most = depth
				if most > MaxNesting {
					return most
				}
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return most
}

func (p *parser) eventField(f, k string, v json.RawMessage, e *Event) {
	switch k {
	case "date":
		e.Date, _ = p.integer(f, v, -1<<53, 1<<53)
	case "tz":
		n, _ := p.integer(f, v, -24*60*7, 24*60*7)
		e.TZ = int32(n)
	case "from":
		p.str(f, v, &e.From)
	case "to":
		p.str(f, v, &e.To)
	case "from_address":
		p.str(f, v, &e.FromAddress)
	case "from_display_name":
		p.str(f, v, &e.FromDisplayName)
	case "to_address":
		p.str(f, v, &e.ToAddress)
	case "to_display_name":
		p.str(f, v, &e.ToDisplayName)
	case "subject":
		p.optStr(f, v, &e.Subject)
	case "snippet":
		p.optStr(f, v, &e.Snippet)
	case "message_id":
		p.optStr(f, v, &e.MessageID)
	case "flags":
		e.Flags = p.flags(f, v)
	case "flags_old":
		e.FlagsOld = p.flags(f, v)
	case "keywords":
		e.Keywords = p.strings(f, v)
	case "keywords_old":
		e.KeywordsOld = p.strings(f, v)
	case "mailbox_old":
		p.str(f, v, &e.MailboxOld)
	}
}

func (p *parser) status(v json.RawMessage, t *Txn) {
	m := p.object("status", v)
	if m == nil {
		return
	}
	t.Status = make(map[string]store.Status, len(m))
	for _, box := range sortedKeys(m) {
		sv := m[box]
		path := "status." + box
		fields := p.object(path, sv)
		var st store.Status
		for _, k := range sortedKeys(fields) {
			fv := fields[k]
			f := path + "." + k
			switch k {
			case "messages":
				p.u32(f, fv, &st.Messages)
			case "recent":
				p.u32(f, fv, &st.Recent)
			case "unseen":
				p.u32(f, fv, &st.Unseen)
			case "uidvalidity":
				p.u32(f, fv, &st.UIDValidity)
			case "uidnext":
				p.u32(f, fv, &st.UIDNext)
			case "first_unseen_seq":
				p.u32(f, fv, &st.FirstUnseenSeq)
			case "first_recent_uid":
				p.u32(f, fv, &st.FirstRecentUID)
			case "highest_modseq":
				p.u64(f, fv, &st.HighestModseq)
			case "highest_pvt_modseq":
				p.u64(f, fv, &st.HighestPvtModseq)
			case "permanent_flags":
				p.u32(f, fv, &st.PermanentFlags)
			case "flags":
				p.u32(f, fv, &st.Flags)
			case "keywords":
				st.Keywords = p.strings(f, fv)
			case "permanent_keywords":
				p.boolean(f, fv, &st.PermanentKeywords)
			case "allow_new_keywords":
				p.boolean(f, fv, &st.AllowNewKeywords)
			case "nonpermanent_modseqs":
				p.boolean(f, fv, &st.NonpermanentModseqs)
			case "no_modseq_tracking":
				p.boolean(f, fv, &st.NoModseqTracking)
			case "have_guids":
				p.boolean(f, fv, &st.HaveGUIDs)
			case "have_save_guids":
				p.boolean(f, fv, &st.HaveSaveGUIDs)
			case "have_only_guid128":
				p.boolean(f, fv, &st.HaveOnlyGUID128)
			default:
				p.fail(f, errors.New("unknown status field"))
			}
			if p.err != nil {
				return
			}
		}
		t.Status[box] = st
	}
}

func (p *parser) metadata(v json.RawMessage, t *Txn) {
	m := p.object("metadata", v)
	if m == nil {
		return
	}
	t.Metadata = make(map[string]*string, len(m))
	for _, k := range sortedKeys(m) {
		mv := m[k]
		f := "metadata." + k
		if _, err := store.ServerKey(k); err != nil {
			p.fail(f, err)
			return
		}
		var s *string
		p.optStr(f, mv, &s)
		t.Metadata[k] = s
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
