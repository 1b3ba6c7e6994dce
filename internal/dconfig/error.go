package dconfig

import "strconv"

// ParseError is an error found while reading a config file. File is the
// file's name as the caller gave it (an included file's name is built
// from the name of the file that includes it); Line is 1-based, or 0 when
// the error is about the file as a whole (for example it cannot be read).
type ParseError struct {
	File string
	Line int
	Err  error
}

// Error returns "file:line: what", or "file: what" when Line is 0.
func (e *ParseError) Error() string {
	if e.Line <= 0 {
		return e.File + ": " + e.Err.Error()
	}
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }
