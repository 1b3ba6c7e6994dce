package main

import (
	"strings"
	"testing"
)

// TestRunLoadFailure: a script that fails to load or to init does not end
// `pushlua run` with "0 errors" and exit 0 (it used to: the transactions
// ran through no driver at all). The summary counts the driver that did
// not load, and run exits 1.
func TestRunLoadFailure(t *testing.T) {
	line := `{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}` + "\n"
	for _, tt := range []struct {
		name, script, log string
	}{
		{"syntax error", "function dovecot_lua_notify_begin_txn(\n", "lua_load("},
		{"runtime error in the chunk", "local x = nil + 1\n", "lua_pcall("},
		{"script_init fails", "function script_init() return 1 end\n", "Script init failed"},
		{"a module that is not there", "local JSON = require 'no.such.module'\n", "module 'no.such.module' not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{
				"p.conf": "plugin {\npush_notification_driver = lua:file=s.lua\n}\n",
				"s.lua":  tt.script,
			})
			r := pushlua(t, dir, line, "run", "-c", "p.conf", "-")
			if r.code != 1 {
				t.Errorf("exit %d; want 1\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.log) {
				t.Errorf("stderr lacks %q:\n%s", tt.log, r.stderr)
			}
			want := "pushlua: 1 transactions, 1 events, 0 handler calls, 1 errors (1 driver failed to load), 0 rejected lines\n"
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
			}
		})
	}
}
