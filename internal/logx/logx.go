// Package logx owns pushlua's log format: slog records printed in
// Dovecot's shape, `pushlua(<username>)<txn id>: <Level>: <message>`, so
// admins can grep pushlua's logs the way they grep Dovecot's. The same
// records can be printed as slog JSON instead.
package logx

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
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
	if r.NumAttrs() > 0 {
		extra = append([]slog.Attr(nil), extra...)
		r.Attrs(func(a slog.Attr) bool {
			h.apply(a, &user, &txn, &prefix, &extra)
			return true
		})
	}
	var head strings.Builder
	if prefix != nil {
		head.WriteString(*prefix)
	} else {
		head.WriteString(h.process)
		if user != "" {
			head.WriteString("(" + user + ")")
		}
		if txn != "" {
			head.WriteString("<" + txn + ">")
		}
		head.WriteString(": ")
	}
	head.WriteString(LevelName(r.Level))
	head.WriteString(": ")
	var tail string
	if h.attrs && len(extra) > 0 {
		var b strings.Builder
		for _, a := range extra {
			b.WriteString(" " + a.Key + "=" + a.Value.String())
		}
		tail = b.String()
	}
	var out strings.Builder
	lines := strings.Split(r.Message, "\n")
	for i, line := range lines {
		out.WriteString(head.String())
		out.WriteString(line)
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

// Discard is a logger that writes nothing.
var Discard = slog.New(slog.DiscardHandler)
