package bindings

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"reflect"
	"testing"

	lua "github.com/Shopify/go-lua"
)

func TestEventLua(t *testing.T) {
	runLuaTests(t, "testdata/event_test.lua", dovecotTestSetup)
}

// TestEventAttrs checks what event logs carry besides the line: the name,
// the fields (inherited, overridden, incremented) and, with
// always_log_source, the caller's file:line, all in the "event" group.
func TestEventAttrs(t *testing.T) {
	for _, tt := range []struct {
		name  string
		chunk string // loaded as "@/etc/dovecot/push.lua" unless it starts with "="
		want  []map[string]any
	}{
		{
			name:  "plain",
			chunk: `dovecot.event():log_info("m")`,
			want:  []map[string]any{{"msg": "lua: m", "level": "INFO"}},
		},
		{
			name: "fields",
			chunk: `local p = dovecot.event():add_str("user", "bob"):add_int("n", 1):add_str("k", "parent")
local c = dovecot.event(p):set_name("child"):add_str("k", "child"):inc_int("n", 5):inc_int("m", 2):inc_int("m", 3)
c:add_timeval("t", 1700000000):add_str("num", 42)
c:log_warning("w")
p:log_info("p")`,
			want: []map[string]any{
				{"msg": "lua: w", "level": "WARN", "event": map[string]any{
					"name": "child",
					"fields": map[string]any{
						"user": "bob", "n": 5.0, "k": "child", "m": 5.0,
						"t": "2023-11-14T22:13:20Z", "num": "42",
					},
				}},
				{"msg": "lua: p", "level": "INFO", "event": map[string]any{
					"fields": map[string]any{"user": "bob", "n": 1.0, "k": "parent"},
				}},
			},
		},
		{
			name: "passthrough inherits",
			chunk: `local e = dovecot.event():add_int("a", 1)
e:passthrough_event():add_int("b", 2):log_info("pt")`,
			want: []map[string]any{{"msg": "lua: pt", "level": "INFO", "event": map[string]any{
				"fields": map[string]any{"a": 1.0, "b": 2.0},
			}}},
		},
		{
			name: "always log source",
			chunk: `local e = dovecot.event():set_always_log_source()

e:log_info("m")
dovecot.event(e):log_info("child")`,
			want: []map[string]any{
				{"msg": "lua: m", "level": "INFO", "event": map[string]any{"source": "push.lua:3"}},
				{"msg": "lua: child", "level": "INFO", "event": map[string]any{"source": "push.lua:4"}},
			},
		},
		{
			name:  "always log source, string chunk",
			chunk: "=inline\ndovecot.event():set_always_log_source():log_info(\"m\")",
			want: []map[string]any{
				{"msg": "lua: m", "level": "INFO", "event": map[string]any{"source": "<non-file location>:1"}},
			},
		},
		{
			name:  "replace",
			chunk: `dovecot.event():replace_log_prefix("R: "):log_error("x")`,
			want:  []map[string]any{{"msg": "x", "level": "ERROR", "log_prefix": "R: "}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			te := newTestEnv(t)
			var buf bytes.Buffer
			te.Host.Log = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			name, src := "@/etc/dovecot/push.lua", tt.chunk
			if src[0] == '=' {
				name, src = "inline", src[len("=inline\n"):]
			}
			if err := lua.LoadBuffer(te.L, src, name, "t"); err != nil {
				t.Fatalf("load: %v", err)
			}
			if err := te.L.ProtectedCall(0, 0, 0); err != nil {
				msg, _ := te.L.ToString(-1)
				t.Fatalf("run: %s", msg)
			}
			var got []map[string]any
			dec := json.NewDecoder(&buf)
			for dec.More() {
				var rec map[string]any
				if err := dec.Decode(&rec); err != nil {
					t.Fatal(err)
				}
				delete(rec, "time")
				got = append(got, rec)
			}
			if !reflect.DeepEqual(got, tt.want) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(tt.want)
				t.Errorf("records\n got %s\nwant %s", gj, wj)
			}
		})
	}
}
