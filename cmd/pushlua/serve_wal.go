package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/dlq"
	"github.com/pushlua/pushlua/internal/ingest"
	"github.com/pushlua/pushlua/internal/jetstream"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/metrics"
	"github.com/pushlua/pushlua/internal/spool"
	"github.com/pushlua/pushlua/internal/txn"
	"github.com/pushlua/pushlua/internal/wal"
	pushrt "github.com/pushlua/pushlua/runtime"
)

// durableSettings are serve's pushlua_durable, pushlua_wal_max_bytes and
// pushlua_poison_attempts settings.
type durableSettings struct {
	on       bool  // pushlua_durable: 202 means on disk (default yes)
	maxBytes int64 // pushlua_wal_max_bytes: past it ingest answers 503
	poison   int   // pushlua_poison_attempts
	// queue is pushlua_queue and its settings: with a URL, NATS
	// JetStream is the queue instead of the log (serve_jetstream.go).
	queue jetstream.Options
}

func readDurableSettings(cfg *dconfig.Config) (durableSettings, error) {
	s := durableSettings{on: true, maxBytes: wal.DefaultMaxBytes, poison: 3}
	if v, ok := cfg.Settings["pushlua_durable"]; ok {
		on, err := dconfig.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("pushlua_durable: %w", err)
		}
		s.on = on
	}
	if v := cfg.Settings["pushlua_wal_max_bytes"]; v != "" {
		n, err := dconfig.ParseSize(v)
		if err != nil || n <= 0 {
			return s, fmt.Errorf("pushlua_wal_max_bytes: expected a positive size (bytes, or with k, M, G), got %q", v)
		}
		s.maxBytes = n
	}
	if v := cfg.Settings["pushlua_poison_attempts"]; v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
			return s, fmt.Errorf("pushlua_poison_attempts: expected a positive integer, got %q", v)
		}
		s.poison = n
	}
	q, err := readQueueSettings(cfg)
	if err != nil {
		return s, err
	}
	if q.URL != "" && !s.on {
		return s, errors.New("pushlua_queue: the JetStream queue is durable; pushlua_durable = no contradicts it")
	}
	s.queue = q
	return s, nil
}

// pending counts, per user, the transactions accepted over HTTP and not
// processed yet, wherever they wait (the log, the engine): the per-user
// limit (pushlua_user_queue_size) is enforced on it at ingest, so that
// one user's backlog never blocks the log's reader for the others.
type pending struct {
	mu    sync.Mutex
	limit int // 0: none
	n     map[string]int
}

func (p *pending) reserve(user string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit > 0 && p.n[user] >= p.limit {
		return ingest.UserQueueFull(fmt.Errorf("%w: %q has %d transactions waiting or running", pushrt.ErrUserQueueFull, user, p.n[user]))
	}
	p.n[user]++
	return nil
}

func (p *pending) release(user string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch n := p.n[user]; {
	case n > 1:
		p.n[user] = n - 1
	case n == 1:
		delete(p.n, user)
	}
}

// intake is how transactions get from ingest and the spools to the
// engine: with durability on, ingest writes them into the write-ahead log
// (answering 202 only once they are on disk) and a spool reader runs the
// log (or, with pushlua_queue, publishes them to a NATS JetStream stream
// that a consumer runs: serve_jetstream.go); every way in puts a
// transaction the engine gave up on into the dead-letter area and keeps
// the accounting of /metrics.
type intake struct {
	eng  *pushrt.Engine
	m    *metrics.Metrics
	log  *slog.Logger
	dead *dlq.Area
	pend pending

	// With durability on.
	wal       *wal.Log
	walReader *spool.Reader
	walDir    string
	maxBytes  int64
	appended  atomic.Int64    // lines accepted into the log (and found there at start)
	submitted atomic.Int64    // log lines handed to the engine
	dropped   atomic.Int64    // transactions the engine did not run (drain timeout)
	counted   map[string]bool // segments whose lines count as accepted already (the backlog at start)
	decoded   decodedLines    // transactions ingest decoded, by their log line
	ours      string          // this process's segment names start so

	// With pushlua_queue: the JetStream stream instead of the log.
	js *jsQueue
}

