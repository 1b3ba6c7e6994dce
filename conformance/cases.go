package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/txn"
)

// config builds the configuration of a case (c nil: of the suite's
// built-in checks) in scratch, where the suite's and the case's files are
// written: the case's config section, else the suite's, else the
// configuration or script under test; then the -o overrides (for the
// latter) and the suite's and the case's settings. A non-empty skip says
// why the test cannot run here.
func (r *runner) config(s *suiteSpec, c *caseFile, scratch string) (cfg *dconfig.Config, skip string, err error) {
	var files []archiveFile
	var settings []setting
	if s.defaults != nil {
		files = append(files, s.defaults.Files...)
		settings = append(settings, s.defaults.Settings...)
	}
	if c != nil {
		files = append(files, c.Files...)
		settings = append(settings, c.Settings...)
	}
	for _, f := range files {
		p := filepath.Join(scratch, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(p, []byte(f.Data), 0o644); err != nil {
			return nil, "", err
		}
	}
	var text, name, dir string
	overrides := false
	switch {
	case c != nil && c.Config != nil:
		text, name, dir = c.Config.Data, c.Path, c.Dir
	case s.target != nil && s.target.path != "":
		cfg, err = dconfig.Parse(s.target.path)
		if err != nil {
			return nil, "", err
		}
		overrides = true
	case s.target != nil:
		text, name, dir = s.target.text, s.target.textName, s.target.dir
		overrides = s.target == r.mainTarget()
	default:
		return nil, "", errors.New("no configuration: give -c CONFIG or SCRIPT.lua, or a \"-- config --\" section in the case or in its " + suiteFile)
	}
	if cfg == nil {
		expanded, why, err := r.expand(text, dir, scratch, name)
		if err != nil || why != "" {
			return nil, why, err
		}
		cfg, err = dconfig.ParseReader(name, strings.NewReader(expanded), scratch)
		if err != nil {
			return nil, "", err
		}
	}
	if overrides {
		for _, o := range r.opts.Overrides {
			if err := cfg.Override(o); err != nil {
				return nil, "", fmt.Errorf("-o %s: %w", o, err)
			}
		}
	}
	for _, st := range settings {
		kv, why, err := r.expand(st.KV, "", scratch, name)
		if err != nil || why != "" {
			return nil, why, err
		}
		if err := cfg.Override(kv); err != nil {
			return nil, "", fmt.Errorf("settings line %d: %w", st.Line, err)
		}
	}
	return cfg, "", nil
}

// mainTarget is the configuration or script given to Run, or nil.
func (r *runner) mainTarget() *target { return r.main }

// runCase runs one case file.
func (r *runner) runCase(ctx context.Context, s *suiteSpec, c *caseFile) (t *Test) {
	start := time.Now()
	t = &Test{Name: c.Name, File: c.Path, Status: Pass}
	defer func() { t.Duration = time.Since(start) }()
	failf := func(format string, args ...any) *Test {
		t.Status = Fail
		t.Message = fmt.Sprintf(format, args...)
		return t
	}
	scratch, err := os.MkdirTemp(r.tmp, "case-")
	if err != nil {
		return failf("%v", err)
	}
	cfg, skip, err := r.config(s, c, scratch)
	if skip != "" {
		t.Status, t.Message = Skip, skip
		return t
	}
	if err != nil {
		return failf("%s: %v", c.Path, err)
	}
	d := s.defaults
	if d == nil {
		d = &caseFile{}
	}
	rules, storeState, now := d.Mock, d.Store, d.Now
	if c.HasMock {
		rules = c.Mock
	}
	if c.HasStore {
		storeState = c.Store
	}
	if c.Now != nil {
		now = c.Now
	}
	var txns []*txn.Txn
	for i, l := range c.Txns {
		tx, err := parseTxn(l.Text, fmt.Sprintf("t%d", i+1))
		if err != nil {
			return failf("%s:%d: %s: %v", c.Path, l.Line, secTransactions, err)
		}
		txns = append(txns, tx)
	}

	ctx, cancel := context.WithTimeout(ctx, r.opts.CaseTimeout)
	defer cancel()
	er, err := startEngine(ctx, engineSetup{cfg: cfg, rules: rules, now: now, allowed: allowedDirs(scratch), store: storeState})
	if err != nil {
		return failf("%s: %v", c.Path, err)
	}
	initRecs := len(er.logs.records())
	noDriver := len(er.eng.Drivers()) == 0 && len(er.eng.InitErrors()) == 0
	var runErr error
	for _, tx := range txns {
		if _, err := er.submit(ctx, tx, c.Name); err != nil {
			runErr = err
			break
		}
	}
	er.close()
	recs := er.logs.records()
	lines := er.logs.lines()
	t.Log = strings.Join(lines, "\n")

	var problems []string
	logShown := false
	if runErr != nil {
		problems = append(problems, runErr.Error())
	}
	reqs := er.mock.requests()
	if c.HasExpect || c.NoRequests {
		if d := compareRequests(c.Expect, reqs); d != "" {
			msg := "the requests differ (- expected, + actual):\n" + d
			if refused := er.mock.refusedConns(); len(refused) > 0 {
				msg += "\n(refused connections: " + strings.Join(refused, ", ") + ")"
			}
			problems = append(problems, msg)
		}
	}
	if len(c.ErrorLog) > 0 {
		if d := compareLog(c.ErrorLog, lines); d != "" {
			problems = append(problems, "error_log: lines missing from the log, in this order (- expected, not found; the log as context):\n"+d)
			logShown = true
		}
	}
	for _, p := range c.NoErrorLog {
		for _, l := range lines {
			if p.match(l) {
				problems = append(problems, fmt.Sprintf("no_error_log (%s:%d) %s matches:\n+%s", c.Path, p.Line, p.Text, l))
				break
			}
		}
	}
	if noDriver {
		problems = append(problems, "no push notification driver configured (push_notification_driver in plugin { })")
	}
	var unexpected []string
	for i, rec := range recs {
		// Failed calls, and any error while the drivers were built (a
		// driver that failed to initialise).
		initErr := i < initRecs && rec.Level >= slog.LevelError
		if !isScriptError(rec) && !initErr || matchesAny(c.ErrorLog, rec.Lines) {
			continue
		}
		unexpected = append(unexpected, scriptError{rec: rec}.where()+": "+strings.Join(rec.Lines, "\n  "))
	}
	if len(unexpected) > 0 {
		problems = append(problems, "unexpected script errors (expect them in error_log if they are meant):\n"+strings.Join(unexpected, "\n"))
	}
	if _, writes := er.insp.result(); len(writes) > 0 {
		for _, w := range writes {
			problems = append(problems, fmt.Sprintf("%s(%q) at %s was refused: a script may write only below %s during a conformance run; use @TMP@ in the case's settings",
				w.Op, w.Path, strings.TrimSuffix(w.Where, ": "), os.TempDir()))
		}
	}
	if len(problems) > 0 {
		msg := strings.Join(problems, "\n\n")
		if !logShown && len(lines) > 0 {
			msg += "\n\nlog:\n  " + strings.Join(lines, "\n  ")
		}
		return failf("%s", msg)
	}
	return t
}

func matchesAny(pats []*logPattern, lines []string) bool {
	for _, p := range pats {
		for _, l := range lines {
			if p.match(l) {
				return true
			}
		}
	}
	return false
}

// compareLog checks that the patterns match log lines in order; on a
// mismatch it returns the log with each missing pattern as a "-" line
// where it was expected.
func compareLog(pats []*logPattern, lines []string) string {
	var out []string
	missing := false
	li := 0
	for pi, p := range pats {
		found := -1
		for k := li; k < len(lines); k++ {
			if p.match(lines[k]) {
				found = k
				break
			}
		}
		if found < 0 {
			// Show the log up to where the next patterns match, then the
			// missing line.
			missing = true
			next := len(lines)
			if pi+1 < len(pats) {
				for k := li; k < len(lines); k++ {
					if pats[pi+1].match(lines[k]) {
						next = k
						break
					}
				}
			}
			for ; li < next; li++ {
				out = append(out, " "+lines[li])
			}
			out = append(out, "-"+p.Text)
			continue
		}
		for ; li <= found; li++ {
			out = append(out, " "+lines[li])
		}
	}
	if !missing {
		return ""
	}
	for ; li < len(lines); li++ {
		out = append(out, " "+lines[li])
	}
	return strings.Join(out, "\n")
}

// compareRequests compares the expected requests with the ones the mock
// received, in order, and returns a unified diff of the two, rendered in
// the expect_requests syntax, or "" when they match.
func compareRequests(exp []*expectedRequest, act []request) string {
	match := len(exp) == len(act)
	for i := 0; match && i < len(exp); i++ {
		match = exp[i].matches(act[i])
	}
	if match {
		return ""
	}
	var want, got []string
	for i := 0; i < max(len(exp), len(act)); i++ {
		switch {
		case i < len(exp) && i < len(act):
			w, g := renderPair(exp[i], act[i])
			if i > 0 {
				want, got = append(want, ""), append(got, "")
			}
			want, got = append(want, w...), append(got, g...)
		case i < len(exp):
			if i > 0 {
				want = append(want, "")
			}
			want = append(want, exp[i].Source...)
		default:
			if i > 0 {
				got = append(got, "")
			}
			got = append(got, renderRequest(act[i])...)
		}
	}
	d := unifiedDiff("expected", "actual", want, got)
	if d == "" {
		// Equal renderings of a mismatch cannot happen; keep a message.
		d = fmt.Sprintf("expected %d requests, got %d", len(exp), len(act))
	}
	if len(exp) != len(act) {
		return fmt.Sprintf("expected %d request(s), got %d\n%s", len(exp), len(act), d)
	}
	return d
}

func (e *expectedRequest) matches(a request) bool {
	if !newGlob(e.Method).match(a.Method) || !e.URL.match(a.URL) {
		return false
	}
	for _, h := range e.Headers {
		if !h.matches(a) {
			return false
		}
	}
	return e.Body == nil || e.Body.matches(a.Body)
}

func (h headerExpectation) matches(a request) bool {
	vals := a.Header.Values(h.Name)
	if h.Absent {
		return len(vals) == 0
	}
	for _, v := range vals {
		if h.Value.match(v) {
			return true
		}
	}
	return false
}

func (b *bodyExpectation) matches(body []byte) bool {
	switch b.Kind {
	case "body_json":
		v, err := decodeJSON(body)
		return err == nil && reflect.DeepEqual(v, b.JSON)
	case "body_like":
		return b.RE.Match(body)
	default:
		return string(body) == b.Text
	}
}

// renderPair renders an expected request and the actual one side by side
// in the expect_requests syntax: what matches is rendered as expected, so
// that the diff shows only the differences.
func renderPair(e *expectedRequest, a request) (want, got []string) {
	want = append(want, e.Source[0])
	if newGlob(e.Method).match(a.Method) && e.URL.match(a.URL) {
		got = append(got, e.Source[0])
	} else {
		got = append(got, a.Method+" "+a.URL)
	}
	for _, h := range e.Headers {
		want = append(want, h.Text)
		switch {
		case h.matches(a):
			got = append(got, h.Text)
		case h.Absent:
			got = append(got, h.Name+": "+a.Header.Get(h.Name))
		default:
			for _, v := range a.Header.Values(h.Name) {
				got = append(got, h.Name+": "+v)
			}
		}
	}
	if e.Body == nil {
		return want, got
	}
	wantBody := bodyLines(e.Body.Kind, e.Body.Text)
	switch {
	case e.Body.matches(a.Body):
		return append(want, wantBody...), append(got, wantBody...)
	case e.Body.Kind == "body_json":
		want = append(want, bodyLines("body_json", strings.Join(prettyJSON(e.Body.JSON), "\n"))...)
		if v, err := decodeJSON(a.Body); err == nil {
			got = append(got, bodyLines("body_json", strings.Join(prettyJSON(v), "\n"))...)
		} else {
			got = append(got, bodyLines("body", string(a.Body))...)
		}
	default:
		want = append(want, wantBody...)
		got = append(got, bodyLines("body", string(a.Body))...)
	}
	return want, got
}

// renderRequest renders an unexpected request: method, URL, content type
// and body.
func renderRequest(a request) []string {
	out := []string{a.Method + " " + a.URL}
	if ct := a.Header.Get("Content-Type"); ct != "" {
		out = append(out, "Content-Type: "+ct)
	}
	if len(a.Body) > 0 {
		out = append(out, bodyLines("body", string(a.Body))...)
	}
	return out
}

func bodyLines(kind, text string) []string {
	lines := strings.Split(text, "\n")
	lines[0] = strings.TrimRight(kind+" "+lines[0], " ")
	return lines
}
