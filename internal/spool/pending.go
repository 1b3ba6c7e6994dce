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
	saved, err := loadOffsets(offsetsFile)
	if err != nil {
		return 0, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	n := 0
	for _, e := range ents {
		stem, _, _, _, ok := parseName(e.Name())
		if !ok {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return 0, fmt.Errorf("spool: %w", err)
		}
		if rec, ok := saved[stem]; ok {
			if _, err := f.Seek(rec.Offset, io.SeekStart); err != nil {
				f.Close()
				return 0, fmt.Errorf("spool: %w", err)
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
				return 0, fmt.Errorf("spool: %w", err)
			}
		}
		f.Close()
	}
	return n, nil
}