// openIntake opens the dead-letter area and, with durability on, the
// write-ahead log and its reader (which first replays what an earlier run
// accepted and did not finish).
func openIntake(ctx context.Context, dataDir string, set durableSettings, userLimit int, eng *pushrt.Engine, m *metrics.Metrics, log *slog.Logger) (*intake, error) {
	area, err := dlq.Open(dlqDir(dataDir))
	if err != nil {
		return nil, err
	}
	in := &intake{eng: eng, m: m, log: log, dead: area, pend: pending{limit: userLimit, n: map[string]int{}}}
	if err := m.WatchQueue(in.stats); err != nil {
		return nil, err
	}
	if !set.on {
		return in, nil
	}
	if set.queue.URL != "" {
		if err := in.openJetStream(ctx, dataDir, set.queue); err != nil {
			return nil, err
		}
		return in, nil
	}
	in.walDir, in.maxBytes = walDir(dataDir), set.maxBytes
	in.ours = fmt.Sprintf("pl-%d-", os.Getpid())
	offsets := filepath.Join(dataDir, "wal-offsets.json")
	// The log's own bound is the disk's: intake.full bounds the backlog.
	wl, err := wal.Open(wal.Options{Dir: in.walDir, MaxBytes: 1 << 62, Preallocate: true, Logger: log, OnCommit: in.notify})
	if err != nil {
		return nil, err
	}
	// What an earlier run accepted and did not finish is accepted again
	// here: the accounting of this run includes it.
	files, err := spool.PendingFiles(in.walDir, offsets)
	if err != nil {
		_ = wl.Close()
		return nil, err
	}
	backlog := 0
	in.counted = map[string]bool{}
	for stem, n := range files {
		backlog += n
		in.counted[stem] = true
	}
	in.wal = wl
	in.appended.Store(int64(backlog))
	m.Accepted(backlog)
	if backlog > 0 {
		log.Info("write-ahead log {dir}: replaying {count} accepted transactions not processed before", logx.Args("dir", in.walDir, "count", backlog))
	}
	r, err := spool.Start(ctx, spool.Options{
		Dir:         in.walDir,
		OffsetsFile: offsets,
		Submit:      in.submitLogged,
		Parse:       in.decoded.parse,
		Logger:      log,
		OnDelete:    func(string) { _ = wl.Recount() },
		// The log's segments are this process's: one left open by a
		// crash was closed by wal.Open.
		StaleAfter: 365 * 24 * time.Hour,
		Padded:     true, // wal.Options.Preallocate
	})
	if err != nil {
		_ = wl.Close()
		return nil, err
	}
	in.walReader = r
	if err := m.WatchSpool("wal", func() metrics.SpoolStats {
		s := r.Stats()
		return metrics.SpoolStats{Files: s.Files, DepthBytes: s.DepthBytes, OldestAge: s.OldestAge, Submitted: s.Submitted, Skipped: s.Skipped}
	}); err != nil {
		r.Stop()
		_ = r.Close()
		_ = wl.Close()
		return nil, err
	}
	return in, nil
}

func (in *intake) notify() {
	if in.walReader != nil {
		in.walReader.Notify()
	}
}

// stats is the accounting WatchQueue exports.
func (in *intake) stats() metrics.QueueStats {
	running, queued := in.eng.Running(), in.eng.QueueLen()
	unread := max(in.appended.Load()-in.submitted.Load(), 0)
	return metrics.QueueStats{InFlight: running, Queued: queued - running + int(unread)}
}

// full reports whether the log holds pushlua_wal_max_bytes of
// transactions not processed yet (processed ones wait only for their
// segment to be closed and deleted, and do not count).
func (in *intake) full() bool {
	return in.wal.Size() >= in.maxBytes && in.walReader.Stats().DepthBytes >= in.maxBytes
}

