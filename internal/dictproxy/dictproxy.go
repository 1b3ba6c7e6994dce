// Package dictproxy sends the METADATA writes of scripts to a Dovecot dict
// server, as Dovecot's proxy dict driver would: with
//
//	mail_attribute_dict = proxy:<socket>:<dict name>
//
// in the configuration, a script's mailbox:metadata_set/metadata_unset
// (and user:metadata_set/unset) is sent to that socket in Dovecot 2.3's
// dict protocol (version 3.2) before pushlua keeps it in its own store. A
// service that takes its signals from Dovecot's dict (a chat relay's
// "messagenew", a push gateway's device tokens) gets them from pushlua
// unchanged.
//
// One write is one dict transaction on its own connection:
//
//	H3	2	0		<dict name>
//	B<id>	<user>
//	S<id>	priv/<mailbox guid>/<key>	<value>      (U<id>	<key> to unset)
//	C<id>
//
// and the server's commit reply (O or N: done; F, W or anything else: the
// write fails and the script gets Dovecot's "Internal error occurred"
// while the reason is logged). Keys are Dovecot's: "priv/" or "shared/",
// the mailbox GUID, "/", the key without its /private/ or /shared/ prefix;
// a server attribute keeps its vendor/vendor.dovecot/pvt/server/ infix.
// Values and keys are tab-escaped as Dovecot escapes them.
//
// What differs from Dovecot: pushlua does not know a mailbox's GUID, so
// the GUID in the key is a stand-in, the same for the same user and
// mailbox (MailboxGUID); reads (metadata_get, metadata_list) still come
// from pushlua's store; only proxy dicts are supported.
package dictproxy

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/store"
)

// DefaultBaseDir is Dovecot's base_dir on Debian and most packages, where
// "proxy::name" and relative socket paths are looked up unless the
// configuration sets base_dir.
const DefaultBaseDir = "/run/dovecot"

// DefaultTimeout bounds one write when the caller's context has no earlier
// deadline (Dovecot's dict client waits 30 s).
const DefaultTimeout = 30 * time.Second

// Target is where a proxy dict lives.
type Target struct {
	// Socket is the path of the dict server's UNIX socket.
	Socket string
	// Name is the dict's name, sent in the handshake.
	Name string
}

// ParseURI parses a mail_attribute_dict value of the proxy driver:
// "proxy:[idle_msecs=<n>:][warn_slow_msecs=<n>:]<path>:<name>", the path
// absolute, relative to baseDir, or empty for baseDir/dict. ok is false
// for other drivers (file:, redis:, ...).
func ParseURI(uri, baseDir string) (t Target, ok bool, err error) {
	rest, isProxy := strings.CutPrefix(uri, "proxy:")
	if !isProxy {
		return Target{}, false, nil
	}
	for _, opt := range []string{"idle_msecs=", "warn_slow_msecs="} {
		if strings.HasPrefix(rest, opt) {
			i := strings.IndexByte(rest, ':')
			if i < 0 {
				return Target{}, true, fmt.Errorf("mail_attribute_dict: Invalid URI: %s", rest)
			}
			rest = rest[i+1:]
		}
	}
	path, name, found := strings.Cut(rest, ":")
	if !found {
		return Target{}, true, fmt.Errorf("mail_attribute_dict: Invalid URI: %s", rest)
	}
	if baseDir == "" {
		baseDir = DefaultBaseDir
	}
	switch {
	case path == "":
		path = filepath.Join(baseDir, "dict")
	case !filepath.IsAbs(path):
		path = filepath.Join(baseDir, path)
	}
	return Target{Socket: path, Name: name}, true, nil
}

// Client writes to one proxy dict.
type Client struct {
	Target
	// Timeout bounds a write when the context has no earlier deadline.
	// Default DefaultTimeout.
	Timeout time.Duration
	// Dial connects to the socket; default net.Dialer over "unix".
	Dial func(ctx context.Context, path string) (net.Conn, error)

	ids atomic.Uint32
}

// Op is one write of a transaction: Value nil unsets Key.
type Op struct {
	Key   string
	Value *string
}

