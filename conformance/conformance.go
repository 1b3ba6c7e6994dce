package conformance

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/runtime"
	"github.com/pushlua/pushlua/scripts"
)

//go:embed testdata corpus.txtar
var embedded embed.FS

// Options say what to test. At least one of Config, Script, Cases and
// Bundled must be given.
type Options struct {
	// Config is the Dovecot-syntax configuration under test: the built-in
	// checks run on its drivers, and it is the configuration of every case
	// that has none of its own.
	Config string
	// Script is a Lua script under test, used when Config is empty: it runs
	// as the only driver (plugin { push_notification_driver =
	// lua:file=SCRIPT }, with mail_debug = yes).
	Script string
	// Overrides are "key=value" settings applied to the configuration of
	// Config or Script, as pushlua's -o does.
	Overrides []string
	// Cases lists case files (.txtar) and directories; a directory is
	// searched recursively, and each directory holding a suite.txtar is a
	// suite of its own.
	Cases []string
	// RunRegexp, when set, selects the tests whose full name
	// ("suite/test", e.g. "ox/gate_no_metadata" or "my.lua/corpus/EXPUNGE")
	// it matches.
	RunRegexp string
	// Bundled adds the suites pushlua ships (conformance/testdata: dlog,
	// ox, the two documentation examples and the Dovecot forwarder).
	Bundled bool
	// SharedDir is the reference directory that holds Dovecot's
	// documentation examples (spec/examples/doc_example1.lua, ...), which
	// suites refer to as @SHARED@. Default: $PUSHLUA_SHARED, else the
	// directory "shared" beside the pushlua repository that contains the
	// working directory. Suites that need it are skipped without it.
	SharedDir string
	// Logger receives the runner's progress at Debug level (suite and test
	// names). Default: discard.
	Logger *slog.Logger
	// Budget is the budget of every call into Lua while the built-in
	// corpus runs. Default: a fifth of the configured time budget and a
	// tenth of the instruction budget (1s and 10,000,000 with pushlua's
	// defaults), so that a handler close to its limit is caught here.
	Budget runtime.Budget
	// CaseTimeout bounds one case or one corpus pass. Default 60s.
	CaseTimeout time.Duration
	// Strict makes the globals check fail on a global a transaction left
	// behind that every later transaction wrote before reading (a
	// throwaway global; a warning otherwise). A global read before it is
	// written in a later transaction fails either way.
	Strict bool
}

// Status is a test's outcome.
type Status string

// The outcomes of a test.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Report is the outcome of a run.
type Report struct {
	Suites   []*Suite
	Duration time.Duration
}

// Suite is the tests of one configuration under test or one suite
// directory.
type Suite struct {
	// Name is the suite's name: the configuration or script under test as
	// given, or the suite directory ("ox" for a bundled suite).
	Name string
	// Target says what the suite tests ("scripts/ox.lua (bundled)",
	// "/etc/pushlua/push.lua"); "" when it has no configuration of its own.
	Target   string
	Tests    []*Test
	Duration time.Duration
}

// Test is the outcome of one built-in check or one case.
type Test struct {
	// Name is the test's name inside its suite: a built-in check ("load",
	// "script_init", "handlers", "corpus/<scenario>", "globals", "budget",
	// "writes", "reload") or a case file's path inside the suite without
	// ".txtar".
	Name string
	// File is the case file ("" for built-in checks).
	File   string
	Status Status
	// Message says why the test failed or was skipped; empty when it
	// passed. Failures point at the script's file:line where there is one,
	// and carry a unified diff of expected and actual where there are both.
	Message string
	// Warnings are things that did not fail the test but that the admin
	// should know (what Dovecot would do differently).
	Warnings []string
	// Log is what the engine logged during the test (cases and corpus
	// scenarios), in Dovecot's shape.
	Log      string
	Duration time.Duration
}

// Counts returns how many tests passed, failed and were skipped.
func (r *Report) Counts() (passed, failed, skipped int) {
	for _, s := range r.Suites {
		p, f, sk := s.Counts()
		passed, failed, skipped = passed+p, failed+f, skipped+sk
	}
	return
}

