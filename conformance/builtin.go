package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/txn"
	"github.com/pushlua/pushlua/runtime"
)

// Names of the built-in checks.
const (
	checkLoad     = "load"
	checkInit     = "script_init"
	checkHandlers = "handlers"
	checkCorpus   = "corpus"
	checkGlobals  = "globals"
	checkBudget   = "budget"
	checkWrites   = "writes"
	checkReload   = "reload"
)

// builtinNames lists the built-in tests in the order they are reported.
func (r *runner) builtinNames() []string {
	names := []string{checkLoad, checkInit, checkHandlers}
	for _, it := range r.corpus {
		names = append(names, checkCorpus+"/"+it.Name)
	}
	return append(names, checkGlobals, checkBudget, checkWrites, checkReload)
}

// checkSet collects the outcomes of the built-in tests.
type checkSet struct {
	names []string
	tests map[string]*Test
}

func (cs *checkSet) get(name string) *Test {
	t, ok := cs.tests[name]
	if !ok {
		t = &Test{Name: name, Status: Pass}
		cs.tests[name] = t
	}
	return t
}

func (cs *checkSet) fail(name, msg string) {
	t := cs.get(name)
	t.Status = Fail
	if t.Message != "" {
		t.Message += "\n\n"
	}
	t.Message += msg
}

// skipRest marks every test not decided yet as skipped.
func (cs *checkSet) skipRest(reason string) {
	for _, n := range cs.names {
		if _, ok := cs.tests[n]; !ok {
			cs.tests[n] = &Test{Name: n, Status: Skip, Message: reason}
		}
	}
}

// builtins runs the built-in checks on the suite's configuration.
func (r *runner) builtins(ctx context.Context, s *suiteSpec) []*Test {
	cs := &checkSet{tests: map[string]*Test{}}
	for _, n := range r.builtinNames() {
		if r.selected(s.name, n) {
			cs.names = append(cs.names, n)
		}
	}
	if len(cs.names) == 0 {
		return nil
	}
	if reason := r.skipReason(s); reason != "" {
		// The whole suite cannot run here: one skipped test stands for
		// all the built-in checks.
		return []*Test{{Name: "checks", Status: Skip, Message: reason}}
	}
	r.runChecks(ctx, s, cs)
	var opts checkOptions
	if s.defaults != nil {
		opts = s.defaults.Checks
	}
	var out []*Test
	for _, n := range cs.names {
		t := cs.tests[n]
		check, _, _ := strings.Cut(n, "/")
		if reason, ok := opts.Skip[check]; ok && t.Status != Skip {
			t.Status, t.Message = Skip, reason+" ("+suiteFile+")"
		}
		out = append(out, t)
	}
	return out
}

func (r *runner) wants(cs *checkSet, prefixes ...string) bool {
	for _, n := range cs.names {
		for _, p := range prefixes {
			if n == p || strings.HasPrefix(n, p+"/") {
				return true
			}
		}
	}
	return false
}

