package ingest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushlua/pushlua/internal/metrics"
	"github.com/pushlua/pushlua/internal/txn"
)

// Defaults of Options.
const (
	// DefaultMaxBodyBytes is the default of Options.MaxBodyBytes: 10 MiB.
	DefaultMaxBodyBytes = 10 << 20
	// DefaultBodyTimeout is the default of Options.BodyTimeout.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultQueueWait is the default of Options.QueueWait.
	DefaultQueueWait = 2 * time.Second
	// DefaultRetryAfter is the default of Options.RetryAfter.
	DefaultRetryAfter = time.Second
)

// Options configure the ingest handler.
type Options struct {
	// Submit queues one validated transaction; it returns when the
	// transaction is accepted into pushlua's queue, or fails. It is
	// called one transaction at a time per request, in input order, with
	// the request's context bounded by QueueWait. A failure marked with
	// UserQueueFull concerns the transaction's user only: that line and
	// the user's later lines are answered 429, the other users' lines are
	// still submitted. Any other failure (the context's deadline: the
	// queue stayed full) answers 503 for that line and every later one.
	// Required.
	Submit func(ctx context.Context, t *txn.Txn) error
	// Durable, when set, is called once per request after Submit took its
	// lines, with the transactions Submit accepted (not the duplicates),
	// and must return only when they are on disk: the answer is sent
	// after it. When it fails, none of them counts as accepted: they are
	// answered 503 (with Retry-After) and Undo is called for each.
	Durable func(ctx context.Context, ts []*txn.Txn) error
	// Undo takes back a transaction that Submit accepted and Durable
	// failed to make durable. Nil: nothing to undo.
	Undo func(t *txn.Txn)
	// Ready reports whether scripts are loaded (for /readyz) and a reason
	// when not. Nil means always ready.
	Ready func() (bool, string)
	// Routes are more /v1/ endpoints (path → handler), such as serve's
	// /v1/metadata: they get the same checks as /v1/transactions (Host,
	// Origin, the bearer token) and then handle the request themselves.
	Routes map[string]http.Handler
	// AuthToken, when set, makes every /v1/ request need
	// "Authorization: Bearer <token>"; others are answered 401. Empty: no
	// authentication (see RequireAuth for when that is acceptable).
	AuthToken string
	// MaxBodyBytes bounds a request body; larger bodies are answered 413.
	// Default (0): DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxInflightBytes bounds the bytes of all request bodies being read
	// or processed at once. A request whose Content-Length does not fit
	// is answered 503 with Retry-After before its body is read; a body
	// without a Content-Length is counted as it arrives (its buffer) and
	// cut with 503 when it stops fitting. Default (0): 4 × MaxBodyBytes;
	// less than MaxBodyBytes is raised to it.
	MaxInflightBytes int64
	// BodyTimeout bounds the time to receive a request body once its
	// headers are read; a slower body is answered 408 and its connection
	// closed. Default (0): DefaultBodyTimeout.
	BodyTimeout time.Duration
	// QueueWait bounds how long one transaction waits for room in a full
	// queue before the request is answered 503 with Retry-After.
	// Default (0): DefaultQueueWait.
	QueueWait time.Duration
	// RetryAfter is the Retry-After of 429 and 503 answers (whole
	// seconds, at least 1). Default (0): DefaultRetryAfter.
	RetryAfter time.Duration
	// AllowedHosts, when not nil, are the Host header values served, on
	// every path ("name:port", "name" for any port, AnyHost for any);
	// a Host naming the IP address and port the connection arrived on is
	// served too. Other requests are answered 421 (DNS rebinding: a
	// foreign name resolving to pushlua's address). Nil: no Host check
	// (a Unix socket). See DefaultHosts.
	AllowedHosts []string
	// Metrics, when set, counts accepted and rejected transactions and is
	// served at /metrics. Nil: no counting, /metrics is 404.
	Metrics *metrics.Metrics
	// Logger receives a Warn record per rejected line. Default: discard.
	Logger *slog.Logger
	// IDs names transactions without an id. Default: txn.NewIDs().
	IDs *txn.IDs
	// Recent, when set, makes the handler answer a transaction whose id
	// (given by the sender) it accepted recently as accepted with
	// "duplicate": true, without submitting it again: a sender's retry
	// of a POST that timed out runs once.
	Recent *RecentIDs
}

