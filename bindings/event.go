package bindings

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/luax"
)

// eventMethods is the registration table of the event objects (spec §5.4),
// in Dovecot's order (event_methods in dlua-dovecot.c). Passthrough objects
// get the same rows except passthrough_event.
var eventMethods = []lua.RegistryFunction{
	{Name: "append_log_prefix", Function: eventAppendLogPrefix},
	{Name: "replace_log_prefix", Function: eventReplaceLogPrefix},
	{Name: "set_always_log_source", Function: eventSetAlwaysLogSource},
	{Name: "set_name", Function: eventSetName},
	{Name: "add_str", Function: eventAddStr},
	{Name: "add_int", Function: eventAddInt},
	{Name: "add_timeval", Function: eventAddTimeval},
	{Name: "inc_int", Function: eventIncInt},
	{Name: "log_debug", Function: eventLogDebug},
	{Name: "log_info", Function: eventLogInfo},
	{Name: "log_warning", Function: eventLogWarning},
	{Name: "log_error", Function: eventLogError},
	{Name: "passthrough_event", Function: eventPassthroughEvent},
}

// eventObject and passthroughObject are the two kinds of wrapped events.
// Their methods are set when openEvent registers them (setting them here
// would be an initialisation cycle through eventPassthroughEvent).
var (
	eventObject       = &luax.Object{Name: "struct event"}
	passthroughObject = &luax.Object{Name: "struct event_passthrough"}
)

// passthroughMethods returns eventMethods without passthrough_event.
func passthroughMethods() []lua.RegistryFunction {
	var m []lua.RegistryFunction
	for _, r := range eventMethods {
		if r.Name != "passthrough_event" {
			m = append(m, r)
		}
	}
	return m
}

// openEvent registers the "struct event" and "struct event_passthrough"
// metatables. dovecot.event itself is in dovecotMethods.
func openEvent(l *lua.State, _ *Env) {
	pt := luax.Object{Name: passthroughObject.Name, Methods: passthroughMethods()}
	pt.Register(l)
	ev := luax.Object{Name: eventObject.Name, Methods: eventMethods}
	ev.Register(l)
}

// event is a script's event, modelled on Dovecot's struct event: a parent
// chain carrying log prefixes and fields. An event without a parent is a
// child of the script's own event, whose prefix is Env.LogPrefix ("lua: "
// for a push-notification driver).
type event struct {
	env    *Env
	parent *event

	name string
	// prefix is this event's own log prefix; replace makes it replace the
	// whole line prefix instead of being appended to the parent's
	// (Dovecot keeps one prefix per event: setting either overwrites it).
	prefix    string
	replace   bool
	fields    []eventField
	alwaysSrc bool

	// sourceFile and sourceLine locate the call that created the event.
	sourceFile string
	sourceLine int
}

// eventField is one field of an event, as added by add_str, add_int,
// add_timeval or inc_int.
type eventField struct {
	key   string
	value slog.Value
}

// newEventChild returns a child of parent (nil for the script's event)
// created at file:line, inheriting always_log_source like Dovecot's
// event_copy_parent_defaults.
func newEventChild(env *Env, parent *event, file string, line int) *event {
	e := &event{env: env, parent: parent, sourceFile: file, sourceLine: line}
	if parent != nil {
		e.env = parent.env
		e.alwaysSrc = parent.alwaysSrc
	}
	return e
}

// setField adds or replaces a field of this event.
func (e *event) setField(key string, v slog.Value) {
	for i := range e.fields {
		if e.fields[i].key == key {
			e.fields[i].value = v
			return
		}
	}
	e.fields = append(e.fields, eventField{key, v})
}

// incField is Dovecot's event_inc_int: it adds n to this event's own
// integer field, or sets the field to n when there is none.
func (e *event) incField(key string, n int64) {
	for i := range e.fields {
		if e.fields[i].key == key && e.fields[i].value.Kind() == slog.KindInt64 {
			e.fields[i].value = slog.Int64Value(e.fields[i].value.Int64() + n)
			return
		}
	}
	e.setField(key, slog.Int64Value(n))
}

