package luaapi

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/httpx"
	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/txn"
	"github.com/pushlua/pushlua/runtime"
)

// Kind says what a registered name is.
type Kind string

const (
	// Function is a function reached through a global or a module:
	// dovecot.i_info, cjson.encode, string.gsub.
	Function Kind = "function"
	// Method is a function of an object: mail_user:plugin_getenv.
	Method Kind = "method"
	// Field is a value that is not a function: mail_user.username,
	// dovecot.storage.STATUS_MESSAGES, MessageNew.uid.
	Field Kind = "field"
	// Module is a name require accepts: cjson, socket.http.
	Module Kind = "module"
	// Handler is a global function a script defines and pushlua calls:
	// dovecot_lua_notify_begin_txn, script_init.
	Handler Kind = "handler"
)

// Name is one name pushlua gives scripts, as a live state has it.
type Name struct {
	// Name is the dotted path (a.b.c), with ':' before a method:
	// "dovecot.http.client", "http_request:submit", "MessageNew.uid".
	Name string
	Kind Kind
	// Type is the Lua type of a field's value ("string", "table", ...).
	Type string
	// Standard marks the names of Lua 5.2's standard library (the
	// manual's §6) that pushlua implements or replaced (string.gsub,
	// io.open): editors know them already.
	Standard bool
}

// Key identifies a name: its Name, "module " + Name for a module (json.decode
// is a module and a function of the module json).
func (n Name) Key() string {
	if n.Kind == Module {
		return "module " + n.Name
	}
	return n.Name
}

// Objects maps the registry name of the metatables pushlua registers to
// the names the reference and the stubs give their objects. A metatable
// that is not here is reported by Probe as "registry:<name>", so that a new
// object type cannot go undocumented.
var Objects = map[string]string{
	"struct mail_user":         "mail_user",
	"struct mailbox":           "mailbox",
	"struct event":             "event",
	"struct event_passthrough": "event_passthrough",
	// The metatables behind the dovecot global and dovecot.storage: their
	// functions are listed through those tables.
	"dovecot": "",
	"storage": "",
	// stdlib's table of error values raised with error(table).
	"pushlua.errorvalues": "",
}

// handlers are the global functions a script defines (Dovecot's Lua
// push-notification driver, spec §4, and the mail_lua fallback).
func handlers() []string {
	h := []string{"script_init", "script_deinit", "dovecot_lua_notify_begin_txn", "dovecot_lua_notify_end_txn",
		"mail_user_created", "mail_user_deinit_pre", "mail_user_deinit"}
	for _, e := range txn.Events {
		h = append(h, e.Handler)
	}
	return h
}

// probeScript is the script Probe runs: it hands every kind of object and
// event table it can get to the probe module.
var probeScript = func() string {
	var b strings.Builder
	b.WriteString(`local probe = require "pushlua_probe"
function dovecot_lua_notify_begin_txn(user)
  probe.object("mail_user", user)
  local box = user:mailbox("INBOX")
  probe.object("mailbox", box)
  local s = dovecot.storage
  probe.object("mailbox_status", box:status(s.STATUS_MESSAGES, s.STATUS_KEYWORDS))
  probe.object("driver_info", require("pushlua").driver)
  local ev = dovecot.event()
  probe.object("event", ev)
  local pt = ev:passthrough_event()
  probe.object("event_passthrough", pt)
  pt:log_debug("probe")
  local client = dovecot.http.client({})
  probe.object("http_client", client)
  local req = client:request({url = "http://probe.invalid/", method = "GET"})
  probe.object("http_request", req)
  probe.object("http_response", req:submit())
  local f = io.tmpfile()
  probe.object("file", f)
  f:close()
  return {}
end
function dovecot_lua_notify_end_txn(ctx, success) end
`)
	for _, e := range txn.Events {
		fmt.Fprintf(&b, "function %s(ctx, event) probe.object(%q, event) end\n", e.Handler, e.Name)
	}
	return b.String()
}()

