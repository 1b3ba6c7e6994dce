package logx

import (
	"context"
	"io"
	"log/slog"

	"github.com/pushlua/pushlua/internal/redact"
)

// NewJSON returns slog's JSON handler writing to w, with credentials hidden
// (internal/redact) in the message and in every string and error
// attribute, groups included (other values are marshalled as they are). One record is one line of valid
// JSON whatever its strings hold: encoding/json escapes control characters
// and replaces invalid UTF-8.
func NewJSON(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	return &redactHandler{h: slog.NewJSONHandler(w, opts)}
}

// redactHandler redacts records on their way to h.
type redactHandler struct{ h slog.Handler }

var _ slog.Handler = (*redactHandler)(nil)

func (r *redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, redact.String(Message(rec)), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return &redactHandler{h: r.h.WithAttrs(red)}
}

func (r *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{h: r.h.WithGroup(name)}
}

// redactAttr returns a with its strings redacted; an error becomes its
// redacted text.
func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redact.String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = redactAttr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		// slog's JSON handler prints an error as its text; other values
		// keep their JSON shape.
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, redact.String(err.Error()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
