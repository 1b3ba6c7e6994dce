package luaapi

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Class is the kind of a class or table-type declaration in the
// reference: `class mail_user`, `class MessageAppend: MessageNew`. Classes
// are names of the reference only; the objects' names are their members.
const Class Kind = "class"

// Entry is one name the reference documents.
type Entry struct {
	// Name is as in Name.Name: "dovecot.i_info", "mail_user:mailbox",
	// "MessageNew.uid", "cjson" (a module), "mail_user" (a class).
	Name string
	Kind Kind
	// Params and Returns are a function's or method's signature.
	Params  []Param
	Returns []Return
	// Type is a field's type, in lua-language-server's syntax.
	Type string
	// Parent is what a class or module has besides its own entries:
	// `class event_passthrough: event`, `module cjson.safe: cjson`.
	Parent string
	// Doc is the description: the paragraph under an entry's heading, or
	// the other cells of its table row.
	Doc string
	// Line is the entry's line in the reference.
	Line int
}

// Key identifies an entry the way Name.Key identifies a name.
func (e *Entry) Key() string {
	switch e.Kind {
	case Module:
		return "module " + e.Name
	case Class:
		return "class " + e.Name
	}
	return e.Name
}

// types returns the types an entry names.
func (e *Entry) types() []string {
	t := []string{e.Type}
	for _, p := range e.Params {
		t = append(t, p.Type)
	}
	for _, r := range e.Returns {
		t = append(t, r.Type)
	}
	return t
}

// Param is one parameter: `name: type`, `name?: type` (optional) or
// `...: type`.
type Param struct {
	Name     string
	Type     string
	Optional bool
}

// Return is one result: `type` or `name: type`.
type Return struct {
	Name string
	Type string
}

// Example is a ```lua block of the reference.
type Example struct {
	Line int
	Code string
}

// Reference is the parsed docs/lua-api.md.
type Reference struct {
	File     string
	Entries  []*Entry
	Examples []Example
	byKey    map[string]*Entry
}

// Lookup returns the entry with the key (Entry.Key).
func (r *Reference) Lookup(key string) (*Entry, bool) {
	e, ok := r.byKey[key]
	return e, ok
}

// The reference's entries are headings whose whole text is one code span,
//
//	### `dovecot.i_info(message: string|number)`
//
// and the rows of tables whose header's first cell is "name", when the
// row's first cell is one code span:
//
//	| name | description |
//	|---|---|
//	| `mail_user.username: string` | the login name |
//
// The code span is a signature: `class NAME[: PARENT]`, `module
// NAME[: PARENT]`, `NAME(PARAMS) [-> RESULTS]` (a function; a method when
// NAME has a ':'), or `NAME: TYPE` (a field).
var (
	headingEntry = regexp.MustCompile("^(#{2,5}) `([^`]+)`\\s*$")
	nameSyntax   = regexp.MustCompile(`^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*(:[A-Za-z_]\w*)?$`)
	paramName    = regexp.MustCompile(`^(\.\.\.|[A-Za-z_]\w*)(\?)?$`)
	resultName   = regexp.MustCompile(`^([A-Za-z_]\w*\??):\s+(.+)$`)
)