func (r *runner) runChecks(ctx context.Context, s *suiteSpec, cs *checkSet) {
	start := time.Now()
	scratch, err := os.MkdirTemp(r.tmp, "checks-")
	if err != nil {
		cs.fail(checkLoad, err.Error())
		cs.skipRest("the configuration could not be prepared")
		return
	}
	cfg, skip, err := r.config(s, nil, scratch)
	switch {
	case skip != "":
		cs.skipRest(skip)
		return
	case err != nil:
		cs.fail(checkLoad, err.Error())
		cs.skipRest("the configuration does not load")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.CaseTimeout)
	defer cancel()
	budget := r.corpusBudget(cfg)
	setup := engineSetup{cfg: cfg, now: &corpusNow, budget: budget, globals: true, allowed: allowedDirs(scratch)}
	a, err := startEngine(ctx, setup)
	if err != nil {
		cs.fail(checkLoad, err.Error())
		cs.skipRest("the configuration does not load")
		return
	}
	initA := len(a.logs.records())
	closed := false
	defer func() {
		if !closed {
			a.close()
		}
	}()
	cs.get(checkLoad).Duration = time.Since(start)
	if errs := a.eng.InitErrors(); len(errs) > 0 {
		msg := initErrorMessage(errs[0])
		var se *runtime.ScriptError
		if errors.As(errs[0], &se) && se.Func == "script_init" {
			cs.get(checkLoad)
			cs.fail(checkInit, msg)
			cs.skipRest("script_init failed")
		} else {
			cs.fail(checkLoad, msg)
			cs.skipRest("the script does not load")
		}
		return
	}
	if len(a.eng.Drivers()) == 0 {
		cs.fail(checkLoad, "no push notification driver configured (push_notification_driver in plugin { })")
		cs.skipRest("no driver")
		return
	}
	cs.get(checkLoad)
	cs.get(checkInit)
	h := cs.get(checkHandlers)
	states := a.insp.firstStates()
	for _, d := range a.eng.Drivers() {
		for _, script := range d.Scripts() {
			script = strings.TrimPrefix(script, "bundled ")
			if l := states[script]; l != nil {
				h.Warnings = append(h.Warnings, handlerWarnings(script, l)...)
			}
		}
	}
	if !r.wants(cs, checkCorpus, checkGlobals, checkBudget, checkWrites, checkReload) {
		cs.skipRest("not selected")
		return
	}

	outA, err := r.corpusPass(ctx, a)
	if err != nil {
		cs.fail(checkCorpus, err.Error())
		cs.skipRest("the corpus did not finish")
		return
	}
	// Budget trips, grouped by handler and line.
	type trip struct{ handler, where, msg string }
	var trips []trip
	tripIn := map[trip][]string{}
	seen := map[string]string{} // error -> the scenario that showed it first
	for i, it := range r.corpus {
		name := checkCorpus + "/" + it.Name
		o := outA[i]
		t := cs.get(name)
		t.Duration = o.dur
		t.Log = strings.Join(o.lines(), "\n")
		here := map[string]bool{}
		for _, e := range o.errors() {
			key := e.where() + " " + e.text()
			if here[key] {
				continue // the same error again in this scenario (another message)
			}
			here[key] = true
			if first, ok := seen[key]; ok {
				cs.fail(name, fmt.Sprintf("%s: %s\n  in %s, transaction %s: the same error as in %s", e.where(), e.text(), e.handler(), e.txn.id, first))
			} else {
				seen[key] = name
				cs.fail(name, e.message(o))
			}
			if strings.Contains(e.rec.Msg, "pushlua: call exceeded its") {
				k := trip{e.handler(), e.where(), firstLine(e.rec.Msg)}
				if _, ok := tripIn[k]; !ok {
					trips = append(trips, k)
				}
				if in := tripIn[k]; len(in) == 0 || in[len(in)-1] != name {
					tripIn[k] = append(in, name)
				}
			}
		}
	}
	cs.get(checkBudget)
	for _, k := range trips {
		cs.fail(checkBudget, fmt.Sprintf("%s exceeded the suite's budget (%s, %d instructions: a fifth of the time and a tenth of the instructions it has in production) at %s in %s:\n  %s",
			k.handler, budget.Timeout, budget.Instructions, k.where, strings.Join(tripIn[k], ", "), k.msg))
	}

	leaks, writes := a.insp.result()
	var allow map[string]string
	if s.defaults != nil {
		allow = s.defaults.Checks.AllowGlobals
	}
	g := cs.get(checkGlobals)
	var leakLines []string
	for _, l := range leaks {
		if where, ok := allow[l.Name]; ok {
			g.Warnings = append(g.Warnings, leakMessage(l)+"; allowed by "+where)
			continue
		}
		// A global every later transaction wrote before reading carried
		// nothing over: a warning, unless --strict.
		if l.ReadFirst == "" && !l.Unwatched {
			msg := leakMessage(l) + "; every later transaction wrote it before reading it (make it local)"
			if !r.opts.Strict {
				g.Warnings = append(g.Warnings, msg)
				continue
			}
			leakLines = append(leakLines, msg+" [--strict]")
			continue
		}
		leakLines = append(leakLines, leakMessage(l))
	}
	if len(leakLines) > 0 {
		cs.fail(checkGlobals, strings.Join(leakLines, "\n")+"\n"+
			"Make them local, or keep per-transaction data in the ctx table begin_txn returns: pushlua keeps a script's state for the transactions of every user (Dovecot for a whole IMAP session), so a global carries one transaction's data into the next.")
	}
	cs.get(checkWrites)
	for _, w := range writes {
		where := ""
		if w.Where != "" {
			where = " at " + strings.TrimSuffix(w.Where, ": ")
		}
		cs.fail(checkWrites, fmt.Sprintf("%s(%q)%s in %s was refused: a script may write only below %s (the temporary directory); in production such a write would change files outside pushlua's control on every transaction",
			w.Op, w.Path, where, w.Label, os.TempDir()))
	}

	if !r.wants(cs, checkReload) {
		cs.skipRest("not selected")
		return
	}
	// Reload: build the same files again while the first engine still
	// runs (as pushlua's reload does), stop the first, run the corpus on
	// the second and compare.
	reloadStart := time.Now()
	setup.globals = false
	b, err := startEngine(ctx, setup)
	a.close()
	closed = true
	if err != nil {
		cs.fail(checkReload, "the second load failed: "+err.Error())
		return
	}
	defer b.close()
	if errs := b.eng.InitErrors(); len(errs) > 0 {
		cs.fail(checkReload, "the second load failed (the first worked): "+initErrorMessage(errs[0]))
		return
	}
	initB := len(b.logs.records())
	outB, err := r.corpusPass(ctx, b)
	if err != nil {
		cs.fail(checkReload, "the corpus did not finish on the second load: "+err.Error())
		return
	}
	want := transcript(a.logs.records()[:initA], outA)
	got := transcript(b.logs.records()[:initB], outB)
	if d := unifiedDiff("first load", "second load", want, got); d != "" {
		cs.fail(checkReload, "loading the same files a second time gave a different behaviour on the same corpus (log lines and requests of each transaction, sorted, ids and timings left out):\n"+truncateLines(d, 60))
	}
	cs.get(checkReload).Duration = time.Since(reloadStart)
}

