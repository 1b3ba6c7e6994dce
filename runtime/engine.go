package runtime

import (
	lua "github.com/Shopify/go-lua"

	"context"
	"errors"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"github.com/pushlua/pushlua/bindings"
	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/doveadm"
	"github.com/pushlua/pushlua/internal/httpx"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/txn"
)

// Result is what happened to one transaction.
type Result struct {
	Txn *txn.Txn
	// Version names the configuration version that ran it ("v3 (1a2b3c4d)").
	Version string
	// Drivers is how many drivers took part (accepted begin_txn).
	Drivers int
	// Calls counts calls into Lua; Errors counts failed calls and driver
	// errors logged at Error level.
	Calls, Errors int
	// Dropped is set when Close gave up before the transaction ran or
	// canceled it while it ran (the drain timeout).
	Dropped bool
	// Poison says why the last run counts toward giving up on the
	// transaction: a handler exceeded its budget or crashed the worker
	// (the script's state had to be discarded). "" for a run that ended
	// normally, failed handlers included.
	Poison string
	// Attempts is how many times the transaction ran: more than one when
	// poisoned runs were tried again (Options.PoisonAttempts).
	Attempts int
	// Dead is set when every attempt was poisoned: the engine gave up,
	// and the caller puts the transaction into the dead-letter area.
	Dead bool
}

// txnRun is one transaction on its way through a worker's drivers.
type txnRun struct {
	obs   Observer
	ctx   context.Context
	t     *txn.Txn
	log   *slog.Logger
	debug bool
	res   *Result
	// msgData is what the drivers asked for of MessageNew ([0]) and
	// MessageAppend ([1]) data (msgdata.go).
	msgData [2]uint8
}

// Options configure an Engine.
type Options struct {
	// Config is the parsed configuration (required).
	Config *dconfig.Config
	// Load reads the configuration again for Reload (the file, then the
	// command line's -o overrides); nil reloads Config's scripts only.
	Load func() (*dconfig.Config, error)
	// Observer is told what happens, for metrics; default none.
	Observer Observer
	// Store is the mailbox status and METADATA view (required).
	Store store.Store
	// Logger receives every log line; default discards. A line that
	// carries values has a message template and a logx.Args group: logx's
	// handlers print it filled in, another handler gets the filled
	// message from logx.Message.
	Logger *slog.Logger
	// Jobs is how many workers run transactions in parallel; the
	// transactions of one user always go to the same worker, in order.
	// Default runtime.NumCPU().
	Jobs int
	// QueueSize is how many submitted transactions may wait or run in
	// all; Submit blocks while it is full. Default 1024.
	QueueSize int
	// PoisonAttempts is how many times in a row a transaction runs while
	// its handlers exceed the budget or crash the worker, before the
	// engine gives up on it (Result.Dead). Default 3.
	PoisonAttempts int
	// UserQueueSize is how many transactions of one user may wait or run:
	// past it Submit returns ErrUserQueueFull at once, without blocking,
	// so that a user whose handlers hang fills its own lane, not the
	// shared queue. Default (0, or QueueSize or more): no lane limit, one
	// user may fill the shared queue and Submit then blocks as for anyone
	// (pushlua run relies on that; pushlua serve sets
	// pushlua_user_queue_size).
	UserQueueSize int
	// Budget limits each call into Lua; zero fields take the
	// pushlua_handler_timeout / pushlua_handler_instructions /
	// pushlua_handler_memory settings, then DefaultBudget.
	Budget Budget
	// Preload adds Lua modules that scripts can require (package.preload),
	// for embedders and test harnesses.
	Preload []lua.RegistryFunction
	// HTTP sends every request of the scripts (socket.http, dovecot.http);
	// default httpx.New with its defaults, but at least Jobs idle
	// connections per host.
	HTTP *httpx.Client
	// Now is the scripts' clock (os.time, os.date, socket.gettime);
	// default time.Now.
	Now func() time.Time
	// Prepare, when set, is called on every new Lua state after the
	// libraries and bindings are open and before the script's chunk runs
	// (the conformance suite wraps io.open with it).
	Prepare func(script string, l *lua.State)
	// Inspect, when set, is called with a Lua driver's state after each
	// transaction's end_txn, on the goroutine that owns the state (the
	// conformance suite looks for leaked globals with it).
	Inspect func(script string, l *lua.State)
}

