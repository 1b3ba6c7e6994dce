package logx

import (
	"log/slog"
	"strings"
)

// KeyArgs is the attribute group that fills a record's message template.
// A record that carries it (at the record, not through Logger.With) has a
// message with {name} placeholders, and the group holds their values:
//
//	log.Info("reloaded {files} (v{from} → v{to})",
//		logx.Args("files", "script.lua", "from", 1, "to", 2))
//
// The text handler prints the message with the values in place, in
// Dovecot's shape ("reloaded script.lua (v1 → v2)"), and not the group;
// the JSON handler prints the same message and keeps the values as the
// "args" object. A placeholder the group does not name stays as it is;
// text a value brings in is not looked at again.
const KeyArgs = "args"

// Args returns the KeyArgs group of the key-value pairs (as slog.Group
// takes them) that fill a message template.
func Args(args ...any) slog.Attr { return slog.Group(KeyArgs, args...) }

// Message returns r's message with its template filled (Render with the
// record's KeyArgs group): what the text handler prints, for a handler
// that is not one of logx's.
func Message(r slog.Record) string { return Render(r.Message, argsOf(&r)) }

// argsOf returns the values of r's KeyArgs group, nil when it has none.
func argsOf(r *slog.Record) []slog.Attr {
	var args []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == KeyArgs && a.Value.Kind() == slog.KindGroup {
			args = a.Value.Group()
			return false
		}
		return true
	})
	return args
}

// Render returns msg with each {name} placeholder that args names
// replaced by its value (slog.Value.String: an error's text, a number in
// decimal, a duration as time.Duration prints it).
func Render(msg string, args []slog.Attr) string {
	if len(args) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	var b strings.Builder
	for {
		open := strings.IndexByte(msg, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(msg[open:], '}')
		if end < 0 {
			break
		}
		end += open
		b.WriteString(msg[:open])
		if v, ok := lookup(args, msg[open+1:end]); ok {
			b.WriteString(v.String())
		} else {
			b.WriteString(msg[open : end+1])
		}
		msg = msg[end+1:]
	}
	b.WriteString(msg)
	return b.String()
}

func lookup(args []slog.Attr, key string) (slog.Value, bool) {
	for _, a := range args {
		if a.Key == key {
			return a.Value.Resolve(), true
		}
	}
	return slog.Value{}, false
}