// skipReason says why a suite's configuration cannot run here (the
// reference directory it needs is absent), or "".
func (r *runner) skipReason(s *suiteSpec) string {
	if s.target == nil || s.target.path != "" {
		return ""
	}
	_, why, _ := r.expand(s.target.text, s.target.dir, r.tmp, s.target.textName)
	return why
}

// corpusBudget is the budget of the corpus run: the option, else a fifth
// of the configured time budget and a tenth of the instructions.
func (r *runner) corpusBudget(cfg *dconfig.Config) runtime.Budget {
	b := r.opts.Budget
	prod := runtime.DefaultBudget
	if v, ok := cfg.Settings["pushlua_handler_timeout"]; ok {
		if d, err := dconfig.ParseTime(v); err == nil && d > 0 {
			prod.Timeout = d
		}
	}
	if v, ok := cfg.Settings["pushlua_handler_instructions"]; ok {
		var n int64
		if _, err := fmt.Sscan(v, &n); err == nil && n > 0 {
			prod.Instructions = n
		}
	}
	if b.Timeout <= 0 {
		b.Timeout = prod.Timeout / 5
	}
	if b.Instructions <= 0 {
		b.Instructions = prod.Instructions / 10
	}
	return b
}

// initErrorMessage renders a driver init failure, file:line first.
func initErrorMessage(err error) string {
	var se *runtime.ScriptError
	if errors.As(err, &se) {
		return se.Where() + ": " + se.Error()
	}
	return err.Error()
}

