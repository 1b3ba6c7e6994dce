package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/bindings"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/internal/txn"
)

// Names of the Lua driver's functions (push-notification-driver-lua.c).
const (
	fnBeginTxn = "dovecot_lua_notify_begin_txn"
	fnEndTxn   = "dovecot_lua_notify_end_txn"
	// ctxKey is the registry field that holds begin_txn's result for the
	// transaction in progress (Dovecot keeps a registry reference).
	ctxKey = "pushlua.txn_ctx"
)

// luaDriver is one configured `lua` driver: its script and how to build a
// state for it.
type luaDriver struct {
	name    string // as typed in the configuration
	spec    *scriptSpec
	mailLua bool // the mail_lua_script fallback (spec §4.1 step 3)
	first   *State
}

func (d *luaDriver) Name() string { return d.name }

func (d *luaDriver) Scripts() []string {
	if d.spec.Bundled {
		return []string{"bundled " + d.spec.Path}
	}
	return []string{d.spec.Path}
}

// build makes a ready state: chunk, script_init, and for the mail_lua
// fallback the mail_user_created check.
func (d *luaDriver) build(ctx context.Context, logger *slog.Logger) (*State, error) {
	st, err := newState(ctx, d.spec, logger)
	if err != nil {
		return nil, err
	}
	if err := st.initScript(ctx); err != nil {
		return nil, err
	}
	if d.mailLua && !hasFunction(st.L, "mail_user_created") {
		return nil, errNoScript
	}
	return st, nil
}

var errNoScript = errors.New("No file in config and no push_notification_lua_script_file set") //nolint:staticcheck // Dovecot's text

func (d *luaDriver) Instance() driverInstance {
	in := &luaInstance{d: d}
	if d.first != nil {
		in.st, d.first = d.first, nil
	}
	return in
}

// luaInstance is the driver inside one worker: it owns one state.
type luaInstance struct {
	d          *luaDriver
	st         *State
	registered uint16 // bit i: txn.Events[i] has a handler in this transaction
}

// hasFunction reports whether the global name is a function, with a raw
// get as dlua_script_has_function does (a strict _G is not consulted).
func hasFunction(l *lua.State, name string) bool {
	l.PushGlobalTable()
	l.PushString(name)
	l.RawGet(-2)
	ok := l.IsFunction(-1)
	l.Pop(2)
	return ok
}

// pushGlobal pushes the global name (lua_getglobal, raw so that a strict
// _G cannot raise outside a protected call).
func pushGlobal(l *lua.State, name string) {
	l.PushGlobalTable()
	l.PushString(name)
	l.RawGet(-2)
	l.Remove(-2)
}

// The driver's function names, interned (handlerNames): hBeginTxn,
// hEndTxn, then hEvent + EventInfo.Index for the event handlers. Looking
// them up runs for every transaction (spec §4.3: a handler defined at
// run time is noticed), so they are not boxed again each time.
const (
	hBeginTxn = iota + 1
	hEndTxn
	hEvent
)

var handlerNames = func() *luax.Interned {
	in := &luax.Interned{Strs: []string{fnBeginTxn, fnEndTxn}}
	for _, ev := range txn.Events {
		in.Strs = append(in.Strs, ev.Handler)
	}
	return in
}()

// pushHandler pushes the global named handlerNames.Strs[k-1], raw (see
// pushGlobal).
func pushHandler(l *lua.State, k int) {
	l.PushGlobalTable()
	handlerNames.Push(l)
	l.RawGetInt(-1, k)
	l.Remove(-2)
	l.RawGet(-2)
	l.Remove(-2)
}

// hasHandler reports whether the global named handlerNames.Strs[k-1] is a
// function (see hasFunction).
func hasHandler(l *lua.State, k int) bool {
	pushHandler(l, k)
	ok := l.IsFunction(-1)
	l.Pop(1)
	return ok
}

// eventHandlers returns the events whose handler is a function now, as
// bits by EventInfo.Index.
func eventHandlers(l *lua.State) uint16 {
	l.PushGlobalTable()
	handlerNames.Push(l)
	var found uint16
	for i := range txn.Events {
		l.RawGetInt(-1, hEvent+i)
		l.RawGet(-3)
		if l.IsFunction(-1) {
			found |= 1 << i
		}
		l.Pop(1)
	}
	l.Pop(2)
	return found
}

// pushCtx pushes the transaction's ctx (begin_txn's result) from the
// registry, raw: the registry's metatable, should a script set one through
// debug.getregistry, is not consulted.
func pushCtx(l *lua.State) {
	l.PushString(ctxKey)
	l.RawGet(lua.RegistryIndex)
}

