package dconfig

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeFiles creates files (relative name → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseReader(t *testing.T) {
	t.Setenv("DCONFIG_TEST_ENV", "from-env")
	tests := []struct {
		name         string
		conf         string
		wantSettings map[string]string
		wantPlugin   map[string]string
		wantDebug    bool
		wantWarnings int
	}{
		{
			name:         "key value spacing",
			conf:         "a=1\nb = 2\n  c\t=\t3  \nd =\ne=\n",
			wantSettings: map[string]string{"a": "1", "b": "2", "c": "3", "d": "", "e": ""},
		},
		{
			name:         "unquoted value keeps inner spaces",
			conf:         "mail_location =  maildir:~/Maildir:LAYOUT=fs  \n",
			wantSettings: map[string]string{"mail_location": "maildir:~/Maildir:LAYOUT=fs"},
		},
		{
			name: "quoted values",
			conf: `a = "x y"` + "\n" + `b = 'single # not a comment'` + "\n" +
				`c = "esc \" quote \\ backslash \n"` + "\n" + `d = ""` + "\n" + `e = "` + "\n" +
				`f = "a" "b"` + "\n" + `g = "unterminated` + "\n" + `h = 'a\'` + "\n",
			wantSettings: map[string]string{
				"a": "x y", "b": "single # not a comment", "c": `esc " quote \ backslash n`,
				"d": "", "e": "", "f": `a" "b`, "g": `"unterminated`, "h": "a",
			},
		},
		{
			name:         "comments",
			conf:         "# full line\n   # indented\na = 1 # trailing\nb = \"x # y\" # after quotes\n\n",
			wantSettings: map[string]string{"a": "1", "b": "x # y"},
		},
		{
			name:         "hash inside a token is a comment, with a warning",
			conf:         "plugin {\n  url=http://x/#frag\n}\n",
			wantSettings: map[string]string{},
			wantPlugin:   map[string]string{"url": "http://x/"},
			wantWarnings: 1,
		},
		{
			name:         "line continuation",
			conf:         "a = one \\\n   two\\\n three\n",
			wantSettings: map[string]string{"a": "one two three"},
		},
		{
			name:         "continuation into a blank line is dropped",
			conf:         "a = one \\\n\nb = 2\n",
			wantSettings: map[string]string{"b": "2"},
			wantWarnings: 1,
		},
		{
			name:         "continuation at end of file is dropped",
			conf:         "b = 2\na = one \\\n",
			wantSettings: map[string]string{"b": "2"},
			wantWarnings: 1,
		},
		{
			name:         "CRLF line ends",
			conf:         "a = 1\r\nplugin {\r\n  b = 2\r\n}\r\n",
			wantSettings: map[string]string{"a": "1"},
			wantPlugin:   map[string]string{"b": "2"},
		},
		{
			name: "variables",
			conf: "mail_plugins = $mail_plugins notify\nmail_plugins = $mail_plugins  push_notification\n" +
				"e = $ENV:DCONFIG_TEST_ENV x\nu = $unknown x\nq = \"$mail_plugins\"\nm = a$mail_plugins\n" +
				"plugin {\n  p = $ENV:DCONFIG_TEST_ENV $e\n}\n",
			wantSettings: map[string]string{
				"mail_plugins": " notify push_notification", "e": "from-env x", "u": " x",
				"q": "$mail_plugins", "m": "a$mail_plugins",
			},
			wantPlugin: map[string]string{"p": "from-env from-env x"},
		},
		{
			name:         "top-level file value is kept as written",
			conf:         "ssl_key = </etc/ssl/private/key.pem\n",
			wantSettings: map[string]string{"ssl_key": "</etc/ssl/private/key.pem"},
		},
		{
			name: "plugin blocks merge and later duplicates win",
			conf: "plugin {\n  a = 1\n  b = 1\n}\nplugin {\n  b = 2\n  c = 3\n}\nplugin/d = 4\nplugin/a = 5\n" +
				"plugin {\n  B = case\n}\n",
			wantSettings: map[string]string{},
			wantPlugin:   map[string]string{"a": "5", "b": "2", "c": "3", "d": "4", "B": "case"},
		},
		{
			name:         "top-level duplicates",
			conf:         "a = 1\na = 2\n",
			wantSettings: map[string]string{"a": "2"},
		},
		{
			name: "other sections are ignored",
			conf: "namespace inbox {\n  inbox = yes\n  mailbox Trash {\n    special_use = \\Trash\n  }\n}\n" +
				"protocol lmtp {\n  mail_plugins = $mail_plugins sieve\n  plugin {\n    x = protocol-only\n  }\n}\n" +
				"service \"quoted name\" {\n}\nplugin {\n  nested {\n    y = 1\n  }\n  z = 2\n}\n",
			wantSettings: map[string]string{},
			wantPlugin:   map[string]string{"z": "2"},
		},
		{
			name:         "section without a name",
			conf:         "dict {\n  quota = file:/x\n}\nafter = 1\n",
			wantSettings: map[string]string{"after": "1"},
		},
		{
			name:         "mail_debug",
			conf:         "mail_debug = YES\n",
			wantSettings: map[string]string{"mail_debug": "YES"},
			wantDebug:    true,
		},
		{
			name:         "mail_debug later no",
			conf:         "mail_debug = yes\nmail_debug = no\n",
			wantSettings: map[string]string{"mail_debug": "no"},
		},
		{
			name:         "mail_debug inside plugin is just a plugin setting",
			conf:         "plugin {\n  mail_debug = whatever\n}\n",
			wantSettings: map[string]string{},
			wantPlugin:   map[string]string{"mail_debug": "whatever"},
		},
		{
			name:         "no trailing newline",
			conf:         "a = 1",
			wantSettings: map[string]string{"a": "1"},
		},
		{
			name:         "empty input",
			conf:         "",
			wantSettings: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseReader("test.conf", strings.NewReader(tt.conf), t.TempDir())
			if err != nil {
				t.Fatalf("ParseReader: %v", err)
			}
			if !maps.Equal(c.Settings, tt.wantSettings) {
				t.Errorf("Settings = %q; want %q", c.Settings, tt.wantSettings)
			}
			wantPlugin := tt.wantPlugin
			if wantPlugin == nil {
				wantPlugin = map[string]string{}
			}
			if !maps.Equal(c.Plugin, wantPlugin) {
				t.Errorf("Plugin = %q; want %q", c.Plugin, wantPlugin)
			}
			if c.MailDebug != tt.wantDebug {
				t.Errorf("MailDebug = %v; want %v", c.MailDebug, tt.wantDebug)
			}
			if len(c.Warnings) != tt.wantWarnings {
				t.Errorf("Warnings = %q; want %d warnings", c.Warnings, tt.wantWarnings)
			}
			if c.Path != "" {
				t.Errorf("Path = %q; want \"\"", c.Path)
			}
		})
	}
}

