package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/ingest"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/metrics"
	"github.com/pushlua/pushlua/internal/redact"
	"github.com/pushlua/pushlua/internal/txn"
	pushrt "github.com/pushlua/pushlua/runtime"
)

// defaultListen is where serve listens without --listen or pushlua_listen.
const defaultListen = "127.0.0.1:8787"

// defaultConfig is what serve runs without -c: the bundled dlog driver,
// which logs every transaction it gets.
const defaultConfig = `# pushlua's embedded default configuration
plugin {
  push_notification_driver = dlog
}
`

// serveSettings are serve's own settings: flags win over the
// configuration's pushlua_* settings.
type serveSettings struct {
	listen       string
	token        string
	maxBody      int64
	drainTimeout time.Duration
	debounce     time.Duration
	spool        spoolSettings // pushlua_spool*
	bodyTimeout  time.Duration // pushlua_body_timeout
	maxInflight  int64         // pushlua_max_inflight_bytes; 0: 4 × maxBody
	userQueue    int           // pushlua_user_queue_size
	allowedHosts []string      // pushlua_allowed_hosts
}

// defaultUserQueue is pushlua_user_queue_size's default: how many
// transactions of one user may wait or run before that user is answered
// 429 (the shared queue holds 1024).
const defaultUserQueue = 64