// setCtx pops the value on top of the stack into the registry's ctx
// field, raw.
func setCtx(l *lua.State) {
	l.PushString(ctxKey)
	l.Insert(-2)
	l.RawSet(lua.RegistryIndex)
}

func (in *luaInstance) prefix() string { return in.d.spec.LogPrefix }

// state returns the instance's state, building it when there is none.
func (in *luaInstance) state(r *txnRun) *State {
	if in.st == nil {
		st, err := in.d.build(r.ctx, r.log)
		if err != nil {
			r.log.Error(in.d.name + ": " + err.Error())
			r.res.Errors++
			return nil
		}
		in.st = st
	}
	in.st.bind(r.ctx, r.log)
	return in.st
}

// check discards the state after a call that broke it (budget, internal
// error); the next transaction builds a fresh one.
func (in *luaInstance) check(r *txnRun) bool {
	if in.st != nil && in.st.broken {
		r.log.Warn(in.prefix() + "the script's state was discarded; the rest of this transaction skips the driver and the next one gets a fresh state")
		in.st = nil
	}
	return in.st != nil
}

func (in *luaInstance) debug(r *txnRun, msg string) {
	if in.debugOn(r) {
		r.log.Debug(in.prefix() + msg)
	}
}

// debugOn reports whether the driver's debug lines are logged: a caller
// that builds one checks it first, so that a transaction without
// mail_debug does not build them.
func (in *luaInstance) debugOn(r *txnRun) bool { return r.debug && !in.d.spec.Bundled }

// call calls into the instance's state (push pushes the function and its
// arguments, in protected mode) and tells the observer.
func (in *luaInstance) call(r *txnRun, fn string, push func(l *lua.State), nresults int) error {
	if _, nop := r.obs.(nopObserver); nop {
		return in.st.invoke(r.ctx, push, nresults) // nobody takes the time
	}
	start := time.Now()
	err := in.st.invoke(r.ctx, push, nresults)
	r.obs.HandlerCalled(in.d.spec.Path, fn, time.Since(start), err != nil)
	return err
}

func (in *luaInstance) fail(r *txnRun, call string, err error) {
	r.res.Errors++
	if in.st != nil && in.st.broken {
		// The budget ended the call or it crashed: the state is thrown
		// away, and the run counts toward giving up (poison).
		r.res.Poison = err.Error()
	}
	r.log.Error(in.prefix() + "lua_pcall(" + call + ") failed: " + err.Error())
}

// Begin runs the checks of spec §4.3 and calls begin_txn.
func (in *luaInstance) Begin(r *txnRun) bool {
	st := in.state(r)
	if st == nil {
		return false
	}
	l := st.L
	if !hasHandler(l, hBeginTxn) {
		r.res.Errors++
		r.log.Error(in.prefix() + "Missing function " + fnBeginTxn)
		return false
	}
	in.registered = eventHandlers(l)
	if in.debugOn(r) {
		for _, ev := range txn.Events {
			if in.registered&(1<<ev.Index) != 0 {
				in.debug(r, "Found "+ev.Handler+", handling "+ev.Name+" event")
			}
		}
	}
	if in.registered == 0 {
		in.debug(r, "No event handlers found in script")
		return false
	}
	if in.d.mailLua && !in.userHook(r, "mail_user_created") {
		return false
	}
	if in.debugOn(r) {
		in.debug(r, "Calling "+fnBeginTxn+"("+r.t.User.Username+")")
	}
	r.res.Calls++
	err := in.call(r, fnBeginTxn, func(l *lua.State) {
		pushHandler(l, hBeginTxn)
		bindings.PushUser(l, st.Env, &r.t.User)
		if in.d.spec.Bundled {
			pushCarriedMetadata(l, r.t.Metadata)
		}
	}, 1)
	if err != nil {
		in.fail(r, fnBeginTxn+", 1, 1", err)
		r.log.Warn(in.prefix() + "driver skipped for this transaction because " + fnBeginTxn + " failed (Dovecot 2.3 would crash the mail process here)")
		in.check(r)
		return false
	}
	setCtx(l)
	in.debug(r, "Called "+fnBeginTxn)
	return true
}