// probeTxn carries one event of each kind with every field set.
const probeTxn = `{"id": "probe", "user": {"username": "probe@example.com", "service": "lmtp", "session_id": "s", "home": "/nonexistent", "uid": 1, "gid": 1, "session_create_time": 1},
 "events": [
  {"name": "MessageNew", "mailbox": "INBOX", "uid": 1, "uid_validity": 1, "date": 1, "tz": 60, "from": "a <a@example.com>", "to": "b@example.com", "subject": "s", "snippet": "x", "message_id": "<m@example.com>", "from_address": "a@example.com", "from_display_name": "a", "to_address": "b@example.com", "to_display_name": "", "flags": ["\\Seen"], "keywords": ["$K"]},
  {"name": "MessageAppend", "mailbox": "INBOX", "uid": 2, "uid_validity": 1, "date": 1, "tz": 60, "from": "a <a@example.com>", "to": "b@example.com", "subject": "s", "snippet": "x", "message_id": "<m@example.com>", "from_address": "a@example.com", "from_display_name": "a", "to_address": "b@example.com", "to_display_name": "", "flags": ["\\Seen"], "keywords": ["$K"]},
  {"name": "MessageRead", "mailbox": "INBOX", "uid": 3, "uid_validity": 1},
  {"name": "MessageTrash", "mailbox": "INBOX", "uid": 4, "uid_validity": 1},
  {"name": "MessageExpunge", "mailbox": "INBOX", "uid": 5, "uid_validity": 1},
  {"name": "FlagsSet", "mailbox": "INBOX", "uid": 6, "uid_validity": 1, "flags": ["\\Flagged"], "keywords": ["$K"]},
  {"name": "FlagsClear", "mailbox": "INBOX", "uid": 7, "uid_validity": 1, "flags": ["\\Flagged"], "flags_old": ["\\Flagged"], "keywords": ["$K"], "keywords_old": ["$K"]},
  {"name": "MailboxCreate", "mailbox": "A"},
  {"name": "MailboxRename", "mailbox": "B", "mailbox_old": "A"},
  {"name": "MailboxSubscribe", "mailbox": "B"},
  {"name": "MailboxUnsubscribe", "mailbox": "B"},
  {"name": "MailboxDelete", "mailbox": "B"}]}`

// prober collects names; the Lua side reaches it through the
// pushlua_probe module and the Prepare hook.
type prober struct {
	mu    sync.Mutex
	names map[string]Name
	// prepared is set once the globals of a state were walked.
	prepared bool
	// base is go-lua's own library (Lua 5.2's), to tell pushlua's names
	// from the standard ones.
	base *lua.State
}

func (p *prober) add(n Name) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n.Standard = lua52[n.Name]
	if _, ok := p.names[n.Key()]; !ok {
		p.names[n.Key()] = n
	}
}