// logPrefix returns the prefix chain that goes in front of the message and,
// when an event in the chain replaced the log prefix, the replacement for
// the whole line prefix.
func (e *event) logPrefix() (inMessage string, replaced string, isReplaced bool) {
	var parts []string
	for ev := e; ev != nil; ev = ev.parent {
		if ev.replace {
			replaced, isReplaced = ev.prefix, true
			break
		}
		if ev.prefix != "" {
			parts = append(parts, ev.prefix)
		}
	}
	if !isReplaced {
		parts = append(parts, e.env.LogPrefix)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	return b.String(), replaced, isReplaced
}

// allFields returns the fields of the event and its parents, a child's
// value overriding its parent's.
func (e *event) allFields() []slog.Attr {
	var chain []*event
	for ev := e; ev != nil; ev = ev.parent {
		chain = append(chain, ev)
	}
	var attrs []slog.Attr
	index := map[string]int{}
	for i := len(chain) - 1; i >= 0; i-- {
		for _, f := range chain[i].fields {
			if j, ok := index[f.key]; ok {
				attrs[j].Value = f.value
				continue
			}
			index[f.key] = len(attrs)
			attrs = append(attrs, slog.Attr{Key: f.key, Value: f.value})
		}
	}
	return attrs
}

// log writes msg at level on behalf of the Lua code that called the method:
// `<prefix chain><msg>`. Debug is written only when the host's Debug is set. The
// event's name, fields and, with always_log_source, the caller's file:line
// go in an "event" attribute group, so that they can never clash with the
// attributes that shape the line (logx.KeyUser and the others). The source
// never goes into the text: Dovecot 2.3 only exports always_log_source to
// event consumers (lib-event.c), its log lines do not change.
func (e *event) log(l *lua.State, level slog.Level, msg string) {
	env := e.env
	if level < slog.LevelInfo && !env.debug() {
		return
	}
	inMessage, replaced, isReplaced := e.logPrefix()
	var group []any
	if e.name != "" {
		group = append(group, slog.String("name", e.name))
	}
	if fields := e.allFields(); len(fields) > 0 {
		group = append(group, slog.Attr{Key: "fields", Value: slog.GroupValue(fields...)})
	}
	if e.alwaysSrc {
		file, line := luaCaller(l)
		group = append(group, slog.String("source", file+":"+strconv.Itoa(line)))
	}
	var attrs []slog.Attr
	if isReplaced {
		attrs = append(attrs, slog.String(logx.KeyPrefix, replaced))
	}
	if len(group) > 0 {
		attrs = append(attrs, slog.Group("event", group...))
	}
	env.logger().LogAttrs(env.ctx(), level, inMessage+msg, attrs...)
}

// luaCaller returns the file (basename of the chunk source, or
// "<non-file location>" for a chunk that is not a file) and the current
// line of the function that called the running Go function, like Dovecot's
// dlua_get_file_line.
func luaCaller(l *lua.State) (string, int) {
	f, ok := lua.Stack(l, 1)
	if !ok {
		return "<non-file location>", 0
	}
	d, _ := lua.Info(l, "Sl", f)
	file := "<non-file location>"
	if src, ok := strings.CutPrefix(d.Source, "@"); ok {
		file = src[strings.LastIndexByte(src, '/')+1:]
	}
	return file, max(d.CurrentLine, 0)
}

// checkEvent returns the event of the event or passthrough object at
// index, raising Dovecot's `Bad argument #<n>, expected struct event got
// <type>` (Dovecot says "struct event" for passthrough objects too).
func checkEvent(l *lua.State, index int) *event {
	item, ok := eventObject.Test(l, index)
	if !ok {
		item, ok = passthroughObject.Test(l, index)
	}
	if e, isEvent := item.(*event); ok && isEvent {
		return e
	}
	luax.Raise(l, "Bad argument #%d, expected %s got %s", index, eventObject.Name, lua.TypeNameOf(l, index))
	return nil
}

// newEvent is dovecot.event([parent]): a child of the script's event, or of
// parent.
func newEvent(l *lua.State) int {
	luax.RequireArgsIn(l, 0, 1)
	var parent *event
	if l.Top() == 1 {
		parent = checkEvent(l, 1)
	}
	file, line := luaCaller(l)
	eventObject.Push(l, newEventChild(dovecotEnv(l), parent, file, line))
	return 1
}

// eventSelf checks the argument count and self of an event method.
func eventSelf(l *lua.State, nargs int) *event {
	luax.RequireArgs(l, nargs)
	return checkEvent(l, 1)
}

// eventReturnSelf returns self, so calls chain.
func eventReturnSelf(l *lua.State) int {
	l.PushValue(1)
	return 1
}

func eventAppendLogPrefix(l *lua.State) int {
	e := eventSelf(l, 2)
	e.prefix, e.replace = luaCheckString(l, 2, "append_log_prefix", true), false
	return eventReturnSelf(l)
}

func eventReplaceLogPrefix(l *lua.State) int {
	e := eventSelf(l, 2)
	e.prefix, e.replace = luaCheckString(l, 2, "replace_log_prefix", true), true
	return eventReturnSelf(l)
}

func eventSetAlwaysLogSource(l *lua.State) int {
	e := eventSelf(l, 1)
	e.alwaysSrc = true
	return eventReturnSelf(l)
}

func eventSetName(l *lua.State) int {
	e := eventSelf(l, 2)
	e.name = luaCheckString(l, 2, "set_name", true)
	return eventReturnSelf(l)
}

func eventAddStr(l *lua.State) int {
	e := eventSelf(l, 3)
	key := luaCheckString(l, 2, "add_str", true)
	e.setField(key, slog.StringValue(luaCheckString(l, 3, "add_str", true)))
	return eventReturnSelf(l)
}

func eventAddInt(l *lua.State) int {
	e := eventSelf(l, 3)
	key := luaCheckString(l, 2, "add_int", true)
	e.setField(key, slog.Int64Value(luaCheckInteger(l, 3, "add_int", true)))
	return eventReturnSelf(l)
}

// eventAddTimeval takes whole seconds since the epoch.
func eventAddTimeval(l *lua.State) int {
	e := eventSelf(l, 3)
	key := luaCheckString(l, 2, "add_timeval", true)
	e.setField(key, slog.TimeValue(time.Unix(luaCheckInteger(l, 3, "add_timeval", true), 0).UTC()))
	return eventReturnSelf(l)
}

func eventIncInt(l *lua.State) int {
	e := eventSelf(l, 3)
	key := luaCheckString(l, 2, "inc_int", true)
	e.incField(key, luaCheckInteger(l, 3, "inc_int", true))
	return eventReturnSelf(l)
}

// eventLog is log_debug, log_info, log_warning and log_error.
func eventLog(l *lua.State, fname string, level slog.Level) int {
	e := eventSelf(l, 2)
	e.log(l, level, luaCheckString(l, 2, fname, true))
	return eventReturnSelf(l)
}

func eventLogDebug(l *lua.State) int   { return eventLog(l, "log_debug", slog.LevelDebug) }
func eventLogInfo(l *lua.State) int    { return eventLog(l, "log_info", slog.LevelInfo) }
func eventLogWarning(l *lua.State) int { return eventLog(l, "log_warning", slog.LevelWarn) }
func eventLogError(l *lua.State) int   { return eventLog(l, "log_error", slog.LevelError) }

// eventPassthroughEvent returns a passthrough object: a child event that
// the script extends and then logs once. Dovecot panics when a passthrough
// is left unfinished; pushlua does not track them.
func eventPassthroughEvent(l *lua.State) int {
	e := eventSelf(l, 1)
	file, line := luaCaller(l)
	passthroughObject.Push(l, newEventChild(e.env, e, file, line))
	return 1
}
