package scripts

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the part offsets in dovecot/forward.lua")

// partConst matches the line of forward.lua's part() that holds one
// part's place: "at, len, line = <n>, <n>, <n> -- NAME" for COLD, and the
// one after `if name == "MAIN" then` for MAIN.
var partConst = regexp.MustCompile(`(?m)^(\s*(?:local )?at, len, line = )(\d+), (\d+), (\d+)(.*)$`)

// place is where the part NAME sits in src: the byte offset of its
// "--[===[NAME" line, the length up to its closing "]===]", and the line
// number of the opening line.
func place(t *testing.T, src []byte, name string) [3]int {
	t.Helper()
	open := []byte("\n--[===[" + name + "\n")
	i := bytes.Index(src, open)
	if i < 0 {
		t.Fatalf("forward.lua has no %s part", name)
	}
	j := bytes.Index(src[i:], []byte("\n]===]"))
	if j < 0 {
		t.Fatalf("forward.lua's %s part is not closed", name)
	}
	return [3]int{i + 1, j, bytes.Count(src[:i+1], []byte("\n")) + 1}
}

// consts reads the places written in part(): COLD's first, MAIN's second.
func consts(t *testing.T, src []byte) map[string][3]int {
	t.Helper()
	m := partConst.FindAllSubmatch(src, -1)
	if len(m) != 2 {
		t.Fatalf("forward.lua's part() has %d lines of offsets, want 2 (COLD, then MAIN)", len(m))
	}
	out := map[string][3]int{}
	for k, name := range []string{"COLD", "MAIN"} {
		var v [3]int
		for n := range v {
			v[n], _ = strconv.Atoi(string(m[k][2+n]))
		}
		out[name] = v
	}
	return out
}

// TestForwarderParts: the offsets part() seeks to are where MAIN and COLD
// are, so that Dovecot reads only the part it compiles (an edited file
// still works: part() then searches, as the e2e tests check). With
// -update the offsets are rewritten until they hold (their own digits
// move the parts).
func TestForwarderParts(t *testing.T) {
	src := Forwarder()
	if *update {
		for range 5 {
			want := map[string][3]int{"COLD": place(t, src, "COLD"), "MAIN": place(t, src, "MAIN")}
			k := 0
			next := partConst.ReplaceAllFunc(src, func(line []byte) []byte {
				name := []string{"COLD", "MAIN"}[k]
				k++
				sm := partConst.FindSubmatch(line)
				v := want[name]
				return []byte(fmt.Sprintf("%s%d, %d, %d%s", sm[1], v[0], v[1], v[2], sm[5]))
			})
			if bytes.Equal(next, src) {
				break
			}
			src = next
		}
		if err := os.WriteFile("dovecot/forward.lua", src, 0o644); err != nil {
			t.Fatal(err)
		}
		forwarder = src
	}
	got := consts(t, src)
	for _, name := range []string{"MAIN", "COLD"} {
		want := place(t, src, name)
		if got[name] != want {
			t.Errorf("forward.lua's part() has %s at %v, it is at %v (go test ./scripts -run ForwarderParts -update)", name, got[name], want)
		}
		v := got[name]
		if s := string(src[v[0] : v[0]+v[1]+5]); s[:len(name)+8] != "--[===["+name+"\n" || s[len(s)-6:] != "\n]===]" {
			t.Errorf("%s: the bytes at its offsets are not the whole part", name)
		}
	}
}

// compileHarness runs a forwarder (arg[1], text or binary) in a Lua
// interpreter like Dovecot does for one LMTP delivery (a state with one
// MessageNew transaction spooled into arg[2]), then once more with
// dovecot.storage missing, which fails inside MAIN before spooling. It
// prints the spool line without its id, then the error MAIN's failure
// logged.
const compileHarness = `
local script, spool = arg[1], arg[2]
local errors = {}
local function run(storage)
  dovecot = { i_error = function(m) errors[#errors + 1] = m end, storage = storage }
  assert(loadfile(script, "bt"))()
  assert(script_init() == 0)
  local box = { sync = function() end, free = function() end,
    status = function() return { messages = 3.0, unseen = 1.0, uidvalidity = 7.0, uidnext = 4.0, keywords = {} } end,
    metadata_get = function() return "user=x@1" end }
  local user = { username = "alice", service = "lmtp", session_id = "s1", uid = 1000.0,
    plugin_getenv = function(_, k) return k == "pushlua_spool" and spool or "" end,
    mailbox = function() return box end }
  local ctx = dovecot_lua_notify_begin_txn(user)
  dovecot_lua_notify_event_message_new(ctx, { name = "MessageNew", mailbox = "INBOX", uid = 3.0,
    uid_validity = 7.0, subject = "Grüße \"quoted\"\n", flags = {}, keywords = { "$Junk" }, date = 1.7e9, tz = -60.0 })
  dovecot_lua_notify_end_txn(ctx, true)
  script_deinit()
end
run({ STATUS_MESSAGES = 1, STATUS_RECENT = 2, STATUS_UIDNEXT = 4, STATUS_UIDVALIDITY = 8, STATUS_UNSEEN = 16,
  STATUS_FIRST_UNSEEN_SEQ = 32, STATUS_KEYWORDS = 64, STATUS_HIGHESTMODSEQ = 128, STATUS_PERMANENT_FLAGS = 256,
  STATUS_FIRST_RECENT_UID = 512, STATUS_HIGHESTPVTMODSEQ = 1024 })
run(nil)
for name in io.popen("ls " .. spool):lines() do
  for line in io.lines(spool .. "/" .. name) do
    print((string.gsub(line, '^{"id":"[^"]*",', "{")))
  end
end
print(errors[1] or "no error")
`