// Result is the JSON answer to POST /v1/transactions (202, 400 and 503).
type Result struct {
	Accepted []AcceptedLine `json:"accepted"`
	Rejected []RejectedLine `json:"rejected"`
	// RejectedCount is the number of rejected lines, present when Rejected
	// was cut at MaxListedRejects.
	RejectedCount int `json:"rejected_count,omitempty"`
}

// MaxListedRejects bounds how many rejected lines one answer lists and
// logs: a body of a million bad lines gets a short answer.
const MaxListedRejects = 1000

// AcceptedLine is a transaction that was queued.
type AcceptedLine struct {
	Line int    `json:"line"` // 1-based line of the body where it starts
	ID   string `json:"id"`   // its id, given or assigned
	// Duplicate is set when the id was accepted recently (Options.Recent):
	// the transaction was not queued again.
	Duplicate bool `json:"duplicate,omitempty"`
}

// RejectedLine is a line that was not queued.
type RejectedLine struct {
	Line  int    `json:"line"`
	Field string `json:"field"` // JSON path of the bad field; "" for invalid JSON or a queue failure
	Error string `json:"error"`
	// Offset is the 0-based byte offset in the body of invalid UTF-8.
	Offset *int `json:"offset,omitempty"`
}

// ErrorBody is the JSON answer to requests that are refused as a whole
// (400 empty body, 401, 403, 404, 405, 408, 413, 415, 421, 503).
type ErrorBody struct {
	Error string `json:"error"`
}

// ErrUserQueueFull is what UserQueueFull marks a Submit error with.
var ErrUserQueueFull = errors.New("the user's queue is full")

// UserQueueFull marks err, a Submit failure, as concerning only the
// transaction's user (its lane of the queue is full): the answer is 429
// and the other users' lines of the request are still submitted. The
// result's text is err's; errors.Is finds both err and ErrUserQueueFull.
func UserQueueFull(err error) error { return userQueueFull{err} }

type userQueueFull struct{ err error }

func (e userQueueFull) Error() string        { return e.err.Error() }
func (e userQueueFull) Unwrap() error        { return e.err }
func (e userQueueFull) Is(target error) bool { return target == ErrUserQueueFull }

type handler struct {
	opts      Options
	tokenHash [sha256.Size]byte
	log       *slog.Logger
	metrics   http.Handler
	hosts     *hostCheck
	inflight  *inflight
	retry     string // Retry-After value
}

