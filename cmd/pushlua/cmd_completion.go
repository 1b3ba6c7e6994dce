package main

// `pushlua completion bash|zsh|fish`: shell completion scripts generated
// from the commands' own flag sets (commandFlags), so a flag added to a
// command is completed without touching this file.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/pushlua/pushlua/conformance"
	"github.com/pushlua/pushlua/internal/txn"
)

// completionSpec is what the scripts complete, per command.
type completionSpec struct {
	name  string
	short string
	verbs []string
	flags []completionFlag
}

type completionFlag struct {
	name    string // without dashes
	usage   string
	takes   bool     // takes a value
	kind    string   // "file", "dir" or "" for the value
	choices []string // the values, when they are a fixed set
}

// fileArgs are the commands whose arguments are files or directories.
var fileArgs = map[string]bool{"run": true, "send": true, "conformance": true, "init": true, "stubs": true}

// flagValueKinds says which flag values are paths.
var flagValueKinds = map[string]string{"c": "file", "data-dir": "dir", "shared": "dir"}

// flagChoices returns the fixed values of a flag, if it has them.
func flagChoices(name string) []string {
	switch name {
	case "format":
		return conformance.Formats
	case "log-format":
		return []string{"text", "json"}
	case "log-level":
		return []string{"debug", "info", "warn", "error"}
	case "sample":
		var out []string
		for _, e := range txn.Events {
			out = append(out, e.Name)
		}
		return out
	}
	return nil
}

func completionSpecs(ctx context.Context) []completionSpec {
	var specs []completionSpec
	for _, name := range commandOrder {
		doc := commandDocs[name]
		s := completionSpec{name: name, short: doc.short, verbs: doc.verbs}
		if name == "help" {
			s.verbs = commandOrder
		}
		for _, f := range commandFlags(ctx, name) {
			s.flags = append(s.flags, completionFlag{name: f.Name, usage: f.Usage, takes: !isBoolFlag(f),
				kind: flagValueKinds[f.Name], choices: flagChoices(f.Name)})
		}
		sort.Slice(s.flags, func(i, j int) bool { return s.flags[i].name < s.flags[j].name })
		specs = append(specs, s)
	}
	return specs
}

func cmdCompletion(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pushlua completion", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if code, done := parseArgs(ctx, fs, args, stdout); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: pushlua completion bash|zsh|fish")
		return 2
	}
	specs := completionSpecs(ctx)
	switch fs.Arg(0) {
	case "bash":
		writeBashCompletion(stdout, specs)
	case "zsh":
		writeZshCompletion(stdout, specs)
	case "fish":
		writeFishCompletion(stdout, specs)
	default:
		fmt.Fprintf(stderr, "pushlua completion: unknown shell %q: expected bash, zsh or fish\n", fs.Arg(0))
		return 2
	}
	return 0
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

func writeBashCompletion(w io.Writer, specs []completionSpec) {
	var cmds []string
	for _, s := range specs {
		cmds = append(cmds, s.name)
	}
	fmt.Fprintf(w, `# bash completion for pushlua. Load it with:
#   source <(pushlua completion bash)
_pushlua() {
    local cur prev cmd flags verbs
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    COMPREPLY=()
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=( $(compgen -W %q -- "$cur") )
        return 0
    fi
    cmd="${COMP_WORDS[1]}"
    case "$prev" in
`, strings.Join(cmds, " "))
	// Values of flags, the same for every command that has the flag.
	values := map[string]completionFlag{}
	for _, s := range specs {
		for _, f := range s.flags {
			if f.takes {
				values[f.name] = f
			}
		}
	}
	var names []string
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := values[n]
		fmt.Fprintf(w, "        %s)\n", dashed(n))
		switch {
		case len(f.choices) > 0:
			fmt.Fprintf(w, "            COMPREPLY=( $(compgen -W %q -- \"$cur\") ); return 0 ;;\n", strings.Join(f.choices, " "))
		case f.kind == "file":
			fmt.Fprint(w, "            COMPREPLY=( $(compgen -f -- \"$cur\") ); return 0 ;;\n")
		case f.kind == "dir":
			fmt.Fprint(w, "            COMPREPLY=( $(compgen -d -- \"$cur\") ); return 0 ;;\n")
		default:
			fmt.Fprint(w, "            return 0 ;;\n")
		}
	}
	fmt.Fprint(w, "    esac\n    case \"$cmd\" in\n")
	for _, s := range specs {
		var fl []string
		for _, f := range s.flags {
			fl = append(fl, dashed(f.name))
		}
		fmt.Fprintf(w, "        %s) flags=%q; verbs=%q ;;\n", s.name, strings.Join(fl, " "), strings.Join(s.verbs, " "))
	}
	fmt.Fprint(w, `        *) return 0 ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
        return 0
    fi
    if [[ -n $verbs && $COMP_CWORD -eq 2 ]]; then
        COMPREPLY=( $(compgen -W "$verbs" -- "$cur") )
        return 0
    fi
    COMPREPLY=( $(compgen -f -- "$cur") )
}
complete -o filenames -o bashdefault -F _pushlua pushlua
`)
}

