// Package jetstream owns pushlua's queue on NATS JetStream
// (docs/cluster.md): the stream that `pushlua serve` processes publish
// accepted transactions to, and the consumers through which any number of
// them take the transactions out again, one user at a time, in order.
//
// # The stream
//
// Open connects to the NATS servers of Options.URL and creates the stream
// Options.Stream when it is missing: subjects "<Subject>.<partition>",
// work-queue retention (a message is deleted once acknowledged), file
// storage, Options.Replicas copies, Options.MaxBytes (the backlog's bound;
// a full stream refuses new messages, it never discards accepted ones),
// Options.MaxAge (0: none) and Options.DuplicateWindow. A stream that
// exists is used as it is, after checking that it was made for the same
// number of partitions (the stream's metadata says which).
//
// # Per-user order
//
// A transaction goes to partition FNV-1a(user) mod Options.Partitions, and
// each partition has one durable pull consumer ("<stream>-p<n>") with
// explicit acks and MaxAckPending 1: the server hands out a partition's
// next message only once the one before it was acknowledged, and an
// unacknowledged one (its worker died) is redelivered, after AckWait,
// before anything later. Any number of processes consume every partition;
// whichever the server hands a message to runs it, and no two run the
// transactions of one partition (and so of one user) at once, or out of
// order. A worker that still runs a transaction tells the server so every
// AckWait/3 (in progress), so only a worker that died or lost its
// connection for longer than AckWait loses its transaction to another.
//
// The consumers keep their state (which message is out, how often it was
// delivered) in the servers' memory, replicated like the consumer: the
// stream is the durable record, since work-queue retention deletes only
// acknowledged messages. A single server that restarts forgets the
// consumers; a Consumer makes them again after every reconnect. A restart
// of every NATS server loses no transaction: the ones in flight are
// delivered again at once (with file-backed consumer state they would wait
// for the ack wait), and their delivery counts start over. File-backed
// state also costs throughput: BenchmarkThroughput with one consumer,
// 9,800-11,100 txn/s in memory, 5,800-9,400 with files.
//
// Publish keeps a request's order too: the transactions of one partition
// are published one after the other, each after the one before it was
// acknowledged (partitions in parallel), and the first failure stops the
// rest, so a sender's retry never stores a later transaction before an
// earlier one. Every message carries the transaction id as Nats-Msg-Id:
// the stream drops a second copy within Options.DuplicateWindow.
//
// # Acknowledgement and poison
//
// A Consumer hands each message to ConsumeOptions.Submit with a done
// callback, and acknowledges the message when done reports it processed
// (its end_txn returned), or gives it back (nak) when it was not run.
// The server counts deliveries; a message delivered more than
// Options.MaxDeliver times without an ack (every worker that took it died
// or lost its connection while running it) is not run again: it goes to
// ConsumeOptions.GiveUp (the dead-letter area) and is terminated. The
// server-side MaxDeliver is unlimited, so the server never drops a message
// silently.
package jetstream