// Probe builds a real pushlua state (the runtime's own, with the standard
// library, pushlua's stdlib, the bindings and the sandbox), runs one
// transaction with every event through a script that hands each object
// and event table it gets to a probe, and returns every name pushlua
// gives scripts: its globals and what hangs off them, the functions it put
// into the standard tables, the metatables it registered, every module
// require finds in package.preload (and what each returns), the fields of
// the objects and event tables, and the handler names. Sorted by name.
func Probe(ctx context.Context) ([]Name, error) {
	p := &prober{names: map[string]Name{}, base: lua.NewState()}
	lua.OpenLibraries(p.base)
	dir, err := os.MkdirTemp("", "pushlua-probe")
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "probe.lua")
	if err := os.WriteFile(script, []byte(probeScript), 0o600); err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	cfg, err := dconfig.ParseReader("probe.conf", strings.NewReader("plugin {\n  push_notification_driver = lua:file=probe.lua\n}\n"), dir)
	if err != nil {
		return nil, fmt.Errorf("probe configuration: %w", err)
	}
	var probeErr error
	eng, err := runtime.New(ctx, runtime.Options{
		Config: cfg,
		Store:  store.NewMemory(),
		Jobs:   1,
		HTTP:   httpx.New(httpx.Options{Dial: answer200}),
		Preload: []lua.RegistryFunction{{Name: "pushlua_probe", Function: func(l *lua.State) int {
			lua.NewLibrary(l, []lua.RegistryFunction{{Name: "object", Function: func(l *lua.State) int {
				name := lua.CheckString(l, 1)
				p.object(l, name, 2)
				return 0
			}}})
			return 1
		}}},
		Prepare: func(_ string, l *lua.State) {
			p.mu.Lock()
			done := p.prepared
			p.prepared = true
			p.mu.Unlock()
			if !done {
				if err := p.state(l); err != nil {
					probeErr = err
				}
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("probe engine: %w", err)
	}
	if errs := eng.InitErrors(); len(errs) > 0 {
		_ = eng.Close(ctx)
		return nil, fmt.Errorf("probe script: %w", errs[0])
	}
	t, err := txn.Parse([]byte(strings.ReplaceAll(probeTxn, "\n", "")), txn.NewIDs())
	if err != nil {
		_ = eng.Close(ctx)
		return nil, fmt.Errorf("probe transaction: %w", err)
	}
	resc := make(chan runtime.Result, 1)
	if err := eng.Submit(ctx, t, func(r runtime.Result) { resc <- r }); err != nil {
		_ = eng.Close(ctx)
		return nil, fmt.Errorf("probe transaction: %w", err)
	}
	res := <-resc
	if err := eng.Close(ctx); err != nil {
		return nil, fmt.Errorf("probe engine: %w", err)
	}
	if probeErr != nil {
		return nil, probeErr
	}
	if res.Errors > 0 {
		return nil, fmt.Errorf("probe transaction: %d handler errors", res.Errors)
	}
	for _, h := range handlers() {
		p.add(Name{Name: h, Kind: Handler})
	}
	out := make([]Name, 0, len(p.names))
	for _, n := range p.names {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, nil
}

// answer200 is the probe's network: every connection is a pipe to a
// server that answers each request with 200 and an empty body.
func answer200(ctx context.Context, network, addr string) (net.Conn, error) {
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		br := bufio.NewReader(server)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_ = req.Body.Close()
			if _, err := server.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")); err != nil {
				return
			}
		}
	}()
	return client, nil
}

// state walks the globals, the standard tables, the registry and
// package.preload of a fresh state (the Prepare hook: libraries and
// bindings open, the script's chunk not yet run).
func (p *prober) state(l *lua.State) error {
	// Globals.
	l.PushGlobalTable()
	globals := tableKeys(l, -1)
	l.Pop(1)
	for _, g := range globals {
		if g == "_G" || g == "_VERSION" {
			continue
		}
		l.Global(g)
		std := hasGlobal(p.base, g)
		switch {
		case std && l.IsTable(-1):
			// A standard table: what pushlua added or replaced.
			p.base.Global(g)
			p.walkChanged(l, g, -1, p.base)
			p.base.Pop(1)
		case std:
			p.base.Global(g)
			if !sameFunction(l, -1, p.base, -1) {
				p.add(Name{Name: g, Kind: kindOf(l, -1, false), Type: lua.TypeNameOf(l, -1)})
			}
			p.base.Pop(1)
		default:
			p.walk(l, g, -1, 3)
		}
		l.Pop(1)
	}
	// Metatables pushlua registered.
	for _, key := range keysOf(l, lua.RegistryIndex, "") {
		l.Field(lua.RegistryIndex, key)
		isTable := l.IsTable(-1)
		l.Pop(1)
		if !isTable || key == "_LOADED" || key == "_PRELOAD" || key == "_G" {
			continue
		}
		p.base.Field(lua.RegistryIndex, key)
		inBase := p.base.IsTable(-1)
		p.base.Pop(1)
		if inBase {
			continue // FILE*: its methods are probed on a file object
		}
		obj, known := Objects[key]
		switch {
		case !known:
			p.add(Name{Name: "registry:" + key, Kind: Field, Type: "table"})
		case obj != "":
			l.Field(lua.RegistryIndex, key)
			p.walkObject(l, obj, -1)
			l.Pop(1)
		}
	}
	// Modules.
	for _, mod := range keysOf(l, lua.RegistryIndex, "_PRELOAD") {
		if mod == "pushlua_probe" {
			continue
		}
		p.add(Name{Name: mod, Kind: Module})
		l.Global("require")
		l.PushString(mod)
		if err := l.ProtectedCall(1, 1, 0); err != nil {
			msg, _ := l.ToString(-1)
			l.Pop(1)
			return fmt.Errorf("require %q: %s", mod, msg)
		}
		if l.IsTable(-1) {
			p.mu.Lock()
			_, global := p.names[mod]
			p.mu.Unlock()
			p.walk(l, mod, -1, 3)
			if !global {
				// The module's table is the module (its Module name),
				// not a global.
				p.mu.Lock()
				delete(p.names, mod)
				p.mu.Unlock()
			}
		}
		l.Pop(1)
	}
	return nil
}

