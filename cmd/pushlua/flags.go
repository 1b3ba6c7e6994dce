package main

// How every command reads its arguments and prints its help.
//
// Go's flag package stops at the first positional argument, so
// `pushlua run in.jsonl -c p.conf` would read -c as a file name.
// parseArgs parses flags wherever they are (GNU style; "--" ends them),
// answers -h/--help with the command's own usage on stdout and exit 0, and
// prints long flags with two dashes. docs/design.md says why this is a
// helper and not a CLI library.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
)

// commandDoc is the help of one command: what `pushlua help CMD` and
// `pushlua CMD --help` print above the flags.
type commandDoc struct {
	// short is the one-line summary completion shows.
	short string
	// usage is the synopsis (without "Usage: pushlua ").
	usage string
	// text says what the command does.
	text string
	// raw, when set, is printed instead of usage and text: a command's
	// own usage constant.
	raw string
	// verbs are the subcommands (completion offers them).
	verbs []string
	// noFlags marks a command without a flag set: its help is the text
	// alone.
	noFlags bool
}

// commandOrder lists the commands as help and completion show them.
var commandOrder = []string{"serve", "send", "run", "check", "conformance", "init", "stubs",
	"metadata", "store", "dlq", "bench", "forwarder", "completion", "version", "help"}

var commandDocs = map[string]commandDoc{
	"serve": {
		short: "the daemon: take transactions over HTTP and run them",
		usage: "serve [-c CONFIG] [--listen ADDR] [--data-dir DIR] [-o key=value]... [-j N]",
		text: `The daemon: takes transactions on POST /v1/transactions (JSON or JSON
Lines), writes them to its write-ahead log, runs them through the
configured drivers, and reloads the configuration and scripts when they
change (or on SIGHUP). Also serves /healthz, /readyz and /metrics.
Without -c it runs an embedded default: the bundled dlog driver on
127.0.0.1:8787. SIGTERM or SIGINT drains and exits 0.`,
	},
	"send": {
		short: "post transactions to a running pushlua serve",
		usage: "send [-c CONFIG] [--url ADDR] [--token T] [FILE|-]... | --sample EVENT [--user USER]",
		text: `Posts transactions to a running pushlua serve: JSON Lines files, stdin
(no file, or -), or one generated --sample transaction of any of the
twelve events. The address and token come from --url/--token, else from
the -c configuration's pushlua_listen/pushlua_auth_token. Exit 0 when
every transaction was accepted.`,
	},
	"run": {
		short: "run transactions from files or stdin and exit",
		usage: "run -c CONFIG [-o key=value]... [-j N] [FILE|-]...",
		text: `Reads transactions (JSON Lines) from the files, or from stdin when none
is given or for -, runs each through the configured drivers, and exits:
0 when every input line was accepted, 1 when any was rejected. A summary
line ends the output on stderr.`,
	},
	"check": {
		short: "load every configured script and report the first error",
		usage: "check -c CONFIG [-o key=value]...",
		text: `Loads every configured script in a fresh state (the chunk, then
script_init), says which configuration syntax it read and which drivers
resolved, and reports the first error with its file:line. Exit 1 on
failure or when no driver is configured.`,
	},
	"conformance": {short: "test a script: built-in checks and case files", raw: conformanceUsage},
	"init": {
		short: "write a starting configuration, script, cases and editor stubs",
		usage: "init [DIR]",
		text: `Writes a starting point into DIR (default: the current directory): a
configuration (pushlua.conf), a handler script (push.lua), a conformance
case directory (cases/), LuaLS type stubs for editor completion
(types/pushlua.lua with .luarc.json) and a sample transaction
(sample.jsonl). Existing files are never overwritten. What it writes passes
pushlua check and pushlua conformance as generated; it prints the next
commands to run.`,
	},
	"stubs": {
		short: "write LuaLS definitions of the Lua API",
		usage: "stubs [DIR]",
		text: `Writes pushlua.lua, the LuaLS (lua-language-server) definitions of every
function, object and module pushlua gives scripts, into DIR (default:
types). Point .luarc.json's workspace.library at DIR for completion and
type checks in your editor (docs/lua-api.md shows one).`,
	},
	"metadata": {
		short: "edit the METADATA scripts read",
		usage: `metadata set|get|unset|list -u USER [-s MAILBOX] KEY [VALUE]`,
		text: `Edits the METADATA scripts read, like doveadm mailbox metadata: -s ""
(or no -s) is server METADATA (what user:metadata_get() reads), -s MAILBOX
that mailbox's own attributes.`,
		verbs: []string{"set", "get", "unset", "list"},
	},
	"store": {short: "check or repair the store file", raw: storeUsage, verbs: []string{"check", "repair"}},
	"dlq":   {short: "list, show, replay or drop dead letters", raw: dlqUsage, verbs: []string{"list", "show", "replay", "drop"}},
	"bench": {short: "measure pushlua's own cost per transaction", raw: benchUsage},
	"forwarder": {short: "print the Dovecot-side forwarder script", usage: "forwarder [--compile LUA]", text: `Prints the Lua script that runs inside Dovecot as its push-notification
driver and hands each transaction to pushlua (spool or POST; the script's
header says how to set it up).

With --compile LUA it prints the same script as one binary chunk of LUA, a
Lua 5.3 or 5.4 interpreter of the version Dovecot's push_notification_lua
plugin uses (checked when the plugin is found): Dovecot then loads it
without compiling it for every mail session, which saves it ~0.4 ms of
CPU per LMTP delivery (docs/performance.md). Redirect it to a file and
point push_notification_driver = lua:file= at that file; compile it again
after an upgrade of pushlua or of Dovecot's Lua.`},
	"completion": {
		short: "print a shell completion script",
		usage: "completion bash|zsh|fish",
		text: `Prints a shell completion script for pushlua's commands, subcommands and
flags. Load it with:
  bash: source <(pushlua completion bash)
  zsh:  pushlua completion zsh > "${fpath[1]}/_pushlua"
  fish: pushlua completion fish > ~/.config/fish/completions/pushlua.fish`,
		verbs:   []string{"bash", "zsh", "fish"},
		noFlags: true,
	},
	"version": {short: "print the version", usage: "version", text: "Prints pushlua's version, go-lua's, and the Dovecot API it implements.", noFlags: true},
	"help":    {short: "list the commands, or one command's usage", usage: "help [COMMAND]", text: "Prints the list of commands, or COMMAND's usage, flags and description.", noFlags: true},
}

