package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Memory is a Store kept in memory, with the same semantics as Bolt; it is
// meant for tests and benchmarks. The zero value is not usable: call
// NewMemory.
type Memory struct {
	mu    sync.RWMutex
	users map[string]*memUser
}

var _ Store = (*Memory)(nil)

// memUser is one user's state.
type memUser struct {
	status map[string]Status
	attrs  map[string]map[string]string // mailbox -> key -> value
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{users: map[string]*memUser{}}
}

// user returns the user's state, creating it when create is set; without
// create it may return nil.
func (s *Memory) user(name string, create bool) *memUser {
	u := s.users[name]
	if u == nil && create {
		u = &memUser{status: map[string]Status{}, attrs: map[string]map[string]string{}}
		s.users[name] = u
	}
	return u
}

// Apply applies snap for user atomically; see Store.Apply.
func (s *Memory) Apply(ctx context.Context, user string, snap *Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := prepare(user, snap)
	if err != nil {
		return fmt.Errorf("store: apply: %w", err)
	}
	if p.empty() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(user, true)
	for _, name := range p.deletes {
		delete(u.status, name)
		if name != inbox {
			delete(u.attrs, name)
		}
	}
	has := func(name string) bool { _, ok := u.status[name]; return ok }
	_ = eachRename(p.renames, has, func(from, to string) error {
		if !has(to) {
			if st, ok := u.status[from]; ok {
				u.status[to] = st
			}
			if from != inbox {
				delete(u.attrs, to)
				if a := u.attrs[from]; a != nil {
					u.attrs[to] = a
				}
			}
		}
		delete(u.status, from)
		if from != inbox {
			delete(u.attrs, from)
		}
		return nil
	})
	for _, name := range p.ensure {
		if !has(name) {
			u.status[name] = Status{}
		}
	}
	for _, name := range p.status {
		u.status[name] = cloneStatus(snap.Status[name])
	}
	for _, m := range p.meta {
		if m.value == nil {
			u.unset(inbox, m.key)
		} else {
			u.set(inbox, m.key, *m.value)
		}
	}
	return nil
}

// set sets a mailbox attribute.
func (u *memUser) set(mailbox, key, value string) {
	a := u.attrs[mailbox]
	if a == nil {
		a = map[string]string{}
		u.attrs[mailbox] = a
	}
	a[key] = value
}

// unset removes a mailbox attribute.
func (u *memUser) unset(mailbox, key string) {
	if a := u.attrs[mailbox]; a != nil {
		delete(a, key)
		if len(a) == 0 {
			delete(u.attrs, mailbox)
		}
	}
}

// Status returns the mailbox's status; see Store.Status.
func (s *Memory) Status(ctx context.Context, user, mailbox string) (Status, error) {
	if err := ctx.Err(); err != nil {
		return Status{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if u := s.user(user, false); u != nil {
		if st, ok := u.status[mailbox]; ok {
			return cloneStatus(st), nil
		}
	}
	if mailbox == inbox {
		return Status{}, nil
	}
	return Status{}, fmt.Errorf("%w: %s", ErrNoMailbox, mailbox)
}

// Mailboxes lists the user's mailboxes, INBOX included, in name order.
func (s *Memory) Mailboxes(ctx context.Context, user string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var names []string
	if u := s.user(user, false); u != nil {
		names = slices.Sorted(maps.Keys(u.status))
	}
	return withInbox(names), nil
}

// GetAttribute returns a mailbox attribute; see Store.GetAttribute.
func (s *Memory) GetAttribute(ctx context.Context, user, mailbox, key string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	if err := checkMailbox(mailbox); err != nil {
		return "", false, fmt.Errorf("store: get attribute: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if u := s.user(user, false); u != nil {
		v, ok := u.attrs[mailbox][key]
		return v, ok, nil
	}
	return "", false, nil
}

// SetAttribute sets a mailbox attribute.
func (s *Memory) SetAttribute(ctx context.Context, user, mailbox, key, value string) error {
	if err := s.checkWrite(ctx, "set", user, mailbox); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user(user, true).set(mailbox, key, value)
	return nil
}

// UnsetAttribute removes a mailbox attribute.
func (s *Memory) UnsetAttribute(ctx context.Context, user, mailbox, key string) error {
	if err := s.checkWrite(ctx, "unset", user, mailbox); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.user(user, false); u != nil {
		u.unset(mailbox, key)
	}
	return nil
}

// checkWrite validates the arguments of an attribute write.
func (s *Memory) checkWrite(ctx context.Context, op, user, mailbox string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if user == "" {
		return fmt.Errorf("store: %s attribute: %w", op, errEmptyUser)
	}
	if err := checkMailbox(mailbox); err != nil {
		return fmt.Errorf("store: %s attribute: %w", op, err)
	}
	return nil
}

// ListAttributes returns the mailbox's attributes whose key starts with
// prefix ("" for all).
func (s *Memory) ListAttributes(ctx context.Context, user, mailbox, prefix string) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkMailbox(mailbox); err != nil {
		return nil, fmt.Errorf("store: list attributes: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]string{}
	if u := s.user(user, false); u != nil {
		for k, v := range u.attrs[mailbox] {
			if strings.HasPrefix(k, prefix) {
				out[k] = v
			}
		}
	}
	return out, nil
}

// Close does nothing; a Memory stays usable after it.
func (s *Memory) Close() error { return nil }
