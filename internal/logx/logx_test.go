package logx

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestText(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{"plain", func(l *slog.Logger) { l.Info("hello") }, "pushlua: Info: hello\n"},
		{"user and txn", func(l *slog.Logger) {
			l.With(KeyUser, "alice@example.com", KeyTxn, "t1").Debug("lua: Calling x")
		}, "pushlua(alice@example.com)<t1>: Debug: lua: Calling x\n"},
		{"levels", func(l *slog.Logger) {
			l.Warn("w")
			l.Error("e")
		}, "pushlua: Warning: w\npushlua: Error: e\n"},
		{"multi-line", func(l *slog.Logger) {
			l.Error("a\nstack traceback:\n\tx", KeyUser, "bob")
		}, "pushlua(bob): Error: a\npushlua(bob): Error: stack traceback:\npushlua(bob): Error: \tx\n"},
		{"replaced prefix", func(l *slog.Logger) {
			l.With(KeyUser, "bob").Error("x", KeyPrefix, "REPL: ")
		}, "REPL: Error: x\n"},
		// Message templates (Args).
		{"args filled", func(l *slog.Logger) {
			l.Info("reloaded {files} (v{from} → v{to}, {id}) in {ms} ms",
				Args("files", "a.lua, b.lua", "from", 1, "to", 2, "id", "1a2b", "ms", int64(7)))
		}, "pushlua: Info: reloaded a.lua, b.lua (v1 → v2, 1a2b) in 7 ms\n"},
		{"error, duration and user", func(l *slog.Logger) {
			l.Warn("{error}; draining (at most {timeout})", Args("error", errors.New("reload: x"), "timeout", 30*time.Second), KeyUser, "bob")
		}, "pushlua(bob): Warning: reload: x; draining (at most 30s)\n"},
		{"unknown placeholder and braces kept", func(l *slog.Logger) {
			l.Info("{a} {b} {", Args("a", "{b}"))
		}, "pushlua: Info: {b} {b} {\n"},
		{"no args, no template", func(l *slog.Logger) {
			l.Info("{x}", "x", 1)
		}, "pushlua: Info: {x}\n"},
		{"a value's newline splits the line", func(l *slog.Logger) {
			l.Error("failed: {error}", Args("error", "a\nb"))
		}, "pushlua: Error: failed: a\npushlua: Error: b\n"},
		{"a value's password is hidden", func(l *slog.Logger) {
			l.Error("url {url}", Args("url", "http://u:secret@h/"))
		}, "pushlua: Error: url http://u:xxxxx@h/\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(NewText(&buf, nil)))
			if got := buf.String(); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestTextAttrs(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewText(&buf, &Options{Attrs: true, Level: slog.LevelInfo}))
	l.Debug("hidden")
	l.WithGroup("g").Info("m", "k", 1)
	l.Info("{n} m", Args("n", 2), "k", 3) // the args fill the message, they are not printed again
	if got, want := buf.String(), "pushlua: Info: m g.k=1\npushlua: Info: 2 m k=3\n"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}
