package dconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// parser holds the state of one Parse or ParseReader call. Open sections
// live on one stack shared by all files, as in Dovecot, so a section may
// be opened in one file and closed in the file that included it.
type parser struct {
	cfg       *Config
	lookupEnv func(string) (string, bool)
	stack     []frame
	reading   []string // absolute paths of the files being read (loop check)
}

type frame struct {
	name, arg string
	file      string
	line      int
	plugin    bool    // the top-level plugin section
	filter    *Filter // a top-level push_notification NAME section (2.4)
	settings  bool    // its lua_settings subsection
	ignored   bool
}

func (f frame) title() string {
	if f.arg == "" {
		return f.name
	}
	return f.name + " " + f.arg
}

// run parses the main input and checks that every section was closed.
func (p *parser) run(display, dir, abs string, data []byte) error {
	if err := p.file(display, dir, abs, data); err != nil {
		return err
	}
	if n := len(p.stack); n > 0 {
		f := p.stack[n-1]
		return &ParseError{File: f.file, Line: f.line,
			Err: fmt.Errorf(`missing "}" for section %q opened here`, f.title())}
	}
	return nil
}

// file parses one file. display names it in messages, dir is where its
// relative paths point, abs is its absolute path ("" for a reader).
func (p *parser) file(display, dir, abs string, data []byte) error {
	if abs != "" {
		p.cfg.Files = append(p.cfg.Files, abs)
		p.reading = append(p.reading, abs)
		defer func() { p.reading = p.reading[:len(p.reading)-1] }()
	}
	lines := strings.Split(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var full strings.Builder // a line continued with a trailing backslash
	for i, raw := range lines {
		n := i + 1
		line, skip := p.clean(strings.TrimSuffix(raw, "\r"), display, n)
		if skip {
			if full.Len() > 0 {
				// Dovecot drops a continuation that runs into an
				// empty or comment line.
				p.warn(display, n, "line continuation ends in an empty or comment line; the continued line is ignored")
				full.Reset()
			}
			continue
		}
		if strings.HasSuffix(line, `\`) {
			part := strings.TrimRight(line[:len(line)-1], whitespace)
			if part != "" {
				full.WriteString(part)
				full.WriteByte(' ')
			}
			continue
		}
		if full.Len() > 0 {
			full.WriteString(line)
			line = full.String()
			full.Reset()
		}
		if err := p.statement(line, display, dir, n); err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				return err
			}
			return &ParseError{File: display, Line: n, Err: err}
		}
	}
	if full.Len() > 0 {
		p.warn(display, len(lines), "line continuation at end of file; the continued line is ignored")
	}
	return nil
}

const whitespace = " \t"

func isWhite(c byte) bool { return c == ' ' || c == '\t' }

// clean drops leading and trailing whitespace and the comment. skip is true
// for an empty or comment-only line.
func (p *parser) clean(s, display string, n int) (line string, skip bool) {
	s = strings.TrimLeft(s, whitespace)
	if s == "" || s[0] == '#' {
		return "", true
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\'':
			for i++; i < len(s) && s[i] != c; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
			}
		case '#':
			if !isWhite(s[i-1]) {
				p.warn(display, n, `ambiguous "#" treated as the start of a comment (Dovecot does the same); put a space before it to silence this warning`)
			}
			s = s[:i]
		}
	}
	return strings.TrimRight(s, whitespace), false
}

func (p *parser) warn(display string, n int, msg string) {
	p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s:%d: %s", display, n, msg))
}

type context int

const (
	ctxTop context = iota
	ctxPlugin
	ctxFilter
	ctxLuaSettings
	ctxIgnored
)

func (p *parser) context() context {
	switch {
	case len(p.stack) == 0:
		return ctxTop
	case len(p.stack) == 1 && p.stack[0].plugin:
		return ctxPlugin
	case len(p.stack) == 1 && p.stack[0].filter != nil:
		return ctxFilter
	case len(p.stack) == 2 && p.stack[0].filter != nil && p.stack[1].settings:
		return ctxLuaSettings
	default:
		return ctxIgnored
	}
}

// statement parses and applies one logical line. Errors it returns without
// a position get the line's position from the caller.
func (p *parser) statement(line, display, dir string, n int) error {
	i := 0
	for i < len(line) && !isWhite(line[i]) && line[i] != '=' {
		i++
	}
	key := line[:i]
	rest := strings.TrimLeft(line[i:], whitespace)

	switch key {
	case "!include", "!include_try":
		if rest == "" {
			return fmt.Errorf("%s: missing file name", key)
		}
		return p.include(key, rest, key == "!include_try", display, dir, n)
	}

	if strings.HasPrefix(rest, "=") {
		if key == "" {
			return errors.New(`missing key before "="`)
		}
		return p.keyValue(key, strings.TrimLeft(rest[1:], whitespace), dir, Position{File: display, Line: n})
	}

	if key == "}" {
		if rest != "" {
			return fmt.Errorf(`unexpected text after "}": %q`, rest)
		}
		if len(p.stack) == 0 {
			return errors.New(`unexpected "}" (no section is open)`)
		}
		p.stack = p.stack[:len(p.stack)-1]
		return nil
	}

	// "name {" or "name arg {"
	bad := func() error {
		if strings.HasSuffix(line, "{") {
			return fmt.Errorf(`expected "name {" or "name arg {" (with a space before "{"), got %q`, line)
		}
		return fmt.Errorf(`expected "key = value", got %q`, line)
	}
	var arg string
	if rest != "" && rest[0] != '{' {
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return bad()
			}
			arg = unescape(rest[1 : 1+end])
			rest = strings.TrimLeft(rest[end+2:], whitespace)
		} else {
			end := strings.IndexAny(rest, whitespace)
			if end < 0 {
				end = len(rest)
			}
			arg = rest[:end]
			rest = strings.TrimLeft(rest[end:], whitespace)
		}
	}
	switch {
	case rest == "{":
	case strings.HasPrefix(rest, "{"):
		return fmt.Errorf(`unexpected text after "{": %q`, rest[1:])
	default:
		return bad()
	}
	p.open(key, arg, display, n)
	return nil
}

func (p *parser) open(name, arg, display string, n int) {
	ctx := p.context()
	f := frame{name: name, arg: arg, file: display, line: n}
	switch {
	case ctx == ctxTop && name == "plugin":
		f.plugin = true
		p.cfg.PluginSections = append(p.cfg.PluginSections, Position{File: display, Line: n})
	case ctx == ctxTop && name == FilterSection:
		f.filter = &Filter{Name: arg, File: display, Line: n, Settings: map[string]string{}, LuaSettings: map[string]string{}}
		p.cfg.Filters = append(p.cfg.Filters, f.filter)
	case ctx == ctxFilter && name == "lua_settings":
		f.settings = true
	default:
		f.ignored = true
		if ctx != ctxIgnored {
			p.cfg.Sections = append(p.cfg.Sections, Section{Name: name, Arg: arg, File: display, Line: n})
		}
	}
	p.stack = append(p.stack, f)
}

// keyValue applies "key = v" (v with whitespace after "=" removed); pos
// is where it is written.
func (p *parser) keyValue(key, v, dir string, pos Position) error {
	ctx := p.context()
	if ctx == ctxIgnored {
		if strings.HasPrefix(key, pushluaPrefix) {
			f := p.stack[0]
			p.cfg.Ignored = append(p.cfg.Ignored, Placed{Key: key, Section: f.title(), Pos: pos})
		}
		return nil
	}
	switch {
	case strings.HasPrefix(v, "<"):
		path := strings.TrimLeft(v[1:], whitespace)
		if ctx == ctxTop {
			v = "<" + path // kept as written; see the package comment
			break
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		v = string(data)
	case v != "" && v[0] != '"' && v[0] != '\'' && strings.Contains(v, "$"):
		v = p.expand(v)
	default:
		v = unquote(v)
	}

	switch ctx {
	case ctxPlugin:
		p.cfg.Plugin[key] = v
		p.cfg.setPluginPos(key, pos)
		return nil
	case ctxFilter:
		p.stack[0].filter.Settings[FilterKey(key)] = v
		return nil
	case ctxLuaSettings:
		p.stack[0].filter.LuaSettings[key] = v
		return nil
	}
	if name, ok := strings.CutPrefix(key, pluginPrefix); ok && name != "" {
		p.cfg.Plugin[name] = v
		p.cfg.setPluginPos(name, pos)
		return nil
	}
	if key == "mail_debug" {
		b, err := ParseBool(v)
		if err != nil {
			return fmt.Errorf("mail_debug: %w", err)
		}
		p.cfg.MailDebug = b
	}
	p.cfg.Settings[key] = v
	p.cfg.setSettingPos(key, pos)
	return nil
}

// expand does Dovecot's $variable expansion of an unquoted value
// (config_write_keyvariable): tokens are separated by a space, leading
// whitespace of each later token is dropped, and the tokens are joined
// with single spaces.
func (p *parser) expand(v string) string {
	var out []string
	for {
		tok, after, found := strings.Cut(v, " ")
		out = append(out, p.expandToken(tok))
		v = strings.TrimLeft(after, whitespace)
		if !found || v == "" {
			break
		}
	}
	return strings.Join(out, " ")
}

func (p *parser) expandToken(tok string) string {
	if name, ok := strings.CutPrefix(tok, "$ENV:"); ok {
		v, _ := p.lookupEnv(name)
		return v
	}
	if name, ok := strings.CutPrefix(tok, "$"); ok {
		return p.cfg.Settings[name] // unknown: "" (see the package comment)
	}
	return tok
}

// unquote removes matching surrounding quotes and undoes backslash escapes,
// as Dovecot does; any other value is returned as it is.
func unquote(v string) string {
	if v == "" || (v[0] != '"' && v[0] != '\'') || v[len(v)-1] != v[0] {
		return v
	}
	if len(v) == 1 {
		return ""
	}
	return unescape(v[1 : len(v)-1])
}

// unescape is Dovecot's str_unescape: "\x" becomes "x"; a trailing lone
// backslash is dropped.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			if i == len(s) {
				break
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// include reads the files matched by pattern.
func (p *parser) include(kw, pattern string, try bool, display, dir string, n int) error {
	resolved := pattern
	if !filepath.IsAbs(pattern) {
		resolved = filepath.Join(dir, pattern)
	}
	matches, err := filepath.Glob(resolved)
	if err != nil {
		return fmt.Errorf("%s %s: %w", kw, pattern, err)
	}
	if len(matches) == 0 {
		if try {
			return nil
		}
		if hasMeta(pattern) {
			return fmt.Errorf("%s %s: no file matches", kw, pattern)
		}
		_, err := os.Stat(resolved)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			err = fs.ErrNotExist
		}
		return fmt.Errorf("%s %s: %w", kw, pattern, err)
	}
	slices.Sort(matches)
	for _, m := range matches {
		abs, err := filepath.Abs(m)
		if err != nil {
			return fmt.Errorf("%s %s: %w", kw, pattern, err)
		}
		if slices.Contains(p.reading, abs) {
			return fmt.Errorf("%s %s: include loop: %s is already being read", kw, pattern, m)
		}
		data, err := os.ReadFile(m)
		if err != nil {
			if try {
				continue
			}
			return fmt.Errorf("%s %s: %w", kw, pattern, err)
		}
		if err := p.file(m, filepath.Dir(m), abs, data); err != nil {
			return err
		}
	}
	return nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }
