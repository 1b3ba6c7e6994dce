// Package logx owns pushlua's log format: slog records printed in
// Dovecot's shape, `pushlua(<username>)<txn id>: <Level>: <message>`, so
// admins can grep pushlua's logs the way they grep Dovecot's. The same
// records can be printed as slog JSON instead (NewJSON).
//
// Both handlers hide credentials (internal/redact: URL passwords,
// token-like parameters, Authorization values) in the message and in every
// attribute. The text handler also makes sure that one line of its output
// belongs to one record, whatever a user name, a mailbox name or a script
// puts into a record: control characters (C0, DEL, C1, U+2028, U+2029) and
// invalid UTF-8 are escaped Go-style (`\n`, `\r`, `\x1b`, `\u0085`,
// `\xff`) in the user, the transaction id, a replaced prefix, attribute keys
// and values, and the message. A message's newlines are the exception, as
// in Dovecot: each message line is printed with the prefix, and tabs in a
// message are kept (tracebacks are indented with them). Backslashes are not
// escaped, so Dovecot's lines stay byte for byte the same for normal input.
// The JSON handler needs no escaping: encoding/json escapes controls and
// replaces invalid UTF-8.
//
// Values that belong in a message are passed as attributes, not formatted
// into it: a KeyArgs group (Args) fills the message's {name} placeholders,
// so that the text handler prints Dovecot's sentence and the JSON handler
// the same sentence with the values as fields.
package logx

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pushlua/pushlua/internal/redact"
)

// Attribute keys with a meaning for the Dovecot-shaped format.
const (
	// KeyUser is the mail user's name: `pushlua(<user>)`.
	KeyUser = "user"
	// KeyTxn is the transaction id, printed right after the user.
	KeyTxn = "txn"
	// KeyPrefix, when present, replaces the whole line prefix (process
	// prefix included), like Dovecot's event_replace_log_prefix.
	KeyPrefix = "log_prefix"
)

// LevelName returns Dovecot's word for a level.
func LevelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "Debug"
	case l < slog.LevelWarn:
		return "Info"
	case l < slog.LevelError:
		return "Warning"
	default:
		return "Error"
	}
}

// Options configure a text handler.
type Options struct {
	// Process is the process name at the start of each line; default "pushlua".
	Process string
	// Level is the minimum level written; default slog.LevelDebug (the
	// engine decides which debug lines to emit, as Dovecot's mail_debug does).
	Level slog.Leveler
	// Attrs adds the record's other attributes as ` key=value` pairs after
	// the message when true.
	Attrs bool
}

// NewText returns a handler that writes Dovecot-shaped lines to w. A
// message with several lines is written as one line per message line, each
// with the prefix, as Dovecot does for tracebacks.
func NewText(w io.Writer, opts *Options) slog.Handler {
	h := &textHandler{mu: &sync.Mutex{}, w: w, process: "pushlua", level: slog.LevelDebug}
	if opts != nil {
		if opts.Process != "" {
			h.process = opts.Process
		}
		if opts.Level != nil {
			h.level = opts.Level
		}
		h.attrs = opts.Attrs
	}
	return h
}

type textHandler struct {
	mu      *sync.Mutex
	w       io.Writer
	process string
	level   slog.Leveler
	attrs   bool
	user    string
	txn     string
	prefix  *string
	extra   []slog.Attr
	group   string
}

func (h *textHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *textHandler) apply(a slog.Attr, user, txn *string, prefix **string, extra *[]slog.Attr) {
	switch a.Key {
	case KeyUser:
		*user = a.Value.String()
	case KeyTxn:
		*txn = a.Value.String()
	case KeyPrefix:
		s := a.Value.String()
		*prefix = &s
	default:
		if h.group != "" {
			a.Key = h.group + "." + a.Key
		}
		*extra = append(*extra, a)
	}
}

func (h *textHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.extra = append([]slog.Attr(nil), h.extra...)
	for _, a := range attrs {
		c.apply(a, &c.user, &c.txn, &c.prefix, &c.extra)
	}
	return &c
}

func (h *textHandler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}

func (h *textHandler) Handle(_ context.Context, r slog.Record) error {
	user, txn, prefix := h.user, h.txn, h.prefix
	extra := h.extra
	msg := r.Message
	if r.NumAttrs() > 0 {
		extra = append([]slog.Attr(nil), extra...)
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == KeyArgs && a.Value.Kind() == slog.KindGroup {
				msg = Render(msg, a.Value.Group())
				return true
			}
			h.apply(a, &user, &txn, &prefix, &extra)
			return true
		})
	}
	var head strings.Builder
	if prefix != nil {
		head.WriteString(field(*prefix))
	} else {
		head.WriteString(h.process)
		if user != "" {
			head.WriteString("(" + field(user) + ")")
		}
		if txn != "" {
			head.WriteString("<" + field(txn) + ">")
		}
		head.WriteString(": ")
	}
	head.WriteString(LevelName(r.Level))
	head.WriteString(": ")
	var tail string
	if h.attrs && len(extra) > 0 {
		var b strings.Builder
		for _, a := range extra {
			b.WriteString(" " + field(a.Key) + "=" + field(a.Value.String()))
		}
		tail = b.String()
	}
	var out strings.Builder
	lines := strings.Split(redact.String(msg), "\n")
	for i, line := range lines {
		out.WriteString(head.String())
		out.WriteString(escape(line, true))
		if i == len(lines)-1 {
			out.WriteString(tail)
		}
		out.WriteByte('\n')
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, out.String())
	return err
}

// field is a prefix part or an attribute, redacted and escaped.
func field(s string) string { return escape(redact.String(s), false) }

// EscapeField returns s with every control character (C0 including tab
// and newline, DEL, C1, U+2028, U+2029) and every invalid UTF-8 byte
// escaped Go-style, as the text handler prints a user name or an
// attribute: a string that has none is returned as it is.
func EscapeField(s string) string { return escape(s, false) }

// escape escapes what EscapeField does; keepTab keeps tabs.
func escape(s string, keepTab bool) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f || c == '\t' && keepTab {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !needsEscape(r, n) {
				i += n
				continue
			}
		}
		break
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c >= 0x20 && c < 0x7f || c == '\t' && keepTab:
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			default:
				fmt.Fprintf(&b, `\x%02x`, c)
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, c)
		case needsEscape(r, n):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// needsEscape reports whether the decoded rune r of n bytes is invalid
// UTF-8, a C1 control or a Unicode line or paragraph separator.
func needsEscape(r rune, n int) bool {
	return r == utf8.RuneError && n == 1 || r >= 0x80 && r <= 0x9f || r == 0x2028 || r == 0x2029
}

// Discard is a logger that writes nothing.
var Discard = slog.New(slog.DiscardHandler)
