package logx

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

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

// Message fills a record's template for handlers that are not logx's.
func TestMessage(t *testing.T) {
	var got string
	l := slog.New(recordFunc(func(r slog.Record) { got = Message(r) }))
	l.Error("{driver}: {error}", Args("driver", "lua", "error", "lua_load(x.lua) failed"))
	if want := "lua: lua_load(x.lua) failed"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

// recordFunc is a handler that hands every record to a function.
type recordFunc func(slog.Record)

func (f recordFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (f recordFunc) Handle(_ context.Context, r slog.Record) error { f(r); return nil }
func (f recordFunc) WithAttrs([]slog.Attr) slog.Handler            { return f }
func (f recordFunc) WithGroup(string) slog.Handler                 { return f }
