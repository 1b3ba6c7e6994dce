package luaapi

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/docs"
)

var update = flag.Bool("update", false, "rewrite docs/luals/ with the generated stubs")

func reference(t *testing.T) *Reference {
	t.Helper()
	r, err := Parse(docs.LuaAPIName, docs.LuaAPI)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func probe(t *testing.T) []Name {
	t.Helper()
	names, err := Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestReferenceCoversRegisteredNames: every name pushlua registers in a
// state (globals, what it put into the standard tables, metatables, every
// package.preload module and what it returns, the objects' methods and
// fields, the event tables' fields, the handlers) is documented in
// docs/lua-api.md, and every name documented there exists. A module or
// function added to bindings/ or stdlib/ fails this test until it is
// documented.
func TestReferenceCoversRegisteredNames(t *testing.T) {
	r := reference(t)
	names := probe(t)
	if len(names) < 300 {
		t.Fatalf("the probe found %d names; want the whole API (300+)", len(names))
	}
	missing, unused := Coverage(r, names)
	for _, n := range missing {
		t.Errorf("%s (%s %s) is registered but not documented in docs/lua-api.md", n.Name, n.Kind, n.Type)
	}
	for _, e := range unused {
		t.Errorf("docs/lua-api.md:%d: %s is documented but pushlua does not register it", e.Line, e.Key())
	}
}

// TestProbeFindsWhatIsThere guards the probe itself: names known to exist
// are found, with their kind.
func TestProbeFindsWhatIsThere(t *testing.T) {
	names := probe(t)
	got := map[string]Name{}
	for _, n := range names {
		got[n.Key()] = n
	}
	for _, want := range []Name{
		{Name: "dovecot.i_info", Kind: Function},
		{Name: "dovecot.storage.STATUS_UNSEEN", Kind: Field},
		{Name: "dovecot.http.client", Kind: Function},
		{Name: "http_response:status", Kind: Method},
		{Name: "mail_user:plugin_getenv", Kind: Method},
		{Name: "mail_user.username", Kind: Field},
		{Name: "mailbox:status", Kind: Method},
		{Name: "event_passthrough:log_info", Kind: Method},
		{Name: "MessageNew.subject", Kind: Field},
		{Name: "MailboxRename.mailbox_old", Kind: Field},
		{Name: "cjson", Kind: Module},
		{Name: "socket.http.request", Kind: Function},
		{Name: "string.gsub", Kind: Function},
		{Name: "math.type", Kind: Function},
		{Name: "dovecot_lua_notify_event_flags_clear", Kind: Handler},
	} {
		n, ok := got[want.Key()]
		if !ok || n.Kind != want.Kind {
			t.Errorf("%s: got %+v (found %v); want kind %s", want.Key(), n, ok, want.Kind)
		}
	}
	if n := got["string.gsub"]; !n.Standard {
		t.Errorf("string.gsub is not marked standard")
	}
	if n := got["math.type"]; n.Standard {
		t.Errorf("math.type is marked standard (it is Lua 5.3's)")
	}
}

// TestReferenceExamples: every ```lua block of the reference compiles.
func TestReferenceExamples(t *testing.T) {
	r := reference(t)
	if len(r.Examples) < 10 {
		t.Fatalf("%d examples; want at least one per section", len(r.Examples))
	}
	for _, ex := range r.Examples {
		l := lua.NewState()
		if err := lua.LoadString(l, ex.Code); err != nil {
			msg, _ := l.ToString(-1)
			t.Errorf("docs/lua-api.md:%d: the example does not compile: %s", ex.Line, msg)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"### `dovecot.x(a)`\n", "parameter \"a\": expected name: type"},
		{"### `x(a: string) string`\n", "expected -> RESULTS"},
		{"### `what is this`\n", "expected `class NAME`"},
		{"| name | d |\n|---|---|\n| x | y |\n", "must be one code span"},
		{"### `a.b: string`\n### `a.b: string`\n", "documented twice (first at line 1)"},
		{"```lua\nx = 1\n", "code block not closed"},
	}
	for _, tt := range tests {
		_, err := Parse("t.md", []byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q): %v; want an error with %q", tt.src, err, tt.want)
		}
	}
	r, err := Parse("t.md", []byte("### `f(a: string, b?: table<string, integer>, ...: any) -> ok: boolean, string?`\nDoes f.\n\nMore.\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := r.Entries[0]
	if len(e.Params) != 3 || e.Params[1].Type != "table<string, integer>" || !e.Params[1].Optional || e.Params[2].Name != "..." ||
		len(e.Returns) != 2 || e.Returns[0].Name != "ok" || e.Returns[1].Type != "string?" || e.Doc != "Does f." {
		t.Errorf("got %+v", e)
	}
}

// stubsDir holds the committed stubs: the ones the repository's own
// .luarc.json points at, and what `pushlua stubs` writes.
const stubsDir = "../../../../docs/luals"

// TestStubsCurrent: the committed stubs are what the generator makes from
// the reference and the registered names (go test -update rewrites them).
func TestStubsCurrent(t *testing.T) {
	files := Stubs(reference(t), probe(t))
	if *update {
		if err := os.RemoveAll(stubsDir); err != nil {
			t.Fatal(err)
		}
		for path, data := range files {
			p := filepath.Join(stubsDir, path)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var onDisk []string
	_ = filepath.Walk(stubsDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(stubsDir, p)
			onDisk = append(onDisk, rel)
		}
		return nil
	})
	sort.Strings(onDisk)
	var want []string
	for path := range files {
		want = append(want, path)
	}
	sort.Strings(want)
	if strings.Join(onDisk, " ") != strings.Join(want, " ") {
		t.Errorf("docs/luals has %v; the generator makes %v (go test ./internal/luaapi -update)", onDisk, want)
	}
	for _, path := range want {
		got, err := os.ReadFile(filepath.Join(stubsDir, path))
		if err != nil || !bytes.Equal(got, files[path]) {
			t.Errorf("docs/luals/%s is not current (go test ./internal/luaapi -update)", path)
		}
	}
}

// TestStubsParse: the stubs are valid Lua for go-lua and for every luac
// installed (lua-language-server is neither in Debian nor on npm; a
// definition file is plain Lua with annotation comments).
func TestStubsParse(t *testing.T) {
	files := Stubs(reference(t), probe(t))
	dir := t.TempDir()
	var paths []string
	for path, data := range files {
		l := lua.NewState()
		if err := lua.LoadString(l, string(data)); err != nil {
			msg, _ := l.ToString(-1)
			t.Errorf("%s: %s", path, msg)
		}
		p := filepath.Join(dir, strings.ReplaceAll(path, "/", "_"))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	ran := 0
	for _, luac := range []string{"luac5.2", "luac5.3", "luac5.4"} {
		bin, err := exec.LookPath(luac)
		if err != nil {
			continue
		}
		ran++
		for _, p := range paths {
			// One file per run: luac5.4 -p crashes on many files at once.
			if out, err := exec.Command(bin, "-p", p).CombinedOutput(); err != nil {
				t.Errorf("%s -p %s: %v\n%s", luac, filepath.Base(p), err, out)
			}
		}
	}
	if ran == 0 {
		t.Log("no luac5.x installed (apt-get install lua5.3): checked with go-lua only")
	}
}

// TestStubsAnnotations checks the annotations the way lua-language-server
// reads them: every type named is LuaLS's or a class the stubs declare,
// every ---@param names a parameter of the function that follows, and the
// classes of the reference are there with their fields.
func TestStubsAnnotations(t *testing.T) {
	files := Stubs(reference(t), probe(t))
	declared := map[string]bool{}
	for _, data := range files {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "---@class "); ok {
				name, _, _ := strings.Cut(rest, ":")
				declared[strings.TrimSpace(name)] = true
			}
		}
	}
	builtin := map[string]bool{"nil": true, "any": true, "boolean": true, "string": true, "number": true, "integer": true,
		"function": true, "table": true, "thread": true, "userdata": true, "lightuserdata": true, "file*": true, "fun": true, "true": true, "false": true}
	for path, data := range files {
		lines := strings.Split(string(data), "\n")
		var params []string
		for i, line := range lines {
			var typ string
			switch {
			case strings.HasPrefix(line, "---@param "):
				f := strings.Fields(strings.TrimPrefix(line, "---@param "))
				params = append(params, strings.TrimSuffix(f[0], "?"))
				typ = strings.Join(f[1:], " ")
			case strings.HasPrefix(line, "---@return "):
				typ = strings.Fields(strings.TrimPrefix(line, "---@return "))[0]
			case strings.HasPrefix(line, "---@field "):
				typ = strings.Fields(strings.TrimPrefix(line, "---@field "))[1]
			case strings.HasPrefix(line, "function ") || strings.Contains(line, "= function("):
				open := strings.Index(line, "(")
				args := strings.Split(line[open+1:strings.Index(line, ")")], ",")
				for _, p := range params {
					found := false
					for _, a := range args {
						found = found || strings.TrimSpace(a) == p
					}
					if !found {
						t.Errorf("%s:%d: ---@param %s names no parameter of %s", path, i+1, p, line)
					}
				}
				params = nil
			case !strings.HasPrefix(line, "---"):
				params = nil
			}
			for _, word := range typeNames(typ) {
				if !builtin[word] && !declared[word] {
					t.Errorf("%s:%d: type %q is neither LuaLS's nor declared (%s)", path, i+1, word, line)
				}
			}
		}
	}
	for _, cls := range []string{"dovecot.mail_user", "dovecot.mailbox", "dovecot.MessageNew", "dovecot.FlagsClear", "dovecot.http_response", "dovecot.event_passthrough"} {
		if !declared[cls] {
			t.Errorf("class %s is not declared", cls)
		}
	}
	g := string(files[GlobalsFile])
	for _, want := range []string{"---@class dovecot.MessageAppend: dovecot.MessageNew\n", "---@field subject string? the Subject", "function dovecot.i_info(message) end\n",
		"function dovecot_lua_notify_event_message_new(ctx, event) end\n", "---@param event dovecot.MessageNew\n", "function mail_user:plugin_getenv(name) end\n"} {
		if !strings.Contains(g, want) {
			t.Errorf("%s lacks %q", GlobalsFile, want)
		}
	}
	if !strings.HasPrefix(string(files["socket/http.lua"]), "---@meta socket.http\n") {
		t.Errorf("socket/http.lua does not start with ---@meta socket.http")
	}
	if strings.Contains(g, "function string.gsub") {
		t.Errorf("the stubs redefine string.gsub, which LuaLS knows")
	}
}

// typeNames returns the names a LuaLS type expression refers to.
func typeNames(typ string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	flush := func() {
		w := cur.String()
		cur.Reset()
		if w != "" {
			out = append(out, w)
		}
	}
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		switch {
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '_' || c == '.' || c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			cur.WriteByte(c)
		case c == ':':
			// fun(name: type): the name before ':' is a parameter.
			cur.Reset()
		default:
			flush()
		}
	}
	flush()
	var names []string
	for _, w := range out {
		if w == "..." || strings.Trim(w, "0123456789.") == "" {
			continue
		}
		names = append(names, strings.TrimSuffix(w, "."))
	}
	return names
}

// TestCoverage: a table documented through its members does not vouch
// for a member that does not exist; a parent class documents inherited
// members; a name nobody documents is missing.
func TestCoverage(t *testing.T) {
	r, err := Parse("t.md", []byte("| name | d |\n|---|---|\n"+
		"| `t.a(x: string)` | a |\n| `t.b(x: string)` | a typo |\n"+
		"| `class base` | |\n| `base.f: string` | |\n| `class derived: base` | |\n"))
	if err != nil {
		t.Fatal(err)
	}
	missing, unused := Coverage(r, []Name{
		{Name: "t", Kind: Field, Type: "table"},
		{Name: "t.a", Kind: Function, Type: "function"},
		{Name: "derived.f", Kind: Field, Type: "string"},
		{Name: "t.c", Kind: Function, Type: "function"},
	})
	if len(missing) != 1 || missing[0].Name != "t.c" {
		t.Errorf("missing %v; want [t.c]", missing)
	}
	if len(unused) != 1 || unused[0].Name != "t.b" {
		var got []string
		for _, e := range unused {
			got = append(got, e.Key())
		}
		t.Errorf("unused %v; want [t.b]", got)
	}
}
