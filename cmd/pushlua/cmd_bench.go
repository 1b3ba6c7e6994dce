package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pushlua/pushlua/internal/benchwork"
)

// benchMemstatsEnv makes `pushlua run` print its allocation counters at
// exit, for `pushlua bench`.
const benchMemstatsEnv = "PUSHLUA_BENCH_MEMSTATS"

// printMemstats writes the line `pushlua bench` reads.
func printMemstats(w io.Writer) {
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	fmt.Fprintf(w, "pushlua: memstats mallocs=%d bytes=%d gc=%d\n", ms.Mallocs, ms.TotalAlloc, ms.NumGC)
}

// benchResult is one measured line of `pushlua bench`.
type benchResult struct {
	Workload string  `json:"workload"`
	Mode     string  `json:"mode"`
	Txns     int     `json:"txns"`
	Seconds  float64 `json:"seconds"`
	TxnPerS  float64 `json:"txn_per_s"`
	CPUus    float64 `json:"cpu_us_per_txn"`
	Allocs   float64 `json:"allocs_per_txn"`
	Bytes    float64 `json:"bytes_per_txn"`
	Err      string  `json:"error,omitempty"`
}

const benchUsage = `usage: pushlua bench [-n N] [--users N] [--workloads collect,dlog,ox,fwd] [--modes ref,run1,run2,serve,post1,spool] [--rate R] [--json]

Generates the standard workloads (N transactions of begin / one 17-field
MessageNew / end over --users users) and runs each through pushlua run -j 1,
pushlua run -j 2 and pushlua serve over loopback (separate processes of this
binary), and the collect workload through the reference loop (encoding/json +
one go-lua state, in this process). Prints transactions per second, CPU µs
per transaction and allocations per transaction of the process that did the
work, and each result's CPU against the reference loop's.

serve posts 50 transactions per request, as fast as serve takes them. Two
more modes hand them over the way Dovecot's forwarder does, one at a time at
--rate transactions per second (default 150, what ../shared/dovecot-bench
delivers): post1 POSTs each alone (pushlua_url), spool appends each as one
line to a spool file (pushlua_spool). Their CPU per transaction includes
what serve spends waiting between them.
`

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c common
	fs := newFlagSet("bench", stderr, &c, false)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	n := fs.Int("n", 20000, "transactions per workload")
	users := fs.Int("users", 1000, "distinct users")
	workloads := fs.String("workloads", "collect,dlog,ox,fwd", "workloads, comma-separated")
	modes := fs.String("modes", "ref,run1,run2,serve", "modes, comma-separated: ref (collect only), run1, run2, serve, post1, spool")
	rate := fs.Float64("rate", 150, "transactions per second that post1 and spool hand to serve (0: as fast as it takes them)")
	asJSON := fs.Bool("json", false, "print JSON Lines instead of a table")
	keep := fs.Bool("keep", false, "keep the work directory and print its path")
	if code, done := parseArgs(ctx, fs, args, stdout); done {
		return code
	}
	if *n <= 0 || *users <= 0 || *rate < 0 {
		fmt.Fprintln(stderr, "pushlua bench: -n and --users must be positive, --rate not negative")
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "pushlua bench:", err)
		return 1
	}
	work, err := os.MkdirTemp("", "pushlua-bench-")
	if err != nil {
		fmt.Fprintln(stderr, "pushlua bench:", err)
		return 1
	}
	if *keep {
		fmt.Fprintln(stderr, "pushlua bench: work directory", work)
	} else {
		defer os.RemoveAll(work)
	}
	sink, sinkCount, stopSink, err := startSink()
	if err != nil {
		fmt.Fprintln(stderr, "pushlua bench:", err)
		return 1
	}
	defer stopSink()

	b := &bencher{self: self, work: work, n: *n, users: *users, sink: sink, sinkCount: sinkCount, progress: stderr, rate: *rate}
	var results []benchResult
	var refCPU float64
	for _, wname := range strings.Split(*workloads, ",") {
		w, ok := benchwork.Find(strings.TrimSpace(wname))
		if !ok {
			fmt.Fprintf(stderr, "pushlua bench: unknown workload %q\n", wname)
			return 2
		}
		for _, mode := range strings.Split(*modes, ",") {
			mode = strings.TrimSpace(mode)
			if mode == "ref" && w.Name != "collect" {
				continue
			}
			b.status("%s / %s: preparing", w.Name, mode)
			r, err := b.run(ctx, w, mode)
			if err != nil {
				r.Err = err.Error()
			}
			if mode == "ref" && err == nil {
				refCPU = r.CPUus
			}
			b.clear()
			results = append(results, r)
			if err != nil && errors.Is(err, context.Canceled) {
				break
			}
		}
	}
	if *asJSON {
		for _, r := range results {
			data, _ := json.Marshal(r)
			fmt.Fprintf(stdout, "%s\n", data)
		}
	} else {
		printBench(stdout, results, refCPU, *n, *users)
	}
	for _, r := range results {
		if r.Err != "" {
			return 1
		}
	}
	return 0
}

