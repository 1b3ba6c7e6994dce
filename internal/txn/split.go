package txn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Chunk is the text of one transaction in an input: one line of JSON
// Lines, or the whole input when it is one JSON object spread over
// several lines (a pretty-printed transaction).
type Chunk struct {
	Line   int // 1-based line of the input where it starts
	Offset int // byte offset in the input where it starts
	Data   []byte
}

// Split cuts an input into transactions the way every reader of
// transactions does (pushlua serve's ingest, pushlua run, send and the
// conformance cases): the whole input when it is one JSON object (a
// pretty-printed transaction, as README's example), else its non-blank
// lines (JSON Lines).
func Split(input []byte) []Chunk {
	trimmed := bytes.TrimSpace(input)
	if len(trimmed) == 0 {
		return nil
	}
	if IsWholeObject(trimmed) {
		start := len(input) - len(bytes.TrimLeft(input, " \t\r\n"))
		return []Chunk{{Line: 1 + bytes.Count(input[:start], []byte("\n")), Offset: start, Data: trimmed}}
	}
	var out []Chunk
	off := 0
	for n := 1; off < len(input); n++ {
		l, _, _ := bytes.Cut(input[off:], []byte("\n"))
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, Chunk{Line: n, Offset: off, Data: l})
		}
		off += len(l) + 1
	}
	return out
}

// IsWholeObject reports whether b (without surrounding whitespace) is one
// JSON object that spans more than one line: an input Split keeps whole.
// A one-line object is a JSON Lines input of one line.
func IsWholeObject(b []byte) bool {
	return len(b) > 0 && b[0] == '{' && bytes.IndexByte(b, '\n') >= 0 && json.Valid(b)
}

// ParseChunk decodes one chunk as Parse does, after the checks every
// reader makes: a chunk longer than MaxLine, or with invalid UTF-8 (which
// JSON decoders would turn into U+FFFD, so that the script would run with
// altered text), is rejected. The error is Parse's, or a *LineError whose
// Err is a *UTF8Error naming the line and byte offset of the first bad
// byte.
func ParseChunk(c Chunk, ids *IDs) (*Txn, error) {
	if len(c.Data) > MaxLine {
		return nil, &LineError{Line: c.Line, Err: fmt.Errorf("line longer than %d bytes", MaxLine)}
	}
	if !utf8.Valid(c.Data) {
		return nil, &LineError{Line: c.Line, Err: badUTF8(c)}
	}
	return Parse(c.Data, ids)
}

// UTF8Error is invalid UTF-8 in an input.
type UTF8Error struct {
	Line   int // 1-based line of the first bad byte
	Offset int // its 0-based byte offset in the input
}

func (e *UTF8Error) Error() string {
	return fmt.Sprintf("invalid UTF-8 at line %d, byte offset %d", e.Line, e.Offset)
}

// badUTF8 locates the first invalid UTF-8 sequence of c.
func badUTF8(c Chunk) *UTF8Error {
	i := 0
	for i < len(c.Data) {
		r, size := utf8.DecodeRune(c.Data[i:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		i += size
	}
	return &UTF8Error{Line: c.Line + bytes.Count(c.Data[:i], []byte("\n")), Offset: c.Offset + i}
}
