package main

// The METADATA that `pushlua metadata` edits, reached either in the store
// file (no other process holds it) or through a running serve's
// /v1/metadata endpoint, which serve answers from the store it holds.
//
//	GET    /v1/metadata?user=U&mailbox=M&key=K   → 200 {"value": "..."}, 404 when not set
//	GET    /v1/metadata?user=U&mailbox=M[&prefix=P] → 200 {"values": {"K": "V", ...}}
//	PUT    /v1/metadata?user=U&mailbox=M&key=K   body {"value": "..."} → 204
//	DELETE /v1/metadata?user=U&mailbox=M&key=K   → 204
//
// mailbox "" (or absent) is server METADATA, as `-s ""` is; keys are the
// user-facing "/private/..." and "/shared/..." ones. The endpoint sits
// behind ingest's checks (Host, Origin, the bearer token).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pushlua/pushlua/internal/store"
)

// metadataPath is serve's METADATA endpoint.
const metadataPath = "/v1/metadata"

// metadataKey maps a user-facing key of mailbox ("" = server METADATA)
// to the store's mailbox and key.
func metadataKey(mailbox, key string) (box, skey string, err error) {
	if mailbox == "" {
		skey, err = store.ServerKey(key)
		return "INBOX", skey, err
	}
	if _, err := store.ServerKey(key); err != nil {
		return "", "", err
	}
	return mailbox, key, nil
}

// metadataGet, metadataSet, metadataUnset and metadataList are the four
// operations on a store.
func metadataGet(ctx context.Context, st store.Store, user, mailbox, key string) (string, bool, error) {
	box, skey, err := metadataKey(mailbox, key)
	if err != nil {
		return "", false, err
	}
	return st.GetAttribute(ctx, user, box, skey)
}

func metadataSet(ctx context.Context, st store.Store, user, mailbox, key, value string) error {
	box, skey, err := metadataKey(mailbox, key)
	if err != nil {
		return err
	}
	return st.SetAttribute(ctx, user, box, skey, value)
}

func metadataUnset(ctx context.Context, st store.Store, user, mailbox, key string) error {
	box, skey, err := metadataKey(mailbox, key)
	if err != nil {
		return err
	}
	return st.UnsetAttribute(ctx, user, box, skey)
}

// metadataList returns the keys under prefix ("" for all) with their
// values, keys in their user-facing form.
func metadataList(ctx context.Context, st store.Store, user, mailbox, prefix string) (map[string]string, error) {
	server := mailbox == ""
	box := mailbox
	if server {
		box = "INBOX"
	}
	if prefix != "" {
		var err error
		if _, prefix, err = metadataKey(mailbox, prefix); err != nil {
			return nil, err
		}
	}
	m, err := st.ListAttributes(ctx, user, box, prefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if server {
			u, ok := cutServer(k)
			if !ok {
				continue
			}
			k = u
		}
		out[k] = v
	}
	return out, nil
}

// listLines formats a list as `pushlua metadata list` prints it.
func listLines(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + m[k]
	}
	return lines
}