// pushCarriedMetadata sets user.pushlua_txn_metadata on the user object
// on top of the stack: the server METADATA the transaction carries (a key
// it unsets is false). Only the bundled drivers get it: the ox driver's
// METADATA cache gives way to a value the transaction carries (what
// Dovecot's own ox driver read), which metadata_get cannot tell apart
// from a stored one.
func pushCarriedMetadata(l *lua.State, md map[string]*string) {
	// Raw sets, as SetField does on these tables (no __newindex), with
	// each key boxed once (SetField boxes it twice).
	lua.CheckStackWithMessage(l, 3, "pushing a transaction's METADATA")
	luax.PushName(l, "pushlua_txn_metadata")
	l.CreateTable(0, len(md))
	for k, v := range md {
		l.PushString(k)
		if v == nil {
			l.PushBoolean(false)
		} else {
			l.PushString(*v)
		}
		l.RawSet(-3)
	}
	l.RawSet(-3)
}

// Process calls the handlers of one message or mailbox record's events.
func (in *luaInstance) Process(r *txnRun, events []txn.Event) {
	for i := range events {
		if !in.check(r) {
			return
		}
		e := &events[i]
		if in.registered&(1<<e.Info.Index) == 0 {
			continue
		}
		in.callEvent(r, e)
	}
}

func (in *luaInstance) callEvent(r *txnRun, e *txn.Event) {
	l := in.st.L
	fn := e.Info.Handler
	if in.debugOn(r) {
		desc := "event[name=" + e.Info.Name + ",mailbox=" + e.Mailbox
		if e.IsMessage() {
			desc += ",uid=" + strconv.FormatUint(uint64(e.UID), 10)
		}
		in.debug(r, "Calling "+fn+"(ctx, "+desc+"])")
	}
	if !hasHandler(l, hEvent+e.Info.Index) {
		r.res.Errors++
		r.log.Error(in.prefix() + "'" + fn + "' is not a function")
		return
	}
	r.res.Calls++
	err := in.call(r, fn, func(l *lua.State) {
		pushHandler(l, hEvent+e.Info.Index)
		pushCtx(l)
		pushEvent(l, e)
		if e.IsNewOrAppend() && in.bundledName() == bundledDlog {
			l.PushInteger(int(r.messageDataOf(e)))
			l.SetField(-2, "pushlua_data")
		}
	}, 0)
	if err != nil {
		in.fail(r, fn+", 2, 0", err)
		return
	}
	if in.debugOn(r) {
		in.debug(r, "Called "+fn)
	}
}

// End calls end_txn(ctx, success) and drops the transaction's ctx.
func (in *luaInstance) End(r *txnRun, success bool) {
	if !in.check(r) {
		return
	}
	l := in.st.L
	if !hasHandler(l, hEndTxn) {
		r.res.Errors++
		r.log.Error(in.prefix() + "Missing function " + fnEndTxn)
	} else {
		in.debug(r, "Calling "+fnEndTxn)
		r.res.Calls++
		err := in.call(r, fnEndTxn, func(l *lua.State) {
			pushHandler(l, hEndTxn)
			pushCtx(l)
			l.PushBoolean(success)
		}, 0)
		if err != nil {
			in.fail(r, fnEndTxn+", 2, 0", err)
		} else {
			in.debug(r, "Called "+fnEndTxn)
		}
	}
	if !in.check(r) {
		return
	}
	l.PushNil()
	setCtx(l)
	if in.d.mailLua {
		in.userHook(r, "mail_user_deinit_pre")
		in.userHook(r, "mail_user_deinit")
	}
	if in.d.spec.Inspect != nil && in.st != nil {
		in.d.spec.Inspect(in.d.spec.Path, in.st.L)
	}
}

// userHook calls one of mail_lua's per-user functions, when defined, with
// the transaction's user (pushlua has no sessions: every transaction is one
// mail user's life). mail_user_created may return a negative number and a
// message to refuse the user.
func (in *luaInstance) userHook(r *txnRun, name string) bool {
	l := in.st.L
	if !hasFunction(l, name) {
		return true
	}
	st := in.st
	r.res.Calls++
	err := in.call(r, name, func(l *lua.State) {
		pushGlobal(l, name)
		bindings.PushUser(l, st.Env, &r.t.User)
	}, 2)
	if err != nil {
		in.fail(r, name+", 1, 2", err)
		in.check(r)
		return false
	}
	defer l.Pop(2)
	if n, ok := l.ToNumber(-2); ok && n < 0 {
		msg, _ := l.ToString(-1)
		r.res.Errors++
		r.log.Error("{function}() failed: {message}", logx.Args("function", name, "message", msg))
		return false
	}
	return true
}

// Discard drops the state without running script_deinit.
func (in *luaInstance) Discard() { in.st = nil }

// Close runs script_deinit.
func (in *luaInstance) Close(ctx context.Context, logger *slog.Logger) {
	if in.st != nil {
		in.st.deinit(ctx, logger)
		in.st = nil
	}
}