// Engine runs transactions through the configured drivers.
type Engine struct {
	opts Options
	log  *slog.Logger

	// The current version of the configuration and its scripts; vmu
	// orders taking a reference against swapping it.
	vmu      sync.RWMutex
	cur      *version
	versions int // versions that served so far, for "v<n>" names (number)
	reloadMu sync.Mutex
	lastErr  error // the last failed reload, nil after a good one
	// The files of the last failed reload attempt and their content's id:
	// the watcher does not rebuild the same failure again.
	failedFiles []string
	lastFailed  string
	retiring    sync.WaitGroup // old versions waiting to close

	// Dispatch: every user with queued transactions has a userQueue; a
	// user is on ready (at most once) while it has work and no worker runs
	// it, so one user's transactions run one at a time in order, and a
	// slow user holds one worker, not the others' transactions.
	mu       sync.Mutex
	users    map[string]*userQueue
	ready    chan *userQueue
	capacity chan struct{} // one token per queued transaction
	queued   int
	running  int // transactions a worker runs now (part of queued)
	jobs     sync.WaitGroup
	workerWG sync.WaitGroup
	closed   bool
	dropped  int // transactions not run because Close's context ended
	// free holds userQueues of users whose queue emptied, for reuse: a
	// user whose transactions come one at a time would otherwise cost a
	// userQueue and its jobs slice per transaction.
	free []*userQueue

	// life is the context every transaction runs with; Close cancels it
	// when its own context ends before the queue is drained.
	life context.Context
	stop context.CancelFunc
}

type job struct {
	ctx  context.Context
	t    *txn.Txn
	done func(Result)
}

type userQueue struct {
	name string
	jobs []job // waiting: jobs[head:]
	head int
	n    int // waiting or running: what UserQueueSize bounds
}

