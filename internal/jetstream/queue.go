package jetstream

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// Defaults of Options.
const (
	DefaultStream          = "PUSHLUA"
	DefaultSubject         = "pushlua.txn"
	DefaultPartitions      = 64
	DefaultReplicas        = 1
	DefaultMaxBytes        = 1 << 30
	DefaultAckWait         = 30 * time.Second
	DefaultMaxDeliver      = 5
	DefaultDuplicateWindow = 2 * time.Minute
	DefaultPublishTimeout  = 5 * time.Second
)

// metaPartitions is the stream metadata key naming the partition count the
// stream was created for.
const metaPartitions = "pushlua-partitions"

// Options configure a Queue.
type Options struct {
	// URL is one or more NATS server URLs, comma separated
	// ("nats://10.0.0.1:4222,nats://10.0.0.2:4222"). Required.
	URL string
	// Name is the connection's name, as the servers show it. Default
	// "pushlua".
	Name string
	// CredsFile is a NATS credentials file (JWT and nkey seed).
	CredsFile string
	// User and Password, or Token, authenticate without a credentials
	// file.
	User, Password string
	Token          string
	// TLSCA is a PEM file of the CAs that sign the servers' certificates;
	// TLSCert and TLSKey, a client certificate and its key (mutual TLS).
	TLSCA, TLSCert, TLSKey string
	// Stream is the stream's name. Default DefaultStream.
	Stream string
	// Subject is the subjects' prefix: partition n is "<Subject>.<n>".
	// Default DefaultSubject.
	Subject string
	// Partitions is the number of partitions. Every process on one stream
	// must use the same number (Open checks it against the stream).
	// Default DefaultPartitions.
	Partitions int
	// Replicas is the stream's number of copies (1, or 3 on a cluster of
	// three servers), used when Open creates it. Default DefaultReplicas.
	Replicas int
	// MaxBytes bounds the stream; a full stream refuses new messages
	// (Publish fails, ingest answers 503). Default DefaultMaxBytes.
	MaxBytes int64
	// MaxAge deletes messages older than it, processed or not. Default
	// (0): none.
	MaxAge time.Duration
	// DuplicateWindow is how long the stream remembers a message id to
	// drop a second copy. Default DefaultDuplicateWindow.
	DuplicateWindow time.Duration
	// AckWait is how long a delivered message may go without an ack or an
	// in-progress signal before the server delivers it again. Default
	// DefaultAckWait.
	AckWait time.Duration
	// MaxDeliver is how many deliveries without an ack a message gets
	// before it goes to the dead-letter area instead of running again.
	// Default DefaultMaxDeliver.
	MaxDeliver int
	// PublishTimeout bounds the wait for one publish's acknowledgement.
	// Default DefaultPublishTimeout.
	PublishTimeout time.Duration
	// Logger receives connection events and failures. Default: discard.
	Logger *slog.Logger

	// natsOptions are added to the connection's options (tests).
	natsOptions []nats.Option
}

