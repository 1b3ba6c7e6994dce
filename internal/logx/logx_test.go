package logx

import (
	"bytes"
	"log/slog"
	"testing"
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
	if got, want := buf.String(), "pushlua: Info: m g.k=1\n"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}