// Counts returns how many tests of the suite passed, failed and were
// skipped.
func (s *Suite) Counts() (passed, failed, skipped int) {
	for _, t := range s.Tests {
		switch t.Status {
		case Pass:
			passed++
		case Fail:
			failed++
		case Skip:
			skipped++
		}
	}
	return
}

// OK reports whether no test failed.
func (r *Report) OK() bool {
	_, failed, _ := r.Counts()
	return failed == 0
}

// Run runs the built-in checks on the configuration or script under test
// and the cases, and reports every test. An error means the run could not
// start (bad options, unreadable case paths); a failing test is in the
// report, not an error.
func Run(ctx context.Context, opts Options) (*Report, error) {
	r, err := newRunner(opts)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(r.tmp)
	suites, err := r.discover()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &Report{}
	for _, s := range suites {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res := r.runSuite(ctx, s)
		if len(res.Tests) > 0 {
			rep.Suites = append(rep.Suites, res)
		}
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// runner holds what one Run needs.
type runner struct {
	opts    Options
	re      *regexp.Regexp
	log     *slog.Logger
	shared  string // "" when absent
	tmp     string // the run's temporary directory
	scripts string // the bundled scripts, extracted (for @SCRIPTS@)
	corpus  []corpusItem
	main    *target // the configuration or script of Options
}

func newRunner(opts Options) (*runner, error) {
	if opts.Config != "" && opts.Script != "" {
		return nil, errors.New("give a configuration or a script, not both")
	}
	if opts.Config == "" && opts.Script == "" && len(opts.Cases) == 0 && !opts.Bundled {
		return nil, errors.New("nothing to test: give a configuration (-c), a script, case files or --bundled")
	}
	r := &runner{opts: opts, log: opts.Logger}
	if r.log == nil {
		r.log = logx.Discard
	}
	if r.opts.CaseTimeout <= 0 {
		r.opts.CaseTimeout = 60 * time.Second
	}
	if opts.RunRegexp != "" {
		re, err := regexp.Compile(opts.RunRegexp)
		if err != nil {
			return nil, fmt.Errorf("--run: %w", err)
		}
		r.re = re
	}
	r.shared = findShared(opts.SharedDir)
	items, err := loadCorpus()
	if err != nil {
		return nil, err
	}
	r.corpus = items
	tmp, err := os.MkdirTemp("", "pushlua-conformance-")
	if err != nil {
		return nil, err
	}
	r.tmp = tmp
	if err := r.extractScripts(); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return r, nil
}

// extractScripts writes the bundled scripts into the run's directory, for
// suites that run them as plain lua drivers (@SCRIPTS@/dovecot/forward.lua).
func (r *runner) extractScripts() error {
	r.scripts = filepath.Join(r.tmp, "scripts")
	if err := os.MkdirAll(filepath.Join(r.scripts, "dovecot"), 0o755); err != nil {
		return err
	}
	err := fs.WalkDir(scripts.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(scripts.FS, p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(r.scripts, filepath.FromSlash(p)), data, 0o644)
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.scripts, "dovecot", "forward.lua"), scripts.Forwarder(), 0o644)
}

// findShared locates the reference directory: the option, then
// $PUSHLUA_SHARED, then "shared" beside the repository root (the
// directory with pushlua's go.mod) above the working directory.
func findShared(opt string) string {
	ok := func(dir string) bool {
		st, err := os.Stat(filepath.Join(dir, "spec"))
		return err == nil && st.IsDir()
	}
	for _, d := range []string{opt, os.Getenv("PUSHLUA_SHARED")} {
		if d != "" {
			if abs, err := filepath.Abs(d); err == nil && ok(abs) {
				return abs
			}
			return "" // given but absent: the suites that need it are skipped
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(data), "module github.com/pushlua/pushlua\n") {
			shared := filepath.Join(filepath.Dir(dir), "shared")
			if ok(shared) {
				return shared
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// selected reports whether the test suite/name is to run.
func (r *runner) selected(suite, name string) bool {
	return r.re == nil || r.re.MatchString(suite+"/"+name)
}

// target is a configuration under test.
type target struct {
	name     string        // display name
	path     string        // a config file on disk, or
	text     string        // the config text
	textName string        // where text comes from, for errors
	dir      string        // @DIR@: the directory of the file holding text ("" if embedded)
	files    []archiveFile // files the text may refer to (written beside it)
	bundled  bool          // a suite shipped with pushlua
}

// suiteSpec is a suite before it runs.
type suiteSpec struct {
	name     string
	target   *target // the configuration cases fall back to; nil: none
	builtins bool    // run the built-in checks on target
	defaults *caseFile
	cases    []*caseFile
	errs     []*Test // files that could not be read or parsed
}

// discover builds the suites: the configuration or script under test with
// the loose case files, then every suite directory.
func (r *runner) discover() ([]*suiteSpec, error) {
	var main *target
	switch {
	case r.opts.Config != "":
		main = &target{name: r.opts.Config, path: r.opts.Config}
	case r.opts.Script != "":
		abs, err := filepath.Abs(r.opts.Script)
		if err != nil {
			return nil, err
		}
		main = &target{name: r.opts.Script, textName: r.opts.Script,
			text: "mail_debug = yes\nplugin {\n  push_notification_driver = lua:file=" + abs + "\n}\n"}
	}
	r.main = main
	def := &suiteSpec{name: "cases", target: main, builtins: main != nil}
	if main != nil {
		def.name = main.name
	}
	suites := []*suiteSpec{def}
	for _, p := range r.opts.Cases {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			if !strings.HasSuffix(p, ".txtar") {
				return nil, fmt.Errorf("%s: a case file is a .txtar archive (conformance/README.md)", p)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			name := strings.TrimSuffix(p, ".txtar")
			dir, _ := filepath.Abs(filepath.Dir(p))
			c, err := parseCase(p, dir, data, false)
			if err != nil {
				def.errs = append(def.errs, &Test{Name: name, File: p, Status: Fail, Message: err.Error()})
				continue
			}
			c.Name = name
			def.cases = append(def.cases, c)
			continue
		}
		abs, _ := filepath.Abs(p)
		more, err := r.walk(os.DirFS(p), ".", filepath.ToSlash(filepath.Clean(p)), abs, def, "", main, false)
		if err != nil {
			return nil, err
		}
		suites = append(suites, more...)
	}
	if main != nil && len(r.opts.Cases) > 0 && len(def.cases) == 0 && len(def.errs) == 0 && len(suites) > 1 {
		// Every case given is in a suite, and each suite checks the
		// configuration its cases use: the command line's configuration
		// alone (without a suite's settings) is not what any case runs,
		// so it is not checked on its own.
		def.builtins = false
	}
	if r.opts.Bundled {
		sub, err := fs.Sub(embedded, "testdata")
		if err != nil {
			return nil, err
		}
		more, err := r.walk(sub, ".", "", "", def, "", nil, true)
		if err != nil {
			return nil, err
		}
		suites = append(suites, more...)
	}
	return suites, nil
}

// walk reads a directory of cases: a directory with a suite.txtar is a
// suite named after it (its cases are named by their path inside it);
// loose case files join into, whose cases are named relative to intoBase.
func (r *runner) walk(fsys fs.FS, dir, display, diskDir string, into *suiteSpec, intoBase string, main *target, bundled bool) ([]*suiteSpec, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	join := func(name string) string {
		if display == "" || display == "." {
			return name
		}
		return display + "/" + name
	}
	disk := func(name string) string {
		if diskDir == "" {
			return ""
		}
		return filepath.Join(diskDir, name)
	}
	var out []*suiteSpec
	cur, base := into, intoBase
	if data, err := fs.ReadFile(fsys, path.Join(dir, suiteFile)); err == nil {
		name := display
		if name == "" || name == "." {
			name = "suite"
			if diskDir != "" {
				name = filepath.Base(diskDir)
			}
		}
		// The built-in checks run on the configuration the suite's cases
		// use: its own config, else the command line's (-c or SCRIPT.lua,
		// -o) with the suite's settings.
		s := &suiteSpec{name: name, target: main, builtins: main != nil}
		d, err := parseCase(join(suiteFile), diskDir, data, true)
		if err != nil {
			s.errs = append(s.errs, &Test{Name: suiteFile, File: join(suiteFile), Status: Fail, Message: err.Error()})
		} else {
			s.defaults = d
			if d.Config != nil {
				s.target = &target{name: name, text: d.Config.Data, textName: join(suiteFile), dir: diskDir, files: d.Files, bundled: bundled}
				s.builtins = true
			}
		}
		out = append(out, s)
		cur, base = s, display
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == suiteFile || !strings.HasSuffix(e.Name(), ".txtar") {
			continue
		}
		file := join(e.Name())
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(file, ".txtar")
		if base != "" {
			name = strings.TrimPrefix(name, base+"/")
		}
		c, err := parseCase(file, diskDir, data, false)
		if err != nil {
			cur.errs = append(cur.errs, &Test{Name: name, File: file, Status: Fail, Message: err.Error()})
			continue
		}
		c.Name = name
		cur.cases = append(cur.cases, c)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		more, err := r.walk(fsys, path.Join(dir, e.Name()), join(e.Name()), disk(e.Name()), cur, base, main, bundled)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// runSuite runs one suite's built-in checks and cases.
func (r *runner) runSuite(ctx context.Context, s *suiteSpec) *Suite {
	start := time.Now()
	res := &Suite{Name: s.name}
	if s.target != nil && (s.builtins || len(s.cases) > 0) {
		res.Target = r.configLabel(s)
	}
	r.log.Debug("conformance: suite " + s.name)
	for _, t := range s.errs {
		if r.selected(s.name, t.Name) {
			res.Tests = append(res.Tests, t)
		}
	}
	if s.builtins {
		res.Tests = append(res.Tests, r.builtins(ctx, s)...)
	}
	for _, c := range s.cases {
		if !r.selected(s.name, c.Name) {
			continue
		}
		r.log.Debug("conformance: case " + s.name + "/" + c.Name)
		res.Tests = append(res.Tests, r.runCase(ctx, s, c))
	}
	res.Duration = time.Since(start)
	return res
}

// configLabel says which configuration a suite's built-in checks and
// cases ran with (Suite.Target): the bundled suite, the -c file or the
// SCRIPT.lua given, or the suite's own config; then the -o overrides and
// the suite's settings applied to it.
func (r *runner) configLabel(s *suiteSpec) string {
	t := s.target
	if t.bundled {
		return "bundled suite " + t.name
	}
	var parts []string
	switch {
	case t.path != "":
		parts = append(parts, "config "+t.path)
	case t == r.main:
		parts = append(parts, "config: lua:file="+r.opts.Script+", mail_debug = yes")
	default:
		parts = append(parts, "config of "+t.textName)
	}
	if (t == r.main || t.path != "") && len(r.opts.Overrides) > 0 {
		parts = append(parts, "-o "+strings.Join(r.opts.Overrides, " -o "))
	}
	if s.defaults != nil && len(s.defaults.Settings) > 0 {
		parts = append(parts, "the settings of "+s.defaults.Path)
	}
	return strings.Join(parts, " + ")
}

// sharedRE finds @SHARED@ paths in a configuration.
var sharedRE = regexp.MustCompile(`@SHARED@(/[^\s"']*)?`)

// expand replaces the placeholders of a configuration text: @SHARED@,
// @SCRIPTS@, @DIR@ and @TMP@. A non-empty skip says why the test cannot
// run here.
func (r *runner) expand(text, dir, scratch, where string) (out, skip string, err error) {
	for _, m := range sharedRE.FindAllStringSubmatch(text, -1) {
		if r.shared == "" {
			return "", "the reference directory ../shared (Dovecot's documentation examples, read from there and never copied) is absent; set PUSHLUA_SHARED or --shared DIR to run this suite", nil
		}
		if m[1] != "" {
			p := filepath.Join(r.shared, filepath.FromSlash(m[1]))
			if _, err := os.Stat(p); err != nil {
				return "", p + " is absent (Dovecot's documentation examples are read from ../shared/spec/examples, never copied)", nil
			}
		}
	}
	if strings.Contains(text, "@DIR@") && dir == "" {
		return "", "", fmt.Errorf("%s: @DIR@ is not available in a bundled suite", where)
	}
	repl := strings.NewReplacer("@SHARED@", r.shared, "@SCRIPTS@", r.scripts, "@DIR@", dir, "@TMP@", scratch)
	return repl.Replace(text), "", nil
}
