package scripts

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed dovecot/forward.lua
var forwarder []byte

// Forwarder returns the source of dovecot/forward.lua: the push-notification
// Lua driver that runs inside Dovecot (2.3 and 2.4) and hands every
// committed transaction, in pushlua's transaction format, to pushlua:
// appended to a spool directory (docs/spool.md) with pushlua_spool, else
// (and as the spool's fallback) POSTed to pushlua_url. It is not one of
// the drivers pushlua runs itself (Driver does not list it).
func Forwarder() []byte {
	return append([]byte(nil), forwarder...)
}

//go:embed forwarder_compile.lua
var forwarderCompile []byte

// CompileForwarder returns the forwarder as one binary chunk of the Lua
// interpreter lua (the path of a Lua 5.3 or 5.4 `lua` executable), and the
// chunk's Lua version ("5.3" or "5.4"). Dovecot loads such a chunk without
// compiling it; its push_notification_lua plugin must be linked with the
// same Lua version, or the chunk does not load. name is the file name the
// forwarder's errors show (with the line numbers of Forwarder's text).
func CompileForwarder(ctx context.Context, lua, name string) (chunk []byte, version string, err error) {
	dir, err := os.MkdirTemp("", "pushlua-forwarder-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	prog, src := filepath.Join(dir, "compile.lua"), filepath.Join(dir, "forward.lua")
	if err := os.WriteFile(prog, forwarderCompile, 0o600); err != nil {
		return nil, "", err
	}
	if err := os.WriteFile(src, forwarder, 0o600); err != nil {
		return nil, "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, lua, prog, src, name)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return nil, "", fmt.Errorf("compiling the forwarder with %s: %w", lua, err)
		}
		return nil, "", fmt.Errorf("compiling the forwarder with %s: %w: %s", lua, err, msg)
	}
	chunk = stdout.Bytes()
	if len(chunk) < 5 || string(chunk[:4]) != "\x1bLua" || (chunk[4] != 0x53 && chunk[4] != 0x54) {
		return nil, "", fmt.Errorf("compiling the forwarder with %s: the output is not a Lua 5.3 or 5.4 binary chunk", lua)
	}
	return chunk, fmt.Sprintf("%d.%d", chunk[4]>>4, chunk[4]&0xf), nil
}
