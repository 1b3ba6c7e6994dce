package doveadm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds a request when Options.Timeout is zero.
const DefaultTimeout = time.Second

// APIPath is the path of doveadm's HTTP API.
const APIPath = "/doveadm/v1"

// maxAnswer bounds the body of an answer.
const maxAnswer = 4 << 20

// Options configure a Client.
type Options struct {
	// URL is doveadm's HTTP listener, "http://127.0.0.1:8080"; APIPath is
	// added when the URL has no path (required).
	URL string
	// Key is Dovecot's doveadm_api_key (required). It is sent base64
	// encoded in the Authorization header and never appears in an error.
	Key string
	// Timeout bounds each request, connecting and reading the answer
	// included. Default DefaultTimeout.
	Timeout time.Duration
	// HTTP sends the requests; default a client of its own that ignores
	// proxy settings and follows no redirects.
	HTTP *http.Client
}

// Client runs doveadm commands over HTTP. It is safe for concurrent use.
type Client struct {
	url      string // with APIPath
	redacted string // url without a password, for errors
	auth     string // Authorization header value
	timeout  time.Duration
	http     *http.Client
}

// New returns a client for opts.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q: want http://host:port", u.Redacted())
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = APIPath
	}
	if opts.Key == "" {
		return nil, errors.New("key: empty (Dovecot's doveadm_api_key)")
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("timeout %s: must not be negative", opts.Timeout)
	}
	c := &Client{url: u.String(), redacted: u.Redacted(),
		auth:    "X-Dovecot-API " + base64.StdEncoding.EncodeToString([]byte(opts.Key)),
		timeout: opts.Timeout, http: opts.HTTP}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.http == nil {
		c.http = &http.Client{
			Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	return c, nil
}

// String names the client by its URL; the key stays out of logs.
func (c *Client) String() string { return "doveadm client " + c.redacted }

// GoString is String: %#v must not show the key either.
func (c *Client) GoString() string { return c.String() }

// URL is the API's URL without a password.
func (c *Client) URL() string { return c.redacted }

// Timeout is how long one request may take.
func (c *Client) Timeout() time.Duration { return c.timeout }

// Command is one doveadm command: its camelCase name ("mailboxStatus") and
// parameters.
type Command struct {
	Name   string
	Params map[string]any
}

// Result is the answer to one Command: its rows, every value a string.
type Result []map[string]string

// The sysexits codes doveadm answers with.
const (
	ExitUsage    = 64
	ExitDataErr  = 65
	ExitNoUser   = 67
	ExitNotFound = 68
	ExitTempFail = 75
	ExitNoPerm   = 77
	ExitConfig   = 78
)

// ErrNotFound matches (errors.Is) an Error whose command ended with exit
// code 68: the mailbox does not exist.
var ErrNotFound = errors.New("not found")

// ErrNoUser matches (errors.Is) an Error whose command ended with exit
// code 67: the user does not exist.
var ErrNoUser = errors.New("user doesn't exist")

// ErrTimeout matches (errors.Is) an Error for a request that got no
// answer within the client's timeout.
var ErrTimeout = errors.New("timed out")

// Error is a failed doveadm request or command.
type Error struct {
	// Command is the command's name ("mailboxStatus"); several are joined
	// with "+".
	Command string
	// URL is the API's URL, without a password.
	URL string
	// StatusCode and Status are the HTTP answer's ("401 Authentication
	// required"); 0 and "" when there was none.
	StatusCode int
	Status     string
	// Type is doveadm's error type ("exitCode", "unknownMethod", ...) and
	// ExitCode its exit code, when doveadm ran the request.
	Type     string
	ExitCode int
	// Err is the transport or decoding failure, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("doveadm " + e.Command + ": ")
	switch {
	case e.Type != "":
		fmt.Fprintf(&b, "%s, exit code %d", e.Type, e.ExitCode)
		if name := exitName(e.ExitCode); name != "" && e.Type == "exitCode" {
			b.WriteString(" (" + name + ")")
		}
	case e.StatusCode != 0 && e.Err == nil:
		b.WriteString("POST " + e.URL + ": " + e.Status)
		if e.StatusCode == http.StatusUnauthorized {
			b.WriteString(" (the key is not Dovecot's doveadm_api_key)")
		}
	default:
		b.WriteString("POST " + e.URL + ": ")
		if e.StatusCode != 0 {
			b.WriteString(e.Status + ": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches ErrNotFound and ErrNoUser by exit code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Type == "exitCode" && e.ExitCode == ExitNotFound
	case ErrNoUser:
		return e.Type == "exitCode" && e.ExitCode == ExitNoUser
	}
	return false
}

// exitName says what a doveadm exit code means.
func exitName(code int) string {
	switch code {
	case ExitUsage:
		return "usage error"
	case ExitDataErr:
		return "bad data"
	case ExitNoUser:
		return "user doesn't exist"
	case ExitNotFound:
		return "not found"
	case ExitTempFail:
		return "temporary failure; Dovecot's log says why"
	case ExitNoPerm:
		return "permission denied"
	case ExitConfig:
		return "configuration error"
	}
	return ""
}

// timeoutError is the cause of a request's context when the client's
// timeout ends it.
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string { return fmt.Sprintf("no answer within %s", e.d) }
func (e *timeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

// Run sends cmds in one request and returns one Result per command. Any
// command that failed makes Run return an *Error for the first one
// (naming it) and no results.
func (c *Client) Run(ctx context.Context, cmds ...Command) ([]Result, error) {
	names := make([]string, len(cmds))
	req := make([][3]any, len(cmds))
	for i, cmd := range cmds {
		names[i] = cmd.Name
		req[i] = [3]any{cmd.Name, cmd.Params, "c" + strconv.Itoa(i)}
	}
	fail := func(e *Error) ([]Result, error) {
		if e.Command == "" {
			e.Command = strings.Join(names, "+")
		}
		e.URL = c.redacted
		return nil, e
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fail(&Error{Err: err})
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, &timeoutError{c.timeout})
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fail(&Error{Err: err})
	}
	hreq.Header.Set("Authorization", c.auth)
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(hreq)
	if err != nil {
		return fail(&Error{Err: transportError(ctx, err)})
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return fail(&Error{StatusCode: resp.StatusCode, Status: resp.Status, Err: transportError(ctx, err)})
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{StatusCode: resp.StatusCode, Status: resp.Status}
		if text := strings.TrimSpace(string(data)); text != "" && len(text) < 200 {
			e.Err = errors.New(text) // Dovecot's reason for a 400
		}
		return fail(e)
	}
	if len(data) > maxAnswer {
		return fail(&Error{Err: fmt.Errorf("answer larger than %d bytes", maxAnswer)})
	}
	results, failed, err := decodeAnswer(data, len(cmds))
	if err != nil {
		var de *Error
		if failed >= 0 && errors.As(err, &de) {
			de.Command = names[failed]
			return fail(de)
		}
		return fail(&Error{Err: err})
	}
	return results, nil
}

// transportError says why a request got no answer: the client's timeout,
// or err.
func transportError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		var te *timeoutError
		if errors.As(cause, &te) {
			return te
		}
	}
	var ue *url.Error // "Post URL: ...": the URL is in the message already
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// decodeAnswer parses doveadm's answer to n commands. When a command
// failed, the error is an *Error and failed its index; otherwise failed is
// -1.
func decodeAnswer(data []byte, n int) (out []Result, failed int, err error) {
	out, err = decodeRows(data, n, &failed)
	return out, failed, err
}

func decodeRows(data []byte, n int, failed *int) ([]Result, error) {
	*failed = -1
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty answer (doveadm failed; Dovecot's log says why)")
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("answer is not a JSON array: %w", err)
	}
	if len(rows) != n {
		return nil, fmt.Errorf("%d answers to %d commands", len(rows), n)
	}
	out := make([]Result, n)
	for i, raw := range rows {
		var row []json.RawMessage
		if err := json.Unmarshal(raw, &row); err != nil || len(row) != 3 {
			return nil, fmt.Errorf("answer %d: want [type, value, tag], got %.100s", i, raw)
		}
		var kind, tag string
		if json.Unmarshal(row[0], &kind) != nil || json.Unmarshal(row[2], &tag) != nil {
			return nil, fmt.Errorf("answer %d: want [type, value, tag], got %.100s", i, raw)
		}
		if tag != "c"+strconv.Itoa(i) {
			return nil, fmt.Errorf("answer %d: tag %q, want %q", i, tag, "c"+strconv.Itoa(i))
		}
		switch kind {
		case "doveadmResponse":
			if err := json.Unmarshal(row[1], &out[i]); err != nil {
				return nil, fmt.Errorf("answer %d: %w", i, err)
			}
		case "error":
			var e struct {
				Type     string `json:"type"`
				ExitCode int    `json:"exitCode"`
			}
			if err := json.Unmarshal(row[1], &e); err != nil {
				return nil, fmt.Errorf("answer %d: %w", i, err)
			}
			*failed = i
			return nil, &Error{Type: e.Type, ExitCode: e.ExitCode}
		default:
			return nil, fmt.Errorf("answer %d: unknown type %q", i, kind)
		}
	}
	return out, nil
}
