package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/pushlua/pushlua/internal/metrics"
	"github.com/pushlua/pushlua/internal/txn"
)

// DefaultMaxBodyBytes is the default of Options.MaxBodyBytes: 10 MiB.
const DefaultMaxBodyBytes = 10 << 20

// Options configure the ingest handler.
type Options struct {
	// Submit queues one validated transaction; it returns when the
	// transaction is accepted into pushlua's queue (or fails: then the
	// request answers 503 for the lines not accepted). It is called with
	// the request's context, one transaction at a time per request, in
	// input order. Required.
	Submit func(ctx context.Context, t *txn.Txn) error
	// Ready reports whether scripts are loaded (for /readyz) and a reason
	// when not. Nil means always ready.
	Ready func() (bool, string)
	// AuthToken, when set, makes every /v1/ request need
	// "Authorization: Bearer <token>"; others are answered 401. Empty: no
	// authentication (see RequireAuth for when that is acceptable).
	AuthToken string
	// MaxBodyBytes bounds a request body; larger bodies are answered 413.
	// Default (0): DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Metrics, when set, counts accepted and rejected transactions and is
	// served at /metrics. Nil: no counting, /metrics is 404.
	Metrics *metrics.Metrics
	// Logger receives a Warn record per rejected line. Default: discard.
	Logger *slog.Logger
	// IDs names transactions without an id. Default: txn.NewIDs().
	IDs *txn.IDs
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
}

// RejectedLine is a line that was not queued.
type RejectedLine struct {
	Line  int    `json:"line"`
	Field string `json:"field"` // JSON path of the bad field; "" for invalid JSON or a queue failure
	Error string `json:"error"`
}

// ErrorBody is the JSON answer to requests that are refused as a whole
// (400 empty body, 401, 404, 405, 413).
type ErrorBody struct {
	Error string `json:"error"`
}

type handler struct {
	opts      Options
	tokenHash [sha256.Size]byte
	log       *slog.Logger
	metrics   http.Handler
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
	h := &handler{opts: opts, log: opts.Logger, tokenHash: sha256.Sum256([]byte(opts.AuthToken))}
	if opts.Metrics != nil {
		h.metrics = opts.Metrics.Handler()
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/v1" || strings.HasPrefix(path, "/v1/"):
		if !h.authorized(w, r) {
			return
		}
		if path != "/v1/transactions" {
			writeJSON(w, http.StatusNotFound, ErrorBody{Error: "not found"})
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, ErrorBody{Error: "method " + r.Method + " not allowed; use POST"})
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
// wrong.
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
		writeJSON(w, http.StatusUnauthorized, ErrorBody{Error: "invalid bearer token"})
		return false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="pushlua"`)
	writeJSON(w, http.StatusUnauthorized, ErrorBody{Error: "missing bearer token"})
	return false
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
	limit := h.opts.MaxBodyBytes
	if r.ContentLength > limit {
		// Refuse before reading anything.
		w.Header().Set("Connection", "close")
		writeJSON(w, http.StatusRequestEntityTooLarge, ErrorBody{Error: tooLarge(limit)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, ErrorBody{Error: tooLarge(limit)})
			return
		}
		// The client went away or sent a broken body.
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "reading body: " + err.Error()})
		return
	}
	lines := split(body)
	if len(lines) == 0 {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "empty body: expected a transaction or JSON Lines"})
		return
	}

	res := Result{Accepted: []AcceptedLine{}, Rejected: []RejectedLine{}}
	status := http.StatusAccepted
	rejected := 0
	var submitErr error
	for _, l := range lines {
		t, err := parseLine(l, h.opts.IDs)
		if err != nil {
			var le *txn.LineError
			rl := RejectedLine{Line: l.n, Error: err.Error()}
			if errors.As(err, &le) {
				rl.Field, rl.Error = le.Field, le.Err.Error()
			}
			rejected++
			if rejected <= MaxListedRejects {
				res.Rejected = append(res.Rejected, rl)
				h.log.Warn("rejected transaction", "line", rl.Line, "field", rl.Field, "error", rl.Error)
			}
			if status == http.StatusAccepted {
				status = http.StatusBadRequest
			}
			continue
		}
		if submitErr == nil {
			t.Input, t.Line = "http", l.n
			if submitErr = h.opts.Submit(r.Context(), t); submitErr == nil {
				res.Accepted = append(res.Accepted, AcceptedLine{Line: l.n, ID: t.ID})
				continue
			}
			h.log.Warn("transactions not queued", "line", l.n, "error", submitErr)
		}
		// Submit failed for this or an earlier line: keep the order by
		// queueing none of the later ones.
		rejected++
		if rejected <= MaxListedRejects {
			res.Rejected = append(res.Rejected, RejectedLine{Line: l.n, Error: "not queued: " + submitErr.Error()})
		}
		status = http.StatusServiceUnavailable
	}
	if rejected > MaxListedRejects {
		res.RejectedCount = rejected
		h.log.Warn("rejected transactions not listed", "count", rejected-MaxListedRejects)
	}
	if m := h.opts.Metrics; m != nil {
		m.Accepted(len(res.Accepted))
		m.Rejected(rejected)
	}
	writeJSON(w, status, res)
}

func tooLarge(limit int64) string {
	return fmt.Sprintf("request body larger than %d bytes", limit)
}

// line is one transaction's text in a body.
type line struct {
	n    int // 1-based line number where it starts
	data []byte
}

// split cuts a body into transactions: the whole body when it is one JSON
// object (a pretty-printed transaction), else its non-blank lines.
func split(body []byte) []line {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil
	}
	if trimmed[0] == '{' && json.Valid(trimmed) {
		start := len(body) - len(bytes.TrimLeft(body, " \t\r\n"))
		return []line{{n: 1 + bytes.Count(body[:start], []byte("\n")), data: trimmed}}
	}
	var out []line
	for n := 1; len(body) > 0; n++ {
		l, rest, _ := bytes.Cut(body, []byte("\n"))
		body = rest
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, line{n: n, data: l})
		}
	}
	return out
}

func parseLine(l line, ids *txn.IDs) (*txn.Txn, error) {
	if len(l.data) > txn.MaxLine {
		return nil, &txn.LineError{Err: fmt.Errorf("line longer than %d bytes", txn.MaxLine)}
	}
	return txn.Parse(l.data, ids)
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
