package spool

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestPending(t *testing.T) {
	dir := t.TempDir()
	offsets := filepath.Join(t.TempDir(), "offsets.json")
	line := `{"user":"u"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "pl-1-100-0000000a.jsonl"), []byte(line+line+line+line+line), 0o600); err != nil {
		t.Fatal(err)
	}
	// An open file whose last line is still being written: 2 complete.
	if err := os.WriteFile(filepath.Join(dir, "pl-1-101-0000000b.open"), []byte(line+line+`{"us`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "other.jsonl"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := Pending(dir, offsets)
	if err != nil || n != 7 {
		t.Fatalf("Pending without offsets: %d, %v; want 7", n, err)
	}
	off := `{"dir":"` + dir + `","files":{"pl-1-100-0000000a":{"offset":` + strconv.Itoa(2*len(line)) + `,"line":2}}}`
	if err := os.WriteFile(offsets, []byte(off), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err = Pending(dir, offsets); err != nil || n != 5 {
		t.Fatalf("Pending with offsets: %d, %v; want 5", n, err)
	}
}