func printBench(w io.Writer, results []benchResult, refCPU float64, n, users int) {
	fmt.Fprintf(w, "pushlua bench: %d transactions per workload, %d users, %s, %d CPUs\n\n", n, users, goruntime.Version(), goruntime.NumCPU())
	fmt.Fprintf(w, "%-8s %-9s %10s %12s %11s %10s %s\n", "workload", "mode", "txn/s", "CPU µs/txn", "allocs/txn", "KB/txn", "CPU vs ref")
	for _, r := range results {
		if r.Err != "" {
			fmt.Fprintf(w, "%-8s %-9s failed: %s\n", r.Workload, r.Mode, r.Err)
			continue
		}
		ratio := ""
		if refCPU > 0 && r.Workload == "collect" {
			ratio = fmt.Sprintf("%.2f×", r.CPUus/refCPU)
		}
		fmt.Fprintf(w, "%-8s %-9s %10.0f %12.1f %11.0f %10.1f %s\n", r.Workload, r.Mode, r.TxnPerS, r.CPUus, r.Allocs, r.Bytes/1024, ratio)
	}
}

type bencher struct {
	self      string
	work      string
	n, users  int
	sink      string
	sinkCount func() int64
	progress  io.Writer
	rate      float64 // post1 and spool: transactions per second, 0 unpaced
	mu        sync.Mutex
}

func (b *bencher) status(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(b.progress, "\r\033[Kpushlua bench: "+format, args...)
}

func (b *bencher) clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprint(b.progress, "\r\033[K")
}

// prepare writes the workload's configuration, scripts and input.
func (b *bencher) prepare(w benchwork.Workload, mode string) (dir, conf, input string, err error) {
	dir = filepath.Join(b.work, w.Name+"-"+mode)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", "", err
	}
	for name, content := range w.Files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", "", "", err
		}
	}
	conf = filepath.Join(dir, "pushlua.conf")
	if err := os.WriteFile(conf, []byte(w.Config(b.sink)), 0o644); err != nil {
		return "", "", "", err
	}
	input = filepath.Join(b.work, fmt.Sprintf("%s-%d.jsonl", w.Name, b.n))
	if _, err := os.Stat(input); err != nil {
		f, err := os.Create(input)
		if err != nil {
			return "", "", "", err
		}
		err = benchwork.Generate(f, b.n, b.users, w.Snapshots, 1)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", "", "", err
		}
	}
	return dir, conf, input, nil
}

func (b *bencher) run(ctx context.Context, w benchwork.Workload, mode string) (benchResult, error) {
	r := benchResult{Workload: w.Name, Mode: mode, Txns: b.n}
	dir, conf, input, err := b.prepare(w, mode)
	if err != nil {
		return r, err
	}
	sent := b.sinkCount()
	switch mode {
	case "ref":
		err = b.runRef(input, &r)
	case "run1", "run2":
		err = b.runRun(ctx, dir, conf, input, mode[3:], &r)
	case "serve":
		err = b.runServe(ctx, dir, conf, input, &r)
	case "post1":
		err = b.runPost1(ctx, dir, conf, input, &r)
	case "spool":
		err = b.runSpool(ctx, dir, conf, input, &r)
	default:
		return r, fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return r, err
	}
	if w.NeedsSink {
		if got := b.sinkCount() - sent; got != int64(b.n) {
			return r, fmt.Errorf("the sink got %d requests for %d transactions", got, b.n)
		}
	}
	r.TxnPerS = float64(b.n) / r.Seconds
	return r, nil
}

func readLines(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")), nil
}

