package jetstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pushlua/pushlua/internal/txn"
)

// Submit runs a transaction: done must be called exactly once, with
// processed true once the transaction ran (its end_txn returned), false
// when it was not run (the engine gave up at shutdown). It has the shape of
// package spool's Submit.
type Submit func(ctx context.Context, t *txn.Txn, done func(processed bool)) error

// ConsumeOptions configure a Consumer.
type ConsumeOptions struct {
	// Submit runs a transaction (required).
	Submit Submit
	// GiveUp puts a transaction into the dead-letter area (required): one
	// delivered more than Options.MaxDeliver times without an ack, or a
	// message that is not a transaction (then t has only ID, Input, Line
	// and Raw). deliveries is how many times the server delivered it. When
	// GiveUp fails the message is given back and delivered again after the
	// ack wait.
	GiveUp func(t *txn.Txn, reason string, deliveries int) error
	// Parse decodes a message; default txn.Parse.
	Parse func(data []byte, ids *txn.IDs) (*txn.Txn, error)
}

// Consumer takes transactions out of every partition of the stream. Create
// it with Queue.Consume; shutting down takes two steps, as for a spool
// reader: Stop (take no more), then, after the engine drained and called
// the remaining dones, Close.
type Consumer struct {
	q      *Queue
	opts   ConsumeOptions
	ids    *txn.IDs
	ctx    context.Context
	cancel context.CancelFunc
	ccMu   sync.Mutex // guards ccs (watch replaces them)
	ccs    []natsjs.ConsumeContext

	stopping  atomic.Bool
	pingDone  chan struct{}
	closeCh   chan struct{} // closed by Close
	closeOnce sync.Once

	mu       sync.Mutex
	inFlight map[uint64]*delivery // by stream sequence
	confirm  chan struct{}        // wakes confirmLoop (capacity 1)
	confDone chan struct{}
	logged   map[string]time.Time // consume errors, logged once a minute each

	delivered, redelivered, acked, naked, gaveUp atomic.Uint64
}

// delivery is a message handed to Submit and not acknowledged yet.
type delivery struct {
	msg natsjs.Msg
	id  string
	// ackFailed is set when the ack or nak could not be sent (the
	// connection is closed): the server delivers the message again.
	ackFailed bool
	// acked is set when the transaction ran and its ack was handed to
	// the connection: until a flush confirms that the server read it, a
	// crash or a lost connection can still make the server deliver the
	// message again.
	acked bool
}