// metadataHandler is serve's /v1/metadata on st.
func metadataHandler(st store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		user, mailbox, key := q.Get("user"), q.Get("mailbox"), q.Get("key")
		fail := func(status int, err error) {
			writeAPIJSON(w, status, map[string]string{"error": err.Error()})
		}
		if user == "" {
			fail(http.StatusBadRequest, errors.New("user: missing (user=USER)"))
			return
		}
		needKey := func() bool {
			if key == "" {
				fail(http.StatusBadRequest, errors.New("key: missing (key=/private/... or /shared/...)"))
				return false
			}
			return true
		}
		var err error
		switch r.Method {
		case http.MethodGet:
			if key == "" {
				var m map[string]string
				if m, err = metadataList(r.Context(), st, user, mailbox, q.Get("prefix")); err == nil {
					writeAPIJSON(w, http.StatusOK, map[string]any{"values": m})
					return
				}
				break
			}
			var v string
			var found bool
			if v, found, err = metadataGet(r.Context(), st, user, mailbox, key); err == nil {
				if !found {
					fail(http.StatusNotFound, errors.New("not set"))
					return
				}
				writeAPIJSON(w, http.StatusOK, map[string]string{"value": v})
				return
			}
		case http.MethodPut:
			if !needKey() {
				return
			}
			var body struct {
				Value *string `json:"value"`
			}
			data, rerr := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
			if rerr != nil || len(data) > 1<<20 {
				fail(http.StatusBadRequest, errors.New("body: expected {\"value\": \"...\"} of at most 1 MiB"))
				return
			}
			if jerr := json.Unmarshal(data, &body); jerr != nil || body.Value == nil {
				fail(http.StatusBadRequest, errors.New("body: expected {\"value\": \"...\"}"))
				return
			}
			if err = metadataSet(r.Context(), st, user, mailbox, key, *body.Value); err == nil {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		case http.MethodDelete:
			if !needKey() {
				return
			}
			if err = metadataUnset(r.Context(), st, user, mailbox, key); err == nil {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		default:
			w.Header().Set("Allow", "GET, PUT, DELETE")
			fail(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed; use GET, PUT or DELETE", r.Method))
			return
		}
		if errors.Is(err, store.ErrBadKey) {
			fail(http.StatusBadRequest, err)
			return
		}
		fail(http.StatusInternalServerError, err)
	})
}

func writeAPIJSON(w http.ResponseWriter, status int, v any) {
	data, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// metadataClient does the four operations through a running serve.
type metadataClient struct {
	client *http.Client
	base   string // http://host:port
	addr   string // as configured, for messages
	token  string
}

func (c *metadataClient) do(ctx context.Context, method string, q url.Values, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+metadataPath+"?"+q.Encode(), body)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL and its query
		}
		return 0, nil, fmt.Errorf("no pushlua serve answered at %s: %w", c.addr, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, data, nil
}

// apiError is serve's answer to a request that failed.
func apiError(addr string, status int, data []byte) error {
	var e struct{ Error string }
	if json.Unmarshal(data, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(data))
	}
	return fmt.Errorf("pushlua serve at %s answered %d: %s", addr, status, e.Error)
}

func (c *metadataClient) get(ctx context.Context, user, mailbox, key string) (string, bool, error) {
	status, data, err := c.do(ctx, http.MethodGet, url.Values{"user": {user}, "mailbox": {mailbox}, "key": {key}}, nil)
	switch {
	case err != nil:
		return "", false, err
	case status == http.StatusNotFound:
		return "", false, nil
	case status != http.StatusOK:
		return "", false, apiError(c.addr, status, data)
	}
	var v struct{ Value string }
	if err := json.Unmarshal(data, &v); err != nil {
		return "", false, fmt.Errorf("pushlua serve at %s: %w", c.addr, err)
	}
	return v.Value, true, nil
}

func (c *metadataClient) set(ctx context.Context, user, mailbox, key, value string) error {
	body, _ := json.Marshal(map[string]string{"value": value})
	status, data, err := c.do(ctx, http.MethodPut, url.Values{"user": {user}, "mailbox": {mailbox}, "key": {key}}, strings.NewReader(string(body)))
	if err == nil && status != http.StatusNoContent {
		err = apiError(c.addr, status, data)
	}
	return err
}

func (c *metadataClient) unset(ctx context.Context, user, mailbox, key string) error {
	status, data, err := c.do(ctx, http.MethodDelete, url.Values{"user": {user}, "mailbox": {mailbox}, "key": {key}}, nil)
	if err == nil && status != http.StatusNoContent {
		err = apiError(c.addr, status, data)
	}
	return err
}

func (c *metadataClient) list(ctx context.Context, user, mailbox, prefix string) (map[string]string, error) {
	q := url.Values{"user": {user}, "mailbox": {mailbox}}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	status, data, err := c.do(ctx, http.MethodGet, q, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, apiError(c.addr, status, data)
	}
	var v struct{ Values map[string]string }
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("pushlua serve at %s: %w", c.addr, err)
	}
	return v.Values, nil
}
