package logx

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestArgs(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{"filled", func(l *slog.Logger) {
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
		}, "pushlua: Info: {x} x=1\n"},
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
			tt.log(slog.New(NewText(&buf, &Options{Attrs: true})))
			if got := buf.String(); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestArgsJSON(t *testing.T) {
	var buf bytes.Buffer
	slog.New(NewJSON(&buf, nil)).Info("{n} transactions kept in {dir}", Args("n", 3, "dir", "/var/wal"))
	var rec struct {
		Msg  string         `json:"msg"`
		Args map[string]any `json:"args"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if want := "3 transactions kept in /var/wal"; rec.Msg != want {
		t.Errorf("msg = %q; want %q", rec.Msg, want)
	}
	if rec.Args["n"] != 3.0 || rec.Args["dir"] != "/var/wal" {
		t.Errorf("args = %v; want n=3 dir=/var/wal", rec.Args)
	}
}
