package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/metrics"
	"github.com/pushlua/pushlua/internal/store"
)

const storeUsage = `usage: pushlua store check [-c CONFIG] [--data-dir DIR]
       pushlua store repair [-c CONFIG] [--data-dir DIR]

check reads the store file (pushlua.db in the data directory) page by page
and reports damage: exit 0 when it is sound, 1 when it is damaged.
repair salvages what is readable from a damaged store into a new file,
moves the damaged one aside as pushlua.db.corrupt-<time> and says what was
lost. Both need the store to themselves: stop pushlua serve first.
`

// cmdStore is `pushlua store check|repair`.
func cmdStore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, storeUsage)
		return 2
	}
	verb := args[0]
	if verb != "check" && verb != "repair" {
		fmt.Fprintf(stderr, "pushlua store: unknown subcommand %q\n%s", verb, storeUsage)
		return 2
	}
	var c common
	fs := newFlagSet("store "+verb, stderr, &c, true)
	if code, done := parseArgs(ctx, fs, args[1:], stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, storeUsage)
		return 2
	}
	cfg := emptyConfig()
	if c.config != "" {
		loaded, err := c.loadConfig()
		if err != nil {
			fmt.Fprintf(stderr, "pushlua store %s: %v\n", verb, err)
			return 2
		}
		cfg = loaded
	}
	path, err := c.storePath(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "pushlua store %s: %v\n", verb, err)
		return 1
	}
	if verb == "check" {
		return storeCheck(&c, path, stdout, stderr)
	}
	return storeRepair(path, stdout, stderr)
}

func storeCheck(c *common, path string, stdout, stderr io.Writer) int {
	rep, err := store.Check(path, 0)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua store check:", err)
		return 1
	}
	switch {
	case rep.Size == 0:
		fmt.Fprintf(stdout, "%s: no store yet (it is created when first used)\n", path)
		return 0
	case rep.OK():
		fmt.Fprintf(stdout, "%s: ok: %d users, %d records, %d bytes (%d pages of %d bytes, transaction %d)\n",
			path, rep.Users, rep.Records, rep.Size, rep.Pages, rep.PageSize, rep.TxID)
		for _, w := range rep.Warnings {
			fmt.Fprintf(stdout, "  warning: %s\n", w)
		}
		return 0
	}
	fmt.Fprintf(stdout, "%s: damaged:\n", path)
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "  %s\n", p)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(stdout, "  warning: %s\n", w)
	}
	fmt.Fprintf(stdout, "run `%s` to salvage what is readable into a new store\n", c.repairCommand())
	return 1
}

func storeRepair(path string, stdout, stderr io.Writer) int {
	rr, err := store.Repair(path, store.BoltOptions{})
	if err != nil {
		fmt.Fprintln(stderr, "pushlua store repair:", err)
		return 1
	}
	if rr.Damage.OK() {
		fmt.Fprintf(stdout, "%s: ok, nothing to repair\n", path)
		return 0
	}
	n := len(rr.Damage.Problems)
	fmt.Fprintf(stdout, "%s: damaged (%d problem%s, the first: %s)\n", path, n, map[bool]string{true: "", false: "s"}[n == 1], rr.Damage.Problems[0])
	from := ""
	if rr.TxID != 0 && rr.TxID != rr.Damage.TxID {
		from = fmt.Sprintf(" from the previous commit (transaction %d; the last commit, %d, is lost)", rr.TxID, rr.Damage.TxID)
	}
	fmt.Fprintf(stdout, "salvaged %d users and %d records%s into a new %s\n", rr.Users, rr.Records, from, path)
	if len(rr.Skipped) > 0 {
		fmt.Fprintln(stdout, "lost what lay under:")
		for _, s := range rr.Skipped {
			fmt.Fprintf(stdout, "  %s\n", s)
		}
	}
	fmt.Fprintf(stdout, "the damaged file is kept as %s\n", rr.MovedTo)
	fmt.Fprintln(stdout, "mailbox status is learned again from the next transactions; check the METADATA set with pushlua metadata (pushlua metadata list -u USER)")
	return 0
}

// repairCommand is the `pushlua store repair` command line that repairs
// the store this command uses.
func (c *common) repairCommand() string {
	var b strings.Builder
	b.WriteString("pushlua store repair")
	if c.config != "" {
		fmt.Fprintf(&b, " -c %s", c.config)
	}
	if c.dataDir != "" {
		fmt.Fprintf(&b, " --data-dir %s", c.dataDir)
	}
	return b.String()
}

// storeError adds to a damaged store's error what to do about it.
func (c *common) storeError(err error) error {
	if errors.Is(err, store.ErrCorrupt) {
		return fmt.Errorf("%w; pushlua will not use it: run `%s` to salvage what is readable into a new store (the damaged file is kept aside)", err, c.repairCommand())
	}
	return err
}

// storeOptions reads the store's settings: pushlua_store_expire (Dovecot
// time syntax; 0 turns expiry off; default 30d).
func storeOptions(cfg *dconfig.Config) (store.BoltOptions, error) {
	var opts store.BoltOptions
	if cfg == nil {
		return opts, nil
	}
	if v := cfg.Settings["pushlua_store_expire"]; v != "" {
		d, err := dconfig.ParseTime(v)
		if err != nil {
			return opts, fmt.Errorf("pushlua_store_expire: %w", err)
		}
		opts.Expire = d
		if d == 0 {
			opts.Expire = store.NeverExpire
		}
	}
	return opts, nil
}

// watchStore is serve's side of the store: pushlua_store_bytes and
// pushlua_store_users on /metrics, and the expiry sweep (see
// store.Bolt.RunExpiry) until stop is called, which waits for a sweep
// under way to end.
func watchStore(ctx context.Context, st store.Store, m *metrics.Metrics, log *slog.Logger) (stop func()) {
	b, ok := st.(*store.Bolt)
	if !ok {
		return func() {}
	}
	if err := m.WatchStore(b.SizeBytes, b.Users); err != nil {
		log.Error(err.Error())
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.RunExpiry(ctx, log)
	}()
	return func() {
		cancel()
		<-done
	}
}
