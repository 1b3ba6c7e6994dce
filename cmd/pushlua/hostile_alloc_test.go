package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// hostileScript makes one huge allocation per message uid; uid 100 and up
// just log. Big strings built with `..` are not charged to the budget
// (the VM makes them); the library functions that copy them are.
const hostileScript = `local cjson = require("cjson")
local function doubled(n) local s = "y"; for _ = 1, n do s = s .. s end; return s end
local hostile = {
  -- 1 TiB in one call.
  [1] = function() return string.rep("x", 2^40) end,
  -- 64 strings of 16 MiB, then their concatenation (1 GiB).
  [2] = function()
    local t = {}
    for i = 1, 64 do t[i] = string.rep("y", 2^24) end
    return table.concat(t)
  end,
  -- The same 1 GiB concatenation of a 16 MiB string the VM made.
  [3] = function()
    local s, t = doubled(24), {}
    for i = 1, 64 do t[i] = s end
    return table.concat(t)
  end,
  -- A table grown with 1 MB strings, forever.
  [4] = function()
    local t = {}
    while true do t[#t + 1] = string.rep("z", 2^20) end
  end,
  -- The same, with every failure caught by pcall.
  [5] = function()
    local t = {}
    while true do pcall(function() t[#t + 1] = string.rep("z", 2^20) end) end
  end,
  -- 2^12 references to one 1 MiB string, as JSON: 4 GiB of text.
  [6] = function()
    local d = {doubled(20)}
    for _ = 1, 12 do d = {d, d} end
    return cjson.encode(d)
  end,
  -- An endless file.
  [7] = function() return assert(io.open("/dev/zero", "rb")):read("*a") end,
  -- A string doubled through gsub.
  [8] = function()
    local s = "ab"
    while true do s = string.gsub(s, "^", s) end
  end,
}
function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_event_message_new(ctx, e)
  if hostile[e.uid] then hostile[e.uid]() end
  dovecot.i_info("ok " .. e.uid)
end
function dovecot_lua_notify_end_txn(ctx) end
`

// TestHostileAllocations: each transaction that tries to allocate far too
// much fails with a clear log line naming the function and the budget,
// the next transaction of the same user runs on a fresh state, the
// process exits normally and its peak RSS stays bounded.
func TestHostileAllocations(t *testing.T) {
	want := map[int]string{
		1: `'rep' needs 1099511627776 bytes, 0 already used`,
		2: `'rep' needs 16777216 bytes, 67108864 already used`,
		3: `'concat' needs \d+ bytes, 0 already used`,
		4: `'rep' needs 1048576 bytes, 67108864 already used`,
		5: `'rep' needs 1048576 bytes, 67108864 already used`,
		6: `'cjson.encode' needs \d+ bytes, 0 already used`,
		7: `'read' needs 67108865 bytes, 0 already used`,
		8: `'gsub' needs \d+ bytes, \d+ already used`,
	}
	var in strings.Builder
	for uid := 1; uid <= len(want); uid++ {
		// The hostile transaction, then an ordinary one of the same user.
		fmt.Fprintf(&in, `{"user": "u%d", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d}]}`+"\n", uid, uid)
		fmt.Fprintf(&in, `{"user": "u%d", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": %d}]}`+"\n", uid, 100+uid)
	}
	dir := writeFiles(t, map[string]string{
		"p.conf":   "plugin {\npush_notification_driver = lua:file=s.lua\n}\n",
		"s.lua":    hostileScript,
		"in.jsonl": in.String(),
	})
	// One worker: the bound below is for one call at a time (each worker
	// can hold about twice its budget while a call fails).
	cmd := exec.Command(binary, "run", "-j", "1", "-c", "p.conf", "in.jsonl")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "HOME="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// Exit 1: handlers failed (the point of the test); anything else is
	// wrong.
	if err := cmd.Run(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("pushlua run: %v; want exit 1 (handlers failed); stderr:\n%s", err, stderr.String())
	}
	log := stderr.String()
	for uid, msg := range want {
		re := regexp.MustCompile(fmt.Sprintf(`pushlua\(u%d\)<[^>]+>: Error: lua: lua_pcall\(dovecot_lua_notify_event_message_new, 2, 0\) failed: \S*s\.lua:\d+: pushlua: call exceeded its memory budget of 64 MiB \(pushlua_handler_memory\): %s\n`, uid, msg))
		if !re.MatchString(log) {
			t.Errorf("uid %d: log lacks a line matching %s", uid, re)
		}
		if ok := fmt.Sprintf("pushlua(u%d)", uid); !strings.Contains(log, ok) || !regexp.MustCompile(regexp.QuoteMeta(ok)+`<[^>]+>: Info: ok `+fmt.Sprint(100+uid)+`\n`).MatchString(log) {
			t.Errorf("uid %d: the next transaction did not run", uid)
		}
		if strings.Contains(log, fmt.Sprintf("Info: ok %d\n", uid)) {
			t.Errorf("uid %d: the hostile handler went on after the budget tripped", uid)
		}
	}
	if summary := fmt.Sprintf("pushlua: %d transactions, %d events, %d handler calls, %d errors, 0 rejected lines\n",
		2*len(want), 2*len(want), 5*len(want), len(want)); !strings.Contains(log, summary) {
		t.Errorf("log lacks %q", summary)
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", log)
	}
	// Maxrss is in KiB on Linux.
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
	t.Logf("peak RSS %d MiB", rss>>20)
	if rss >= 400<<20 {
		t.Errorf("peak RSS %d MiB; want < 400 MiB", rss>>20)
	}
}

// TestHandlerMemorySetting: pushlua_handler_memory sets the budget; a bad
// value is a configuration error.
func TestHandlerMemorySetting(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.conf": "plugin {\npush_notification_driver = lua:file=s.lua\n}\n",
		"s.lua":  hostileScript,
	})
	line := `{"user": "u", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}` + "\n"
	r := pushlua(t, dir, line, "run", "-c", "p.conf", "-o", "pushlua_handler_memory=8M", "-")
	if r.code != 1 || !strings.Contains(r.stderr, "pushlua: call exceeded its memory budget of 8 MiB (pushlua_handler_memory): 'rep' needs 1099511627776 bytes, 0 already used\n") {
		t.Errorf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	for _, bad := range []string{"lots", "0", "12 parsecs"} {
		r = pushlua(t, dir, line, "run", "-c", "p.conf", "-o", "pushlua_handler_memory="+bad, "-")
		if r.code != 2 || !strings.Contains(r.stderr, "pushlua_handler_memory: ") {
			t.Errorf("%q: exit %d; want 2 and an error naming the setting; stderr:\n%s", bad, r.code, r.stderr)
		}
	}
}