// flagArgNames are the placeholders help prints after a flag's name.
var flagArgNames = map[string]string{
	"c": "CONFIG", "o": "KEY=VALUE", "data-dir": "DIR", "log-format": "text|json",
	"log-level": "debug|info|warn|error", "listen": "ADDR", "j": "N", "url": "ADDR",
	"token": "T", "sample": "EVENT", "user": "USER", "u": "USER", "s": "MAILBOX",
	"format": "FORMAT", "run": "REGEXP", "shared": "DIR", "n": "N", "users": "N",
	"workloads": "LIST", "modes": "LIST", "compile": "LUA", "name": "NAME", "dovecot-modules": "DIR",
}

// flagSetsKey is the context key under which completion collects the
// flag sets of the commands instead of running them.
type flagSetsKey struct{}

// isHelpArg reports whether arg asks for help.
func isHelpArg(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// parseArgs parses a command's arguments with fs: flags may come before,
// between or after the positional arguments, and "--" ends the flags.
// Afterwards fs.Args() holds the positional arguments in order. -h or
// --help prints the command's usage on stdout. done says the command must
// return code: 0 after help, 2 after a usage error (reported on
// fs.Output(), followed by the usage).
func parseArgs(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) (code int, done bool) {
	if sets, ok := ctx.Value(flagSetsKey{}).(*[]*flag.FlagSet); ok {
		*sets = append(*sets, fs)
		return 0, true
	}
	// The flag package calls Usage for -h and after a mistake; help asked
	// for goes to stdout, a mistake's usage after its message to
	// fs.Output().
	fs.Usage = func() {}
	defer func() { fs.Usage = func() { printUsage(fs.Output(), fs) } }()
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, fs)
			return 0, true
		}
		if err != nil {
			printUsage(fs.Output(), fs)
			return 2, true
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Leave the positional arguments in fs.Args().
	_ = fs.Parse(append([]string{"--"}, positional...))
	return 0, false
}

// commandOf returns the command a flag set belongs to: "metadata" for
// "pushlua metadata set".
func commandOf(fs *flag.FlagSet) string {
	f := strings.Fields(fs.Name())
	if len(f) >= 2 {
		return f[1]
	}
	return fs.Name()
}

