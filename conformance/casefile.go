package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/txn"
)

// Section names of a case file (README.md documents them).
const (
	secConfig       = "config"
	secSettings     = "settings"
	secStore        = "store.json"
	secMock         = "mock"
	secNow          = "now"
	secTransactions = "transactions.jsonl"
	secExpect       = "expect_requests"
	secNoRequests   = "no_requests"
	secErrorLog     = "error_log"
	secNoErrorLog   = "no_error_log"
	secChecks       = "checks"
)

// suiteFile is the name of a directory's suite file.
const suiteFile = "suite.txtar"

// caseFile is one parsed case (or suite) file.
type caseFile struct {
	Name    string // the test's name inside its suite
	Path    string // the file, as displayed
	Dir     string // the directory it is in on disk; "" when embedded
	Comment string

	Config   *archiveFile // nil: the suite's, or the script under test
	Settings []setting    // nil: the suite's
	Store    storeSpec    // nil: the suite's
	HasStore bool
	Mock     []*mockRule
	HasMock  bool
	Now      *time.Time

	Txns       []txnLine
	Expect     []*expectedRequest
	HasExpect  bool
	NoRequests bool
	ErrorLog   []*logPattern
	NoErrorLog []*logPattern

	Checks checkOptions // suite files only
	Files  []archiveFile
}

type setting struct {
	KV   string // "key=value"
	Line int
}

type txnLine struct {
	Text string
	Line int
}

// checkOptions are a suite's settings for the built-in checks.
type checkOptions struct {
	// AllowGlobals lists globals the globals check accepts.
	AllowGlobals map[string]string // name -> where it was allowed (for messages)
	// Skip maps a built-in check name to the reason it is skipped.
	Skip map[string]string
}

// parseError is an error at a line of a case file.
type parseError struct {
	File string
	Line int
	Msg  string
}