// New returns the ingest handler. It panics when opts.Submit is nil.
func New(opts Options) http.Handler {
	if opts.Submit == nil {
		panic("ingest: Options.Submit is nil")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.IDs == nil {
		opts.IDs = txn.NewIDs()
	}
	if opts.MaxInflightBytes <= 0 {
		opts.MaxInflightBytes = 4 * opts.MaxBodyBytes
	}
	opts.MaxInflightBytes = max(opts.MaxInflightBytes, opts.MaxBodyBytes)
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	if opts.QueueWait <= 0 {
		opts.QueueWait = DefaultQueueWait
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = DefaultRetryAfter
	}
	h := &handler{opts: opts, log: opts.Logger, tokenHash: sha256.Sum256([]byte(opts.AuthToken)),
		hosts:    newHostCheck(opts.AllowedHosts),
		inflight: &inflight{max: opts.MaxInflightBytes},
		retry:    strconv.FormatInt(int64(max(1, (opts.RetryAfter+time.Second-1)/time.Second)), 10),
	}
	if opts.Metrics != nil {
		h.metrics = opts.Metrics.Handler()
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.hosts.allows(r) {
		refuse(w, r, http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not served here (pushlua_allowed_hosts)", r.Host))
		return
	}
	if why := crossOrigin(r); why != "" {
		refuse(w, r, http.StatusForbidden, why+": pushlua takes no requests from web pages")
		return
	}
	path := r.URL.Path
	switch {
	case path == "/v1" || strings.HasPrefix(path, "/v1/"):
		if !h.authorized(w, r) {
			return
		}
		if path != "/v1/transactions" {
			if route, ok := h.opts.Routes[path]; ok {
				route.ServeHTTP(w, r)
				return
			}
			refuse(w, r, http.StatusNotFound, "not found")
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			refuse(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use POST")
			return
		}
		h.transactions(w, r)
	case path == "/healthz":
		if !getOnly(w, r) {
			return
		}
		writeText(w, http.StatusOK, "ok")
	case path == "/readyz":
		if !getOnly(w, r) {
			return
		}
		ok, reason := true, ""
		if h.opts.Ready != nil {
			ok, reason = h.opts.Ready()
		}
		if !ok {
			if reason == "" {
				reason = "not ready"
			}
			writeText(w, http.StatusServiceUnavailable, reason)
			return
		}
		writeText(w, http.StatusOK, "ready")
	case path == "/metrics" && h.metrics != nil:
		if !getOnly(w, r) {
			return
		}
		h.metrics.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// authorized checks the bearer token, answering 401 when it is missing or
// wrong, without reading the body.
func (h *handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	if h.opts.AuthToken == "" {
		return true
	}
	auth := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(auth, " ")
	if found && strings.EqualFold(scheme, "Bearer") {
		// Comparing hashes keeps the comparison constant-time in the
		// token's length too.
		got := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if subtle.ConstantTimeCompare(got[:], h.tokenHash[:]) == 1 {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="pushlua", error="invalid_token"`)
		refuse(w, r, http.StatusUnauthorized, "invalid bearer token")
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="pushlua"`)
	refuse(w, r, http.StatusUnauthorized, "missing bearer token")
	return false
}

// refuse answers a request as a whole without reading its body. A request
// with a body gets "Connection: close", and its read deadline is set to
// now: the server then closes the connection at once, where it would
// otherwise read (and wait for) up to 256 KiB of the unread body first.
func refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if r.ContentLength == 0 {
		writeJSON(w, status, ErrorBody{Error: msg})
		return
	}
	w.Header().Set("Connection", "close")
	writeJSON(w, status, ErrorBody{Error: msg})
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeText(w, http.StatusMethodNotAllowed, "method not allowed")
	return false
}

func (h *handler) transactions(w http.ResponseWriter, r *http.Request) {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		w.Header().Set("Accept", AcceptedContentTypes)
		refuse(w, r, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	if r.ContentLength > h.opts.MaxBodyBytes {
		refuse(w, r, http.StatusRequestEntityTooLarge, tooLarge(h.opts.MaxBodyBytes))
		return
	}
	body, reserved, ok := h.readBody(w, r)
	defer h.inflight.release(reserved)
	if !ok {
		return
	}
	lines := split(body)
	if len(lines) == 0 {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "empty body: expected a transaction or JSON Lines"})
		return
	}

	res := Result{Accepted: []AcceptedLine{}, Rejected: []RejectedLine{}}
	qw := &queueWait{parent: r.Context()}
	defer qw.stop()
	var staged []*txn.Txn // accepted by Submit, for Durable
	var stagedAt []int    // their index in res.Accepted
	rejected := 0
	var invalid, userFull bool
	var submitErr error           // stops every later line
	userErr := map[string]error{} // stops that user's later lines
	reject := func(rl RejectedLine) {
		rejected++
		if rejected <= MaxListedRejects {
			res.Rejected = append(res.Rejected, rl)
			// The text log shows the message only: it names the place.
			where := fmt.Sprintf("line %d", rl.Line)
			if rl.Field != "" {
				where += ": field " + rl.Field
			}
			h.log.Warn("rejected transaction: "+where+": "+rl.Error, "line", rl.Line, "field", rl.Field, "error", rl.Error)
		}
	}
	for _, l := range lines {
		t, err := parseLine(l, h.opts.IDs)
		if err != nil {
			var le *txn.LineError
			rl := RejectedLine{Line: l.n, Error: err.Error()}
			if errors.As(err, &le) {
				rl.Field, rl.Error = le.Field, le.Err.Error()
			}
			var ue *utf8Error
			if errors.As(err, &ue) {
				rl.Offset = &ue.offset
			}
			reject(rl)
			invalid = true
			continue
		}
		user := t.User.Username
		err = submitErr
		if err == nil {
			err = userErr[user]
		}
		if err == nil {
			t.Input, t.Line, t.Raw = "http", l.n, l.data
			if h.duplicate(t) {
				res.Accepted = append(res.Accepted, AcceptedLine{Line: l.n, ID: t.ID, Duplicate: true})
				continue
			}
			if err = h.submit(qw, t); err == nil {
				staged, stagedAt = append(staged, t), append(stagedAt, len(res.Accepted))
				res.Accepted = append(res.Accepted, AcceptedLine{Line: l.n, ID: t.ID})
				continue
			}
			h.forget(t)
			h.log.Warn("transactions not queued", "line", l.n, "user", user, "error", err)
			if errors.Is(err, ErrUserQueueFull) {
				userErr[user] = err
			} else {
				submitErr = err
			}
		}
		// Submit failed for this or an earlier line: keep the order by
		// queueing none of the later ones (of this user, when only its
		// lane is full).
		userFull = userFull || errors.Is(err, ErrUserQueueFull)
		rejected++
		if rejected <= MaxListedRejects {
			res.Rejected = append(res.Rejected, RejectedLine{Line: l.n, Error: "not queued: " + err.Error()})
		}
	}
	if h.opts.Durable != nil && len(staged) > 0 {
		if err := h.opts.Durable(r.Context(), staged); err != nil {
			h.log.Warn("transactions not accepted: " + err.Error())
			gone := make(map[int]bool, len(stagedAt))
			for i, t := range staged {
				gone[stagedAt[i]] = true
				h.forget(t)
				if h.opts.Undo != nil {
					h.opts.Undo(t)
				}
				rejected++
				if rejected <= MaxListedRejects {
					res.Rejected = append(res.Rejected, RejectedLine{Line: t.Line, Error: "not queued: " + err.Error()})
				}
			}
			kept := res.Accepted[:0]
			for i, a := range res.Accepted {
				if !gone[i] {
					kept = append(kept, a)
				}
			}
			res.Accepted = kept
			submitErr = err
		}
	}
	slices.SortStableFunc(res.Rejected, func(a, b RejectedLine) int { return a.Line - b.Line })
	if rejected > MaxListedRejects {
		res.RejectedCount = rejected
		h.log.Warn("rejected transactions not listed", "count", rejected-MaxListedRejects)
	}
	if m := h.opts.Metrics; m != nil {
		m.Accepted(len(res.Accepted))
		m.Rejected(rejected)
	}
	status := http.StatusAccepted
	switch {
	case submitErr != nil:
		status = http.StatusServiceUnavailable
	case userFull:
		status = http.StatusTooManyRequests
	case invalid:
		status = http.StatusBadRequest
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", h.retry)
	}
	writeJSON(w, status, res)
}

// submit hands t to Options.Submit, waiting at most QueueWait for room in
// the queue.
func (h *handler) submit(qw *queueWait, t *txn.Txn) error {
	if qw.ctx == nil || qw.ctx.Err() != nil && qw.parent.Err() == nil {
		qw.start(h.opts.QueueWait)
	}
	qw.timer.Reset(h.opts.QueueWait)
	err := h.opts.Submit(qw.ctx, t)
	qw.timer.Stop()
	if err != nil && errors.Is(context.Cause(qw.ctx), errQueueWait) {
		return fmt.Errorf("the queue is full (waited %s)", h.opts.QueueWait)
	}
	return err
}

// queueWait bounds one request's waits for room in the queue: one context
// and one timer for all its lines (no allocation per line), the timer
// armed only while a line is being submitted.
type queueWait struct {
	parent context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
}

// errQueueWait is the cause of a queueWait's context when its timer fired.
var errQueueWait = errors.New("waited too long for room in the queue")

// start makes a fresh context (the first line, or after the timer fired
// as a Submit returned in time), with its timer stopped.
func (qw *queueWait) start(d time.Duration) {
	qw.stop()
	qw.ctx, qw.cancel = context.WithCancelCause(qw.parent)
	cancel := qw.cancel
	qw.timer = time.AfterFunc(d, func() { cancel(errQueueWait) })
	qw.timer.Stop()
}

func (qw *queueWait) stop() {
	if qw.cancel != nil {
		qw.timer.Stop()
		qw.cancel(nil)
	}
}

// readBody reads the request body within BodyTimeout, holding its bytes
// against MaxInflightBytes; it returns the body and the bytes reserved
// (the caller releases them), or answers the request itself and returns
// false: 503 past the in-flight bound, 408 for a body that does not
// arrive in time, 413 above MaxBodyBytes, 400 for a broken body.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) (body []byte, reserved int64, ok bool) {
	if r.ContentLength >= 0 {
		// The whole body is known: refuse before reading any of it.
		if !h.inflight.acquire(r.ContentLength) {
			h.busy(w, r)
			return nil, 0, false
		}
		reserved = r.ContentLength
	}
	rc := http.NewResponseController(w)
	// Not every ResponseWriter has deadlines (httptest's recorder).
	deadline := rc.SetReadDeadline(time.Now().Add(h.opts.BodyTimeout)) == nil
	var err error
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = readGrowing(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes), h.opts.MaxBodyBytes, h.inflight, &reserved)
	}
	if deadline {
		// Lift the deadline: the handler may wait for the queue longer,
		// and the server's own read after the body must not fail on it.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err == nil {
		return body, reserved, true
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		refuse(w, r, http.StatusRequestEntityTooLarge, tooLarge(h.opts.MaxBodyBytes))
	case errors.Is(err, errInflight):
		h.busy(w, r)
	case errors.Is(err, os.ErrDeadlineExceeded):
		refuse(w, r, http.StatusRequestTimeout, fmt.Sprintf("request body not received within %s (pushlua_body_timeout)", h.opts.BodyTimeout))
	default:
		// The client went away or sent a broken body.
		refuse(w, r, http.StatusBadRequest, "reading body: "+err.Error())
	}
	return nil, reserved, false
}

// busy answers 503 for a request past the in-flight bound.
func (h *handler) busy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", h.retry)
	refuse(w, r, http.StatusServiceUnavailable, fmt.Sprintf("too many request bytes in flight (pushlua_max_inflight_bytes = %d); retry later", h.opts.MaxInflightBytes))
}

// readGrowing reads a body of unknown length, at most limit bytes (r
// fails past them), reserving each growth of its buffer in b first
// (*reserved is what it holds).
func readGrowing(r io.Reader, limit int64, b *inflight, reserved *int64) ([]byte, error) {
	var buf []byte
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= limit {
				// Full: r says whether more follows (an error) or not.
				var one [1]byte
				_, err := io.ReadFull(r, one[:])
				if err == io.EOF {
					return buf, nil
				}
				if err == nil {
					err = &http.MaxBytesError{Limit: limit}
				}
				return nil, err
			}
			size := min(max(2*int64(cap(buf)), 64<<10), limit)
			if !b.acquire(size - int64(cap(buf))) {
				return nil, errInflight
			}
			*reserved += size - int64(cap(buf))
			buf = append(make([]byte, 0, size), buf...)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func tooLarge(limit int64) string {
	return fmt.Sprintf("request body larger than %d bytes", limit)
}

// line is one transaction's text in a body.
type line struct {
	n    int // 1-based line number where it starts
	off  int // byte offset in the body where it starts
	data []byte
}

// split cuts a body into transactions as every reader of transactions
// does (txn.Split): the whole body when it is one JSON object (a
// pretty-printed transaction), else its non-blank lines.
func split(body []byte) []line {
	chunks := txn.Split(body)
	out := make([]line, len(chunks))
	for i, c := range chunks {
		out[i] = line{n: c.Line, off: c.Offset, data: c.Data}
	}
	return out
}

// parseLine is txn.ParseChunk: too long, invalid UTF-8 (a *utf8Error, so
// that the answer names the byte offset) or what txn.Parse rejects.
func parseLine(l line, ids *txn.IDs) (*txn.Txn, error) {
	t, err := txn.ParseChunk(txn.Chunk{Line: l.n, Offset: l.off, Data: l.data}, ids)
	var ue *txn.UTF8Error
	if errors.As(err, &ue) {
		return nil, &utf8Error{line: ue.Line, offset: ue.Offset}
	}
	return t, err
}

// utf8Error is invalid UTF-8 in a body: JSON decoders would turn it into
// U+FFFD silently, so the line is rejected instead.
type utf8Error struct {
	line, offset int // 1-based line and 0-based body offset of the first bad byte
}

func (e *utf8Error) Error() string {
	return (&txn.UTF8Error{Line: e.line, Offset: e.offset}).Error()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		// Only plain structs of strings and ints are written here.
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

func writeText(w http.ResponseWriter, status int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, s+"\n")
}
