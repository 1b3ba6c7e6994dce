package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// initFiles is what `pushlua init` writes: a configuration, a handler
// script, conformance cases, a sample transaction and the editor's
// .luarc.json (the stubs come from writeStubs).
//
//go:embed all:initfiles
var initFiles embed.FS

// cmdInit is `pushlua init [DIR]`.
func cmdInit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("pushlua init", flag.ContinueOnError)
	flags.SetOutput(stderr)
	if code, done := parseArgs(ctx, flags, args, stdout); done {
		return code
	}
	if flags.NArg() > 1 {
		fmt.Fprintln(stderr, "usage: pushlua init [DIR]")
		return 2
	}
	dir := "."
	if flags.NArg() == 1 {
		dir = flags.Arg(0)
	}
	files := map[string][]byte{}
	err := fs.WalkDir(initFiles, "initfiles", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := initFiles.ReadFile(p)
		files[strings.TrimPrefix(p, "initfiles/")] = data
		return err
	})
	if err != nil {
		fmt.Fprintln(stderr, "pushlua init:", err)
		return 1
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	// Never overwrite: check everything first, write nothing on a clash.
	var clash []string
	for _, name := range append(names, "types/dovecot.lua") {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			clash = append(clash, filepath.Join(dir, name))
		} else if !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintln(stderr, "pushlua init:", err)
			return 1
		}
	}
	if len(clash) > 0 {
		fmt.Fprintf(stderr, "pushlua init: %s already exist%s; nothing written (use another directory)\n",
			strings.Join(clash, ", "), map[bool]string{true: "s", false: ""}[len(clash) == 1])
		return 1
	}
	for _, name := range names {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fmt.Fprintln(stderr, "pushlua init:", err)
			return 1
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			fmt.Fprintln(stderr, "pushlua init:", err)
			return 1
		}
		fmt.Fprintln(stdout, "wrote", p)
	}
	if _, err := writeStubs(ctx, filepath.Join(dir, "types")); err != nil {
		fmt.Fprintln(stderr, "pushlua init:", err)
		return 1
	}
	fmt.Fprintln(stdout, "wrote", filepath.Join(dir, "types")+"/ (editor definitions; .luarc.json points at them)")
	cd := ""
	if dir != "." {
		cd = "cd " + dir + "\n  "
	}
	fmt.Fprintf(stdout, `
Next:
  %spushlua check -c pushlua.conf                # load the script
  pushlua conformance -c pushlua.conf cases/  # test it: built-in checks and the cases
  pushlua serve -c pushlua.conf               # run it; then, in another terminal: pushlua send sample.jsonl
`, cd)
	return 0
}