// Parse reads the reference. name is used in error messages.
func Parse(name string, src []byte) (*Reference, error) {
	r := &Reference{File: name, byKey: map[string]*Entry{}}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var (
		lineNo     int
		inCode     bool
		codeLang   string
		code       strings.Builder
		codeLine   int
		tableAPI   bool // inside a table whose header starts with "name"
		tableStart bool // the next row is the header separator
		pending    *Entry
		para       []string
	)
	flush := func() {
		if pending != nil {
			pending.Doc = strings.TrimSpace(strings.Join(para, " "))
			pending = nil
		}
		para = nil
	}
	add := func(e *Entry) error {
		if old, ok := r.byKey[e.Key()]; ok {
			return fmt.Errorf("%s:%d: %s is documented twice (first at line %d)", name, e.Line, e.Key(), old.Line)
		}
		r.byKey[e.Key()] = e
		r.Entries = append(r.Entries, e)
		return nil
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			if inCode {
				if codeLang == "lua" {
					r.Examples = append(r.Examples, Example{Line: codeLine, Code: code.String()})
				}
				inCode = false
				continue
			}
			flush()
			inCode, codeLang, codeLine = true, strings.TrimPrefix(trimmed, "```"), lineNo+1
			code.Reset()
			continue
		}
		if inCode {
			code.WriteString(line + "\n")
			continue
		}
		if strings.HasPrefix(trimmed, "|") {
			cells := splitRow(trimmed)
			switch {
			case tableStart:
				tableStart = false
				continue
			case !tableAPI && len(cells) > 0 && isHeaderRow(cells):
				flush()
				tableAPI, tableStart = true, true
				continue
			case tableAPI && len(cells) > 0:
				sig, ok := codeSpan(cells[0])
				if !ok {
					return nil, fmt.Errorf("%s:%d: the first cell of a row of a `| name |` table must be one code span, got %q", name, lineNo, cells[0])
				}
				e, err := parseSignature(sig)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %w", name, lineNo, err)
				}
				e.Line = lineNo
				e.Doc = strings.TrimSpace(strings.Join(cells[1:], " "))
				if err := add(e); err != nil {
					return nil, err
				}
			}
			continue
		}
		tableAPI, tableStart = false, false
		if strings.HasPrefix(trimmed, "#") {
			flush()
			if m := headingEntry.FindStringSubmatch(trimmed); m != nil {
				e, err := parseSignature(m[2])
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %w", name, lineNo, err)
				}
				e.Line = lineNo
				if err := add(e); err != nil {
					return nil, err
				}
				pending = e
			}
			continue
		}
		if trimmed == "" {
			if pending != nil && len(para) > 0 {
				flush()
			}
			continue
		}
		if pending != nil {
			para = append(para, trimmed)
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if inCode {
		return nil, fmt.Errorf("%s:%d: code block not closed", name, codeLine-1)
	}
	return r, nil
}

// isHeaderRow reports whether the cells are the header of an API table.
func isHeaderRow(cells []string) bool {
	return strings.EqualFold(strings.TrimSpace(cells[0]), "name")
}