// printCommandDoc writes the synopsis and description of a command.
func printCommandDoc(w io.Writer, name string) {
	doc, ok := commandDocs[name]
	switch {
	case !ok:
		fmt.Fprintf(w, "Usage: pushlua %s [flags]\n", name)
	case doc.raw != "":
		fmt.Fprint(w, strings.TrimRight(doc.raw, "\n")+"\n")
	default:
		fmt.Fprintf(w, "Usage: pushlua %s\n\n%s\n", doc.usage, doc.text)
	}
}

// printUsage writes a command's usage: synopsis, description and flags.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	printCommandDoc(w, commandOf(fs))
	fmt.Fprint(w, "\nFlags (also accepted after the arguments; -- ends them):\n")
	printFlags(w, fs)
	fmt.Fprintf(w, "\n'pushlua help' lists every command.\n")
}

// printFlags writes one entry per flag: short flags with one dash, long
// ones with two (the flag package accepts either), a placeholder for the
// value, the description and the default.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	type row struct{ left, right string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		left := "-" + f.Name
		if len(f.Name) > 1 {
			left = "--" + f.Name
		}
		if !isBoolFlag(f) {
			arg, ok := flagArgNames[f.Name]
			if !ok {
				arg, _ = flag.UnquoteUsage(f)
				arg = strings.ToUpper(arg)
			}
			left += " " + arg
		}
		right := f.Usage
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && !strings.Contains(f.Usage, "default") {
			right += " (default " + f.DefValue + ")"
		}
		rows = append(rows, row{left, right})
		width = max(width, len(left))
	})
	// Single-letter flags first, then the long ones, each alphabetically.
	sort.SliceStable(rows, func(i, j int) bool {
		si, sj := !strings.HasPrefix(rows[i].left, "--"), !strings.HasPrefix(rows[j].left, "--")
		if si != sj {
			return si
		}
		return rows[i].left < rows[j].left
	})
	width = min(width, 28)
	for _, r := range rows {
		if len(r.left) > width {
			fmt.Fprintf(w, "  %s\n  %s  %s\n", r.left, strings.Repeat(" ", width), r.right)
			continue
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, r.left, r.right)
	}
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// helpFor answers help for a command before it runs: `pushlua help CMD`
// (asked = true), or CMD's first argument asking for help where the
// command has no flag set or reads a subcommand first (forwarder, version,
// metadata, store, dlq, completion). done says whether it answered.
func helpFor(ctx context.Context, cmd string, args []string, asked bool, stdout, stderr io.Writer) (code int, done bool) {
	if !asked && (len(args) == 0 || !isHelpArg(args[0])) {
		return 0, false
	}
	doc, ok := commandDocs[cmd]
	if !ok {
		if !asked {
			return 0, false
		}
		fmt.Fprintf(stderr, "pushlua help: unknown command %q\n\n%s", cmd, usage)
		return 2, true
	}
	if doc.noFlags {
		printCommandDoc(stdout, cmd)
		return 0, true
	}
	if len(doc.verbs) > 0 {
		// The flags are the same for every subcommand.
		return run(ctx, []string{cmd, doc.verbs[0], "--help"}, nil, stdout, stderr), true
	}
	if !asked {
		return 0, false
	}
	return run(ctx, []string{cmd, "--help"}, nil, stdout, stderr), true
}

// commandFlags returns the flags of a command (of its first subcommand
// when it has some), as its own flag set defines them, without running it.
func commandFlags(ctx context.Context, cmd string) []*flag.Flag {
	var sets []*flag.FlagSet
	ctx = context.WithValue(ctx, flagSetsKey{}, &sets)
	args := []string{cmd}
	if doc := commandDocs[cmd]; len(doc.verbs) > 0 {
		args = append(args, doc.verbs[0])
	}
	if doc := commandDocs[cmd]; doc.noFlags {
		return nil
	}
	run(ctx, args, strings.NewReader(""), io.Discard, io.Discard)
	var out []*flag.Flag
	for _, fs := range sets {
		fs.VisitAll(func(f *flag.Flag) { out = append(out, f) })
	}
	return out
}

// parseLogLevel reads --log-level.
func parseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug", "":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--log-level: expected debug, info, warn or error, got %q", s)
}