// New builds the driver list from the configuration, as Dovecot does for a
// new mail user (spec §1.1), prepares one state per Lua script, and starts
// the workers. Driver init failures end the driver list; they are logged
// and returned by InitErrors, not by New. New fails only on an invalid
// setting.
func New(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Config == nil || opts.Store == nil {
		return nil, errors.New("runtime: Config and Store are required")
	}
	if opts.Logger == nil {
		opts.Logger = logx.Discard
	}
	if opts.Jobs <= 0 {
		opts.Jobs = goruntime.NumCPU()
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.PoisonAttempts <= 0 {
		opts.PoisonAttempts = 3
	}
	if opts.UserQueueSize < 0 || opts.UserQueueSize >= opts.QueueSize {
		opts.UserQueueSize = 0
	}
	if opts.HTTP == nil {
		// Each worker sends one request at a time: with as many idle
		// connections per host as workers, none is closed and redialed.
		opts.HTTP = httpx.New(httpx.Options{MaxIdleConnsPerHost: max(httpx.DefaultMaxIdleConnsPerHost, opts.Jobs)})
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	e := &Engine{opts: opts, log: opts.Logger,
		users:    map[string]*userQueue{},
		ready:    make(chan *userQueue, opts.QueueSize),
		capacity: make(chan struct{}, opts.QueueSize),
	}
	e.life, e.stop = context.WithCancel(context.WithoutCancel(ctx))
	v, err := e.build(ctx, opts.Config)
	if err != nil {
		e.stop()
		return nil, err
	}
	e.number(v)
	e.cur = v
	opts.Observer.Reloaded(true, v.name())
	for i := range opts.Jobs {
		e.workerWG.Add(1)
		go e.work(i)
	}
	return e, nil
}

func newScriptSpec(spec dconfig.DriverSpec, opts Options, path string, src []byte, prefix string, budget Budget, allowExec bool) *scriptSpec {
	cfg := opts.Config
	info := bindings.DriverInfo{Name: spec.Name, Args: spec.Args}
	if spec.HasArgs {
		raw := spec.RawArgs
		info.RawArgs = &raw
	}
	return &scriptSpec{
		Path: path, Source: src, LogPrefix: prefix, Debug: cfg.MailDebug,
		AllowExec: allowExec, Budget: budget, Preload: opts.Preload, Prepare: opts.Prepare, Inspect: opts.Inspect,
		Env:  bindings.Env{Store: scriptStore(opts, cfg, opts.Logger), Getenv: cfg.PluginGetenv, Driver: info},
		HTTP: opts.HTTP, Now: opts.Now,
	}
}

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("engine closed")

// ErrUserQueueFull is returned (wrapped, naming the user) by Submit when
// the user already has UserQueueSize (when set) transactions waiting or
// running.
var ErrUserQueueFull = errors.New("the user's queue is full")

// Submit queues t behind the user's earlier transactions; done (may be
// nil) is called from a worker once t has run. When UserQueueSize is set
// and the user already has that many waiting or running, Submit returns
// ErrUserQueueFull at once; otherwise it blocks while QueueSize
// transactions are waiting or running, until ctx ends. ctx does not bound
// the transaction's run (the engine's own lifetime does: see Close).
func (e *Engine) Submit(ctx context.Context, t *txn.Txn, done func(Result)) error {
	name := t.User.Username
	// A full lane fails before waiting for room in the shared queue; the
	// check is repeated below, where it counts. Without lanes there is
	// nothing to check.
	if e.opts.UserQueueSize > 0 {
		e.mu.Lock()
		err := e.laneFull(name)
		e.mu.Unlock()
		if err != nil {
			return err
		}
	}
	select {
	case e.capacity <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		<-e.capacity
		return ErrClosed
	}
	if err := e.laneFull(name); err != nil {
		<-e.capacity
		return err
	}
	e.jobs.Add(1)
	e.queued++
	uq, busy := e.users[name]
	if !busy {
		if n := len(e.free); n > 0 {
			uq = e.free[n-1]
			e.free[n-1] = nil
			e.free = e.free[:n-1]
			uq.name = name
		} else {
			uq = &userQueue{name: name}
		}
		e.users[name] = uq
	}
	if uq.head > 0 && len(uq.jobs) == cap(uq.jobs) {
		// Move the waiting ones to the front rather than grow.
		n := copy(uq.jobs, uq.jobs[uq.head:])
		clear(uq.jobs[n:])
		uq.jobs, uq.head = uq.jobs[:n], 0
	}
	uq.jobs = append(uq.jobs, job{ctx: e.life, t: t, done: done})
	uq.n++
	if !busy {
		e.ready <- uq // cannot block: ready users <= queued transactions <= QueueSize
	}
	e.opts.Observer.QueueDepth(e.queued)
	return nil
}

// laneFull returns ErrUserQueueFull, wrapped, when user has
// UserQueueSize transactions waiting or running. e.mu is held.
func (e *Engine) laneFull(user string) error {
	if uq := e.users[user]; uq != nil && e.opts.UserQueueSize > 0 && uq.n >= e.opts.UserQueueSize {
		return fmt.Errorf("%w: %q has %d transactions waiting or running", ErrUserQueueFull, user, uq.n)
	}
	return nil
}

// Close stops accepting transactions, finishes the queued ones, runs
// script_deinit in every state and returns. When ctx ends first (the drain
// timeout), the running calls are canceled, the transactions still queued
// are not run, and Close returns an error that says how many.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	drained := make(chan struct{})
	go func() { e.jobs.Wait(); close(drained) }()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		e.stop()
		<-drained
		e.mu.Lock()
		err = fmt.Errorf("drain timeout: %d accepted transactions were not processed", e.dropped)
		e.mu.Unlock()
	}
	defer e.stop()
	ctx = context.WithoutCancel(ctx)
	close(e.ready)
	e.workerWG.Wait()
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	e.vmu.Lock()
	v := e.cur
	e.vmu.Unlock()
	e.retiring.Wait()
	v.retire(ctx, e.log)
	return err
}