// splitRow splits a Markdown table row into its cells, keeping `|`
// inside code spans (types such as `string|nil`).
func splitRow(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	row = strings.TrimSuffix(row, "|")
	var cells []string
	var cur strings.Builder
	inCode := false
	for i := 0; i < len(row); i++ {
		c := row[i]
		switch {
		case c == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteByte('|')
			i++
		case c == '`':
			inCode = !inCode
			cur.WriteByte(c)
		case c == '|' && !inCode:
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// codeSpan returns the inside of a cell that is exactly one code span.
func codeSpan(cell string) (string, bool) {
	if len(cell) < 3 || cell[0] != '`' || cell[len(cell)-1] != '`' || strings.Count(cell, "`") != 2 {
		return "", false
	}
	return cell[1 : len(cell)-1], true
}

// parseSignature parses the code span of an entry.
func parseSignature(sig string) (*Entry, error) {
	sig = strings.TrimSpace(sig)
	for _, kw := range []struct {
		prefix string
		kind   Kind
	}{{"class ", Class}, {"module ", Module}} {
		if rest, ok := strings.CutPrefix(sig, kw.prefix); ok {
			n, parent, _ := strings.Cut(rest, ":")
			n, parent = strings.TrimSpace(n), strings.TrimSpace(parent)
			if !nameSyntax.MatchString(n) || strings.Contains(n, ":") || parent != "" && !nameSyntax.MatchString(parent) {
				return nil, fmt.Errorf("`%s`: expected %sNAME or %sNAME: PARENT", sig, kw.prefix, kw.prefix)
			}
			return &Entry{Name: n, Kind: kw.kind, Parent: parent}, nil
		}
	}
	if i := strings.IndexByte(sig, '('); i > 0 && nameSyntax.MatchString(sig[:i]) {
		n := sig[:i]
		end := matching(sig, i)
		if end < 0 {
			return nil, fmt.Errorf("`%s`: unbalanced parentheses", sig)
		}
		e := &Entry{Name: n, Kind: Function}
		if strings.Contains(n, ":") {
			e.Kind = Method
		}
		for _, p := range splitTop(sig[i+1:end], ',') {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			pn, pt, ok := strings.Cut(p, ":")
			m := paramName.FindStringSubmatch(strings.TrimSpace(pn))
			if !ok || m == nil || strings.TrimSpace(pt) == "" {
				return nil, fmt.Errorf("`%s`: parameter %q: expected name: type, name?: type or ...: type", sig, p)
			}
			e.Params = append(e.Params, Param{Name: m[1], Type: strings.TrimSpace(pt), Optional: m[2] == "?"})
		}
		rest := strings.TrimSpace(sig[end+1:])
		if rest != "" {
			results, ok := strings.CutPrefix(rest, "->")
			if !ok {
				return nil, fmt.Errorf("`%s`: expected -> RESULTS after the parameters, got %q", sig, rest)
			}
			for _, res := range splitTop(results, ',') {
				res = strings.TrimSpace(res)
				if res == "" {
					return nil, fmt.Errorf("`%s`: empty result", sig)
				}
				if m := resultName.FindStringSubmatch(res); m != nil {
					e.Returns = append(e.Returns, Return{Name: m[1], Type: m[2]})
				} else {
					e.Returns = append(e.Returns, Return{Type: res})
				}
			}
		}
		if handlerSet[e.Name] {
			e.Kind = Handler
		}
		return e, nil
	}
	if n, t, ok := strings.Cut(sig, ": "); ok && nameSyntax.MatchString(n) && !strings.Contains(n, ":") && strings.TrimSpace(t) != "" {
		return &Entry{Name: n, Kind: Field, Type: strings.TrimSpace(t)}, nil
	}
	return nil, fmt.Errorf("`%s`: expected `class NAME`, `module NAME`, `NAME(PARAMS) -> RESULTS` or `NAME: TYPE`", sig)
}

var handlerSet = func() map[string]bool {
	m := map[string]bool{}
	for _, h := range handlers() {
		m[h] = true
	}
	return m
}()

// matching returns the index of the parenthesis closing the one at open.
func matching(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(', '<', '{', '[':
			depth++
		case ')', '>', '}', ']':
			if s[i] == '>' && i > 0 && s[i-1] == '-' {
				continue // "->" inside fun(...)
			}
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTop splits s at sep outside brackets and string literals.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(' || c == '<' || c == '{' || c == '[':
			depth++
		case c == ')' || c == '>' && !(i > 0 && s[i-1] == '-') || c == '}' || c == ']':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// Coverage compares the registered names with the reference. missing are
// the names no entry documents (directly, through the parent of a class
// or module, or, for a table, through an entry below it); unused are the
// entries that document no registered name (a class counts as used when
// one of its members is).
func Coverage(r *Reference, names []Name) (missing []Name, unused []*Entry) {
	used := map[*Entry]bool{}
	registered := map[string]bool{} // classes with a registered member
	for _, n := range names {
		es := r.resolve(n)
		if len(es) == 0 {
			missing = append(missing, n)
		}
		if !r.onlyBelow(n) {
			// A table documented only by the entries below it does not
			// make them used: each must match a registered name itself.
			for _, e := range es {
				used[e] = true
			}
		}
		// The class a name belongs to is used, even when the name is
		// documented on a parent (MessageAppend.uid is message_event.uid).
		for owner := ownerOf(n.Name); owner != ""; owner = ownerOf(owner) {
			if c, ok := r.byKey["class "+owner]; ok {
				used[c] = true
				registered[owner] = true
			}
		}
	}
	// A class no registered name belongs to describes the shape of a
	// table a script passes in (dovecot.http.client's settings): it is
	// used when a used entry names it as a type, and so are its members.
	for changed := true; changed; {
		changed = false
		for _, e := range r.Entries {
			if !used[e] {
				continue
			}
			for _, t := range e.types() {
				for _, word := range identRE.FindAllString(t, -1) {
					c, ok := r.byKey["class "+word]
					if !ok || used[c] || registered[word] {
						continue
					}
					used[c], changed = true, true
					for _, m := range r.Entries {
						if ownerOf(m.Name) == word {
							used[m] = true
						}
					}
				}
			}
		}
	}
	// Classes and modules are used when something below them is.
	for _, e := range r.Entries {
		if !used[e] {
			continue
		}
		for owner := ownerOf(e.Name); owner != ""; owner = ownerOf(owner) {
			for _, k := range []string{"class " + owner, "module " + owner} {
				if o, ok := r.byKey[k]; ok {
					used[o] = true
				}
			}
		}
	}
	for _, e := range r.Entries {
		if e.Kind == Class {
			// A class is used when a member or a subclass is.
			for _, other := range r.Entries {
				if used[other] && (ownerOf(other.Name) == e.Name || other.Kind == Class && other.Parent == e.Name) {
					used[e] = true
				}
			}
		}
	}
	for _, e := range r.Entries {
		if !used[e] {
			unused = append(unused, e)
		}
	}
	return missing, unused
}

// onlyBelow reports whether n is a table documented only by the entries
// below it (no entry of its own, directly or through a parent).
func (r *Reference) onlyBelow(n Name) bool {
	if n.Type != "table" {
		return false
	}
	t := n
	t.Type = "" // resolve without the rule for tables
	return len(r.resolve(t)) == 0
}

// ownerOf returns what a name hangs off: "mail_user" for
// "mail_user:mailbox", "socket.http" for "socket.http.request", "" for a
// global.
func ownerOf(name string) string {
	i := strings.LastIndexAny(name, ".:")
	if i < 0 {
		return ""
	}
	return name[:i]
}

// resolve returns the entries that document n.
func (r *Reference) resolve(n Name) []*Entry { return r.resolveDepth(n, 0) }

func (r *Reference) resolveDepth(n Name, depth int) []*Entry {
	if e, ok := r.byKey[n.Key()]; ok {
		return []*Entry{e}
	}
	if n.Kind == Module {
		return nil
	}
	// A function documented as a method, or the other way round:
	// JSON.lua's JSON:decode is JSON.decode called with the module.
	if i := strings.LastIndexAny(n.Name, ".:"); i > 0 && (n.Kind == Function || n.Kind == Method) {
		sep := map[byte]string{'.': ":", ':': "."}[n.Name[i]]
		if e, ok := r.byKey[n.Name[:i]+sep+n.Name[i+1:]]; ok && (e.Kind == Function || e.Kind == Method) {
			return []*Entry{e}
		}
	}
	// Through the parent of an owner: event_passthrough:add_str is
	// event:add_str, cjson.safe.encode is cjson.encode, mime.core.wrapt.text
	// is mime.wrapt.text.
	for i := len(n.Name) - 1; i > 0; i-- {
		if n.Name[i] != '.' && n.Name[i] != ':' {
			continue
		}
		owner, rest := n.Name[:i], n.Name[i:]
		for _, k := range []string{"class " + owner, "module " + owner} {
			if e, ok := r.byKey[k]; ok && e.Parent != "" && depth < 8 {
				if es := r.resolveDepth(Name{Name: e.Parent + rest, Kind: n.Kind, Type: n.Type}, depth+1); len(es) > 0 {
					return es
				}
			}
		}
	}
	// A table is documented by what is documented below it.
	if n.Type == "table" {
		var below []*Entry
		for _, e := range r.Entries {
			if strings.HasPrefix(e.Name, n.Name+".") || strings.HasPrefix(e.Name, n.Name+":") || e.Kind == Module && e.Name == n.Name {
				below = append(below, e)
			}
		}
		return below
	}
	return nil
}
