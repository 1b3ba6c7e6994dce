package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/dlq"
	"github.com/pushlua/pushlua/internal/ingest"
	"github.com/pushlua/pushlua/internal/jetstream"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/metrics"
	"github.com/pushlua/pushlua/internal/spool"
	"github.com/pushlua/pushlua/internal/txn"
	pushrt "github.com/pushlua/pushlua/runtime"
)

// readQueueSettings reads pushlua_queue and its pushlua_queue_* settings
// (docs/cluster.md). An empty URL in the result means the local
// write-ahead log (pushlua_queue unset, or "local").
func readQueueSettings(cfg *dconfig.Config) (jetstream.Options, error) {
	var o jetstream.Options
	v := strings.TrimSpace(cfg.Settings["pushlua_queue"])
	if v == "" || v == "local" {
		return o, nil
	}
	u, err := queueURLs(v)
	if err != nil {
		return o, fmt.Errorf("pushlua_queue: %w", err)
	}
	o.URL = u
	for _, s := range []struct {
		key  string
		to   *string
		path bool
		env  string
	}{
		{"pushlua_queue_creds", &o.CredsFile, true, ""},
		{"pushlua_queue_user", &o.User, false, ""},
		{"pushlua_queue_password", &o.Password, false, "PUSHLUA_QUEUE_PASSWORD"},
		{"pushlua_queue_token", &o.Token, false, "PUSHLUA_QUEUE_TOKEN"},
		{"pushlua_queue_tls_ca", &o.TLSCA, true, ""},
		{"pushlua_queue_tls_cert", &o.TLSCert, true, ""},
		{"pushlua_queue_tls_key", &o.TLSKey, true, ""},
		{"pushlua_queue_stream", &o.Stream, false, ""},
		{"pushlua_queue_subject", &o.Subject, false, ""},
	} {
		if v := cfg.Settings[s.key]; v != "" {
			if s.path {
				v = cfg.Resolve(v)
			}
			*s.to = v
		}
		if s.env != "" {
			if v := os.Getenv(s.env); v != "" {
				*s.to = v
			}
		}
	}
	for _, s := range []struct {
		key string
		to  *int
	}{
		{"pushlua_queue_partitions", &o.Partitions},
		{"pushlua_queue_replicas", &o.Replicas},
		{"pushlua_queue_max_deliver", &o.MaxDeliver},
	} {
		if v := cfg.Settings[s.key]; v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				return o, fmt.Errorf("%s: expected a positive integer, got %q", s.key, v)
			}
			*s.to = n
		}
	}
	if v := cfg.Settings["pushlua_queue_max_bytes"]; v != "" {
		n, err := dconfig.ParseSize(v)
		if err != nil || n <= 0 {
			return o, fmt.Errorf("pushlua_queue_max_bytes: expected a positive size (bytes, or with k, M, G), got %q", v)
		}
		o.MaxBytes = n
	}
	for _, s := range []struct {
		key      string
		to       *time.Duration
		zeroOK   bool
		parse    func(string) (time.Duration, error)
		positive string
	}{
		{"pushlua_queue_max_age", &o.MaxAge, true, dconfig.ParseTime, ""},
		{"pushlua_queue_duplicate_window", &o.DuplicateWindow, false, dconfig.ParseTime, "must be more than 0"},
		{"pushlua_queue_ack_wait", &o.AckWait, false, dconfig.ParseTimeMsecs, "must be more than 0"},
	} {
		v := cfg.Settings[s.key]
		if v == "" {
			continue
		}
		d, err := s.parse(v)
		if err != nil {
			return o, fmt.Errorf("%s: %w", s.key, err)
		}
		if d <= 0 && !s.zeroOK {
			return o, fmt.Errorf("%s: %s, got %q", s.key, s.positive, v)
		}
		*s.to = d
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return o, errors.New("pushlua_queue_tls_cert and pushlua_queue_tls_key: give both or neither")
	}
	return o, nil
}