func readServeSettings(cfg *dconfig.Config, listenFlag string) (serveSettings, error) {
	s := serveSettings{listen: defaultListen, maxBody: 10 << 20, drainTimeout: 30 * time.Second,
		bodyTimeout: ingest.DefaultBodyTimeout, userQueue: defaultUserQueue}
	if v := cfg.Settings["pushlua_listen"]; v != "" {
		s.listen = v
	}
	if listenFlag != "" {
		s.listen = listenFlag
	}
	spoolSet, err := readSpoolSettings(cfg)
	if err != nil {
		return s, err
	}
	s.spool = spoolSet
	s.token = cfg.Settings["pushlua_auth_token"]
	if v := os.Getenv("PUSHLUA_AUTH_TOKEN"); v != "" {
		s.token = v
	}
	if v := cfg.Settings["pushlua_max_body"]; v != "" {
		var n int64
		if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
			return s, fmt.Errorf("pushlua_max_body: expected a positive number of bytes, got %q", v)
		}
		s.maxBody = n
	}
	if v := cfg.Settings["pushlua_drain_timeout"]; v != "" {
		d, err := dconfig.ParseTime(v)
		if err != nil {
			return s, fmt.Errorf("pushlua_drain_timeout: %w", err)
		}
		s.drainTimeout = d
	}
	if v := cfg.Settings["pushlua_reload_debounce"]; v != "" {
		d, err := dconfig.ParseTimeMsecs(v)
		if err != nil {
			return s, fmt.Errorf("pushlua_reload_debounce: %w", err)
		}
		s.debounce = d
	}
	if v := cfg.Settings["pushlua_body_timeout"]; v != "" {
		d, err := dconfig.ParseTimeMsecs(v)
		if err != nil {
			return s, fmt.Errorf("pushlua_body_timeout: %w", err)
		}
		if d <= 0 {
			return s, fmt.Errorf("pushlua_body_timeout: must be more than 0, got %q", v)
		}
		s.bodyTimeout = d
	}
	if v := cfg.Settings["pushlua_max_inflight_bytes"]; v != "" {
		var n int64
		if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
			return s, fmt.Errorf("pushlua_max_inflight_bytes: expected a positive number of bytes, got %q", v)
		}
		if n < s.maxBody {
			return s, fmt.Errorf("pushlua_max_inflight_bytes: %d is less than pushlua_max_body (%d): no request of the largest size could be read", n, s.maxBody)
		}
		s.maxInflight = n
	}
	if v := cfg.Settings["pushlua_user_queue_size"]; v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
			return s, fmt.Errorf("pushlua_user_queue_size: expected a positive integer, got %q", v)
		}
		s.userQueue = n
	}
	s.allowedHosts = strings.FieldsFunc(cfg.Settings["pushlua_allowed_hosts"], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	return s, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c common
	fs := newFlagSet("serve", stderr, &c, true)
	listen := fs.String("listen", "", "address to listen on: host:port or unix:/path (default "+defaultListen+")")
	jobs := fs.Int("j", 0, "transactions run in parallel (different users); default: 4 × CPUs, at least 8 (scripts mostly wait on HTTP)")
	if code, done := parseArgs(ctx, fs, args, stdout); done {
		return code
	}
	log, err := c.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua:", err)
		return 2
	}
	load := func() (*dconfig.Config, error) {
		if c.config != "" {
			// A reload to a configuration with a typo or without any
			// driver fails, and the running version keeps serving.
			return c.loadDriverConfig()
		}
		cfg, err := dconfig.ParseReader("(embedded default)", strings.NewReader(defaultConfig), "")
		if err != nil {
			return nil, err
		}
		if err := c.override(cfg); err != nil {
			return nil, err
		}
		return cfg, nil
	}
	cfg, err := load()
	if err == nil {
		// Without a driver every transaction would be accepted and go
		// nowhere: refuse to start, naming the line to fix.
		err = noDriver(cfg)
	}
	if err != nil {
		printLines(stderr, "pushlua serve: ", err.Error())
		return 2
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if c.config == "" {
		log.Info("no -c given: running the embedded default configuration (the bundled dlog driver)")
	}
	set, err := readServeSettings(cfg, *listen)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua serve:", err)
		return 2
	}
	if ingest.RequireAuth(set.listen) && set.token == "" {
		fmt.Fprintf(stderr, "pushlua serve: refusing to listen on %s without pushlua_auth_token (or PUSHLUA_AUTH_TOKEN): only loopback addresses and Unix sockets may go without one\n", set.listen)
		return 2
	}
	st, err := c.openStore(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua serve:", err)
		return 1
	}
	defer func() {
		// The store writes behind: Close writes the rest.
		if err := st.Close(); err != nil {
			log.Error(err.Error())
		}
	}()

	if *jobs <= 0 {
		*jobs = max(8, 4*goruntime.NumCPU())
	}
	m := metrics.New(prometheus.NewRegistry(), metrics.WithRuntimeCollectors())
	_ = m.SetBuildInfo(metrics.ReadBuildInfo()) // once per registry: cannot fail
	stopStore := watchStore(ctx, st, m, log)
	defer stopStore()
	durable, err := readDurableSettings(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua serve:", err)
		return 2
	}
	dataDir, err := c.dataDirPath(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua serve:", err)
		return 2
	}
	gcCtx, stopGC := context.WithCancel(ctx)
	defer stopGC()
	tuneGC(gcCtx)
	opts := pushrt.Options{Config: cfg, Store: st, Logger: log, Jobs: *jobs, Observer: m, UserQueueSize: set.userQueue,
		PoisonAttempts: durable.poison}
	if c.config != "" {
		opts.Load = load
	}
	eng, err := pushrt.New(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua serve:", err)
		return 2
	}
	m.SetReady(eng.Ready())
	v := eng.Version()
	log.Info("serving {version} with drivers {drivers}", logx.Args("version", v.Name, "drivers", strings.Join(v.Drivers, ", ")))

	ln, err := ingest.Listen(set.listen)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua serve:", err)
		_ = eng.Close(context.WithoutCancel(ctx))
		return 1
	}
	// The spool is read once serve owns its address: a second serve
	// started by mistake stops above, before it reads a line.
	// The write-ahead log first: what an earlier run accepted runs before
	// anything new.
	in, err := openIntake(ctx, dataDir, durable, set.userQueue, eng, m, log)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua serve:", err)
		_ = ln.Close()
		_ = eng.Close(context.WithoutCancel(ctx))
		return 1
	}
	sp, err := startSpool(ctx, set.spool, &c, cfg, in, m, log)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua serve:", err)
		_ = ln.Close()
		in.Stop()
		_ = eng.Close(context.WithoutCancel(ctx))
		in.Close()
		return 1
	}
	ids := txn.NewIDs()
	ingestOpts := ingest.Options{
		Ready:            func() (bool, string) { return in.ready(sp.ready(ready(eng))) },
		AuthToken:        set.token,
		MaxBodyBytes:     set.maxBody,
		MaxInflightBytes: set.maxInflight,
		BodyTimeout:      set.bodyTimeout,
		AllowedHosts:     ingest.DefaultHosts(set.listen, ln.Addr(), set.allowedHosts),
		Metrics:          m,
		Logger:           log,
		IDs:              ids,
		Recent:           ingest.NewRecentIDs(ingest.DefaultRecentIDs), // a retried POST runs once
		// pushlua metadata while serve holds the store (metadata_api.go).
		Routes: map[string]http.Handler{metadataPath: metadataHandler(st)},
	}
	in.ingestOptions(&ingestOpts, ids)
	srv := &http.Server{
		Handler:           ingest.New(ingestOpts),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute, // idle keep-alive connections are closed, not held
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening on {addr}", logx.Args("addr", listenName(ln)))

	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatch()
	afterReload := func(err error) {
		ok, _ := ready(eng)
		m.SetReady(ok)
	}
	if c.config != "" {
		go func() {
			if err := eng.Watch(watchCtx, pushrt.WatchOptions{Debounce: set.debounce, Reloaded: afterReload}); err != nil {
				log.Error(err.Error())
			}
		}()
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	code := 0
loop:
	for {
		select {
		case <-hup:
			log.Info("SIGHUP: reloading")
			err := eng.Reload(watchCtx)
			if errors.Is(err, pushrt.ErrNoChange) {
				log.Info("reload: nothing changed")
			}
			afterReload(err)
		case err := <-serveErr:
			log.Error("serve: {error}", logx.Args("error", err))
			code = 1
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	log.Info("shutting down: draining {queued} transactions (at most {timeout})", logx.Args("queued", eng.QueueLen(), "timeout", set.drainTimeout))
	stopWatch()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), set.drainTimeout)
	defer cancel()
	sp.Stop() // read no more spool lines; the engine drains the ones taken
	in.Stop()
	_ = srv.Shutdown(shutdownCtx)
	if err := eng.Close(shutdownCtx); err != nil {
		if durable.on {
			// Nothing is lost: what did not run stays in the log (and
			// in the forwarder's spool) for the next start, or goes
			// back to the JetStream stream for another worker.
			where := "the write-ahead log and the spool"
			if durable.queue.URL != "" {
				where = "the JetStream stream (given back for another worker)"
			}
			log.Warn("{error} now; they stay in {where}", logx.Args("error", err, "where", where))
		} else {
			log.Error(err.Error())
			code = 1
		}
	}
	sp.Close() // the watermarks after the drain
	in.Close()
	log.Info("stopped")
	return code
}

// ready is /readyz: scripts loaded, and the last reload did not fail.
func ready(eng *pushrt.Engine) (bool, string) {
	v := eng.Version()
	switch {
	case len(v.Drivers) == 0:
		return false, "no push notification driver loaded"
	case v.LastErr != nil:
		// /readyz answers without auth: no password of the failed
		// configuration may show.
		return false, redact.String(fmt.Sprintf("%s serving; the last reload failed: %v", v.Name, v.LastErr))
	}
	return true, v.Name
}

// listenName is the listener's address as a --url for pushlua send.
func listenName(ln net.Listener) string {
	if ln.Addr().Network() == "unix" {
		return "unix:" + ln.Addr().String()
	}
	return ln.Addr().String()
}