func (e *parseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// parseCase parses a case or suite file.
func parseCase(path, dir string, data []byte, suite bool) (*caseFile, error) {
	a := parseArchive(data)
	c := &caseFile{Path: path, Dir: dir, Comment: a.Comment}
	seen := map[string]bool{}
	for i := range a.Files {
		f := a.Files[i]
		fail := func(line int, format string, args ...any) error {
			return &parseError{File: path, Line: line, Msg: f.Name + ": " + fmt.Sprintf(format, args...)}
		}
		if seen[f.Name] {
			return nil, fail(f.Line, "section given twice")
		}
		seen[f.Name] = true
		switch f.Name {
		case secConfig:
			c.Config = &a.Files[i]
		case secSettings:
			c.Settings = []setting{}
			for n, line := range dataLines(f) {
				k, v, ok := strings.Cut(line, "=")
				if !ok {
					return nil, fail(n, "expected key = value, got %q", line)
				}
				c.Settings = append(c.Settings, setting{KV: strings.TrimSpace(k) + "=" + strings.TrimSpace(v), Line: n})
			}
		case secStore:
			spec, err := parseStore(f.Data)
			if err != nil {
				return nil, fail(f.Line+1, "%v", err)
			}
			c.Store, c.HasStore = spec, true
		case secMock:
			c.HasMock = true
			for n, line := range dataLines(f) {
				r, err := parseMockRule(line)
				if err != nil {
					return nil, fail(n, "%v", err)
				}
				r.Line = n
				c.Mock = append(c.Mock, r)
			}
		case secNow:
			text := strings.TrimSpace(f.Data)
			t, err := parseNow(text)
			if err != nil {
				return nil, fail(f.Line+1, "%v", err)
			}
			c.Now = &t
		case secTransactions:
			c.Txns = append(c.Txns, transactionChunks(f)...)
		case secExpect:
			reqs, err := parseExpectations(f)
			if err != nil {
				return nil, &parseError{File: path, Line: err.Line, Msg: f.Name + ": " + err.Msg}
			}
			c.Expect, c.HasExpect = reqs, true
		case secNoRequests:
			c.NoRequests = true
		case secErrorLog, secNoErrorLog:
			var pats []*logPattern
			for n, line := range dataLines(f) {
				p, err := parseLogPattern(line)
				if err != nil {
					return nil, fail(n, "%v", err)
				}
				p.Line = n
				pats = append(pats, p)
			}
			if f.Name == secErrorLog {
				c.ErrorLog = pats
			} else {
				c.NoErrorLog = pats
			}
		case secChecks:
			if !suite {
				return nil, fail(f.Line, "only a %s may set the built-in checks' options", suiteFile)
			}
			c.Checks = checkOptions{AllowGlobals: map[string]string{}, Skip: map[string]string{}}
			for n, line := range dataLines(f) {
				fields := strings.Fields(line)
				switch fields[0] {
				case "allow_globals":
					for _, g := range fields[1:] {
						c.Checks.AllowGlobals[g] = fmt.Sprintf("%s:%d", path, n)
					}
				case "skip":
					if len(fields) < 3 {
						return nil, fail(n, "expected: skip CHECK REASON")
					}
					c.Checks.Skip[fields[1]] = strings.Join(fields[2:], " ")
				default:
					return nil, fail(n, "unknown option %q (allow_globals NAME..., skip CHECK REASON)", fields[0])
				}
			}
		default:
			if !strings.ContainsAny(f.Name, "./") {
				return nil, fail(f.Line, "unknown section (files need an extension or a directory; sections are %s)",
					strings.Join([]string{secConfig, secSettings, secStore, secMock, secNow, secTransactions, secExpect, secNoRequests, secErrorLog, secNoErrorLog}, ", "))
			}
			if strings.HasPrefix(f.Name, "/") || strings.Contains(f.Name, "..") {
				return nil, fail(f.Line, "a file section must be a relative path inside the case")
			}
			c.Files = append(c.Files, f)
		}
	}
	if c.HasExpect && c.NoRequests {
		return nil, &parseError{File: path, Msg: "both expect_requests and no_requests"}
	}
	return c, nil
}

// dataLines returns the lines of a section that are not blank or "#"
// comments, by line number in the file, in order (a Go 1.23 iterator).
// transactionChunks cuts a transactions.jsonl section as every reader of
// transactions does (txn.Split): JSON Lines, or one pretty-printed
// transaction; "#" comment lines are left out.
func transactionChunks(f archiveFile) []txnLine {
	lines := strings.Split(f.Data, "\n")
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			lines[i] = "" // blank, so that line numbers stay
		}
	}
	var out []txnLine
	for _, c := range txn.Split([]byte(strings.Join(lines, "\n"))) {
		out = append(out, txnLine{Text: strings.TrimRight(string(c.Data), " \t\r"), Line: f.Line + c.Line})
	}
	return out
}

func dataLines(f archiveFile) func(yield func(int, string) bool) {
	return func(yield func(int, string) bool) {
		for i, line := range strings.Split(strings.TrimSuffix(f.Data, "\n"), "\n") {
			t := strings.TrimSpace(line)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			if !yield(f.Line+1+i, strings.TrimRight(line, " \t\r")) {
				return
			}
		}
	}
}

func parseNow(s string) (time.Time, error) {
	if strings.HasPrefix(s, "@") {
		n, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("expected @<unix seconds>, got %q", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expected an RFC 3339 time (2024-11-26T09:00:00Z) or @<unix seconds>, got %q", s)
	}
	return t, nil
}

// storeSpec is the store.json section: the store state before the first
// transaction, by user.
type storeSpec map[string]*storeUser

type storeUser struct {
	// Status replaces each named mailbox's status record, as a
	// transaction's "status" does.
	Status map[string]store.Status `json:"status"`
	// Metadata sets (string) or unsets (null) server METADATA, as a
	// transaction's "metadata" does.
	Metadata map[string]*string `json:"metadata"`
	// MetadataRaw sets server METADATA to values written as the inside of
	// a Go/Lua string literal ("user=a\\xffb"), for bytes JSON cannot
	// carry (invalid UTF-8).
	MetadataRaw map[string]string `json:"metadata_raw"`
	// Attributes sets mailbox attributes: mailbox -> key -> value.
	Attributes map[string]map[string]string `json:"attributes"`
}

func parseStore(data string) (storeSpec, error) {
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	var spec storeSpec
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("invalid JSON (want {\"<user>\": {\"status\": {...}, \"metadata\": {...}, \"metadata_raw\": {...}, \"attributes\": {...}}}): %v", err)
	}
	for user, u := range spec {
		if u == nil {
			return nil, fmt.Errorf("user %q: null", user)
		}
		for k, v := range u.MetadataRaw {
			if _, err := unquoteRaw(v); err != nil {
				return nil, fmt.Errorf("metadata_raw %q: %v", k, err)
			}
		}
	}
	return spec, nil
}