// Keys and common values of the event table, interned (eventStrings): k*
// are their 1-based indexes.
const (
	kName = iota + 1
	kMailbox
	kUID
	kUIDValidity
	kDate
	kTZ
	kFrom
	kTo
	kSnippet
	kFlags
	kKeywords
	kMessageID
	kFromAddress
	kFromDisplayName
	kToAddress
	kToDisplayName
	kSubject
	kFlagsOld
	kKeywordsOld
	kMailboxOld
	kINBOX
	kEventName // + EventInfo.Index: the event names
)

var eventStrings = func() *luax.Interned {
	in := &luax.Interned{Strs: []string{"name", "mailbox", "uid", "uid_validity", "date", "tz", "from", "to",
		"snippet", "flags", "keywords", "message_id", "from_address", "from_display_name", "to_address",
		"to_display_name", "subject", "flags_old", "keywords_old", "mailbox_old", "INBOX"}}
	for _, ev := range txn.Events {
		in.Strs = append(in.Strs, ev.Name)
	}
	return in
}()

// eventFields is how many fields the event table of an event has (without
// its Extra fields).
func eventFields(e *txn.Event) int {
	n := 2 // name, mailbox
	if e.IsMessage() {
		n += 2 // uid, uid_validity
	}
	switch e.Info.Type {
	case txn.FlagsClear:
		n += 4
	case txn.FlagsSet:
		n += 2
	case txn.MailboxRename:
		n++
	case txn.MessageNew, txn.MessageAppend:
		n += 13
	}
	return n
}

// pushEvent pushes the event table of spec §4.5, sized for its fields, its
// keys from the state's interned strings. It raises a Lua error when an
// extra field cannot be pushed (see luax.Push), so it runs inside a
// protected call (State.invoke).
func pushEvent(l *lua.State, e *txn.Event) {
	lua.CheckStackWithMessage(l, 5, "pushing an event")
	eventStrings.Push(l)
	si := l.Top()
	l.CreateTable(0, eventFields(e)+len(e.Extra))
	t := l.Top()
	if len(e.Extra) > 0 {
		for k, v := range e.Extra {
			luax.Push(l, v)
			l.SetField(-2, k)
		}
	}
	// Each field: the interned key, then the value, then a raw set (the
	// table is a fresh one without a metatable, where SetField would do
	// the same).
	key := func(k int) { l.RawGetInt(si, k) }
	str := func(k int, v string) {
		key(k)
		l.PushString(v)
		l.RawSet(t)
	}
	optStr := func(k int, v *string) {
		if v != nil {
			str(k, *v)
		}
	}
	num := func(k int, v float64) {
		key(k)
		l.PushNumber(v)
		l.RawSet(t)
	}
	strs := func(k int, v []string) {
		key(k)
		luax.PushStrings(l, v)
		l.RawSet(t)
	}
	key(kName)
	l.RawGetInt(si, kEventName+e.Info.Index)
	l.RawSet(t)
	switch e.Info.Type {
	case txn.FlagsClear:
		strs(kFlags, txn.FlagList(e.Flags))
		strs(kFlagsOld, txn.FlagList(e.FlagsOld))
		strs(kKeywords, e.Keywords)
		strs(kKeywordsOld, e.KeywordsOld)
	case txn.FlagsSet:
		strs(kFlags, txn.FlagList(e.Flags))
		strs(kKeywords, e.Keywords)
	case txn.MailboxRename:
		str(kMailboxOld, e.MailboxOld)
	case txn.MessageNew, txn.MessageAppend:
		num(kDate, float64(e.Date))
		num(kTZ, float64(e.TZ))
		str(kFrom, e.From)
		str(kTo, e.To)
		optStr(kSnippet, e.Snippet)
		strs(kFlags, txn.FlagList(e.Flags))
		strs(kKeywords, e.Keywords)
		optStr(kMessageID, e.MessageID)
		str(kFromAddress, e.FromAddress)
		str(kFromDisplayName, e.FromDisplayName)
		str(kToAddress, e.ToAddress)
		str(kToDisplayName, e.ToDisplayName)
		optStr(kSubject, e.Subject)
	}
	key(kMailbox)
	if e.Mailbox == "INBOX" {
		l.RawGetInt(si, kINBOX)
	} else {
		l.PushString(e.Mailbox)
	}
	l.RawSet(t)
	if e.IsMessage() {
		num(kUID, float64(e.UID))
		num(kUIDValidity, float64(e.UIDValidity))
	}
	l.Remove(si)
}