func (o *Options) setDefaults() error {
	if strings.TrimSpace(o.URL) == "" {
		return errors.New("jetstream: no server URL")
	}
	if o.Name == "" {
		o.Name = "pushlua"
	}
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if strings.ContainsAny(o.Stream, ".*> \t") {
		return fmt.Errorf("jetstream: stream name %q: must not contain '.', '*', '>' or white space", o.Stream)
	}
	if o.Subject == "" {
		o.Subject = DefaultSubject
	}
	if strings.ContainsAny(o.Subject, "*> \t") || strings.HasPrefix(o.Subject, ".") || strings.HasSuffix(o.Subject, ".") {
		return fmt.Errorf("jetstream: subject %q: expected tokens separated by '.', without wildcards", o.Subject)
	}
	if o.Partitions == 0 {
		o.Partitions = DefaultPartitions
	}
	if o.Partitions < 1 || o.Partitions > 4096 {
		return fmt.Errorf("jetstream: partitions: expected 1 to 4096, got %d", o.Partitions)
	}
	if o.Replicas == 0 {
		o.Replicas = DefaultReplicas
	}
	if o.Replicas < 1 || o.Replicas > 5 {
		return fmt.Errorf("jetstream: replicas: expected 1 to 5, got %d", o.Replicas)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	if o.AckWait == 0 {
		o.AckWait = DefaultAckWait
	}
	if o.AckWait < 100*time.Millisecond {
		return fmt.Errorf("jetstream: ack wait %s: must be at least 100ms", o.AckWait)
	}
	if o.MaxDeliver == 0 {
		o.MaxDeliver = DefaultMaxDeliver
	}
	if o.MaxDeliver < 1 {
		return fmt.Errorf("jetstream: max deliver: expected a positive number, got %d", o.MaxDeliver)
	}
	if o.PublishTimeout == 0 {
		o.PublishTimeout = DefaultPublishTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return errors.New("jetstream: a client certificate needs both its certificate and its key file")
	}
	return nil
}

// Queue is a connection to the stream. Create it with Open.
type Queue struct {
	opts   Options
	nc     *nats.Conn
	js     natsjs.JetStream
	stream natsjs.Stream
	cons   []natsjs.Consumer // by partition

	published, duplicates, publishErrors atomic.Uint64

	mu      sync.Mutex
	lastErr string // the connection's last error, for Ready

	// reconnected is poked after every reconnect: the Consumer makes
	// the consumers again and restarts consuming.
	reconnected chan struct{}
}

// Open connects to the servers, creates the stream and the partitions'
// consumers when missing, and returns the Queue.
func Open(ctx context.Context, opts Options) (*Queue, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	q := &Queue{opts: opts, reconnected: make(chan struct{}, 1)}
	log := opts.Logger
	nopts := []nats.Option{
		nats.Name(opts.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				q.setErr(err.Error())
				log.Warn(fmt.Sprintf("jetstream: disconnected from %s: %v; reconnecting", nc.ConnectedUrlRedacted(), err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("jetstream: reconnected to " + nc.ConnectedUrlRedacted())
			select {
			case q.reconnected <- struct{}{}:
			default:
			}
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			q.setErr(err.Error())
			log.Warn(fmt.Sprintf("jetstream: %v", err))
		}),
	}
	switch {
	case opts.CredsFile != "":
		nopts = append(nopts, nats.UserCredentials(opts.CredsFile))
	case opts.Token != "":
		nopts = append(nopts, nats.Token(opts.Token))
	case opts.User != "":
		nopts = append(nopts, nats.UserInfo(opts.User, opts.Password))
	}
	if opts.TLSCA != "" {
		nopts = append(nopts, nats.RootCAs(opts.TLSCA))
	}
	if opts.TLSCert != "" {
		nopts = append(nopts, nats.ClientCert(opts.TLSCert, opts.TLSKey))
	}
	nopts = append(nopts, opts.natsOptions...)
	nc, err := nats.Connect(opts.URL, nopts...)
	if err != nil {
		return nil, fmt.Errorf("jetstream: connecting to %s: %w", redactURLs(opts.URL), err)
	}
	q.nc = nc
	js, err := natsjs.New(nc, natsjs.WithPublishAsyncTimeout(opts.PublishTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	q.js = js
	if err := q.ensure(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	log.Info(fmt.Sprintf("jetstream: connected to %s; stream %s, %d partitions on %s.*", nc.ConnectedUrlRedacted(), opts.Stream, opts.Partitions, opts.Subject))
	return q, nil
}

// redactURLs drops the userinfo of every URL in a comma-separated list.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if at := strings.LastIndexByte(p, '@'); at >= 0 {
			scheme, _, ok := strings.Cut(p, "://")
			if ok {
				p = scheme + "://" + p[at+1:]
			} else {
				p = p[at+1:]
			}
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

func (q *Queue) setErr(s string) {
	q.mu.Lock()
	q.lastErr = s
	q.mu.Unlock()
}

// StreamConfig is the configuration Open creates the stream with.
func (o Options) StreamConfig() natsjs.StreamConfig {
	return natsjs.StreamConfig{
		Name:        o.Stream,
		Description: "pushlua transactions (docs/cluster.md)",
		Subjects:    []string{o.Subject + ".*"},
		Retention:   natsjs.WorkQueuePolicy,
		Discard:     natsjs.DiscardNew,
		Storage:     natsjs.FileStorage,
		Replicas:    o.Replicas,
		MaxBytes:    o.MaxBytes,
		MaxAge:      o.MaxAge,
		MaxMsgs:     -1,
		Duplicates:  o.DuplicateWindow,
		Metadata:    map[string]string{metaPartitions: strconv.Itoa(o.Partitions)},
	}
}

// ConsumerName is partition p's durable consumer.
func (o Options) ConsumerName(p int) string {
	return fmt.Sprintf("%s-p%d", o.Stream, p)
}

// ensure creates the stream and the consumers when missing and checks the
// stream's partition count.
func (q *Queue) ensure(ctx context.Context) error {
	o := q.opts
	s, err := q.js.Stream(ctx, o.Stream)
	if errors.Is(err, natsjs.ErrStreamNotFound) {
		s, err = q.js.CreateStream(ctx, o.StreamConfig())
		if errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) {
			// Another process created it meanwhile.
			s, err = q.js.Stream(ctx, o.Stream)
		} else if err == nil {
			o.Logger.Info(fmt.Sprintf("jetstream: created the stream %s (%d replicas, at most %d bytes, max age %s)", o.Stream, o.Replicas, o.MaxBytes, ageText(o.MaxAge)))
		}
	}
	if err != nil {
		return fmt.Errorf("jetstream: stream %s: %w", o.Stream, err)
	}
	cfg := s.CachedInfo().Config
	if got := cfg.Metadata[metaPartitions]; got != strconv.Itoa(o.Partitions) {
		if got == "" {
			got = "an unknown number of"
		}
		return fmt.Errorf("jetstream: stream %s was created for %s partitions, pushlua_queue_partitions is %d: every worker must use the stream's number (changing it reorders users: drain the stream, delete it, then change it)", o.Stream, got, o.Partitions)
	}
	if cfg.Retention != natsjs.WorkQueuePolicy || len(cfg.Subjects) != 1 || cfg.Subjects[0] != o.Subject+".*" {
		return fmt.Errorf("jetstream: stream %s: expected work-queue retention on the subjects %s.*, found %s on %s", o.Stream, o.Subject, cfg.Retention, strings.Join(cfg.Subjects, ", "))
	}
	q.stream = s
	cons, err := q.ensureConsumers(ctx)
	if err != nil {
		return err
	}
	q.cons = cons
	return nil
}

// ensureConsumers creates the partitions' consumers, or updates them to
// the Options; a server restart drops them (their state is in memory), so
// a Consumer calls it again after every reconnect.
func (q *Queue) ensureConsumers(ctx context.Context) ([]natsjs.Consumer, error) {
	o := q.opts
	cons := make([]natsjs.Consumer, o.Partitions)
	for p := range o.Partitions {
		c, err := q.js.CreateOrUpdateConsumer(ctx, o.Stream, natsjs.ConsumerConfig{
			Durable:       o.ConsumerName(p),
			Description:   fmt.Sprintf("pushlua partition %d: one transaction at a time (docs/cluster.md)", p),
			FilterSubject: q.subject(p),
			DeliverPolicy: natsjs.DeliverAllPolicy,
			AckPolicy:     natsjs.AckExplicitPolicy,
			AckWait:       o.AckWait,
			MaxDeliver:    -1, // pushlua gives up itself (MaxDeliver → GiveUp)
			MaxAckPending: 1,
			// The stream is the record (work-queue retention deletes
			// only acknowledged messages); the consumer's state (what is
			// out, how often delivered) in memory keeps its writes off
			// the disk, and after a restart the messages in flight go
			// out again at once (package comment).
			MemoryStorage: true,
		})
		if err != nil {
			return nil, fmt.Errorf("jetstream: consumer %s of stream %s: %w", o.ConsumerName(p), o.Stream, err)
		}
		cons[p] = c
	}
	return cons, nil
}

func ageText(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}

// subject is partition p's subject.
func (q *Queue) subject(p int) string {
	return q.opts.Subject + "." + strconv.Itoa(p)
}

// Partition returns user's partition.
func (q *Queue) Partition(user string) int {
	return Partition(user, q.opts.Partitions)
}

// Partition returns user's partition of n: FNV-1a (32 bits) of the user
// name, mod n.
func Partition(user string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(user))
	return int(h.Sum32() % uint32(n))
}

// Options returns the Queue's options, defaults filled in.
func (q *Queue) Options() Options { return q.opts }

// IDHeader carries a message's transaction id.
const IDHeader = "Pushlua-Id"

// Msg is one transaction to publish.
type Msg struct {
	// ID is the transaction's id (the IDHeader).
	ID string
	// Key is the message's Nats-Msg-Id, by which the stream drops a
	// second copy; default ID. A transaction put back on purpose (a
	// replayed dead letter) needs a key of its own.
	Key string
	// User is its mail user, which picks the partition.
	User string
	// Data is the transaction, one JSON object.
	Data []byte
}

// Publish stores msgs in the stream and returns once every one of them
// was acknowledged, or the first failure. Messages of one partition are
// published in their order, each after the one before was acknowledged,
// and not at all after a failure; partitions go in parallel. After a
// failure some messages may be stored: a retry with the same ids stores
// each once (within the duplicate window).
func (q *Queue) Publish(ctx context.Context, msgs []Msg) error {
	if len(msgs) == 0 {
		return nil
	}
	if len(msgs) == 1 {
		return q.publishRound(ctx, msgs)
	}
	// Rounds: the i-th message of every partition, published together.
	var order []int // partitions in first-seen order
	groups := map[int][]Msg{}
	for _, m := range msgs {
		p := q.Partition(m.User)
		if _, ok := groups[p]; !ok {
			order = append(order, p)
		}
		groups[p] = append(groups[p], m)
	}
	round := make([]Msg, 0, len(order))
	for i := 0; ; i++ {
		round = round[:0]
		for _, p := range order {
			if g := groups[p]; i < len(g) {
				round = append(round, g[i])
			}
		}
		if len(round) == 0 {
			return nil
		}
		if err := q.publishRound(ctx, round); err != nil {
			return err
		}
	}
}

// publishRound publishes msgs at once and waits for every ack.
func (q *Queue) publishRound(ctx context.Context, msgs []Msg) error {
	futures := make([]natsjs.PubAckFuture, 0, len(msgs))
	var first error
	fail := func(m Msg, err error) {
		q.publishErrors.Add(1)
		if first == nil {
			first = fmt.Errorf("jetstream: publishing transaction %s to %s (stream %s): %w", m.ID, q.subject(q.Partition(m.User)), q.opts.Stream, err)
		}
	}
	for _, m := range msgs {
		nm := nats.NewMsg(q.subject(q.Partition(m.User)))
		nm.Data = m.Data
		nm.Header.Set(IDHeader, m.ID)
		key := m.Key
		if key == "" {
			key = m.ID
		}
		f, err := q.js.PublishMsgAsync(nm, natsjs.WithMsgID(key), natsjs.WithExpectStream(q.opts.Stream))
		if err != nil {
			fail(m, err)
			break
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			q.published.Add(1)
			if ack.Duplicate {
				q.duplicates.Add(1)
			}
		case err := <-f.Err():
			fail(msgs[i], err)
		case <-ctx.Done():
			fail(msgs[i], context.Cause(ctx))
			return first
		}
	}
	return first
}

// Ready reports whether the connection is up, and says why not.
func (q *Queue) Ready() (bool, string) {
	st := q.nc.Status()
	if st == nats.CONNECTED {
		return true, ""
	}
	q.mu.Lock()
	last := q.lastErr
	q.mu.Unlock()
	why := fmt.Sprintf("not connected to NATS (%s, %s)", strings.ToLower(st.String()), redactURLs(q.opts.URL))
	if last != "" {
		why += ": " + last
	}
	return false, why
}

// Backlog returns the stream's messages and bytes: the transactions
// accepted and not processed yet, by every worker (the stream deletes a
// message once acknowledged).
func (q *Queue) Backlog(ctx context.Context) (msgs, bytes uint64, err error) {
	info, err := q.stream.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("jetstream: stream %s: %w", q.opts.Stream, err)
	}
	return info.State.Msgs, info.State.Bytes, nil
}

// PublishStats count Publish's messages since Open.
type PublishStats struct {
	// Published counts messages the stream acknowledged, Duplicates those
	// of them it had already (same id within the duplicate window).
	Published, Duplicates uint64
	// Errors counts messages that failed.
	Errors uint64
}

// PublishStats returns the counts of Publish.
func (q *Queue) PublishStats() PublishStats {
	return PublishStats{Published: q.published.Load(), Duplicates: q.duplicates.Load(), Errors: q.publishErrors.Load()}
}

// Close flushes what was sent (acks included) and closes the connection.
// Stop every Consumer first.
func (q *Queue) Close() {
	if q.nc.IsConnected() {
		_ = q.nc.FlushTimeout(2 * time.Second)
	}
	q.nc.Close()
}

// Abort closes the connection at once: acks already written go out, nothing
// more does, and whatever this process took and did not acknowledge goes
// to another worker after the ack wait (tests use it to stop a worker
// abruptly).
func (q *Queue) Abort() {
	q.nc.Close()
}
