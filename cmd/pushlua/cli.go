package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/pushlua/pushlua/bindings"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/redact"
	"github.com/pushlua/pushlua/internal/store"
)

const usage = `pushlua runs Dovecot push-notification Lua scripts outside the mail server.

Usage:
  pushlua serve [-c CONFIG] [--listen ADDR] [--data-dir DIR] [-o key=value]...
                      the daemon: POST /v1/transactions, hot reload on edit, /healthz,
                      /readyz, /metrics; without -c the embedded default (bundled dlog)
  pushlua send [-c CONFIG] [--url ADDR] [FILE|-]... | --sample EVENT [--user USER]
                      post transactions to a running pushlua serve
  pushlua run -c CONFIG [-o key=value]... [-j N] [FILE|-]...
                      run every transaction (JSON Lines) through the configured drivers
  pushlua check -c CONFIG [-o key=value]...
                      load every configured script (chunk + script_init) and report the first error
  pushlua conformance [-c CONFIG | SCRIPT.lua] [CASES...] [--format text|json|junit|tap] [--run REGEXP] [--bundled]
                      test a script before deploying it: built-in checks and case files
  pushlua metadata set|get|unset|list -u USER [-s MAILBOX] KEY [VALUE]
                      edit the METADATA scripts read (like doveadm mailbox metadata;
                      -s "" or no -s: server metadata)
  pushlua store check|repair [-c CONFIG] [--data-dir DIR]
                      check the store file for damage; salvage a damaged one into a new file
  pushlua dlq list|show|replay|drop [ID...]
                      the dead letters: transactions given up after crashing or
                      exceeding the budget pushlua_poison_attempts times in a row
  pushlua bench [-n N] [--workloads collect,dlog,ox,fwd] [--modes ref,run1,run2,serve]
                      measure pushlua's own cost: transactions/s, CPU µs and
                      allocations per transaction, against a plain decode-and-call loop
  pushlua init [DIR]  write a starting configuration, handler script, case directory and
                      editor stubs that pass check and conformance as generated
  pushlua stubs [DIR] write LuaLS (lua-language-server) definitions of pushlua's Lua API
  pushlua forwarder   print the Dovecot-side forwarder script (scripts/dovecot/forward.lua)
  pushlua completion bash|zsh|fish
                      print a shell completion script
  pushlua version     print the version
  pushlua help [COMMAND]
                      this list, or COMMAND's usage, flags and description (also COMMAND --help)

Common flags: --data-dir DIR (default: $XDG_STATE_HOME/pushlua or ~/.local/state/pushlua),
--log-format text|json, --log-level debug|info|warn|error. Flags may also come after
the arguments; -- ends them.
`

