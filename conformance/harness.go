package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/txn"
	"github.com/pushlua/pushlua/runtime"
)

// logRecord is one captured log record.
type logRecord struct {
	Level slog.Level
	Msg   string
	User  string
	Txn   string
	Lines []string // as printed, in Dovecot's shape, one per message line
}

// logCapture records every log record of an engine and its text.
type logCapture struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	recs []logRecord
}

func (c *logCapture) logger() *slog.Logger {
	return slog.New(&captureHandler{c: c, text: logx.NewText(&c.buf, nil)})
}

func (c *logCapture) records() []logRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]logRecord(nil), c.recs...)
}

// lines returns every printed line.
func (c *logCapture) lines() []string {
	var out []string
	for _, r := range c.records() {
		out = append(out, r.Lines...)
	}
	return out
}

type captureHandler struct {
	c         *logCapture
	text      slog.Handler
	user, txn string
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	n.text = h.text.WithAttrs(attrs)
	for _, a := range attrs {
		n.note(a)
	}
	return &n
}

func (h *captureHandler) WithGroup(name string) slog.Handler {
	n := *h
	n.text = h.text.WithGroup(name)
	return &n
}

func (h *captureHandler) note(a slog.Attr) {
	switch a.Key {
	case logx.KeyUser:
		h.user = a.Value.String()
	case logx.KeyTxn:
		h.txn = a.Value.String()
	}
}

func (h *captureHandler) Handle(ctx context.Context, r slog.Record) error {
	hh := *h
	r.Attrs(func(a slog.Attr) bool { hh.note(a); return true })
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	start := h.c.buf.Len()
	err := h.text.Handle(ctx, r)
	text := strings.TrimSuffix(h.c.buf.String()[start:], "\n")
	h.c.recs = append(h.c.recs, logRecord{Level: r.Level, Msg: logx.Message(r), User: hh.user, Txn: hh.txn, Lines: strings.Split(text, "\n")})
	return err
}

// inspector watches the Lua states of an engine through runtime's Prepare
// and Inspect hooks: it refuses (and records) writes outside the allowed
// directories, and looks for globals that outlive a transaction.
type inspector struct {
	allowed []string // directories writes may go to
	globals bool     // watch globals (the corpus runs)

	mu     sync.Mutex
	label  string // what runs now, for messages ("corpus/EXPUNGE")
	states map[*lua.State]*stateInfo
	order  []*lua.State
	leaks  []*leak
	writes []refusedWrite
}

type stateInfo struct {
	script   string
	baseline map[string]bool   // globals after the chunk and script_init (or the previous transaction)
	created  map[string]string // global -> "file:line: " where a handler created it
	hooked   bool

	// Globals a transaction left behind are parked between transactions:
	// moved out of _G (into the registry table parkedKey) so that the
	// first access of the next transaction goes through _G's metatable
	// and is seen; it puts the global back.
	leaked    map[string]*leak
	parked    map[string]bool
	readFirst map[string]string // global -> where a later transaction read it before writing it
}

// leak is a global that a transaction left behind.
type leak struct {
	Script, Name, Type, Where, Label string
	// ReadFirst is where a later transaction read the global before
	// writing it ("file:line: in corpus/..."): the value carried one
	// transaction's data into the next. "" when every later access wrote
	// it first (a throwaway global).
	ReadFirst string
	// Unwatched: the script has its own metatable on _G, so accesses were
	// not seen; such a leak counts as carried over.
	Unwatched bool
}

// parkedKey is the registry field of a state's parked globals.
const parkedKey = "pushlua.conformance.parked"

// refusedWrite is a file operation outside the allowed places.
type refusedWrite struct {
	Script, Op, Path, Where, Label string
}

func newInspector(allowed []string, globals bool) *inspector {
	return &inspector{allowed: allowed, globals: globals, states: map[*lua.State]*stateInfo{}}
}

func (in *inspector) setLabel(s string) {
	in.mu.Lock()
	in.label = s
	in.mu.Unlock()
}