// unquoteRaw decodes the inside of a Go string literal.
func unquoteRaw(s string) (string, error) {
	return strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`)
}

// logPattern is one line of error_log or no_error_log: a substring of a
// log line, or a Go regexp between slashes.
type logPattern struct {
	Text string
	RE   *regexp.Regexp
	Line int
}

func parseLogPattern(line string) (*logPattern, error) {
	line = strings.TrimSpace(line)
	if len(line) >= 2 && strings.HasPrefix(line, "/") && strings.HasSuffix(line, "/") {
		re, err := regexp.Compile(line[1 : len(line)-1])
		if err != nil {
			return nil, err
		}
		return &logPattern{Text: line, RE: re}, nil
	}
	return &logPattern{Text: line}, nil
}

func (p *logPattern) match(line string) bool {
	if p.RE != nil {
		return p.RE.MatchString(line)
	}
	return strings.Contains(line, p.Text)
}

// glob is a pattern in which "*" stands for any text.
type glob struct {
	Text string
	re   *regexp.Regexp
}

func newGlob(s string) glob {
	parts := strings.Split(s, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return glob{Text: s, re: regexp.MustCompile(`^(?s:` + strings.Join(parts, ".*") + `)$`)}
}

func (g glob) match(s string) bool { return g.re.MatchString(s) }

// mockRule is one line of the mock section:
//
//	METHOD URL (STATUS | refuse) [delay DURATION] [times N] [body TEXT]
type mockRule struct {
	Method glob
	URL    glob
	Status int  // 0 with Refuse
	Refuse bool // connections to the URL's host are refused
	Delay  time.Duration
	Times  int // 0: every time
	Body   string
	Line   int
	used   int
}

func parseMockRule(line string) (*mockRule, error) {
	const syntax = "expected: METHOD URL (STATUS | refuse) [delay DURATION] [times N] [body TEXT]"
	f := strings.Fields(line)
	if len(f) < 3 {
		return nil, fmt.Errorf("%s, got %q", syntax, line)
	}
	r := &mockRule{Method: newGlob(f[0]), URL: newGlob(normalizeURL(f[1]))}
	if f[2] == "refuse" {
		r.Refuse = true
	} else {
		n, err := strconv.Atoi(f[2])
		if err != nil || n < 100 || n > 999 {
			return nil, fmt.Errorf("status %q: expected a number 100-999 or refuse", f[2])
		}
		r.Status = n
	}
	for i := 3; i < len(f); i++ {
		switch f[i] {
		case "delay":
			if i+1 >= len(f) {
				return nil, fmt.Errorf("delay needs a duration (500ms, 2s)")
			}
			d, err := time.ParseDuration(f[i+1])
			if err != nil {
				return nil, fmt.Errorf("delay %q: %v", f[i+1], err)
			}
			r.Delay = d
			i++
		case "times":
			if i+1 >= len(f) {
				return nil, fmt.Errorf("times needs a number")
			}
			n, err := strconv.Atoi(f[i+1])
			if err != nil || n < 1 {
				return nil, fmt.Errorf("times %q: expected a positive number", f[i+1])
			}
			r.Times = n
			i++
		case "body":
			// The rest of the line, as written.
			_, after, _ := strings.Cut(line, " body ")
			r.Body = after
			i = len(f)
		default:
			return nil, fmt.Errorf("unknown word %q; %s", f[i], syntax)
		}
	}
	if r.Refuse && (r.Delay != 0 || r.Body != "") {
		return nil, fmt.Errorf("a refused connection has no delay or body")
	}
	return r, nil
}

// normalizeURL drops the default port of http and https URLs, so that
// patterns and requests compare alike.
func normalizeURL(u string) string {
	for _, p := range [][2]string{{"http://", ":80"}, {"https://", ":443"}} {
		if rest, ok := strings.CutPrefix(u, p[0]); ok {
			host, path, slash := strings.Cut(rest, "/")
			host = strings.TrimSuffix(host, p[1])
			if slash {
				return p[0] + host + "/" + path
			}
			return p[0] + host
		}
	}
	return u
}

// expectedRequest is one block of expect_requests.
type expectedRequest struct {
	Line    int
	Method  string
	URL     glob
	Headers []headerExpectation
	Body    *bodyExpectation
	Source  []string // the block's lines as written (without comments)
}

type headerExpectation struct {
	Name   string
	Value  glob
	Absent bool
	Text   string // the line as written
}

type bodyExpectation struct {
	Kind string // "body", "body_json", "body_like"
	Text string
	JSON any
	RE   *regexp.Regexp
}

type lineError struct {
	Line int
	Msg  string
}

func parseExpectations(f archiveFile) ([]*expectedRequest, *lineError) {
	var out []*expectedRequest
	var cur *expectedRequest
	var bodyLines []string
	finish := func() *lineError {
		if cur == nil {
			return nil
		}
		if cur.Body != nil {
			text := strings.Join(bodyLines, "\n")
			cur.Body.Text = text
			switch cur.Body.Kind {
			case "body_json":
				v, err := decodeJSON([]byte(text))
				if err != nil {
					return &lineError{cur.Line, "body_json: " + err.Error()}
				}
				cur.Body.JSON = v
			case "body_like":
				re, err := regexp.Compile(text)
				if err != nil {
					return &lineError{cur.Line, "body_like: " + err.Error()}
				}
				cur.Body.RE = re
			}
		}
		out = append(out, cur)
		cur, bodyLines = nil, nil
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(f.Data, "\n"), "\n")
	for i, raw := range lines {
		n := f.Line + 1 + i
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		}
		if strings.HasPrefix(trimmed, "#") && (cur == nil || cur.Body == nil) {
			continue
		}
		switch {
		case cur == nil:
			method, url, ok := strings.Cut(trimmed, " ")
			if !ok || strings.Contains(strings.TrimSpace(url), " ") {
				return nil, &lineError{n, fmt.Sprintf("a request starts with METHOD URL, got %q", trimmed)}
			}
			url = strings.TrimSpace(url)
			cur = &expectedRequest{Line: n, Method: method, URL: newGlob(normalizeURL(url)), Source: []string{method + " " + url}}
		case cur.Body != nil:
			bodyLines = append(bodyLines, line)
			cur.Source = append(cur.Source, line)
		case isBodyLine(trimmed):
			kind, rest, _ := strings.Cut(trimmed, " ")
			cur.Body = &bodyExpectation{Kind: kind}
			// The text after the keyword and one space, as written.
			if _, after, ok := strings.Cut(line, kind+" "); ok {
				bodyLines = append(bodyLines, after)
			} else {
				bodyLines = append(bodyLines, rest)
			}
			cur.Source = append(cur.Source, line)
		case strings.HasPrefix(trimmed, "!"):
			name := strings.TrimSpace(trimmed[1:])
			cur.Headers = append(cur.Headers, headerExpectation{Name: name, Absent: true, Text: trimmed})
			cur.Source = append(cur.Source, trimmed)
		default:
			name, value, ok := strings.Cut(trimmed, ":")
			if !ok || strings.ContainsAny(strings.TrimSpace(name), " \t") {
				return nil, &lineError{n, fmt.Sprintf("expected Header-Name: value, !Header-Name, body TEXT, body_json JSON or body_like REGEXP, got %q", trimmed)}
			}
			name = strings.TrimSpace(name)
			value = strings.TrimSpace(value)
			cur.Headers = append(cur.Headers, headerExpectation{Name: name, Value: newGlob(value), Text: name + ": " + value})
			cur.Source = append(cur.Source, name+": "+value)
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return out, nil
}

func isBodyLine(s string) bool {
	for _, k := range []string{"body", "body_json", "body_like"} {
		if s == k || strings.HasPrefix(s, k+" ") {
			return true
		}
	}
	return false
}

// decodeJSON decodes one JSON value with numbers as float64.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

// prettyJSON renders v indented, keys sorted, without HTML escaping.
func prettyJSON(v any) []string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// compactJSON renders v on one line, keys sorted.
func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}
