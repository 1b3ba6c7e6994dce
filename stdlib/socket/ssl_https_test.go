package socket

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestSSLHTTPSLua runs testdata/ssl_https_test.lua against a TLS server on
// 127.0.0.1 whose certificate is given to the script as its cafile.
func TestSSLHTTPSLua(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			<-r.Context().Done()
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+"\n"+string(body))
	}))
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	sockRunLuaFile(t, "ssl_https_test.lua", map[string]string{"TEST_URL": srv.URL, "CA_FILE": caFile})
}

// TestSocketHTTPBadTimeout: a non-number http.TIMEOUT raises LuaSocket's
// settimeout error; the error value used to be popped by a deferred Pop
// before it reached Lua.
func TestSocketHTTPBadTimeout(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	got, ok := sockEval(t, sockEnv(t.Context()), `local http = require("socket.http")
http.TIMEOUT = {}
return pcall(http.request, "`+srv.URL+`/")`)
	if want := "false\tbad argument #1 to 'settimeout' (number expected, got table)"; !ok || got != want {
		t.Errorf("got %q (ok %v); want %q", got, ok, want)
	}
}