func (b *bencher) runRef(input string, r *benchResult) error {
	lines, err := readLines(input)
	if err != nil {
		return err
	}
	ref, err := benchwork.NewRef()
	if err != nil {
		return err
	}
	b.status("collect / ref: %d transactions", len(lines))
	goruntime.GC()
	var ms0, ms1 goruntime.MemStats
	goruntime.ReadMemStats(&ms0)
	cpu0 := processCPU()
	start := time.Now()
	for _, line := range lines {
		if err := ref.Run(line); err != nil {
			return err
		}
	}
	r.Seconds = time.Since(start).Seconds()
	r.CPUus = float64((processCPU() - cpu0).Microseconds()) / float64(len(lines))
	goruntime.ReadMemStats(&ms1)
	r.Allocs = float64(ms1.Mallocs-ms0.Mallocs) / float64(len(lines))
	r.Bytes = float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(len(lines))
	return nil
}

// processCPU is this process's user + system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var memstatsRe = regexp.MustCompile(`memstats mallocs=(\d+) bytes=(\d+)`)

func (b *bencher) runRun(ctx context.Context, dir, conf, input, jobs string, r *benchResult) error {
	cmd := exec.CommandContext(ctx, b.self, "run", "-c", conf, "-j", jobs, "--data-dir", filepath.Join(dir, "data"), input)
	cmd.Env = append(os.Environ(), benchMemstatsEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	b.status("%s: pushlua run -j %s over %d transactions", filepath.Base(dir), jobs, b.n)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	var memstats []string
	var tail []string
	sc := bufio.NewScanner(stderr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := memstatsRe.FindStringSubmatch(line); m != nil {
			memstats = m
		}
		if strings.Contains(line, "Error") || strings.HasPrefix(line, "pushlua: ") {
			tail = append(tail, line)
		}
	}
	err = cmd.Wait()
	r.Seconds = time.Since(start).Seconds()
	if err != nil {
		return fmt.Errorf("pushlua run: %v: %s", err, strings.Join(lastN(tail, 3), " | "))
	}
	ps := cmd.ProcessState
	r.CPUus = float64((ps.UserTime() + ps.SystemTime()).Microseconds()) / float64(b.n)
	if memstats == nil {
		return errors.New("pushlua run printed no memstats line")
	}
	mallocs, _ := strconv.ParseFloat(memstats[1], 64)
	bytes, _ := strconv.ParseFloat(memstats[2], 64)
	r.Allocs, r.Bytes = mallocs/float64(b.n), bytes/float64(b.n)
	for _, l := range tail {
		if strings.Contains(l, "Error") {
			return fmt.Errorf("pushlua run logged an error: %s", l)
		}
	}
	return nil
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// served is a `pushlua serve` process started by the bench.
type served struct {
	cmd    *exec.Cmd
	base   string
	client *http.Client
	mu     sync.Mutex
	errs   []string
}

// startServe starts `pushlua serve` on a loopback port and waits until it
// listens.
func (b *bencher) startServe(ctx context.Context, dir, conf string) (*served, error) {
	cmd := exec.CommandContext(ctx, b.self, "serve", "-c", conf, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &served{cmd: cmd, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 30 * time.Second}}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		re := regexp.MustCompile(`listening on (\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
			if strings.Contains(sc.Text(), "Error") || strings.Contains(sc.Text(), "Warning") {
				s.mu.Lock()
				s.errs = append(s.errs, sc.Text())
				s.mu.Unlock()
			}
		}
	}()
	select {
	case addr := <-addrc:
		s.base = "http://" + addr
		return s, nil
	case <-time.After(20 * time.Second):
		s.stop()
		return nil, errors.New("pushlua serve did not start listening within 20 s")
	}
}

func (s *served) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

// err is the first Error or Warning line serve logged.
func (s *served) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) > 0 {
		return fmt.Errorf("pushlua serve logged: %s", s.errs[0])
	}
	return nil
}

// measure runs feed, which hands n transactions to serve, waits until
// serve has processed them and fills r with serve's CPU and allocations
// per transaction over the whole time.
func (b *bencher) measure(ctx context.Context, s *served, label string, n int, feed func() error, r *benchResult) error {
	m0, err := scrape(s.client, s.base)
	if err != nil {
		return err
	}
	pid := s.cmd.Process.Pid
	cpu0, err := procCPU(pid)
	if err != nil {
		return err
	}
	b.status("%s: pushlua serve, handing over %d transactions", label, n)
	start := time.Now()
	if err := feed(); err != nil {
		return err
	}
	const processed = "pushlua_transactions_processed_total"
	want := m0[processed] + float64(n)
	var m1 map[string]float64
	for {
		if m1, err = scrape(s.client, s.base); err != nil {
			return err
		}
		done := m1[processed]
		if done >= want {
			break
		}
		if err := s.err(); err != nil {
			return err
		}
		b.status("%s: pushlua serve, %d/%d processed", label, int(done-m0[processed]), n)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	r.Seconds = time.Since(start).Seconds()
	cpu1, err := procCPU(pid)
	if err != nil {
		return err
	}
	r.CPUus = float64((cpu1 - cpu0).Microseconds()) / float64(n)
	r.Allocs = (m1["go_memstats_mallocs_total"] - m0["go_memstats_mallocs_total"]) / float64(n)
	r.Bytes = (m1["go_memstats_alloc_bytes_total"] - m0["go_memstats_alloc_bytes_total"]) / float64(n)
	return s.err()
}

// byUser splits lines among k senders by user, keeping each user's order.
func byUser(lines [][]byte, k int) [][][]byte {
	parts := make([][][]byte, k)
	for _, line := range lines {
		i := userHash(line) % uint32(k)
		parts[i] = append(parts[i], line)
	}
	return parts
}

// serveFed starts serve with conf and measures it while feed hands it the
// input's transactions.
func (b *bencher) serveFed(ctx context.Context, dir, conf, input string, r *benchResult, feed func(s *served, lines [][]byte) error) error {
	lines, err := readLines(input)
	if err != nil {
		return err
	}
	s, err := b.startServe(ctx, dir, conf)
	if err != nil {
		return err
	}
	defer s.stop()
	return b.measure(ctx, s, filepath.Base(dir), len(lines), func() error { return feed(s, lines) }, r)
}

// runServe posts the transactions 50 to a request from 4 clients, as fast
// as serve takes them.
func (b *bencher) runServe(ctx context.Context, dir, conf, input string, r *benchResult) error {
	return b.serveFed(ctx, dir, conf, input, r, func(s *served, lines [][]byte) error {
		// Each poster sends the transactions of its own users, in order, as
		// Dovecot's processes would: one user's order is kept.
		const perPost = 50
		var wg sync.WaitGroup
		var postErr error
		var postMu sync.Mutex
		for _, part := range byUser(lines, 4) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < len(part); i += perPost {
					if err := post(ctx, s.client, s.base, part[i:min(i+perPost, len(part))]); err != nil {
						postMu.Lock()
						postErr = err
						postMu.Unlock()
						return
					}
				}
			}()
		}
		wg.Wait()
		return postErr
	})
}

// userHash hashes the username of a generated transaction line.
func userHash(line []byte) uint32 {
	key := []byte(`"username":"`)
	i := bytes.Index(line, key)
	if i < 0 {
		return 0
	}
	rest := line[i+len(key):]
	if j := bytes.IndexByte(rest, '"'); j >= 0 {
		rest = rest[:j]
	}
	h := uint32(2166136261)
	for _, c := range rest {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// post sends one batch as JSON Lines, again after a 503 or 429.
func post(ctx context.Context, client *http.Client, base string, lines [][]byte) error {
	body := append(bytes.Join(lines, []byte("\n")), '\n')
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/transactions", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusAccepted:
			return nil
		case (resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests) && attempt < 1000:
			time.Sleep(10 * time.Millisecond)
		default:
			return fmt.Errorf("POST: %s: %s", resp.Status, bytes.TrimSpace(answer))
		}
	}
}

// scrape reads /metrics: each metric name with the sum of its series.
func scrape(client *http.Client, base string) (map[string]float64, error) {
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name, value := line[:i], line[i+1:]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j] // labelled series add up to their name's total
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// procCPU reads a process's user + system CPU time from /proc.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck, nil
}

// startSink starts the 204 sink the ox workloads post to, on 127.0.0.1.
func startSink() (url string, count func() int64, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	var mu sync.Mutex
	var n int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == benchwork.OXPath {
			mu.Lock()
			n++
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	count = func() int64 {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
	return "http://" + ln.Addr().String(), count, func() { _ = srv.Close() }, nil
}
