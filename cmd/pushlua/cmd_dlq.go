package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/pushlua/pushlua/internal/dlq"
)

const dlqUsage = `usage: pushlua dlq list [--data-dir DIR] [-c CONFIG] [--json]
       pushlua dlq show ID...
       pushlua dlq replay ID... | --all
       pushlua dlq drop ID... | --all

Dead letters are transactions pushlua gave up on: their handlers crashed a
worker or exceeded the budget pushlua_poison_attempts times in a row. replay
puts a transaction back into pushlua's write-ahead log, where a running
pushlua serve (or the next one started) runs it again; drop deletes it.
`

// dlqDir and walDir are the dead-letter area and the write-ahead log in a
// data directory.
func dlqDir(dataDir string) string { return filepath.Join(dataDir, "dlq") }
func walDir(dataDir string) string { return filepath.Join(dataDir, "wal") }

func cmdDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, dlqUsage)
		return 2
	}
	verb := args[0]
	var c common
	fs := newFlagSet("dlq "+verb, stderr, &c, true)
	all := fs.Bool("all", false, "every dead letter (replay, drop)")
	asJSON := fs.Bool("json", false, "list as JSON Lines")
	if code, done := parseArgs(ctx, fs, args[1:], stdout); done {
		return code
	}
	ids := fs.Args()
	switch verb {
	case "list":
		if len(ids) > 0 {
			fmt.Fprint(stderr, dlqUsage)
			return 2
		}
	case "show", "replay", "drop":
		if len(ids) == 0 && !(*all && verb != "show") {
			fmt.Fprintf(stderr, "pushlua dlq %s: give one or more ids%s\n", verb, map[bool]string{true: "", false: " or --all"}[verb == "show"])
			return 2
		}
	default:
		fmt.Fprintf(stderr, "pushlua dlq: unknown subcommand %q\n%s", verb, dlqUsage)
		return 2
	}
	cfg := emptyConfig()
	if c.config != "" {
		var err error
		if cfg, err = c.loadConfig(); err != nil {
			fmt.Fprintln(stderr, "pushlua dlq:", err)
			return 2
		}
	}
	dir, err := c.dataDirPath(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua dlq:", err)
		return 2
	}
	area, err := dlq.Open(dlqDir(dir))
	if err != nil {
		fmt.Fprintln(stderr, "pushlua dlq:", err)
		return 1
	}
	if *all {
		letters, err := area.List()
		if err != nil {
			fmt.Fprintln(stderr, "pushlua dlq:", err)
			return 1
		}
		for _, l := range letters {
			ids = append(ids, l.ID)
		}
	}
	switch verb {
	case "list":
		letters, err := area.List()
		if err != nil {
			fmt.Fprintln(stderr, "pushlua dlq:", err)
			return 1
		}
		for _, l := range letters {
			if *asJSON {
				data, _ := json.Marshal(l)
				fmt.Fprintf(stdout, "%s\n", data)
				continue
			}
			fmt.Fprintf(stdout, "%s  %s  user=%s  attempts=%d  %s\n", l.Time.Local().Format(time.DateTime), l.ID, l.User, l.Attempts, firstLine(l.Reason))
		}
		if !*asJSON {
			fmt.Fprintf(stdout, "%d dead letter(s) in %s\n", len(letters), area.Dir())
		}
		return 0
	}
	code := 0
	for _, id := range ids {
		switch verb {
		case "show":
			l, err := area.Get(id)
			if err != nil {
				fmt.Fprintln(stderr, "pushlua dlq show:", err)
				code = 1
				continue
			}
			data, _ := json.MarshalIndent(l, "", "  ")
			fmt.Fprintf(stdout, "%s\n", data)
		case "replay":
			if err := area.Replay(id, walDir(dir)); err != nil {
				fmt.Fprintln(stderr, "pushlua dlq replay:", err)
				code = 1
				continue
			}
			fmt.Fprintf(stdout, "replayed %s into %s\n", id, walDir(dir))
		case "drop":
			if err := area.Drop(id); err != nil {
				fmt.Fprintln(stderr, "pushlua dlq drop:", err)
				code = 1
				continue
			}
			fmt.Fprintf(stdout, "dropped %s\n", id)
		}
	}
	return code
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
