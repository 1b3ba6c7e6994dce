package store

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// inbox is the one mailbox that always exists.
const inbox = "INBOX"

// errEmptyMailbox is returned by the attribute methods for the mailbox "".
var errEmptyMailbox = errors.New("mailbox name cannot be empty")

// errEmptyUser is returned by the writing methods for the user "".
var errEmptyUser = errors.New("user name cannot be empty")

// checkMailbox reports whether name can be stored: attribute keys are
// mailbox + "\x00" + key, so a name must be non-empty and free of NUL.
func checkMailbox(name string) error {
	if name == "" {
		return errEmptyMailbox
	}
	if strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("mailbox name %q contains NUL", name)
	}
	return nil
}

// attrChange is one server METADATA change, its key already rewritten with
// ServerKey. A nil value unsets the key.
type attrChange struct {
	key   string
	value *string
}

// plan is a validated Snapshot, in the order Apply performs it. Both
// implementations execute the same plan, so they share its semantics.
type plan struct {
	deletes []string
	renames map[string]string // old -> new; never old == new
	ensure  []string
	status  []string // names of snap.Status, sorted
	meta    []attrChange
}

// empty reports whether p changes nothing.
func (p *plan) empty() bool {
	return len(p.deletes) == 0 && len(p.renames) == 0 && len(p.ensure) == 0 &&
		len(p.status) == 0 && len(p.meta) == 0
}

// prepare validates snap for user and turns it into a plan. Mailbox names ""
// name no mailbox (an event without one) and are skipped; a name containing
// NUL or a METADATA key that ServerKey rejects fails the whole snapshot.
func prepare(user string, snap *Snapshot) (*plan, error) {
	if user == "" {
		return nil, errEmptyUser
	}
	p := &plan{}
	if snap == nil {
		return p, nil
	}
	// names filters list into out (nil, or list itself when the caller
	// owns it).
	names := func(list, out []string) ([]string, error) {
		for _, name := range list {
			if name == "" {
				continue
			}
			if err := checkMailbox(name); err != nil {
				return nil, err
			}
			out = append(out, name)
		}
		return out, nil
	}
	var err error
	if p.deletes, err = names(snap.Deletes, nil); err != nil {
		return nil, err
	}
	if p.ensure, err = names(snap.Ensure, nil); err != nil {
		return nil, err
	}
	if len(snap.Status) > 0 {
		keys := sortedKeys(snap.Status)
		if p.status, err = names(keys, keys[:0]); err != nil {
			return nil, err
		}
	}
	for from, to := range snap.Renames {
		if from == "" || to == "" || from == to {
			continue
		}
		if err := checkMailbox(from); err != nil {
			return nil, err
		}
		if err := checkMailbox(to); err != nil {
			return nil, err
		}
		if p.renames == nil {
			p.renames = make(map[string]string, len(snap.Renames))
		}
		p.renames[from] = to
	}
	if len(snap.Metadata) == 0 {
		return p, nil
	}
	p.meta = make([]attrChange, 0, len(snap.Metadata))
	for _, k := range sortedKeys(snap.Metadata) {
		sk, err := ServerKey(k)
		if err != nil {
			return nil, fmt.Errorf("metadata key %q: %w", k, err)
		}
		p.meta = append(p.meta, attrChange{key: sk, value: snap.Metadata[k]})
	}
	return p, nil
}

// sortedKeys returns the keys of m in order, in one allocation (a
// snapshot's maps have one or two keys; slices.Sorted(maps.Keys(m)) makes
// three).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// eachRename calls rename for every entry of renames, in the order the events
// most likely happened. A map has lost that order, so it is rebuilt from
// Dovecot's rule that a mailbox is only renamed to a free name: a rename
// whose old name has a status record and whose new name has none goes next
// (so A→B, B→C moves A to C when B was free, and B→C, A→B moves B to C and
// A to B when B existed). Ties and what is left (cycles, unknown old names)
// go in name order. has reports whether a name has a status record now.
func eachRename(renames map[string]string, has func(string) bool, rename func(from, to string) error) error {
	pending := slices.Sorted(maps.Keys(renames))
	for len(pending) > 0 {
		next := 0
		for i, from := range pending {
			if has(from) && !has(renames[from]) {
				next = i
				break
			}
		}
		from := pending[next]
		pending = slices.Delete(pending, next, next+1)
		if err := rename(from, renames[from]); err != nil {
			return err
		}
	}
	return nil
}

// cloneStatus returns s with its own Keywords, an empty list as nil (as the
// JSON encoding stores it).
func cloneStatus(s Status) Status {
	if len(s.Keywords) == 0 {
		s.Keywords = nil
	} else {
		s.Keywords = slices.Clone(s.Keywords)
	}
	return s
}

// withInbox adds INBOX to the sorted names unless it is there.
func withInbox(names []string) []string {
	i, found := slices.BinarySearch(names, inbox)
	if found {
		return names
	}
	return slices.Insert(names, i, inbox)
}