// Consume starts taking messages from every partition.
func (q *Queue) Consume(opts ConsumeOptions) (*Consumer, error) {
	if opts.Submit == nil || opts.GiveUp == nil {
		return nil, errors.New("jetstream: Consume needs Submit and GiveUp")
	}
	if opts.Parse == nil {
		opts.Parse = txn.Parse
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Consumer{q: q, opts: opts, ids: txn.NewIDs(), ctx: ctx, cancel: cancel,
		inFlight: map[uint64]*delivery{}, logged: map[string]time.Time{}, pingDone: make(chan struct{}), closeCh: make(chan struct{}),
		confirm: make(chan struct{}, 1), confDone: make(chan struct{})}
	go c.ping()
	go c.confirmLoop()
	ccs, err := c.start(q.cons)
	if err != nil {
		c.Stop()
		c.Close()
		return nil, err
	}
	c.ccs = ccs
	go c.watch()
	return c, nil
}

// start consumes every partition's consumer.
func (c *Consumer) start(cons []natsjs.Consumer) ([]natsjs.ConsumeContext, error) {
	var ccs []natsjs.ConsumeContext
	for p, cons := range cons {
		cc, err := cons.Consume(c.handle,
			// The server hands out one message per partition at a
			// time (MaxAckPending 1): a pull request of 100 stays
			// open on the server across many of them.
			natsjs.PullMaxMessages(100),
			natsjs.ConsumeErrHandler(func(_ natsjs.ConsumeContext, err error) { c.logErr(p, err) }))
		if err != nil {
			for _, cc := range ccs {
				cc.Stop()
			}
			return nil, fmt.Errorf("jetstream: consuming %s: %w", c.q.opts.ConsumerName(p), err)
		}
		ccs = append(ccs, cc)
	}
	return ccs, nil
}

// watch makes the consumers again after every reconnect and consumes them
// anew: a restarted server has lost them (their state is in memory), and
// another server of a cluster has them already (then it changes nothing).
func (c *Consumer) watch() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.q.reconnected:
		}
		for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
			ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
			cons, err := c.q.ensureConsumers(ctx)
			cancel()
			if err == nil {
				c.ccMu.Lock()
				if c.stopping.Load() {
					c.ccMu.Unlock()
					return
				}
				for _, cc := range c.ccs {
					cc.Stop()
				}
				var ccs []natsjs.ConsumeContext
				ccs, err = c.start(cons)
				if err == nil {
					c.ccs = ccs
					c.q.cons = cons
				}
				c.ccMu.Unlock()
				if err == nil {
					c.q.opts.Logger.Info(fmt.Sprintf("jetstream: consuming the %d partitions again after the reconnect", len(cons)))
					break
				}
			}
			c.logErr(-1, fmt.Errorf("after the reconnect: %w (retrying)", err))
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// handle runs on partition's subscription goroutine, one message at a time.
func (c *Consumer) handle(msg natsjs.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		c.q.opts.Logger.Error(fmt.Sprintf("jetstream: a message without metadata on %s: %v", msg.Subject(), err))
		return
	}
	c.delivered.Add(1)
	if md.NumDelivered > 1 {
		c.redelivered.Add(1)
	}
	if c.stopping.Load() {
		c.nak(msg)
		return
	}
	seq := md.Sequence.Stream
	data := msg.Data()
	id := msg.Headers().Get(IDHeader)
	if id == "" {
		id = msg.Headers().Get(natsjs.MsgIDHeader)
	}
	input := "jetstream:" + c.q.opts.Stream
	t, err := c.opts.Parse(data, c.ids)
	if err != nil {
		c.giveUp(msg, &txn.Txn{ID: id, Input: input, Line: int(seq), Raw: bytes.Clone(data)},
			"not a transaction: "+err.Error(), md.NumDelivered)
		return
	}
	if id != "" {
		t.ID = id
	}
	t.Input, t.Line, t.Raw = input, int(seq), bytes.Clone(data)
	if n := md.NumDelivered; n > uint64(c.q.opts.MaxDeliver) {
		c.giveUp(msg, t, fmt.Sprintf("delivered %d times without an acknowledgement (pushlua_queue_max_deliver = %d): every worker that took it stopped or lost its NATS connection while running it", n-1, c.q.opts.MaxDeliver), n)
		return
	}
	c.mu.Lock()
	c.inFlight[seq] = &delivery{msg: msg, id: t.ID}
	c.mu.Unlock()
	if err := c.opts.Submit(c.ctx, t, func(processed bool) { c.finish(seq, msg, processed) }); err != nil {
		c.finish(seq, msg, false)
		if !c.stopping.Load() {
			c.logErr(-1, fmt.Errorf("handing over transaction %s: %w (given back to the stream)", t.ID, err))
		}
	}
}

