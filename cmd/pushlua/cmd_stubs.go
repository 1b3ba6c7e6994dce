package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/pushlua/pushlua/cmd/pushlua/internal/luaapi"
	"github.com/pushlua/pushlua/docs"
)

// cmdStubs is `pushlua stubs [DIR]`: the lua-language-server definitions
// of the Lua API, generated from the reference and the names this binary
// registers.
func cmdStubs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pushlua stubs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if code, done := parseArgs(ctx, fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "usage: pushlua stubs [DIR]")
		return 2
	}
	dir := "types"
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	paths, err := writeStubs(ctx, dir)
	if err != nil {
		fmt.Fprintln(stderr, "pushlua stubs:", err)
		return 1
	}
	for _, p := range paths {
		fmt.Fprintln(stdout, p)
	}
	return 0
}

// writeStubs writes the stub files into dir and returns their paths.
func writeStubs(ctx context.Context, dir string) ([]string, error) {
	ref, err := luaapi.Parse(docs.LuaAPIName, docs.LuaAPI)
	if err != nil {
		return nil, err
	}
	names, err := luaapi.Probe(ctx)
	if err != nil {
		return nil, err
	}
	files := luaapi.Stubs(ref, names)
	var rels []string
	for rel := range files {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	var out []string
	for _, rel := range rels {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		if err := os.WriteFile(p, files[rel], 0o644); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, p)
	}
	return out, nil
}
