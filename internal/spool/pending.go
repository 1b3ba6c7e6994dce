package spool

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Pending counts the complete lines of dir's spool files that are not
// processed yet according to offsetsFile: what a Reader started on them
// will submit (blank lines included). pushlua serve counts its write-ahead
// log's backlog with it at start, as accepted transactions.
func Pending(dir, offsetsFile string) (int, error) {
	files, err := PendingFiles(dir, offsetsFile)
	n := 0
	for _, k := range files {
		n += k
	}
	return n, err
}

// PendingFiles is Pending per file: file stem → lines not processed yet.
func PendingFiles(dir, offsetsFile string) (map[string]int, error) {
	saved, err := loadOffsets(offsetsFile)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	out := map[string]int{}
	for _, e := range ents {
		stem, _, _, _, ok := parseName(e.Name())
		if !ok {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		n := 0
		if rec, ok := saved[stem]; ok {
			if _, err := f.Seek(rec.Offset, io.SeekStart); err != nil {
				f.Close()
				return nil, fmt.Errorf("spool: %w", err)
			}
		}
		buf := make([]byte, 64<<10)
		for {
			k, err := f.Read(buf)
			n += bytes.Count(buf[:k], []byte{'\n'})
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("spool: %w", err)
			}
		}
		f.Close()
		out[stem] = n
	}
	return out, nil
}
