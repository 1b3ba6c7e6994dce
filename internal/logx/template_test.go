package logx

import (
	"bytes"
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
