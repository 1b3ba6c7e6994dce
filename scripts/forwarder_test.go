package scripts

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
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