// prepare runs on every new state before the script's chunk.
func (in *inspector) prepare(script string, l *lua.State) {
	in.mu.Lock()
	in.states[l] = &stateInfo{script: script, created: map[string]string{}}
	in.order = append(in.order, l)
	in.mu.Unlock()
	in.guard(script, l)
}

// loaded runs once the engine is built, before any transaction, on the
// goroutine that built it: the first states have run their chunk and
// script_init; their globals are the baseline.
func (in *inspector) loaded() {
	if !in.globals {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, l := range in.order {
		in.startWatching(l, in.states[l])
	}
}

// startWatching takes the baseline and installs the _G hook (in.mu held).
func (in *inspector) startWatching(l *lua.State, info *stateInfo) {
	keys, _ := globalKeys(l)
	info.baseline = keys
	info.leaked = map[string]*leak{}
	info.parked = map[string]bool{}
	info.readFirst = map[string]string{}
	info.hooked = in.hookGlobals(l, info)
}

// inspect runs after each transaction's end_txn, on the state's goroutine.
func (in *inspector) inspect(script string, l *lua.State) {
	if !in.globals {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	info := in.states[l]
	if info == nil {
		info = &stateInfo{script: script, created: map[string]string{}}
		in.states[l] = info
	}
	if info.baseline == nil {
		// A state rebuilt during the run: its first transaction is its baseline.
		in.startWatching(l, info)
		return
	}
	keys, types := globalKeys(l)
	var names []string
	for k := range keys {
		if !info.baseline[k] && types[k] != lua.TypeFunction {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		lk := &leak{Script: script, Name: k, Type: types[k].String(), Where: info.created[k], Label: in.label, Unwatched: !info.hooked}
		in.leaks = append(in.leaks, lk)
		info.leaked[k] = lk
		info.baseline[k] = true // reported once
	}
	if info.hooked {
		park(l, info)
	}
}

// park moves the leaked globals that are in _G (and still not functions)
// to the parked table, until the next transaction touches them.
func park(l *lua.State, info *stateInfo) {
	l.Field(lua.RegistryIndex, parkedKey)
	l.PushGlobalTable()
	for name := range info.leaked {
		l.PushString(name)
		l.RawGet(-2)
		if t := l.TypeOf(-1); t == lua.TypeNil || t == lua.TypeFunction {
			l.Pop(1)
			continue
		}
		l.SetField(-3, name) // parked[name] = value
		l.PushString(name)
		l.PushNil()
		l.RawSet(-3) // _G[name] = nil
		info.parked[name] = true
	}
	l.Pop(2)
}

// unpark puts the parked global name back into _G (at index g) and pushes
// its value.
func unpark(l *lua.State, info *stateInfo, g int, name string) {
	l.Field(lua.RegistryIndex, parkedKey)
	l.Field(-1, name)
	l.PushString(name)
	l.PushValue(-2)
	l.RawSet(g)
	l.PushNil()
	l.SetField(-3, name)
	l.Remove(-2)
	delete(info.parked, name)
}

// globalKeys lists the string keys of _G and their value types.
func globalKeys(l *lua.State) (map[string]bool, map[string]lua.Type) {
	keys, types := map[string]bool{}, map[string]lua.Type{}
	l.PushGlobalTable()
	l.PushNil()
	for l.Next(-2) {
		if l.TypeOf(-2) == lua.TypeString {
			k, _ := l.ToString(-2)
			keys[k] = true
			types[k] = l.TypeOf(-1)
		}
		l.Pop(1)
	}
	l.Pop(1)
	return keys, types
}

// hookGlobals gives _G a __newindex that notes where each new global is
// created, unless the script has a metatable on _G already
// (dovecot.restrict_global_variables): then leaks are found without a line.
func (in *inspector) hookGlobals(l *lua.State, info *stateInfo) bool {
	l.PushGlobalTable()
	if l.MetaTable(-1) {
		l.Pop(2)
		return false
	}
	l.NewTable()
	l.SetField(lua.RegistryIndex, parkedKey)
	l.NewTable()
	l.PushGoFunction(func(l *lua.State) int {
		if l.TypeOf(2) == lua.TypeString {
			name, _ := l.ToValue(2).(string)
			where := whereOf(l)
			in.mu.Lock()
			if info.parked[name] {
				// Written before read: the parked value is dropped.
				l.Field(lua.RegistryIndex, parkedKey)
				l.PushNil()
				l.SetField(-2, name)
				l.Pop(1)
				delete(info.parked, name)
			}
			if _, ok := info.created[name]; !ok && l.TypeOf(3) != lua.TypeFunction {
				info.created[name] = where
			}
			in.mu.Unlock()
		}
		l.SetTop(3)
		l.RawSet(1)
		return 0
	})
	l.SetField(-2, "__newindex")
	// A function __index sees a parked global read before it is written.
	// (An __index is needed anyway: it works around go-lua's metamethod
	// cache, which after one failed __index lookup reports every
	// metamethod of the table absent: table.flags&1<<event parses as
	// (flags&1)<<event.)
	l.PushGoFunction(func(l *lua.State) int {
		name, ok := l.ToValue(2).(string)
		if !ok {
			return 0
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		if !info.parked[name] {
			return 0
		}
		if _, seen := info.readFirst[name]; !seen {
			info.readFirst[name] = readWhere(l, in.label)
		}
		unpark(l, info, 1, name)
		return 1
	})
	l.SetField(-2, "__index")
	l.SetMetaTable(-2)
	l.Pop(1)
	in.wrapGlobalReaders(l, info)
	return true
}

// wrapGlobalReaders makes rawget(_G, name) see a parked global and
// pairs(_G) and next(_G) see all of them, so that parking changes nothing
// a script can observe; each counts as a read of what it exposes.
func (in *inspector) wrapGlobalReaders(l *lua.State, info *stateInfo) {
	isG := func(l *lua.State, i int) bool {
		l.PushGlobalTable()
		same := l.RawEqual(i, -1)
		l.Pop(1)
		return same
	}
	wrap := func(name string, before func(l *lua.State)) {
		l.Global(name)
		if !l.IsFunction(-1) {
			l.Pop(1)
			return
		}
		l.PushGoClosure(func(l *lua.State) int {
			before(l)
			n := l.Top()
			l.PushValue(lua.UpValueIndex(1))
			l.Insert(1)
			l.Call(n, lua.MultipleReturns)
			return l.Top()
		}, 1)
		l.SetGlobal(name)
	}
	wrap("rawget", func(l *lua.State) {
		name, ok := l.ToValue(2).(string)
		if !ok || !isG(l, 1) {
			return
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		if info.parked[name] {
			if _, seen := info.readFirst[name]; !seen {
				info.readFirst[name] = readWhere(l, in.label)
			}
			unpark(l, info, 1, name)
			l.Pop(1)
		}
	})
	all := func(l *lua.State) {
		if l.Top() < 1 || !isG(l, 1) {
			return
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		where := ""
		for name := range info.parked {
			if _, seen := info.readFirst[name]; !seen {
				if where == "" {
					where = readWhere(l, in.label)
				}
				info.readFirst[name] = where
			}
			unpark(l, info, 1, name)
			l.Pop(1)
		}
	}
	wrap("next", all)
	wrap("pairs", all)
}

// readWhere is "file:line in <label>" of the Lua code that read a parked
// global.
func readWhere(l *lua.State, label string) string {
	if w := strings.TrimSuffix(whereOf(l), ": "); w != "" {
		return w + " in " + label
	}
	return "in " + label
}

// whereOf returns "file:line: " of the Lua code that called the running
// Go function, or "".
func whereOf(l *lua.State) (s string) {
	defer func() {
		if recover() != nil {
			s = ""
		}
	}()
	top := l.Top()
	lua.Where(l, 1)
	s, _ = l.ToString(-1)
	l.SetTop(top)
	return s
}

// guard wraps io.open, io.output, os.remove and os.rename so that writes
// outside the allowed directories are refused (io style: nil, message,
// errno) and recorded.
func (in *inspector) guard(script string, l *lua.State) {
	strArg := func(l *lua.State, i int) (string, bool) {
		if l.TypeOf(i) != lua.TypeString {
			return "", false
		}
		return l.ToString(i)
	}
	wrap := func(lib, fn string, check func(l *lua.State) (path string, write bool)) {
		l.Global(lib)
		if !l.IsTable(-1) {
			l.Pop(1)
			return
		}
		l.Field(-1, fn)
		if !l.IsFunction(-1) {
			l.Pop(2)
			return
		}
		op := lib + "." + fn
		l.PushGoClosure(func(l *lua.State) int {
			if path, write := check(l); write && !in.allowedPath(path) {
				in.mu.Lock()
				in.writes = append(in.writes, refusedWrite{Script: script, Op: op, Path: path, Where: whereOf(l), Label: in.label})
				in.mu.Unlock()
				l.PushNil()
				l.PushString(path + ": Permission denied (pushlua conformance refuses writes outside the temporary directory)")
				l.PushInteger(int(syscall.EACCES))
				return 3
			}
			n := l.Top()
			l.PushValue(lua.UpValueIndex(1))
			l.Insert(1)
			l.Call(n, lua.MultipleReturns)
			return l.Top()
		}, 1)
		l.SetField(-2, fn)
		l.Pop(1)
	}
	wrap("io", "open", func(l *lua.State) (string, bool) {
		path, ok := strArg(l, 1)
		mode := "r"
		if m, ok := strArg(l, 2); ok {
			mode = m
		}
		return path, ok && strings.ContainsAny(mode, "wa+")
	})
	wrap("io", "output", func(l *lua.State) (string, bool) { return strArg(l, 1) })
	wrap("os", "remove", func(l *lua.State) (string, bool) { return strArg(l, 1) })
	wrap("os", "rename", func(l *lua.State) (string, bool) {
		from, ok1 := strArg(l, 1)
		to, ok2 := strArg(l, 2)
		if ok1 && !in.allowedPath(from) {
			return from, true
		}
		return to, ok2
	})
}

func (in *inspector) allowedPath(p string) bool {
	abs, err := filepath.Abs(p)
	if err != nil {
		return false
	}
	for _, dir := range in.allowed {
		if abs == dir || strings.HasPrefix(abs, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (in *inspector) result() ([]leak, []refusedWrite) {
	in.mu.Lock()
	defer in.mu.Unlock()
	leaks := make([]leak, 0, len(in.leaks))
	for _, lk := range in.leaks {
		leaks = append(leaks, *lk)
	}
	for _, info := range in.states {
		for name, where := range info.readFirst {
			for i := range leaks {
				if lk := info.leaked[name]; lk != nil && in.leaks[i] == lk {
					leaks[i].ReadFirst = where
				}
			}
		}
	}
	return leaks, append([]refusedWrite(nil), in.writes...)
}

// firstStates returns the states built with the engine, by script.
func (in *inspector) firstStates() map[string]*lua.State {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := map[string]*lua.State{}
	for _, l := range in.order {
		s := in.states[l].script
		if _, ok := out[s]; !ok {
			out[s] = l
		}
	}
	return out
}

// allowedDirs are the places scripts may write to: the system's temporary
// directory (os.tmpname's) and the run's scratch directory.
func allowedDirs(extra ...string) []string {
	var out []string
	for _, d := range append([]string{os.TempDir()}, extra...) {
		if d == "" {
			continue
		}
		if abs, err := filepath.Abs(d); err == nil {
			out = append(out, abs)
			if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
				out = append(out, real)
			}
		}
	}
	return out
}

// engineRun is one engine with its mock endpoint, log and inspector.
type engineRun struct {
	eng   *runtime.Engine
	logs  *logCapture
	mock  *mock
	insp  *inspector
	store *store.Memory
}

type engineSetup struct {
	cfg     *dconfig.Config
	rules   []*mockRule
	now     *time.Time
	budget  runtime.Budget
	globals bool
	allowed []string
	store   storeSpec
}

// startEngine builds an engine for one case or one corpus pass. An error
// is one pushlua itself reports (an invalid setting); driver init failures
// are in eng.InitErrors() and the log.
func startEngine(ctx context.Context, s engineSetup) (*engineRun, error) {
	st := store.NewMemory()
	if err := applyStore(ctx, st, s.store); err != nil {
		return nil, err
	}
	m, err := newMock(s.rules)
	if err != nil {
		return nil, err
	}
	r := &engineRun{logs: &logCapture{}, mock: m, insp: newInspector(s.allowed, s.globals), store: st}
	opts := runtime.Options{
		Config: s.cfg, Store: st, Logger: r.logs.logger(), Jobs: 1, Budget: s.budget,
		HTTP: m.client(), Prepare: r.insp.prepare, Inspect: r.insp.inspect,
	}
	if s.now != nil {
		t := *s.now
		opts.Now = func() time.Time { return t }
	}
	eng, err := runtime.New(ctx, opts)
	if err != nil {
		m.close()
		return nil, err
	}
	r.eng = eng
	r.insp.loaded()
	return r, nil
}

// submit runs one transaction and waits for it.
func (r *engineRun) submit(ctx context.Context, t *txn.Txn, label string) (runtime.Result, error) {
	r.insp.setLabel(label)
	done := make(chan runtime.Result, 1)
	if err := r.eng.Submit(ctx, t, func(res runtime.Result) { done <- res }); err != nil {
		return runtime.Result{}, err
	}
	select {
	case res := <-done:
		return res, nil
	case <-ctx.Done():
		return runtime.Result{}, fmt.Errorf("transaction %s did not finish: %w", t.ID, ctx.Err())
	}
}

// close stops the engine (script_deinit runs) and the mock.
func (r *engineRun) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.eng.Close(ctx)
	r.mock.close()
}

// applyStore puts a store.json section into the store.
func applyStore(ctx context.Context, st store.Store, spec storeSpec) error {
	users := make([]string, 0, len(spec))
	for u := range spec {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, user := range users {
		u := spec[user]
		snap := &store.Snapshot{Status: u.Status, Metadata: u.Metadata}
		if !snap.Empty() {
			if err := st.Apply(ctx, user, snap); err != nil {
				return fmt.Errorf("store.json: user %s: %w", user, err)
			}
		}
		for key, raw := range u.MetadataRaw {
			v, err := unquoteRaw(raw)
			if err != nil {
				return fmt.Errorf("store.json: user %s: metadata_raw %s: %w", user, key, err)
			}
			k, err := store.ServerKey(key)
			if err != nil {
				return fmt.Errorf("store.json: user %s: metadata_raw %s: %w", user, key, err)
			}
			if err := st.SetAttribute(ctx, user, "INBOX", k, v); err != nil {
				return fmt.Errorf("store.json: user %s: %w", user, err)
			}
		}
		for box, attrs := range u.Attributes {
			for k, v := range attrs {
				if err := st.SetAttribute(ctx, user, box, k, v); err != nil {
					return fmt.Errorf("store.json: user %s: attributes %s %s: %w", user, box, k, err)
				}
			}
		}
	}
	return nil
}

// parseTxn parses one transactions.jsonl line; a transaction without an
// id gets id.
func parseTxn(line, id string) (*txn.Txn, error) {
	t, err := txn.Parse([]byte(line), nil)
	if err != nil {
		return nil, err
	}
	var probe map[string]any
	if decodeErr := json.Unmarshal([]byte(line), &probe); decodeErr == nil {
		if _, ok := probe["id"]; !ok {
			t.ID = id
		}
	}
	return t, nil
}
