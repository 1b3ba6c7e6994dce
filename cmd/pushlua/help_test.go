package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestHelp: `pushlua help CMD`, `CMD --help` and `CMD -h` print that
// command's usage on stdout and exit 0, for every command.
func TestHelp(t *testing.T) {
	dir := t.TempDir()
	for _, name := range commandOrder {
		t.Run(name, func(t *testing.T) {
			r := pushlua(t, dir, "", "help", name)
			if r.code != 0 {
				t.Fatalf("help %s: exit %d; want 0\n%s", name, r.code, r.stderr)
			}
			if !strings.Contains(strings.ToLower(r.stdout), "usage: pushlua "+name) {
				t.Errorf("help %s: no usage line:\n%s", name, r.stdout)
			}
			if !commandDocs[name].noFlags && !strings.Contains(r.stdout, "\nFlags") {
				t.Errorf("help %s: no flags:\n%s", name, r.stdout)
			}
			for _, arg := range []string{"--help", "-h"} {
				got := pushlua(t, dir, "", name, arg)
				if got.code != 0 || got.stdout != r.stdout {
					t.Errorf("%s %s: exit %d; want 0 and the output of help %s; got\n%s%s", name, arg, got.code, name, got.stdout, got.stderr)
				}
			}
		})
	}
	t.Run("long flags with two dashes", func(t *testing.T) {
		r := pushlua(t, dir, "", "help", "serve")
		for _, want := range []string{"\n  -c CONFIG ", "\n  -o KEY=VALUE ", "\n  --listen ADDR ", "\n  --data-dir DIR ", "\n  --log-level debug|info|warn|error", "The daemon"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("help serve lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("unknown command", func(t *testing.T) {
		if r := pushlua(t, dir, "", "help", "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
			t.Errorf("exit %d; want 2\n%s", r.code, r.stderr)
		}
	})
	t.Run("a mistake prints the usage on stderr", func(t *testing.T) {
		r := pushlua(t, dir, "", "run", "--frobnicate")
		if r.code != 2 || !strings.Contains(r.stderr, "flag provided but not defined: -frobnicate") || !strings.Contains(r.stderr, "Usage: pushlua run") || r.stdout != "" {
			t.Errorf("exit %d; want 2, the error and the usage on stderr\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
}

// TestFlagsAfterArguments: flags may follow the positional arguments, and
// -- ends them.
func TestFlagsAfterArguments(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.conf":     "plugin {\npush_notification_driver = lua:file=s.lua\n}\n",
		"s.lua":      script,
		"in.jsonl":   `{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}` + "\n",
		"-odd.jsonl": `{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 2}]}` + "\n",
	})
	r := pushlua(t, dir, "", "run", "in.jsonl", "-c", "p.conf", "--log-format", "text")
	if r.code != 0 || !strings.Contains(r.stderr, "Info: new 1 gate=nil") {
		t.Errorf("run FILE -c CONF: exit %d\n%s", r.code, r.stderr)
	}
	r = pushlua(t, dir, "", "run", "-c", "p.conf", "--", "-odd.jsonl")
	if r.code != 0 || !strings.Contains(r.stderr, "Info: new 2 gate=nil") {
		t.Errorf("run -c CONF -- -odd.jsonl: exit %d\n%s", r.code, r.stderr)
	}
	r = pushlua(t, dir, "", "conformance", "s.lua", "--run", "load", "--format", "tap")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "TAP version 13") {
		t.Errorf("conformance SCRIPT --run load --format tap: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestLogLevel: --log-level drops the lines below the level.
func TestLogLevel(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.conf": "plugin {\npush_notification_driver = lua:file=s.lua\n}\n",
		"s.lua": `function dovecot_lua_notify_begin_txn(user) return {} end
function dovecot_lua_notify_event_message_new(ctx, e)
  dovecot.i_debug("a debug line")
  dovecot.i_info("an info line")
  dovecot.i_warning("a warning line")
end
function dovecot_lua_notify_end_txn() end
`,
		"in.jsonl": `{"user": "a", "events": [{"name": "MessageNew", "mailbox": "INBOX", "uid": 1}]}` + "\n",
	})
	tests := []struct {
		level      string
		want, drop []string
	}{
		{"debug", []string{"a debug line", "an info line", "a warning line"}, nil},
		{"info", []string{"an info line", "a warning line"}, []string{"a debug line"}},
		{"warn", []string{"a warning line"}, []string{"a debug line", "an info line"}},
	}
	for _, tt := range tests {
		for _, format := range []string{"text", "json"} {
			r := pushlua(t, dir, "", "run", "-c", "p.conf", "--log-level", tt.level, "--log-format", format, "in.jsonl")
			if r.code != 0 {
				t.Errorf("--log-level %s --log-format %s: exit %d\n%s", tt.level, format, r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("--log-level %s --log-format %s: %q missing:\n%s", tt.level, format, w, r.stderr)
				}
			}
			for _, d := range tt.drop {
				if strings.Contains(r.stderr, d) {
					t.Errorf("--log-level %s --log-format %s: %q logged:\n%s", tt.level, format, d, r.stderr)
				}
			}
		}
	}
	if r := pushlua(t, dir, "", "run", "-c", "p.conf", "--log-level", "loud", "in.jsonl"); r.code != 2 || !strings.Contains(r.stderr, `--log-level: expected debug, info, warn or error, got "loud"`) {
		t.Errorf("--log-level loud: exit %d\n%s", r.code, r.stderr)
	}
}

// TestCompletion runs the generated scripts in the real shells: bash's
// completion function is called as bash calls it, fish is asked what it
// completes, zsh's script is syntax-checked (its completion system needs
// a terminal).
func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	for _, sh := range []string{"bash", "zsh", "fish"} {
		r := pushlua(t, dir, "", "completion", sh)
		if r.code != 0 || r.stdout == "" {
			t.Fatalf("completion %s: exit %d\n%s", sh, r.code, r.stderr)
		}
		if err := os.WriteFile(filepath.Join(dir, "pushlua."+sh), []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if r := pushlua(t, dir, "", "completion", "tcsh"); r.code != 2 || !strings.Contains(r.stderr, `unknown shell "tcsh"`) {
		t.Errorf("completion tcsh: exit %d\n%s", r.code, r.stderr)
	}
	t.Run("bash", func(t *testing.T) {
		bash, err := exec.LookPath("bash")
		if err != nil {
			t.Skip("bash is not installed")
		}
		tests := []struct {
			words string
			want  []string
			not   []string
		}{
			{"pushlua se", []string{"serve", "send"}, []string{"run"}},
			{"pushlua conformance --fo", []string{"--format"}, nil},
			{"pushlua conformance --format ", []string{"text", "json", "junit", "tap"}, nil},
			{"pushlua serve --lo", []string{"--log-format", "--log-level"}, []string{"--format"}},
			{"pushlua send --sample Message", []string{"MessageNew", "MessageTrash"}, []string{"FlagsSet"}},
			{"pushlua metadata ", []string{"set", "get", "unset", "list"}, nil},
			{"pushlua help conf", []string{"conformance"}, nil},
			{"pushlua completion ", []string{"bash", "zsh", "fish"}, nil},
		}
		for _, tt := range tests {
			words := strings.Fields(tt.words)
			if strings.HasSuffix(tt.words, " ") {
				words = append(words, "")
			}
			var quoted []string
			for _, w := range words {
				quoted = append(quoted, "'"+w+"'")
			}
			prog := "source pushlua.bash\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
				strconv.Itoa(len(words)-1) + "\n_pushlua\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
			cmd := exec.Command(bash, "--norc", "-c", prog)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%q: %v\n%s", tt.words, err, out)
			}
			got := strings.Fields(string(out))
			for _, w := range tt.want {
				if !contains(got, w) {
					t.Errorf("%q: completions %q lack %q", tt.words, got, w)
				}
			}
			for _, w := range tt.not {
				if contains(got, w) {
					t.Errorf("%q: completions %q include %q", tt.words, got, w)
				}
			}
		}
	})
	t.Run("fish", func(t *testing.T) {
		fish, err := exec.LookPath("fish")
		if err != nil {
			t.Skip("fish is not installed (apt-get install fish)")
		}
		for _, tt := range []struct{ line, want string }{
			{"pushlua se", "serve\tthe daemon"},
			{"pushlua conformance --format ", "junit"},
			{"pushlua run --log-l", "--log-level"},
			{"pushlua store ", "repair"},
		} {
			cmd := exec.Command(fish, "--no-config", "-c", "source pushlua.fish; complete -C '"+tt.line+"'")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), tt.want) {
				t.Errorf("%q: %v; want %q in:\n%s", tt.line, err, tt.want, out)
			}
		}
	})
	t.Run("zsh", func(t *testing.T) {
		zsh, err := exec.LookPath("zsh")
		if err != nil {
			t.Skip("zsh is not installed (apt-get install zsh)")
		}
		cmd := exec.Command(zsh, "-n", "pushlua.zsh")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("zsh -n: %v\n%s", err, out)
		}
		// The function defines itself and describes every command.
		cmd = exec.Command(zsh, "-f", "-c", "compdef() { :; }; _describe() { print -l ${(P)${@[-1]}}; }; source pushlua.zsh 2>/dev/null; CURRENT=2; _pushlua")
		cmd.Dir = dir
		out, _ := cmd.CombinedOutput()
		for _, name := range commandOrder {
			if !strings.Contains(string(out), name+":") {
				t.Errorf("zsh: command %s not described:\n%s", name, out)
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