// zshQuote escapes a description for _arguments and _describe specs.
func zshQuote(s string) string {
	r := strings.NewReplacer(`'`, `'\''`, `[`, `\[`, `]`, `\]`, `:`, `\:`)
	if i := strings.IndexAny(s, "(;"); i > 20 {
		s = s[:i]
	}
	return r.Replace(strings.TrimSpace(s))
}

func writeZshCompletion(w io.Writer, specs []completionSpec) {
	fmt.Fprint(w, `#compdef pushlua
# zsh completion for pushlua. Install it with:
#   pushlua completion zsh > "${fpath[1]}/_pushlua"   (then start a new shell)

_pushlua() {
  local -a commands
  commands=(
`)
	for _, s := range specs {
		fmt.Fprintf(w, "    '%s:%s'\n", s.name, zshQuote(s.short))
	}
	fmt.Fprint(w, `  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'pushlua command' commands
    return
  fi
  local cmd=${words[2]}
  shift words
  (( CURRENT-- ))
  case $cmd in
`)
	for _, s := range specs {
		fmt.Fprintf(w, "    %s)\n      _arguments -s \\\n", s.name)
		for _, f := range s.flags {
			spec := fmt.Sprintf("%s[%s]", dashed(f.name), zshQuote(f.usage))
			if f.name == "o" {
				spec = "*" + spec
			}
			if f.takes {
				switch {
				case len(f.choices) > 0:
					spec += fmt.Sprintf(":%s:(%s)", f.name, strings.Join(f.choices, " "))
				case f.kind == "file":
					spec += ":file:_files"
				case f.kind == "dir":
					spec += ":directory:_files -/"
				default:
					spec += ":" + f.name + ": "
				}
			}
			fmt.Fprintf(w, "        '%s' \\\n", spec)
		}
		if len(s.verbs) > 0 {
			fmt.Fprintf(w, "        '1:subcommand:(%s)' \\\n", strings.Join(s.verbs, " "))
		}
		fmt.Fprint(w, "        '*:file:_files'\n      ;;\n")
	}
	fmt.Fprint(w, `  esac
}

_pushlua "$@"
`)
}

// fishQuote quotes s for fish.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func writeFishCompletion(w io.Writer, specs []completionSpec) {
	var cmds []string
	for _, s := range specs {
		cmds = append(cmds, s.name)
	}
	fmt.Fprintf(w, `# fish completion for pushlua. Install it with:
#   pushlua completion fish > ~/.config/fish/completions/pushlua.fish
complete -c pushlua -f
set -l pushlua_commands %s
`, strings.Join(cmds, " "))
	for _, s := range specs {
		fmt.Fprintf(w, "complete -c pushlua -n \"not __fish_seen_subcommand_from $pushlua_commands\" -a %s -d %s\n", s.name, fishQuote(s.short))
	}
	for _, s := range specs {
		cond := fmt.Sprintf("__fish_seen_subcommand_from %s", s.name)
		if len(s.verbs) > 0 {
			fmt.Fprintf(w, "complete -c pushlua -n \"%s; and not __fish_seen_subcommand_from %s\" -a %s\n",
				cond, strings.Join(s.verbs, " "), fishQuote(strings.Join(s.verbs, " ")))
		}
		for _, f := range s.flags {
			opt := "-l " + f.name
			if len(f.name) == 1 {
				opt = "-s " + f.name
			}
			line := fmt.Sprintf("complete -c pushlua -n %q %s -d %s", cond, opt, fishQuote(firstClause(f.usage)))
			if f.takes {
				switch {
				case len(f.choices) > 0:
					line += " -x -a " + fishQuote(strings.Join(f.choices, " "))
				case f.kind == "file", f.kind == "dir":
					line += " -r -F"
				default:
					line += " -x"
				}
			}
			fmt.Fprintln(w, line)
		}
		if fileArgs[s.name] {
			fmt.Fprintf(w, "complete -c pushlua -n %q -F\n", cond)
		}
	}
}

// firstClause shortens a flag's usage for a one-line description.
func firstClause(s string) string {
	if i := strings.IndexAny(s, "(;"); i > 20 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