// run is the whole program: it touches the process only through its
// arguments.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	bindings.Version, _ = buildVersions()
	// Whatever a command prints on stderr (errors of a configuration, of a
	// script) goes out with its credentials masked; the loggers mask
	// their own records (see logger).
	stderr = &redact.Writer{W: stderr}
	cmd, rest := args[0], args[1:]
	if code, done := helpFor(ctx, cmd, rest, false, stdout, stderr); done {
		return code
	}
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, stdin, stdout, stderr)
	case "check":
		return cmdCheck(ctx, rest, stdout, stderr)
	case "conformance":
		return cmdConformance(ctx, rest, stdout, stderr)
	case "metadata":
		return cmdMetadata(ctx, rest, stdout, stderr)
	case "dlq":
		return cmdDLQ(ctx, rest, stdout, stderr)
	case "store":
		return cmdStore(ctx, rest, stdout, stderr)
	case "bench":
		return cmdBench(ctx, rest, stdout, stderr)
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "send":
		return cmdSend(ctx, rest, stdin, stdout, stderr)
	case "init":
		return cmdInit(ctx, rest, stdout, stderr)
	case "stubs":
		return cmdStubs(ctx, rest, stdout, stderr)
	case "completion":
		return cmdCompletion(ctx, rest, stdout, stderr)
	case "forwarder":
		return cmdForwarder(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "--help", "-help":
		if len(rest) > 0 {
			code, _ := helpFor(ctx, rest[0], rest[1:], true, stdout, stderr)
			return code
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "pushlua: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// common holds the flags every command shares.
type common struct {
	config    string
	overrides multiFlag
	dataDir   string
	logFormat string
	logLevel  string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func newFlagSet(name string, stderr io.Writer, c *common, withConfig bool) *flag.FlagSet {
	fs := flag.NewFlagSet("pushlua "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if withConfig {
		fs.StringVar(&c.config, "c", "", "configuration file (Dovecot syntax)")
		fs.Var(&c.overrides, "o", "override a setting: key=value (repeatable)")
	}
	fs.StringVar(&c.dataDir, "data-dir", "", "directory of pushlua's store")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", "debug", "lowest level logged: debug, info, warn or error (debug lines of the framework also need mail_debug = yes)")
	return fs
}

func (c *common) logger(stderr io.Writer) (*slog.Logger, error) {
	if rw, ok := stderr.(*redact.Writer); ok {
		// The handlers redact each string themselves; masking an encoded
		// JSON line again could mask across its fields.
		stderr = rw.W
	}
	level, err := parseLogLevel(c.logLevel)
	if err != nil {
		return nil, err
	}
	switch c.logFormat {
	case "text", "":
		return slog.New(logx.NewText(stderr, &logx.Options{Level: level})), nil
	case "json":
		return slog.New(logx.NewJSON(stderr, &slog.HandlerOptions{Level: level})), nil
	default:
		return nil, fmt.Errorf("--log-format: expected text or json, got %q", c.logFormat)
	}
}

// loadConfig reads -c and the -o overrides, and refuses a configuration
// with an unknown or misplaced setting or a bad driver value (lintConfig).
func (c *common) loadConfig() (*dconfig.Config, error) {
	cfg, err := c.parseConfig()
	if err != nil {
		return nil, err
	}
	if err := lintConfig(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseConfig reads -c and the -o overrides.
func (c *common) parseConfig() (*dconfig.Config, error) {
	if c.config == "" {
		return nil, errors.New("no configuration: give -c CONFIG")
	}
	cfg, err := dconfig.Parse(c.config)
	if err != nil {
		return nil, err
	}
	if err := c.override(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// override applies the -o overrides to cfg.
func (c *common) override(cfg *dconfig.Config) error {
	for _, o := range c.overrides {
		if err := cfg.Override(o); err != nil {
			return fmt.Errorf("-o %s: %w", o, err)
		}
	}
	return nil
}

// loadDriverConfig is loadConfig for the commands that run transactions:
// a configuration without a push notification driver is refused too
// (noDriver).
func (c *common) loadDriverConfig() (*dconfig.Config, error) {
	cfg, err := c.loadConfig()
	if err == nil {
		err = noDriver(cfg)
	}
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// storePath returns the store file, pushlua.db in the data directory.
func (c *common) storePath(cfg *dconfig.Config) (string, error) {
	dir, err := c.dataDirPath(cfg)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "pushlua.db"), nil
}

// dataDirPath returns the data directory: --data-dir, then the config's
// pushlua_data_dir, then the user's state directory.
func (c *common) dataDirPath(cfg *dconfig.Config) (string, error) {
	dir := c.dataDir
	if dir == "" && cfg != nil {
		if d, ok := cfg.Settings["pushlua_data_dir"]; ok && d != "" {
			dir = cfg.Resolve(d)
		}
	}
	if dir == "" {
		dir = os.Getenv("XDG_STATE_HOME")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("no --data-dir and no home directory: %w", err)
			}
			dir = filepath.Join(home, ".local", "state")
		}
		dir = filepath.Join(dir, "pushlua")
	}
	return dir, nil
}

func (c *common) openStore(cfg *dconfig.Config) (store.Store, error) {
	path, err := c.storePath(cfg)
	if err != nil {
		return nil, err
	}
	opts, err := storeOptions(cfg)
	if err != nil {
		return nil, err
	}
	s, err := store.OpenBolt(path, opts)
	if err != nil {
		return nil, c.storeError(err)
	}
	return s, nil
}

// buildVersions returns pushlua's module version and go-lua's.
func buildVersions() (pushlua, golua string) {
	pushlua, golua = "(devel)", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			pushlua = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/Shopify/go-lua" {
				golua = d.Version
			}
		}
	}
	return pushlua, golua
}

func versionString() string {
	v, lua := buildVersions()
	return fmt.Sprintf("pushlua %s (go-lua %s, Dovecot 2.3 push-notification Lua API)", v, lua)
}

// emptyConfig is the configuration of commands run without -c.
func emptyConfig() *dconfig.Config {
	cfg, _ := dconfig.ParseReader("(none)", strings.NewReader(""), "")
	return cfg
}