// object records the methods and fields of an object or event table the
// probe script got: what the table has and what its metatable's __index
// table has.
func (p *prober) object(l *lua.State, name string, index int) {
	index = l.AbsIndex(index)
	if !l.IsTable(index) && !l.IsUserData(index) {
		return
	}
	if l.IsTable(index) {
		p.walkFields(l, name, index)
	}
	if l.MetaTable(index) {
		p.walkObject(l, name, -1)
		l.Pop(1)
	}
}

// walkObject records the non-metamethod functions of an object's
// metatable (and of its __index table) as methods of name.
func (p *prober) walkObject(l *lua.State, name string, index int) {
	index = l.AbsIndex(index)
	p.walkFields(l, name, index)
	l.Field(index, "__index")
	if l.IsTable(-1) && !l.RawEqual(-1, index) {
		p.walkFields(l, name, -1)
	}
	l.Pop(1)
}

// walkFields records the fields of the table at index as name:method
// (functions) or name.field (other values), skipping metamethods and the
// hidden item of Dovecot's objects.
func (p *prober) walkFields(l *lua.State, name string, index int) {
	index = l.AbsIndex(index)
	for _, k := range tableKeys(l, index) {
		if strings.HasPrefix(k, "__") || k == "item" {
			continue
		}
		l.Field(index, k)
		if l.IsFunction(-1) {
			p.add(Name{Name: name + ":" + k, Kind: Method})
		} else {
			p.add(Name{Name: name + "." + k, Kind: Field, Type: lua.TypeNameOf(l, -1)})
		}
		l.Pop(1)
	}
}

// walk records the table at index as prefix and what it holds, depth
// levels down; a table's metatable __index table counts as its own (the
// dovecot global keeps its functions there).
func (p *prober) walk(l *lua.State, prefix string, index, depth int) {
	index = l.AbsIndex(index)
	if !l.IsTable(index) {
		p.add(Name{Name: prefix, Kind: kindOf(l, index, false), Type: lua.TypeNameOf(l, index)})
		return
	}
	kind := Field
	if callable(l, index) {
		kind = Function
	}
	p.add(Name{Name: prefix, Kind: kind, Type: "table"})
	if depth == 0 {
		return
	}
	seen := map[string]bool{}
	visit := func(t int) {
		for _, k := range tableKeys(l, t) {
			if seen[k] || strings.HasPrefix(k, "__") {
				continue
			}
			seen[k] = true
			l.Field(t, k)
			if l.IsTable(-1) && !l.RawEqual(-1, index) {
				if holdsAPI(l, -1) {
					p.walk(l, prefix+"."+k, -1, depth-1)
				} else {
					// A table of data (option tables, header names):
					// one field.
					p.add(Name{Name: prefix + "." + k, Kind: Field, Type: "table"})
				}
			} else if !l.IsTable(-1) {
				p.add(Name{Name: prefix + "." + k, Kind: kindOf(l, -1, false), Type: lua.TypeNameOf(l, -1)})
			}
			l.Pop(1)
		}
	}
	visit(index)
	if l.MetaTable(index) {
		l.Field(-1, "__index")
		if l.IsTable(-1) {
			visit(l.AbsIndex(-1))
		}
		l.Pop(2)
	}
}

// walkChanged records what the standard table at index in l has that the
// same table in base (top of its stack) lacks or holds another function
// for.
func (p *prober) walkChanged(l *lua.State, prefix string, index int, base *lua.State) {
	index = l.AbsIndex(index)
	baseIndex := base.AbsIndex(-1)
	for _, k := range tableKeys(l, index) {
		l.Field(index, k)
		base.Field(baseIndex, k)
		inBase := !base.IsNil(-1)
		switch {
		case !inBase:
			p.add(Name{Name: prefix + "." + k, Kind: kindOf(l, -1, false), Type: lua.TypeNameOf(l, -1)})
		case l.IsFunction(-1) && !sameFunction(l, -1, base, -1):
			p.add(Name{Name: prefix + "." + k, Kind: Function})
		}
		base.Pop(1)
		l.Pop(1)
	}
}

