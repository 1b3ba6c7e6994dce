package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/pushlua/pushlua/internal/txn"
	pushrt "github.com/pushlua/pushlua/runtime"
)

// runStats is the summary of `pushlua run`.
type runStats struct {
	mu                          sync.Mutex
	txns, events, calls, errors int
	rejected                    int
	dead                        int // given up on (poisoned) or dropped
}

func (s *runStats) add(r pushrt.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txns++
	s.events += len(r.Txn.Events)
	s.calls += r.Calls
	s.errors += r.Errors
	if r.Dead || r.Dropped {
		s.dead++
	}
}

func cmdRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var c common
	fs := newFlagSet("run", stderr, &c, true)
	jobs := fs.Int("j", 0, "transactions run in parallel (different users); default: number of CPUs")
	if code, done := parseArgs(ctx, fs, args, stdout); done {
		return code
	}
	log, err := c.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua:", err)
		return 2
	}
	// Exit 2: usage and configuration (an unknown setting, no driver);
	// exit 1: a transaction was rejected or failed (a handler error, a
	// driver that did not load), or the store could not be opened.
	cfg, err := c.loadDriverConfig()
	if err != nil {
		printLines(stderr, "pushlua run: ", err.Error())
		return 2
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	st, err := c.openStore(cfg)
	if err != nil {
		if storeHeld(err) {
			path, _ := c.storePath(cfg)
			err = heldError(err, path, "pushlua run needs the store to itself: give it another --data-dir (a copy of this one, to run against its METADATA), or stop that process")
		}
		printLines(stderr, "pushlua run: ", err.Error())
		return 1
	}
	defer func() {
		// The store writes behind: Close writes the rest.
		if err := st.Close(); err != nil {
			log.Error(err.Error())
		}
	}()
	gcCtx, stopGC := context.WithCancel(ctx)
	defer stopGC()
	tuneGC(gcCtx)
	eng, err := pushrt.New(ctx, pushrt.Options{Config: cfg, Store: st, Logger: log, Jobs: *jobs})
	if err != nil {
		fmt.Fprintln(stderr, "pushlua run:", err)
		return 2
	}
	failedDrivers := len(eng.InitErrors())

	inputs := fs.Args()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	var stats runStats
	var wg sync.WaitGroup
	ids := txn.NewIDs()
	fatal := false
	for _, name := range inputs {
		if err := feed(ctx, eng, name, stdin, ids, &stats, &wg, log.Error); err != nil {
			log.Error(err.Error())
			fatal = true
			if errors.Is(err, context.Canceled) {
				break
			}
		}
	}
	wg.Wait()
	_ = eng.Close(context.WithoutCancel(ctx))
	// A driver that failed to load or init is an error too (the list of
	// drivers stopped there), named so that the summary cannot read
	// "0 errors" over a script that never ran.
	errs, loadErrs := stats.errors, ""
	if n := len(eng.InitErrors()); n > 0 {
		errs += n
		loadErrs = fmt.Sprintf(" (%d driver failed to load)", n)
		if n > 1 {
			loadErrs = fmt.Sprintf(" (%d drivers failed to load)", n)
		}
	}
	fmt.Fprintf(stderr, "pushlua: %d transactions, %d events, %d handler calls, %d errors%s, %d rejected lines\n",
		stats.txns, stats.events, stats.calls, errs, loadErrs, stats.rejected)
	if os.Getenv(benchMemstatsEnv) != "" {
		printMemstats(stderr)
	}
	if stats.rejected > 0 || stats.errors > 0 || stats.dead > 0 || failedDrivers > 0 || fatal {
		return 1
	}
	return 0
}

// feed reads one input and submits its transactions; bad lines are logged
// and counted, the rest still run.
func feed(ctx context.Context, eng *pushrt.Engine, name string, stdin io.Reader, ids *txn.IDs,
	stats *runStats, wg *sync.WaitGroup, logError func(string, ...any)) error {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("input: %w", err)
		}
		defer f.Close()
		r = f
	}
	rd := txn.NewReader(name, r, ids)
	for {
		t, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var le *txn.LineError
		if errors.As(err, &le) {
			stats.mu.Lock()
			stats.rejected++
			stats.mu.Unlock()
			logError("rejected: " + le.Error())
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		wg.Add(1)
		if err := eng.Submit(ctx, t, func(r pushrt.Result) { stats.add(r); wg.Done() }); err != nil {
			wg.Done()
			return err
		}
	}
}
