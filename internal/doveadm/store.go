package doveadm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pushlua/pushlua/internal/store"
)

// Txn is what the transaction being run told pushlua's store: the
// mailboxes its status snapshot names and the server METADATA keys its
// metadata snapshot names. The runtime puts one into the context of every
// call into Lua with WithTxn; Store keeps its per-transaction answers in
// it. The zero value (with a Logger) is a transaction that carried no
// snapshot.
type Txn struct {
	// Status is the transaction's status snapshot, by vname.
	Status map[string]store.Status
	// Metadata is its server METADATA snapshot, by user-facing key.
	Metadata map[string]*string
	// Logger logs the failures of the transaction's lookups (the runtime
	// scopes it to the user and transaction); nil discards them.
	Logger *slog.Logger

	mu     sync.Mutex
	status map[string]statusAnswer // by vname
	attrs  map[attrRef]attrAnswer
	local  map[attrRef]bool // written by the transaction's scripts
}

type attrRef struct{ mailbox, key string }

type statusAnswer struct {
	st  store.Status
	err error
}

type attrAnswer struct {
	value string
	ok    bool
	err   error
}

type txnKey struct{}

// WithTxn returns ctx carrying t: the store calls made with it belong to
// t's transaction.
func WithTxn(ctx context.Context, t *Txn) context.Context {
	return context.WithValue(ctx, txnKey{}, t)
}

// txnFrom returns the transaction of ctx, or nil.
func txnFrom(ctx context.Context) *Txn {
	t, _ := ctx.Value(txnKey{}).(*Txn)
	return t
}

// carriesAttr reports whether the snapshot or the transaction's own
// writes give the attribute.
func (t *Txn) carriesAttr(r attrRef) bool {
	if r.mailbox == "INBOX" && strings.Contains(r.key, store.ServerPrefix) {
		if _, ok := t.Metadata[store.UserKey(r.key)]; ok {
			return true
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.local[r]
}

func (t *Txn) logger() *slog.Logger {
	if t.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return t.Logger
}

// Store is a store.Store that, within a transaction (WithTxn), reads the
// status and attributes the transaction's snapshot did not carry from
// doveadm; everything else is the embedded persistent store's.
type Store struct {
	store.Store
	Client *Client
	// Now stamps Dovecot's internal-error text; default time.Now.
	Now func() time.Time
}

var _ store.Store = (*Store)(nil)

// NewStore returns base with live lookups through c.
func NewStore(base store.Store, c *Client) *Store {
	return &Store{Store: base, Client: c}
}

// Status returns the mailbox's status: the persistent store's outside a
// transaction or when the transaction's snapshot names the mailbox,
// doveadm's otherwise.
func (s *Store) Status(ctx context.Context, user, mailbox string) (store.Status, error) {
	t := txnFrom(ctx)
	if t == nil {
		return s.Store.Status(ctx, user, mailbox)
	}
	if _, ok := t.Status[mailbox]; ok {
		return s.Store.Status(ctx, user, mailbox)
	}
	t.mu.Lock()
	a, done := t.status[mailbox]
	t.mu.Unlock()
	if done {
		return a.st, a.err
	}
	st, err := s.Client.MailboxStatus(ctx, user, mailbox)
	if err != nil {
		err = s.failure(ctx, t, err, fmt.Sprintf("status of %q", mailbox), mailbox)
	}
	t.mu.Lock()
	if t.status == nil {
		t.status = map[string]statusAnswer{}
	}
	t.status[mailbox] = statusAnswer{st, err}
	t.mu.Unlock()
	return st, err
}

// GetAttribute returns the attribute: the persistent store's outside a
// transaction, when the transaction's METADATA snapshot names the key, or
// when the transaction's scripts wrote it; doveadm's otherwise.
func (s *Store) GetAttribute(ctx context.Context, user, mailbox, key string) (string, bool, error) {
	t := txnFrom(ctx)
	r := attrRef{mailbox, key}
	if t == nil || t.carriesAttr(r) {
		return s.Store.GetAttribute(ctx, user, mailbox, key)
	}
	t.mu.Lock()
	a, done := t.attrs[r]
	t.mu.Unlock()
	if done {
		return a.value, a.ok, a.err
	}
	v, ok, err := s.Client.MetadataGet(ctx, user, mailbox, key)
	if err != nil {
		err = s.failure(ctx, t, err, fmt.Sprintf("attribute %s of %q", key, mailbox), mailbox)
	}
	t.mu.Lock()
	if t.attrs == nil {
		t.attrs = map[attrRef]attrAnswer{}
	}
	t.attrs[r] = attrAnswer{v, ok, err}
	t.mu.Unlock()
	return v, ok, err
}

// SetAttribute writes the persistent store; within a transaction the key
// is read from there for the rest of it.
func (s *Store) SetAttribute(ctx context.Context, user, mailbox, key, value string) error {
	s.wrote(ctx, mailbox, key)
	return s.Store.SetAttribute(ctx, user, mailbox, key, value)
}

// UnsetAttribute is SetAttribute's counterpart.
func (s *Store) UnsetAttribute(ctx context.Context, user, mailbox, key string) error {
	s.wrote(ctx, mailbox, key)
	return s.Store.UnsetAttribute(ctx, user, mailbox, key)
}

func (s *Store) wrote(ctx context.Context, mailbox, key string) {
	t := txnFrom(ctx)
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.local == nil {
		t.local = map[attrRef]bool{}
	}
	t.local[attrRef{mailbox, key}] = true
}

// failure turns a doveadm error into what the bindings return: a missing
// mailbox is store.ErrNoMailbox; a call whose own context ended is that
// context's error; anything else is logged and becomes Dovecot's
// internal-error text.
func (s *Store) failure(ctx context.Context, t *Txn, err error, what, mailbox string) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %s", store.ErrNoMailbox, mailbox)
	}
	if ctx.Err() != nil && !errors.Is(err, ErrTimeout) {
		return ctx.Err()
	}
	t.logger().Error("doveadm: " + what + " failed: " + err.Error())
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return &InternalError{Err: err, Time: now()}
}

// InternalError is a lookup that failed for a reason a script cannot act
// on. Its text is Dovecot's MAIL_ERRSTR_CRITICAL_MSG_STAMP, which a script
// running inside Dovecot sees for a failed storage call; Err has the
// reason, which is logged.
type InternalError struct {
	Err  error
	Time time.Time
}

func (e *InternalError) Error() string {
	return "Internal error occurred. Refer to server log for more information. [" +
		e.Time.Format("2006-01-02 15:04:05") + "]"
}

func (e *InternalError) Unwrap() error { return e.Err }