// holdsAPI reports whether the table at index, or its metatable's
// __index table, has a function or an upper-case constant among its
// fields: a table of data (option tables, header names) does not.
func holdsAPI(l *lua.State, index int) bool {
	index = l.AbsIndex(index)
	for _, k := range tableKeys(l, index) {
		l.Field(index, k)
		f := l.IsFunction(-1) || l.IsNumber(-1) && k == strings.ToUpper(k) && !strings.HasPrefix(k, "_")
		l.Pop(1)
		if f {
			return true
		}
	}
	if l.MetaTable(index) {
		defer l.Pop(1)
		l.Field(-1, "__index")
		defer l.Pop(1)
		if l.IsTable(-1) && !l.RawEqual(-1, index) {
			return holdsAPI(l, -1)
		}
	}
	return false
}

// callable reports whether the table at index has a __call metamethod
// (luajson's json.decode and json.encode).
func callable(l *lua.State, index int) bool {
	if !l.MetaTable(index) {
		return false
	}
	l.Field(-1, "__call")
	ok := l.IsFunction(-1)
	l.Pop(2)
	return ok
}

func kindOf(l *lua.State, index int, method bool) Kind {
	if l.IsFunction(index) {
		if method {
			return Method
		}
		return Function
	}
	return Field
}

// sameFunction reports whether two functions are the same Go code.
func sameFunction(a *lua.State, ai int, b *lua.State, bi int) bool {
	fa, fb := a.ToGoFunction(ai), b.ToGoFunction(bi)
	if fa == nil || fb == nil {
		return false
	}
	return reflect.ValueOf(fa).Pointer() == reflect.ValueOf(fb).Pointer()
}

func hasGlobal(l *lua.State, name string) bool {
	l.Global(name)
	ok := !l.IsNil(-1)
	l.Pop(1)
	return ok
}

// keysOf returns the string keys of the registry table field (the
// registry itself for "").
func keysOf(l *lua.State, index int, field string) []string {
	if field == "" {
		return tableKeys(l, index)
	}
	l.Field(index, field)
	defer l.Pop(1)
	if !l.IsTable(-1) {
		return nil
	}
	return tableKeys(l, -1)
}

// tableKeys returns the string keys of the table at index, sorted.
func tableKeys(l *lua.State, index int) []string {
	index = l.AbsIndex(index)
	var keys []string
	l.PushNil()
	for l.Next(index) {
		if l.TypeOf(-2) == lua.TypeString {
			k, _ := l.ToString(-2)
			keys = append(keys, k)
		}
		l.Pop(1)
	}
	sort.Strings(keys)
	return keys
}

// lua52 is Lua 5.2's standard library (the manual's §6) as far as pushlua
// implements or replaces it: the names editors already know.
var lua52 = func() map[string]bool {
	m := map[string]bool{}
	for lib, names := range map[string]string{
		"":       "assert collectgarbage dofile error getmetatable ipairs load loadfile next pairs pcall print rawequal rawget rawlen rawset require select setmetatable tonumber tostring type xpcall",
		"string": "byte char dump find format gmatch gsub len lower match rep reverse sub upper",
		"table":  "concat insert pack remove sort unpack",
		"math":   "abs acos asin atan atan2 ceil cos cosh deg exp floor fmod frexp huge ldexp log max min modf pi pow rad random randomseed sin sinh sqrt tan tanh",
		"io":     "close flush input lines open output popen read stderr stdin stdout tmpfile type write",
		"file":   "close flush lines read seek setvbuf write",
		"os":     "clock date difftime execute exit getenv remove rename setlocale time tmpname",
		"debug":  "debug gethook getinfo getlocal getmetatable getregistry getupvalue getuservalue sethook setlocal setmetatable setupvalue setuservalue traceback upvalueid upvaluejoin",
	} {
		for _, n := range strings.Fields(names) {
			switch lib {
			case "":
				m[n] = true
			case "file":
				m["file:"+n] = true
			default:
				m[lib+"."+n] = true
			}
		}
	}
	return m
}()