// QueueLen returns how many transactions wait or run.
func (e *Engine) QueueLen() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.queued
}

func (e *Engine) work(i int) {
	defer e.workerWG.Done()
	for uq := range e.ready {
		e.mu.Lock()
		j := uq.jobs[uq.head]
		uq.jobs[uq.head] = job{}
		uq.head++
		if uq.head == len(uq.jobs) {
			uq.jobs, uq.head = uq.jobs[:0], 0
		}
		live := j.ctx.Err() == nil
		if live {
			e.running++
		} else {
			e.dropped++
		}
		e.mu.Unlock()

		var res Result
		if !live {
			res = Result{Txn: j.t, Dropped: true}
		} else {
			res = e.runPoisoned(j, i)
			e.mu.Lock()
			e.running--
			e.mu.Unlock()
		}
		<-e.capacity
		if j.done != nil {
			e.callDone(j, res)
		}

		e.mu.Lock()
		e.queued--
		uq.n--
		if len(uq.jobs) > uq.head {
			e.ready <- uq
		} else {
			delete(e.users, uq.name)
			e.recycle(uq)
		}
		e.opts.Observer.QueueDepth(e.queued)
		e.mu.Unlock()
		e.jobs.Done()
	}
}

// recycle keeps uq, whose user has no transactions left, for another
// user's queue (at most Jobs of them: one per worker is what a steady
// stream needs). e.mu is held.
func (e *Engine) recycle(uq *userQueue) {
	if len(e.free) >= e.opts.Jobs || cap(uq.jobs) > 16 {
		return // a long queue's backing array is not kept
	}
	*uq = userQueue{jobs: uq.jobs[:0]}
	e.free = append(e.free, uq)
}

// runPoisoned runs j, again while its runs are poisoned (a budget
// exceeded, a crash), at most PoisonAttempts times in all, in place: the
// user's later transactions wait, so their order holds. It tells the
// observer once.
func (e *Engine) runPoisoned(j job, i int) Result {
	var res Result
	for attempt := 1; ; attempt++ {
		v := e.acquire()
		res = v.run(j.ctx, i, j.t, e.opts.Store, e.opts.Observer)
		v.release()
		res.Attempts = attempt
		if res.Poison == "" || j.ctx.Err() != nil {
			break
		}
		if attempt >= e.opts.PoisonAttempts {
			res.Dead = true
			e.log.Error("giving up on the transaction after {attempts} attempts: {reason}", logx.Args("attempts", attempt, "reason", firstLine(res.Poison)),
				logx.KeyUser, j.t.User.Username, logx.KeyTxn, j.t.ID)
			break
		}
		e.log.Warn("running the transaction again (attempt {attempt} of {attempts}): {reason}", logx.Args("attempt", attempt+1, "attempts", e.opts.PoisonAttempts, "reason", firstLine(res.Poison)),
			logx.KeyUser, j.t.User.Username, logx.KeyTxn, j.t.ID)
	}
	if j.ctx.Err() != nil {
		// Close canceled it while it ran (the drain timeout): it did not
		// finish, so it counts as not run, and a log that holds it runs
		// it again at the next start.
		res.Dropped = true
		e.mu.Lock()
		e.dropped++
		e.mu.Unlock()
		return res
	}
	if d, ok := e.opts.Observer.(interface{ TxnDead() }); ok && res.Dead {
		d.TxnDead()
	} else {
		e.opts.Observer.TxnProcessed(res.Errors > 0)
	}
	return res
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// Running returns how many transactions run now (the rest of QueueLen
// wait).
func (e *Engine) Running() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.running
}

// callDone calls j's done callback. A panic in it is logged and goes no
// further: it must not end the worker, and with it the process.
func (e *Engine) callDone(j job, res Result) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("transaction done callback failed: internal error: {panic}", logx.Args("panic", p),
				logx.KeyUser, j.t.User.Username, logx.KeyTxn, j.t.ID)
		}
	}()
	j.done(res)
}