// handlerWarnings says what Dovecot would do with a script that lacks
// begin_txn, end_txn or every event handler.
func handlerWarnings(script string, l *lua.State) []string {
	has := func(name string) bool {
		l.PushGlobalTable()
		l.PushString(name)
		l.RawGet(-2)
		ok := l.IsFunction(-1)
		l.Pop(2)
		return ok
	}
	var w []string
	handlers := 0
	for _, ev := range txn.Events {
		if has(ev.Handler) {
			handlers++
		}
	}
	if handlers == 0 {
		w = append(w, script+": no event handler (dovecot_lua_notify_event_message_new, ...): Dovecot would never call begin_txn/end_txn for this script (no event handlers); it logs \"Debug: lua: No event handlers found in script\" at every transaction")
	}
	if !has("dovecot_lua_notify_begin_txn") {
		w = append(w, script+": no function dovecot_lua_notify_begin_txn: Dovecot would log \"Error: lua: Missing function dovecot_lua_notify_begin_txn\" at every transaction and call none of the handlers, nor end_txn")
	}
	if !has("dovecot_lua_notify_end_txn") {
		w = append(w, script+": no function dovecot_lua_notify_end_txn: Dovecot would log \"Error: lua: Missing function dovecot_lua_notify_end_txn\" at the end of every transaction")
	}
	return w
}

func leakMessage(l leak) string {
	where := ""
	if l.Where != "" {
		where = " at " + strings.TrimSuffix(l.Where, ": ")
	}
	if l.ReadFirst != "" {
		return fmt.Sprintf("global %s (a %s) is set%s in %s, still set after end_txn, and read before it is written at %s, a later transaction",
			l.Name, l.Type, where, l.Label, l.ReadFirst)
	}
	return fmt.Sprintf("global %s (a %s) is set%s in %s and still set after end_txn", l.Name, l.Type, where, l.Label)
}

// itemOutcome is what one corpus scenario did.
type itemOutcome struct {
	item *corpusItem
	txns []txnOutcome
	dur  time.Duration
}

type txnOutcome struct {
	id   string
	raw  string
	recs []logRecord
	reqs []request
}

func (o *itemOutcome) lines() []string {
	var out []string
	for _, t := range o.txns {
		for _, r := range t.recs {
			out = append(out, r.Lines...)
		}
	}
	return out
}

// scriptError is a failed call into Lua logged during a transaction.
type scriptError struct {
	rec logRecord
	txn *txnOutcome
}

func (o *itemOutcome) errors() []scriptError {
	var out []scriptError
	for i := range o.txns {
		for _, rec := range o.txns[i].recs {
			if isScriptError(rec) {
				out = append(out, scriptError{rec: rec, txn: &o.txns[i]})
			}
		}
	}
	return out
}

// isScriptError reports whether a record is a failed call into Lua (or a
// script that could not be loaded again).
func isScriptError(rec logRecord) bool {
	if rec.Level < slog.LevelError {
		return false
	}
	m := rec.Msg
	return strings.Contains(m, "lua_pcall(") && strings.Contains(m, ") failed") ||
		strings.Contains(m, "lua_load(") || strings.Contains(m, "Script init failed") ||
		strings.Contains(m, "script_init() returned")
}

var (
	handlerRE  = regexp.MustCompile(`lua_pcall\(([^,)]+)`)
	locationRE = regexp.MustCompile(`([^\s:()'"]+\.lua):(\d+):`)
)

func (e scriptError) handler() string {
	if m := handlerRE.FindStringSubmatch(e.rec.Msg); m != nil {
		return m[1]
	}
	return "the script"
}

// where returns the script's file:line the error points at.
func (e scriptError) where() string {
	msg := e.rec.Msg
	if i := strings.Index(msg, ") failed: "); i >= 0 {
		msg = msg[i:]
	}
	if m := locationRE.FindStringSubmatch(msg); m != nil {
		return m[1] + ":" + m[2]
	}
	return "(no line)"
}