// finish acknowledges a message that ran, and gives back one that did not.
// A message whose ack or nak could not be sent (the connection is closed)
// stays in InFlight: the server delivers it again. So does one whose ack
// was sent until confirmLoop knows the server read it (msg.Ack only
// buffers it in the connection).
func (c *Consumer) finish(seq uint64, msg natsjs.Msg, processed bool) {
	var err error
	if processed {
		err = msg.Ack()
	} else {
		err = msg.Nak()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.inFlight[seq]
	if err != nil {
		if d != nil {
			d.ackFailed = true
		}
		return
	}
	if !processed {
		// Given back: the server delivers it again whether or not the
		// nak reaches it, and it did not run.
		delete(c.inFlight, seq)
		c.naked.Add(1)
		return
	}
	c.acked.Add(1)
	if d != nil && !d.acked {
		d.acked = true
		select {
		case c.confirm <- struct{}{}:
		default:
		}
	}
}

// each calls f for every delivery in flight, by stream sequence, with
// c.mu held.
func (c *Consumer) each(f func(seq uint64, d *delivery)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for seq, d := range c.inFlight {
		f(seq, d)
	}
}

// confirmLoop settles the acks finish sent: a flush of the connection (a
// round trip behind everything written before it) returns once the
// server read them. Until then they count as in flight (InFlight): a
// crash before the flush makes the server deliver them again. It runs
// until Close.
func (c *Consumer) confirmLoop() {
	defer close(c.confDone)
	type sent struct {
		seq uint64
		d   *delivery
	}
	var acked []sent
	untilClose(c.closeCh, c.confirm, func() {
		acked = acked[:0]
		c.each(func(seq uint64, d *delivery) {
			if d.acked {
				acked = append(acked, sent{seq, d})
			}
		})
		if len(acked) == 0 {
			return
		}
		if err := c.q.nc.FlushTimeout(c.q.opts.AckWait); err != nil {
			// Not known to have arrived; the next ack tries again,
			// and the server delivers again what it lacks.
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, a := range acked {
			// Unless delivered again meanwhile (then handle
			// replaced it, and it runs again).
			if c.inFlight[a.seq] == a.d {
				delete(c.inFlight, a.seq)
			}
		}
	})
}

// untilClose calls f each time wake fires, until closed is closed.
func untilClose[T any](closed <-chan struct{}, wake <-chan T, f func()) {
	for {
		select {
		case <-closed:
			return
		case <-wake:
		}
		f()
	}
}

func (c *Consumer) nak(msg natsjs.Msg) {
	if msg.Nak() == nil {
		c.naked.Add(1)
	}
}

func (c *Consumer) giveUp(msg natsjs.Msg, t *txn.Txn, reason string, deliveries uint64) {
	if err := c.opts.GiveUp(t, reason, int(deliveries)); err != nil {
		c.q.opts.Logger.Error(fmt.Sprintf("jetstream: transaction %s (%s:%d): %v; it stays in the stream", t.ID, t.Input, t.Line, err))
		_ = msg.NakWithDelay(c.q.opts.AckWait)
		return
	}
	c.gaveUp.Add(1)
	_ = msg.TermWithReason("pushlua: put into the dead-letter area")
}

// ping tells the server, every AckWait/3, that the transactions still
// running are in progress, so that it does not deliver them again. It runs
// until Close: after Stop the engine still drains what it took.
func (c *Consumer) ping() {
	defer close(c.pingDone)
	tick := time.NewTicker(max(c.q.opts.AckWait/3, 30*time.Millisecond))
	defer tick.Stop()
	var msgs []natsjs.Msg
	untilClose(c.closeCh, tick.C, func() {
		msgs = msgs[:0]
		c.each(func(_ uint64, d *delivery) {
			if !d.ackFailed && !d.acked {
				msgs = append(msgs, d.msg)
			}
		})
		for _, m := range msgs {
			_ = m.InProgress()
		}
	})
}

// logErr logs a consume error once a minute per message (a disconnect
// reaches every partition at once).
func (c *Consumer) logErr(p int, err error) {
	msg := err.Error()
	c.mu.Lock()
	last, seen := c.logged[msg]
	now := time.Now()
	if seen && now.Sub(last) < time.Minute {
		c.mu.Unlock()
		return
	}
	c.logged[msg] = now
	c.mu.Unlock()
	where := ""
	if p >= 0 {
		where = " (" + c.q.opts.ConsumerName(p) + " and maybe others)"
	}
	c.q.opts.Logger.Warn("jetstream: " + msg + where)
}

// Stop takes no more messages: those that arrive meanwhile are given back
// at once (nak), for another worker. The ones handed to Submit still end
// with their done callback.
func (c *Consumer) Stop() {
	if c.stopping.Swap(true) {
		return
	}
	c.cancel()
	c.ccMu.Lock()
	defer c.ccMu.Unlock()
	if ok, _ := c.q.Ready(); !ok {
		// Nothing can arrive, nothing can be given back.
		for _, cc := range c.ccs {
			cc.Stop()
		}
		return
	}
	for _, cc := range c.ccs {
		cc.Drain()
	}
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for _, cc := range c.ccs {
		select {
		case <-cc.Closed():
		case <-deadline.C:
			return
		}
	}
}

// Close ends the in-progress signals; call it after Stop, once the engine
// drained.
func (c *Consumer) Close() {
	c.Stop()
	c.closeOnce.Do(func() { close(c.closeCh) })
	<-c.pingDone
	<-c.confDone
}

// InFlight returns the ids of the transactions taken and not settled with
// the server (acknowledged, with the ack confirmed by a flush, or given
// back), sorted: after the connection closed, the ones the server may
// deliver again.
func (c *Consumer) InFlight() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.inFlight))
	for _, d := range c.inFlight {
		out = append(out, d.id)
	}
	sort.Strings(out)
	return out
}

// ConsumeStats count a Consumer's messages since it started.
type ConsumeStats struct {
	// Delivered counts messages the server handed to this process,
	// Redelivered those of them it had delivered before (to this or
	// another process).
	Delivered, Redelivered uint64
	// Acked counts messages acknowledged after their transaction ran,
	// Naked those given back unrun, GaveUp those put into the dead-letter
	// area.
	Acked, Naked, GaveUp uint64
	// InFlight is how many are taken and not acknowledged now.
	InFlight int
}

// Stats returns the Consumer's counts.
func (c *Consumer) Stats() ConsumeStats {
	n := 0
	c.each(func(_ uint64, d *delivery) {
		if !d.acked {
			n++
		}
	})
	return ConsumeStats{Delivered: c.delivered.Load(), Redelivered: c.redelivered.Load(),
		Acked: c.acked.Load(), Naked: c.naked.Load(), GaveUp: c.gaveUp.Load(), InFlight: n}
}