// queueURLs checks pushlua_queue's servers and returns them as nats.go
// takes them: nats://HOST:PORT or tls://HOST:PORT, comma separated; a
// server without a scheme gets nats://.
func queueURLs(v string) (string, error) {
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("expected nats://HOST:PORT[,HOST:PORT...] or local: %w", err)
		}
		if u.Scheme != "nats" && u.Scheme != "tls" {
			return "", fmt.Errorf("expected nats://HOST:PORT[,HOST:PORT...] or local, got the scheme %q in %q", u.Scheme, u.Redacted())
		}
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || u.Hostname() == "" {
			return "", fmt.Errorf("expected nats://HOST:PORT[,HOST:PORT...] or local, got %q (no host and port)", u.Redacted())
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return "", errors.New("expected nats://HOST:PORT[,HOST:PORT...] or local, got no server")
	}
	return strings.Join(out, ","), nil
}

// jsQueue is the intake's queue with pushlua_queue: ingest and the spools
// publish accepted transactions to the JetStream stream (202 after the
// stream acknowledged them), and a consumer feeds the engine instead of
// the write-ahead log's reader. The local log's directory is still read,
// into the stream: what `pushlua dlq replay` writes there, and what a run
// with the local log left.
type jsQueue struct {
	in    *intake
	q     *jetstream.Queue
	cons  *jetstream.Consumer
	local *spool.Reader

	mu          sync.Mutex
	backlogAt   time.Time
	backlogMsgs uint64
	backlogSize uint64
}

// openJetStream connects to the stream and starts consuming it.
func (in *intake) openJetStream(ctx context.Context, dataDir string, opts jetstream.Options) error {
	opts.Logger = in.log
	q, err := jetstream.Open(ctx, opts)
	if err != nil {
		return err
	}
	j := &jsQueue{in: in, q: q}
	j.cons, err = q.Consume(jetstream.ConsumeOptions{Submit: in.submitQueued, GiveUp: in.giveUpQueued})
	if err != nil {
		q.Close()
		return err
	}
	fail := func(err error) error {
		j.stop()
		j.close()
		return err
	}
	dir := walDir(dataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(fmt.Errorf("write-ahead log: %w", err))
	}
	j.local, err = spool.Start(ctx, spool.Options{
		Dir:         dir,
		OffsetsFile: filepath.Join(dataDir, "wal-offsets.json"),
		Submit:      j.publishLocal,
		Logger:      in.log,
	})
	if err != nil {
		return fail(err)
	}
	if err := in.m.WatchJetStream(j.stats); err != nil {
		return fail(err)
	}
	in.js = j
	return nil
}

// ingestOptions makes HTTP ingest publish: Submit only checks the
// connection (the stream, not this process, holds the backlog: no per-user
// limit here), Durable publishes and returns once the stream acknowledged.
func (j *jsQueue) ingestOptions(o *ingest.Options, ids *txn.IDs) {
	o.Submit = func(context.Context, *txn.Txn) error {
		if ok, why := j.q.Ready(); !ok {
			return errors.New(why)
		}
		return nil
	}
	o.Durable = func(ctx context.Context, ts []*txn.Txn) error {
		msgs := make([]jetstream.Msg, len(ts))
		for i, t := range ts {
			msgs[i] = jetstream.Msg{ID: t.ID, User: t.User.Username, Data: walLine(t, ids)}
		}
		return j.q.Publish(ctx, msgs)
	}
	o.Undo = nil
}

// publishSpooled publishes a line of a spool (the forwarder's, or the
// local log's directory): the line is accepted, and done, once the stream
// acknowledged it. A failure leaves it in the spool, read again later.
func (j *jsQueue) publishSpooled(ctx context.Context, t *txn.Txn, done func(processed bool)) error {
	if err := j.q.Publish(ctx, []jetstream.Msg{{ID: t.ID, User: t.User.Username, Data: t.Raw}}); err != nil {
		return err
	}
	j.in.m.Accepted(1)
	done(true)
	return nil
}

