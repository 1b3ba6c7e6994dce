package conformance

import (
	"bytes"
	"strings"
)

// archive is a txtar archive (the format of golang.org/x/tools/txtar): a
// free-text comment, then sections, each starting with a line
// "-- NAME --" and holding the lines up to the next such line.
type archive struct {
	Comment string
	Files   []archiveFile
}

type archiveFile struct {
	Name string
	Data string
	Line int // line of the "-- NAME --" marker, 1-based
}

// parseArchive parses txtar data. It never fails: text before the first
// marker is the comment, and a section's data always ends with a newline
// unless it is empty.
func parseArchive(data []byte) *archive {
	a := &archive{}
	var cur *archiveFile
	var buf bytes.Buffer
	flush := func() {
		if cur != nil {
			cur.Data = buf.String()
			a.Files = append(a.Files, *cur)
		} else {
			a.Comment = buf.String()
		}
		buf.Reset()
	}
	lines := strings.SplitAfter(string(data), "\n")
	for i, line := range lines {
		if line == "" {
			continue
		}
		if name, ok := marker(line); ok {
			flush()
			cur = &archiveFile{Name: name, Line: i + 1}
			continue
		}
		buf.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			buf.WriteByte('\n')
		}
	}
	flush()
	return a
}

// marker reports whether line is a section marker "-- NAME --" and
// returns NAME.
func marker(line string) (string, bool) {
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "-- ") || !strings.HasSuffix(line, " --") || len(line) < len("-- x --") {
		return "", false
	}
	name := strings.TrimSpace(line[3 : len(line)-3])
	return name, name != ""
}