// ingestOptions sets ingest's way into the engine; ids is ingest's id
// source.
func (in *intake) ingestOptions(o *ingest.Options, ids *txn.IDs) {
	if in.js != nil {
		in.js.ingestOptions(o, ids)
		return
	}
	if in.wal == nil {
		o.Submit = func(ctx context.Context, t *txn.Txn) error {
			err := in.eng.Submit(ctx, t, func(res pushrt.Result) { in.finished(t, res) })
			if errors.Is(err, pushrt.ErrUserQueueFull) {
				return ingest.UserQueueFull(err)
			}
			return err
		}
		return
	}
	o.Submit = func(_ context.Context, t *txn.Txn) error {
		if in.full() {
			return fmt.Errorf("%w (pushlua_wal_max_bytes): processing is behind", wal.ErrFull)
		}
		return in.pend.reserve(t.User.Username)
	}
	o.Durable = func(ctx context.Context, ts []*txn.Txn) error {
		lines := make([][]byte, len(ts))
		for i, t := range ts {
			lines[i] = walLine(t, ids)
		}
		// The log's reader gets these transactions as decoded here (it
		// may read the lines before Append returns).
		in.decoded.put(lines, ts)
		if err := in.wal.Append(ctx, lines...); err != nil {
			in.decoded.drop(lines)
			if !errors.Is(err, wal.ErrFull) && !errors.Is(err, context.Canceled) {
				in.log.Error("write-ahead log: {error}", logx.Args("error", err))
			}
			return err
		}
		in.appended.Add(int64(len(ts)))
		return nil
	}
	o.Undo = func(t *txn.Txn) { in.pend.release(t.User.Username) }
}

// walLine is t's line as the log keeps it: one line, with the id that
// ingest answered (ids assigned it when the sender gave none).
func walLine(t *txn.Txn, ids *txn.IDs) []byte {
	raw := t.Raw
	// A pretty-printed object spans lines; JSON allows a newline only as
	// white space, so it becomes a space.
	if bytes.ContainsAny(raw, "\r\n") {
		raw = bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, raw)
	}
	if !ids.Assigned(t.ID) {
		return raw
	}
	brace := bytes.IndexByte(raw, '{')
	rest := bytes.TrimLeft(raw[brace+1:], " \t")
	out := make([]byte, 0, len(raw)+len(t.ID)+10)
	out = append(out, `{"id":`...)
	out = strconv.AppendQuote(out, t.ID)
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}

// submitLogged hands a line of the write-ahead log to the engine.
func (in *intake) submitLogged(ctx context.Context, t *txn.Txn, done func(processed bool)) error {
	err := submitWaiting(ctx, in.eng, t, func(res pushrt.Result) {
		in.finished(t, res)
		in.pend.release(t.User.Username)
		done(!res.Dropped)
	})
	if err == nil {
		in.submitted.Add(1)
		if stem := strings.TrimSuffix(strings.TrimSuffix(t.Input, ".jsonl"), ".open"); !strings.HasPrefix(stem, in.ours) && !in.counted[stem] {
			// Written by another process while this one runs: a
			// transaction pushlua dlq replay put back.
			in.appended.Add(1)
			in.m.Accepted(1)
		}
	}
	return err
}

// submitSpooled hands a line of the forwarder's spool to the engine: the
// line is accepted when it is read.
func (in *intake) submitSpooled(ctx context.Context, t *txn.Txn, done func(processed bool)) error {
	if in.js != nil {
		return in.js.publishSpooled(ctx, t, done)
	}
	err := submitWaiting(ctx, in.eng, t, func(res pushrt.Result) {
		in.finished(t, res)
		done(!res.Dropped)
	})
	if err == nil {
		in.m.Accepted(1)
	}
	return err
}