// publishLocal publishes a line of the local log's directory: what
// `pushlua dlq replay` put there, or what a run with the local log left.
// Its key names the file and line, so that a replayed dead letter is not
// taken for a copy of the transaction the stream had before.
func (j *jsQueue) publishLocal(ctx context.Context, t *txn.Txn, done func(processed bool)) error {
	key := fmt.Sprintf("%s@%s:%d", t.ID, t.Input, t.Line)
	if err := j.q.Publish(ctx, []jetstream.Msg{{ID: t.ID, Key: key, User: t.User.Username, Data: t.Raw}}); err != nil {
		return err
	}
	j.in.m.Accepted(1)
	done(true)
	return nil
}

// submitQueued hands a transaction of the stream to the engine; the
// consumer acknowledges it once it ran (done true) or gives it back.
func (in *intake) submitQueued(ctx context.Context, t *txn.Txn, done func(processed bool)) error {
	return submitWaiting(ctx, in.eng, t, func(res pushrt.Result) {
		in.finished(t, res)
		done(!res.Dropped)
	})
}

// giveUpQueued puts a transaction that the stream delivered
// pushlua_queue_max_deliver times without an ack into the dead-letter
// area.
func (in *intake) giveUpQueued(t *txn.Txn, reason string, deliveries int) error {
	l := dlq.Letter{ID: t.ID, User: t.User.Username, Reason: reason, Attempts: max(deliveries-1, 0),
		Time: time.Now().UTC(), Source: fmt.Sprintf("%s:%d", t.Input, t.Line), Line: string(t.Raw)}
	if err := in.dead.Put(l); err != nil {
		return err
	}
	in.m.TxnDead()
	in.log.Warn("transaction {txn} of {user} put into the dead-letter area {dir} (pushlua dlq show {txn}): {reason}",
		logx.Args("txn", t.ID, "user", t.User.Username, "dir", in.dead.Dir(), "reason", reason))
	return nil
}

// stats is what WatchJetStream exports; the stream's backlog is asked at
// most once a second.
func (j *jsQueue) stats() metrics.JetStreamStats {
	ok, _ := j.q.Ready()
	ps, cs := j.q.PublishStats(), j.cons.Stats()
	j.mu.Lock()
	defer j.mu.Unlock()
	if ok && time.Since(j.backlogAt) >= time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if n, size, err := j.q.Backlog(ctx); err == nil {
			j.backlogMsgs, j.backlogSize, j.backlogAt = n, size, time.Now()
		}
		cancel()
	}
	return metrics.JetStreamStats{Connected: ok, Published: ps.Published, Duplicates: ps.Duplicates, PublishErrors: ps.Errors,
		Delivered: cs.Delivered, Redelivered: cs.Redelivered, Acked: cs.Acked, Naked: cs.Naked, GaveUp: cs.GaveUp,
		StreamMessages: j.backlogMsgs, StreamBytes: j.backlogSize}
}

// ready adds the NATS connection to /readyz.
func (j *jsQueue) ready(ok bool, reason string) (bool, string) {
	if !ok {
		return ok, reason
	}
	if qok, why := j.q.Ready(); !qok {
		return false, reason + "; " + why + ": ingest answers 503"
	}
	return ok, reason
}

// stop takes nothing more from the stream or the local log's directory.
func (j *jsQueue) stop() {
	j.cons.Stop()
	if j.local != nil {
		j.local.Stop()
	}
}

// close, after the engine drained, writes the local reader's watermarks
// and closes the connection (the last acks go out first).
func (j *jsQueue) close() {
	if j.local != nil {
		if err := j.local.Close(); err != nil {
			j.in.log.Error(err.Error())
		}
	}
	j.cons.Close()
	if n := j.cons.Stats().Naked; n > 0 {
		j.in.log.Info("{count} transactions given back to the stream for another worker", logx.Args("count", n))
	}
	j.q.Close()
}