// run runs one transaction through worker i's drivers of v: store
// snapshot, begin_txn per driver, the events record by record, end_txn per
// driver. A Go panic on the way (a bug, or input no check foresaw) fails
// this transaction only: it is logged, the worker's states are discarded
// and the worker goes on with the next transaction.
func (v *version) run(ctx context.Context, i int, t *txn.Txn, st store.Store, obs Observer) (res Result) {
	res = Result{Txn: t, Version: v.name()}
	r := &txnRun{ctx: ctx, t: t, debug: v.cfg.MailDebug, res: &res, obs: obs,
		log: slog.New(newTxnHandler(v.log.Handler(), t))}
	defer func() {
		if p := recover(); p != nil {
			res.Errors++
			res.Poison = fmt.Sprintf("internal error: %v", p)
			r.log.Error("transaction failed: {reason}; the worker's script states are discarded", logx.Args("reason", res.Poison))
			for _, in := range v.slots[i] {
				in.Discard()
			}
		}
	}()
	if v.live {
		r.ctx = doveadm.WithTxn(ctx, &doveadm.Txn{Status: t.Status, Metadata: t.Metadata, Logger: r.log})
	}
	if snap := t.Snapshot(); !snap.Empty() {
		if err := st.Apply(ctx, t.User.Username, snap); err != nil {
			res.Errors++
			r.log.Error("store: applying the transaction's snapshot failed: {error}", logx.Args("error", err))
		}
	}
	instances := v.slots[i]
	var accepted []driverInstance
	for _, in := range instances {
		if in.Begin(r) {
			accepted = append(accepted, in)
		}
	}
	res.Drivers = len(accepted)
	setMessageData(r, accepted, st)
	if t.Success {
		forEachRecord(t.Events, func(events []txn.Event) {
			for _, in := range accepted {
				in.Process(r, events)
			}
		})
	}
	for _, in := range accepted {
		in.End(r, t.Success)
	}
	if t.Success && len(t.Events) > 0 && r.debug {
		r.log.Debug("push-notification: Push notification transaction completed")
	}
	return res
}

// txnHandler is the handler of a transaction's logger: the engine's, with
// the user and the transaction id. Most transactions log nothing, so the
// handler with those attributes (logger.With's work: a copy of the
// handler) is made at the first record, not for every transaction.
type txnHandler struct {
	base  slog.Handler
	attrs [2]slog.Attr
	once  sync.Once
	h     slog.Handler
}

func newTxnHandler(base slog.Handler, t *txn.Txn) *txnHandler {
	return &txnHandler{base: base, attrs: [2]slog.Attr{slog.String(logx.KeyUser, t.User.Username), slog.String(logx.KeyTxn, t.ID)}}
}

func (h *txnHandler) with() slog.Handler {
	h.once.Do(func() { h.h = h.base.WithAttrs(h.attrs[:]) })
	return h.h
}

// Enabled does not depend on attributes: the base handler answers.
func (h *txnHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.base.Enabled(ctx, level)
}

func (h *txnHandler) Handle(ctx context.Context, r slog.Record) error { return h.with().Handle(ctx, r) }

func (h *txnHandler) WithAttrs(attrs []slog.Attr) slog.Handler { return h.with().WithAttrs(attrs) }

func (h *txnHandler) WithGroup(name string) slog.Handler { return h.with().WithGroup(name) }

// forEachRecord splits events into Dovecot's records: consecutive events
// of one message (mailbox and uid) or of one mailbox.
func forEachRecord(events []txn.Event, f func([]txn.Event)) {
	start := 0
	for i := 1; i <= len(events); i++ {
		if i == len(events) || !sameRecord(&events[start], &events[i]) {
			f(events[start:i])
			start = i
		}
	}
}

func sameRecord(a, b *txn.Event) bool {
	return a.Info.Kind == b.Info.Kind && a.Mailbox == b.Mailbox &&
		(a.Info.Kind == txn.MailboxEvent || a.UID == b.UID)
}