// submitWaiting submits t; a full user lane (after a restart, the log may
// hold more of one user than the lane takes) is waited out, as the spool
// holds the backlog, not pushlua's memory.
func submitWaiting(ctx context.Context, eng *pushrt.Engine, t *txn.Txn, done func(pushrt.Result)) error {
	wait := time.Millisecond
	for {
		err := eng.Submit(ctx, t, done)
		if !errors.Is(err, pushrt.ErrUserQueueFull) {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// finished is every transaction's last step: a dead one goes into the
// dead-letter area; one the engine did not run is counted as kept (in a
// log) or dropped (durability off).
func (in *intake) finished(t *txn.Txn, res pushrt.Result) {
	switch {
	case res.Dropped:
		in.dropped.Add(1)
		if in.js == nil && (in.wal == nil || t.Input == "http") {
			in.m.Dropped(1)
		}
	case res.Dead:
		l := dlq.Letter{ID: t.ID, User: t.User.Username, Reason: res.Poison, Attempts: res.Attempts,
			Time: time.Now().UTC(), Line: string(t.Raw)}
		if t.Input != "" {
			l.Source = fmt.Sprintf("%s:%d", t.Input, t.Line)
		}
		if err := in.dead.Put(l); err != nil {
			in.log.Error("dead-letter area: {error}; the transaction is lost", logx.Args("error", err), logx.KeyUser, t.User.Username, logx.KeyTxn, t.ID)
			in.m.Dropped(1)
			return
		}
		in.log.Warn("transaction {txn} of {user} put into the dead-letter area {dir} (pushlua dlq show {txn})",
			logx.Args("txn", t.ID, "user", t.User.Username, "dir", in.dead.Dir()))
	}
}

// Stop reads no more of the log (the first step of shutting down).
func (in *intake) Stop() {
	if in.js != nil {
		in.js.stop()
	}
	if in.walReader != nil {
		in.walReader.Stop()
	}
}

// Close writes the log reader's final watermarks and closes the log;
// call it after the engine drained. It says how many accepted transactions
// wait in the log for the next start.
func (in *intake) Close() {
	if in.js != nil {
		in.js.close()
	}
	if in.wal == nil {
		return
	}
	if err := in.walReader.Close(); err != nil {
		in.log.Error(err.Error())
	}
	if err := in.wal.Close(); err != nil {
		in.log.Error(err.Error())
	}
	kept := max(in.appended.Load()-in.submitted.Load(), 0) + in.dropped.Load()
	if kept > 0 {
		in.log.Info("{count} accepted transactions kept in the write-ahead log {dir} for the next start", logx.Args("count", kept, "dir", in.walDir))
	}
}

// ready adds the log's state to /readyz: a full log takes no more.
func (in *intake) ready(ok bool, reason string) (bool, string) {
	if in.js != nil {
		return in.js.ready(ok, reason)
	}
	if !ok || in.wal == nil {
		return ok, reason
	}
	if in.full() {
		return false, reason + fmt.Sprintf("; the write-ahead log is full (%d bytes to process, pushlua_wal_max_bytes): ingest answers 503", in.walReader.Stats().DepthBytes)
	}
	if lag, why := in.walReader.Lagging(); lag {
		return false, reason + "; " + why
	}
	return ok, reason
}

// decodedLines hands the transactions ingest decoded to the log's reader,
// keyed by their line, so that a line written and read by this process is
// decoded once. A line not found (written by an earlier run, or more than
// maxDecoded waiting) is decoded again. The map is keyed by the line's
// hash and holds the line itself, compared on lookup: keying it by the
// line's text copied every line once more.
type decodedLines struct {
	mu   sync.Mutex
	seed maphash.Seed
	m    map[uint64]decodedLine
}

type decodedLine struct {
	line []byte
	t    *txn.Txn
}

const maxDecoded = 4096

func (d *decodedLines) hash(line []byte) uint64 { return maphash.Bytes(d.seed, line) }

func (d *decodedLines) put(lines [][]byte, ts []*txn.Txn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.seed = maphash.MakeSeed()
		d.m = map[uint64]decodedLine{}
	}
	for i, line := range lines {
		if len(d.m) >= maxDecoded {
			return
		}
		// A line with the hash of another (the same line twice, or a
		// collision) replaces it: the other is decoded again.
		d.m[d.hash(line)] = decodedLine{line: line, t: ts[i]}
	}
}

func (d *decodedLines) drop(lines [][]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, line := range lines {
		h := d.hash(line)
		if e, ok := d.m[h]; ok && bytes.Equal(e.line, line) {
			delete(d.m, h)
		}
	}
}

func (d *decodedLines) parse(line []byte, ids *txn.IDs) (*txn.Txn, error) {
	d.mu.Lock()
	var t *txn.Txn
	if d.m != nil {
		h := d.hash(line)
		if e, ok := d.m[h]; ok && bytes.Equal(e.line, line) {
			t = e.t
			delete(d.m, h)
		}
	}
	d.mu.Unlock()
	if t != nil {
		return t, nil
	}
	return txn.Parse(line, ids)
}