// Commit runs ops as one dict transaction of user and waits for the
// server's answer.
func (c *Client) Commit(ctx context.Context, user string, ops ...Op) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := c.Dial
	if dial == nil {
		dial = func(ctx context.Context, path string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	}
	conn, err := dial(ctx, c.Socket)
	if err != nil {
		return fmt.Errorf("dict %s: %w", c.Socket, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	id := c.ids.Add(1)
	var b strings.Builder
	fmt.Fprintf(&b, "H3\t2\t0\t\t%s\n", TabEscape(c.Name))
	fmt.Fprintf(&b, "B%d\t%s\n", id, TabEscape(user))
	for _, op := range ops {
		if op.Value == nil {
			fmt.Fprintf(&b, "U%d\t%s\n", id, TabEscape(op.Key))
		} else {
			fmt.Fprintf(&b, "S%d\t%s\t%s\n", id, TabEscape(op.Key), TabEscape(*op.Value))
		}
	}
	fmt.Fprintf(&b, "C%d\n", id)
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return fmt.Errorf("dict %s: write: %w", c.Socket, ctxErr(ctx, err))
	}
	line, err := bufio.NewReaderSize(conn, 4096).ReadString('\n')
	if err != nil {
		return fmt.Errorf("dict %s: no commit reply: %w", c.Socket, ctxErr(ctx, err))
	}
	line = strings.TrimSuffix(line, "\n")
	switch {
	case line == "":
		return fmt.Errorf("dict %s: empty commit reply", c.Socket)
	case line[0] == 'O', line[0] == 'N':
		return nil
	case line[0] == 'F', line[0] == 'W':
		_, reason, _ := strings.Cut(line, "\t")
		return fmt.Errorf("dict-server returned failure: %s", TabUnescape(reason))
	}
	return fmt.Errorf("dict %s: invalid commit reply: %s", c.Socket, line)
}

// ctxErr prefers the context's reason over the I/O error it caused (the
// connection's deadline is the context's, and may fire first).
func ctxErr(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
	}
	return err
}

// TabEscape escapes s as Dovecot's str_tabescape does.
func TabEscape(s string) string {
	if !strings.ContainsAny(s, "\x01\t\r\n") {
		return s
	}
	r := strings.NewReplacer("\x01", "\x011", "\t", "\x01t", "\r", "\x01r", "\n", "\x01n")
	return r.Replace(s)
}

// TabUnescape reverses TabEscape.
func TabUnescape(s string) string {
	if !strings.Contains(s, "\x01") {
		return s
	}
	r := strings.NewReplacer("\x011", "\x01", "\x01t", "\t", "\x01r", "\r", "\x01n", "\n", "\x010", "\x00")
	return r.Replace(s)
}

// MailboxGUID is the stand-in for a mailbox's GUID in dict keys: 32 hex
// digits derived from the user and the mailbox name.
func MailboxGUID(user, mailbox string) string {
	sum := sha256.Sum256([]byte("pushlua mailbox guid\x00" + user + "\x00" + mailbox))
	return hex.EncodeToString(sum[:16])
}

// Key is the dict key Dovecot writes a mailbox attribute under:
// "/private/x" -> "priv/<guid>/x", "/shared/x" -> "shared/<guid>/x".
func Key(user, mailbox, key string) (string, error) {
	guid := MailboxGUID(user, mailbox)
	if rest, ok := strings.CutPrefix(key, "/private/"); ok {
		return "priv/" + guid + "/" + rest, nil
	}
	if rest, ok := strings.CutPrefix(key, "/shared/"); ok {
		return "shared/" + guid + "/" + rest, nil
	}
	return "", store.ErrBadKey
}

// ErrInternal is what the script sees when the dict refused or failed a
// write, Dovecot's text; the reason is logged.
var ErrInternal = errors.New("Internal error occurred. Refer to server log for more information.") //nolint:staticcheck // Dovecot's text

// Store is a store whose attribute writes go to the dict first: a write
// the dict does not take is not kept either (as a failed dict commit fails
// Dovecot's mailbox transaction).
type Store struct {
	store.Store
	Client *Client
	// Logger receives the reason of each failed write; default discard.
	Logger *slog.Logger
}

var _ store.Store = (*Store)(nil)

// SetAttribute sends the write to the dict, then to the store.
func (s *Store) SetAttribute(ctx context.Context, user, mailbox, key, value string) error {
	if err := s.forward(ctx, user, mailbox, key, &value); err != nil {
		return err
	}
	return s.Store.SetAttribute(ctx, user, mailbox, key, value)
}

// UnsetAttribute sends the unset to the dict, then to the store.
func (s *Store) UnsetAttribute(ctx context.Context, user, mailbox, key string) error {
	if err := s.forward(ctx, user, mailbox, key, nil); err != nil {
		return err
	}
	return s.Store.UnsetAttribute(ctx, user, mailbox, key)
}

func (s *Store) forward(ctx context.Context, user, mailbox, key string, value *string) error {
	dk, err := Key(user, mailbox, key)
	if err != nil {
		return err
	}
	if err := s.Client.Commit(ctx, user, Op{Key: dk, Value: value}); err != nil {
		if s.Logger != nil {
			s.Logger.Error(fmt.Sprintf("Mailbox %s: Failed to commit attribute transaction (%s): %v", mailbox, key, err),
				logx.KeyUser, user)
		}
		return ErrInternal
	}
	return nil
}