func TestWarningText(t *testing.T) {
	c, err := ParseReader("w.conf", strings.NewReader("a = 1\nb = x#y\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`w.conf:2: ambiguous "#" treated as the start of a comment (Dovecot does the same); put a space before it to silence this warning`}
	if !slices.Equal(c.Warnings, want) {
		t.Errorf("Warnings = %q; want %q", c.Warnings, want)
	}
	if got := c.Settings["b"]; got != "x" {
		t.Errorf("b = %q; want %q", got, "x")
	}
}

func TestSections(t *testing.T) {
	conf := "namespace inbox {\n  mailbox Sent {\n  }\n}\nplugin {\n  nested {\n  }\n}\nservice \"a b\" {\n}\n"
	c, err := ParseReader("s.conf", strings.NewReader(conf), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Section{
		{Name: "namespace", Arg: "inbox", File: "s.conf", Line: 1},
		{Name: "nested", File: "s.conf", Line: 6},
		{Name: "service", Arg: "a b", File: "s.conf", Line: 9},
	}
	if !slices.Equal(c.Sections, want) {
		t.Errorf("Sections = %+v; want %+v", c.Sections, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // main.conf is parsed
		want  string
	}{
		{"no equals", map[string]string{"main.conf": "a = 1\n\nfoo\n"}, `main.conf:3: expected "key = value", got "foo"`},
		{"two words", map[string]string{"main.conf": "foo bar\n"}, `main.conf:1: expected "key = value", got "foo bar"`},
		{"brace without space", map[string]string{"main.conf": "plugin{\n}\n"}, `main.conf:1: expected "name {" or "name arg {" (with a space before "{"), got "plugin{"`},
		{"too many section words", map[string]string{"main.conf": "a b c {\n}\n"}, `main.conf:1: expected "name {" or "name arg {" (with a space before "{"), got "a b c {"`},
		{"unterminated quoted section name", map[string]string{"main.conf": "service \"x {\n"}, `main.conf:1: expected "name {" or "name arg {" (with a space before "{"), got "service \"x {"`},
		{"garbage after brace", map[string]string{"main.conf": "plugin {x\n"}, `main.conf:1: unexpected text after "{": "x"`},
		{"unbalanced close", map[string]string{"main.conf": "plugin {\n}\n}\n"}, `main.conf:3: unexpected "}" (no section is open)`},
		{"text after close", map[string]string{"main.conf": "plugin {\n} x\n"}, `main.conf:2: unexpected text after "}": "x"`},
		{"missing key", map[string]string{"main.conf": "= v\n"}, `main.conf:1: missing key before "="`},
		{"missing close", map[string]string{"main.conf": "a = 1\nnamespace inbox {\n  plugin {\n  }\n"}, `main.conf:2: missing "}" for section "namespace inbox" opened here`},
		{"missing close innermost", map[string]string{"main.conf": "plugin {\n  x {\n}\n"}, `main.conf:1: missing "}" for section "plugin" opened here`},
		{"missing close in include", map[string]string{"main.conf": "!include a.conf\n", "a.conf": "\nplugin {\n"}, `a.conf:2: missing "}" for section "plugin" opened here`},
		{"bad mail_debug", map[string]string{"main.conf": "# x\nmail_debug = maybe\n"}, `main.conf:2: mail_debug: Invalid boolean value: maybe (use yes or no)`},
		{"bad mail_debug in include", map[string]string{"main.conf": "!include conf.d/*.conf\n", "conf.d/10-a.conf": "mail_debug=on\n"}, `conf.d/10-a.conf:1: mail_debug: Invalid boolean value: on (use yes or no)`},
		{"include without name", map[string]string{"main.conf": "!include\n"}, `main.conf:1: !include: missing file name`},
		{"include_try without name", map[string]string{"main.conf": "!include_try   \n"}, `main.conf:1: !include_try: missing file name`},
		{"missing include", map[string]string{"main.conf": "a = 1\n!include missing.conf\n"}, `main.conf:2: !include missing.conf: file does not exist`},
		{"glob without match", map[string]string{"main.conf": "!include conf.d/*.conf\n"}, `main.conf:1: !include conf.d/*.conf: no file matches`},
		{"bad glob", map[string]string{"main.conf": "!include [\n"}, `main.conf:1: !include [: syntax error in pattern`},
		{"self include", map[string]string{"main.conf": "!include main.conf\n"}, `main.conf:1: !include main.conf: include loop: main.conf is already being read`},
		{"include loop", map[string]string{"main.conf": "!include sub/a.conf\n", "sub/a.conf": "x = 1\n!include ../main.conf\n"}, `sub/a.conf:2: !include ../main.conf: include loop: main.conf is already being read`},
		{"include_try loop is still an error", map[string]string{"main.conf": "!include_try main.conf\n"}, `main.conf:1: !include_try main.conf: include loop: main.conf is already being read`},
		{"error inside include", map[string]string{"main.conf": "a = 1\n!include conf.d/a.conf\n", "conf.d/a.conf": "b = 2\nbad line\n"}, `conf.d/a.conf:2: expected "key = value", got "bad line"`},
		{"plugin file value missing", map[string]string{"main.conf": "plugin {\n  k = <nofile.txt\n}\n"}, `main.conf:2: k: open nofile.txt: no such file or directory`},
		{"continued line error", map[string]string{"main.conf": "foo \\\n bar\n"}, `main.conf:2: expected "key = value", got "foo bar"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			t.Chdir(dir)
			c, err := Parse("main.conf")
			if err == nil {
				t.Fatalf("Parse = %+v, nil; want error %q", c, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error = %q; want %q", got, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *ParseError", err)
			}
		})
	}
}

func TestParseErrorFields(t *testing.T) {
	_, err := ParseReader("x.conf", strings.NewReader("a = 1\n!include nope.conf\n"), t.TempDir())
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v; want a *ParseError", err)
	}
	if pe.File != "x.conf" || pe.Line != 2 {
		t.Errorf("File, Line = %q, %d; want %q, %d", pe.File, pe.Line, "x.conf", 2)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false; want true", err)
	}
}

func TestParseMissingMainFile(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := Parse("nope.conf")
	if want := "nope.conf: open nope.conf: no such file or directory"; err == nil || err.Error() != want {
		t.Fatalf("error = %v; want %q", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false; want true", err)
	}
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "abs.conf")
	writeFiles(t, dir, map[string]string{
		"etc/main.conf": "first = main\n!include conf.d/*.conf\n!include_try missing.conf\n!include_try nodir/*.conf\n" +
			"plugin {\n  !include plugin.inc\n}\n!include " + abs + "\n",
		"etc/conf.d/20-b.conf":       "x = b\norder = $order b\n",
		"etc/conf.d/10-a.conf":       "x = a\norder = a\n!include sub/nested.conf\n",
		"etc/conf.d/sub/nested.conf": "nested = yes\n",
		"etc/conf.d/README":          "not included\n",
		"etc/plugin.inc":             "push_notification_driver = lua:file=push.lua\n",
		"abs.conf":                   "absolute = yes\n",
	})
	main := filepath.Join(dir, "etc", "main.conf")
	c, err := Parse(main)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	wantSettings := map[string]string{"first": "main", "x": "b", "order": "a b", "nested": "yes", "absolute": "yes"}
	if !maps.Equal(c.Settings, wantSettings) {
		t.Errorf("Settings = %q; want %q", c.Settings, wantSettings)
	}
	wantPlugin := map[string]string{"push_notification_driver": "lua:file=push.lua"}
	if !maps.Equal(c.Plugin, wantPlugin) {
		t.Errorf("Plugin = %q; want %q", c.Plugin, wantPlugin)
	}
	if c.Path != main {
		t.Errorf("Path = %q; want %q", c.Path, main)
	}
	wantFiles := []string{
		main,
		filepath.Join(dir, "etc/conf.d/10-a.conf"),
		filepath.Join(dir, "etc/conf.d/sub/nested.conf"),
		filepath.Join(dir, "etc/conf.d/20-b.conf"),
		filepath.Join(dir, "etc/plugin.inc"),
		abs,
	}
	if !slices.Equal(c.Files, wantFiles) {
		t.Errorf("Files = %q; want %q", c.Files, wantFiles)
	}
	if got, want := c.Resolve("push.lua"), filepath.Join(dir, "etc", "push.lua"); got != want {
		t.Errorf("Resolve(push.lua) = %q; want %q", got, want)
	}
}

func TestIncludeSectionAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"main.conf": "!include open.conf\n  b = 2\n}\n",
		"open.conf": "plugin {\n  a = 1\n",
	})
	c, err := Parse(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := map[string]string{"a": "1", "b": "2"}
	if !maps.Equal(c.Plugin, want) {
		t.Errorf("Plugin = %q; want %q", c.Plugin, want)
	}
}

func TestPluginFileValue(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"main.conf":       "!include sub/plugin.conf\n",
		"sub/plugin.conf": "plugin {\n  k = < value.txt\n}\n",
		"sub/value.txt":   "line1\nline2\n",
	})
	c, err := Parse(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := c.Plugin["k"], "line1\nline2\n"; got != want {
		t.Errorf("k = %q; want %q", got, want)
	}
}

func TestIncludeRelativeToReaderDir(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"inc.conf": "plugin {\n  a = 1\n}\n"})
	c, err := ParseReader("<stdin>", strings.NewReader("!include inc.conf\n"), dir)
	if err != nil {
		t.Fatalf("ParseReader: %v", err)
	}
	if got, want := c.Plugin["a"], "1"; got != want {
		t.Errorf("a = %q; want %q", got, want)
	}
	if got, want := c.Resolve("x.lua"), filepath.Join(dir, "x.lua"); got != want {
		t.Errorf("Resolve(x.lua) = %q; want %q", got, want)
	}
	if got, want := c.Files, []string{filepath.Join(dir, "inc.conf")}; !slices.Equal(got, want) {
		t.Errorf("Files = %q; want %q", got, want)
	}
}

func TestIncludeUnreadable(t *testing.T) {
	// A directory matches the pattern but cannot be read as a file, even
	// by root.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := ParseReader("m.conf", strings.NewReader("!include_try *.conf\na = 1\n"), dir)
	if err != nil {
		t.Fatalf("!include_try of an unreadable file: %v; want no error", err)
	}
	if want := map[string]string{"a": "1"}; !maps.Equal(c.Settings, want) {
		t.Errorf("Settings = %q; want %q", c.Settings, want)
	}
	_, err = ParseReader("m.conf", strings.NewReader("!include d.conf\n"), dir)
	want := "m.conf:1: !include d.conf: read " + filepath.Join(dir, "d.conf") + ": is a directory"
	if err == nil || err.Error() != want {
		t.Errorf("!include of an unreadable file: error = %v; want %q", err, want)
	}
}

func TestResolve(t *testing.T) {
	c := &Config{Path: "/etc/dovecot/pushlua.conf"}
	tests := []struct{ in, want string }{
		{"push.lua", "/etc/dovecot/push.lua"},
		{"../x/push.lua", "/etc/x/push.lua"},
		{"/abs/push.lua", "/abs/push.lua"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := c.Resolve(tt.in); got != tt.want {
			t.Errorf("Resolve(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