// text is the error's message without the call and the location.
func (e scriptError) text() string {
	msg := firstLine(e.rec.Msg)
	if i := strings.Index(msg, ") failed: "); i >= 0 {
		msg = msg[i+len(") failed: "):]
	}
	return strings.TrimPrefix(msg, e.where()+": ")
}

func (e scriptError) message(o itemOutcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", e.where(), e.text())
	fmt.Fprintf(&b, "  in %s, transaction %s (%s)\n", e.handler(), e.txn.id, o.item.Desc)
	b.WriteString("log:\n")
	for _, l := range e.rec.Lines {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("the transaction (replay it with pushlua run):\n  " + e.txn.raw)
	return b.String()
}

// truncateLines keeps the first n lines of s and says how many it left out.
func truncateLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n... (%d more lines)", len(lines)-n)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// corpusPass runs the corpus through an engine.
func (r *runner) corpusPass(ctx context.Context, er *engineRun) ([]itemOutcome, error) {
	out := make([]itemOutcome, len(r.corpus))
	n := 0
	for i := range r.corpus {
		it := &r.corpus[i]
		o := itemOutcome{item: it}
		start := time.Now()
		for _, raw := range it.Raw {
			n++
			t, err := txn.Parse([]byte(raw), nil)
			if err != nil {
				return nil, err
			}
			t.ID = fmt.Sprintf("corpus-%d", n)
			reqsBefore, recsBefore := len(er.mock.requests()), len(er.logs.records())
			if _, err := er.submit(ctx, t, checkCorpus+"/"+it.Name); err != nil {
				return nil, err
			}
			o.txns = append(o.txns, txnOutcome{id: t.ID, raw: raw,
				recs: er.logs.records()[recsBefore:], reqs: er.mock.requests()[reqsBefore:]})
		}
		o.dur = time.Since(start)
		out[i] = o
	}
	return out, nil
}

// transcript renders a corpus pass for the reload comparison: the init
// lines, then per transaction its log lines and requests, each sorted
// (Lua's pairs() order may differ between two states), normalised.
func transcript(init []logRecord, outs []itemOutcome) []string {
	var lines []string
	for _, r := range init {
		for _, l := range r.Lines {
			lines = append(lines, normalize(l))
		}
	}
	for _, o := range outs {
		for _, t := range o.txns {
			lines = append(lines, "== "+t.id+" ("+o.item.Name+")")
			var block []string
			for _, r := range t.recs {
				for _, l := range r.Lines {
					block = append(block, normalize(l))
				}
			}
			for _, q := range t.reqs {
				block = append(block, "request: "+normalize(requestKey(q)))
			}
			sort.Strings(block)
			lines = append(lines, block...)
		}
	}
	return lines
}

// requestKey renders a request on one line: method, URL, headers (Date
// left out), body (canonical when JSON).
func requestKey(q request) string {
	var hs []string
	for k, vs := range q.Header {
		if k == "Date" {
			continue
		}
		for _, v := range vs {
			hs = append(hs, http.CanonicalHeaderKey(k)+": "+v)
		}
	}
	sort.Strings(hs)
	body := string(q.Body)
	if v, err := decodeJSON(q.Body); err == nil {
		body = compactJSON(v)
	}
	return q.Method + " " + q.URL + " [" + strings.Join(hs, "; ") + "] " + body
}

var (
	hexRE  = regexp.MustCompile(`\b[0-9a-fA-F][0-9a-fA-F-]{7,}\b`)
	secsRE = regexp.MustCompile(`\d+\.\d+ secs`)
	msRE   = regexp.MustCompile(`\b\d+(\.\d+)?(ms|µs|s)\b`)
)

// normalize leaves ids and timings out of a line.
func normalize(s string) string {
	s = hexRE.ReplaceAllStringFunc(s, func(m string) string {
		if strings.IndexFunc(m, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
			return m // a decimal number
		}
		return "<id>"
	})
	s = secsRE.ReplaceAllString(s, "N secs")
	return msRE.ReplaceAllString(s, "<duration>")
}