// TestCompileForwarder: pushlua forwarder --compile's chunk, made by each
// reference interpreter (lua5.3, lua5.4), spools the same line as the text
// forwarder, and an error in its MAIN part names the line of the text.
func TestCompileForwarder(t *testing.T) {
	found := 0
	for _, v := range []string{"5.3", "5.4"} {
		lua, err := exec.LookPath("lua" + v)
		if err != nil {
			continue
		}
		found++
		t.Run("lua"+v, func(t *testing.T) {
			chunk, version, err := CompileForwarder(context.Background(), lua, "pushlua-forward.lua")
			if err != nil {
				t.Fatal(err)
			}
			if version != v {
				t.Errorf("version %q, want %q", version, v)
			}
			dir := t.TempDir()
			text, bin := filepath.Join(dir, "forward.lua"), filepath.Join(dir, "forward.luac")
			if err := os.WriteFile(text, Forwarder(), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bin, chunk, 0o644); err != nil {
				t.Fatal(err)
			}
			out := map[string][]string{}
			for _, script := range []string{text, bin} {
				spool := filepath.Join(dir, filepath.Base(script)+".spool")
				if err := os.Mkdir(spool, 0o755); err != nil {
					t.Fatal(err)
				}
				b, err := exec.Command(lua, "-e", compileHarness, "-", script, spool).CombinedOutput()
				if err != nil {
					t.Fatalf("%s %s: %v\n%s", lua, script, err, b)
				}
				out[script] = strings.Split(strings.TrimSpace(string(b)), "\n")
			}
			tl, bl := out[text], out[bin]
			if len(tl) != 2 || len(bl) != 2 {
				t.Fatalf("want a spool line and an error from each:\ntext:\n%s\ncompiled:\n%s", strings.Join(tl, "\n"), strings.Join(bl, "\n"))
			}
			if !strings.Contains(tl[0], `"subject":"Grüße \"quoted\"\n"`) || !strings.Contains(tl[0], `"status":{"INBOX":{"messages":3,`) {
				t.Errorf("the text forwarder's line lacks the subject or the status: %s", tl[0])
			}
			// The same JSON: the order of an event's keys is pairs()'s,
			// which differs between runs.
			var tj, bj any
			if err := json.Unmarshal([]byte(tl[0]), &tj); err != nil {
				t.Fatalf("text forwarder's line: %v: %s", err, tl[0])
			}
			if err := json.Unmarshal([]byte(bl[0]), &bj); err != nil {
				t.Fatalf("compiled forwarder's line: %v: %s", err, bl[0])
			}
			if !reflect.DeepEqual(tj, bj) {
				t.Errorf("spool lines:\ntext     %s\ncompiled %s", tl[0], bl[0])
			}
			// "pushlua forward: <file>:<line>: attempt to index ..."
			loc := regexp.MustCompile(`^pushlua forward: (\S+):(\d+): attempt to index`)
			mt, mb := loc.FindStringSubmatch(tl[1]), loc.FindStringSubmatch(bl[1])
			if mt == nil || mb == nil {
				t.Fatalf("errors without file:line:\ntext     %s\ncompiled %s", tl[1], bl[1])
			}
			if mt[1] != text || mb[1] != "pushlua-forward.lua" || mt[2] != mb[2] {
				t.Errorf("error places: text %s:%s, compiled %s:%s; want %s and pushlua-forward.lua at the same line", mt[1], mt[2], mb[1], mb[2], text)
			}
		})
	}
	if found == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("neither lua5.3 nor lua5.4 is installed (.ci/run installs both)")
		}
		t.Skip("neither lua5.3 nor lua5.4 is installed; apt-get install lua5.4 to run this test")
	}
}

// TestCompileForwarderErrors: an interpreter that is not Lua 5.3 or 5.4,
// or not a Lua at all, is refused with what it said.
func TestCompileForwarderErrors(t *testing.T) {
	if lua, err := exec.LookPath("lua5.2"); err == nil {
		if _, _, err := CompileForwarder(context.Background(), lua, "x.lua"); err == nil || !strings.Contains(err.Error(), "Lua 5.2 is not Lua 5.3 or 5.4") {
			t.Errorf("lua5.2: got %v; want the version refused", err)
		}
	}
	if _, _, err := CompileForwarder(context.Background(), "/bin/true", "x.lua"); err == nil || !strings.Contains(err.Error(), "not a Lua 5.3 or 5.4 binary chunk") {
		t.Errorf("/bin/true: got %v; want no binary chunk", err)
	}
	if _, _, err := CompileForwarder(context.Background(), "/bin/false", "x.lua"); err == nil || !strings.Contains(err.Error(), "/bin/false") {
		t.Errorf("/bin/false: got %v; want an error naming it", err)
	}
}
