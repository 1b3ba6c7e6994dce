package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSystemdUnit checks dist/pushlua.service with systemd-analyze (verify:
// no unknown keys or bad values; security --offline: the sandbox keeps
// the exposure low) and runs its ExecStart command line with --help, so
// that a renamed flag breaks the test and not the installation.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("../../dist/pushlua.service")
	if err != nil {
		t.Fatal(err)
	}
	exec1 := regexp.MustCompile(`(?m)^ExecStart=/usr/local/bin/pushlua (.*)$`).FindSubmatch(unit)
	if exec1 == nil {
		t.Fatal("no ExecStart=/usr/local/bin/pushlua ... line")
	}
	args := append(strings.Fields(string(exec1[1])), "--help")
	if r := pushlua(t, t.TempDir(), "", args...); r.code != 0 || !strings.Contains(r.stdout, "Usage: pushlua serve") {
		t.Errorf("pushlua %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=pushlua", "ReadWritePaths=-/var/spool/pushlua", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(string(unit), "\n"+want+"\n") {
			t.Errorf("the unit lacks %s", want)
		}
	}

	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd): the unit was not verified")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "pushlua.service")
	// verify wants ExecStart's binary to exist.
	local := strings.ReplaceAll(string(unit), "/usr/local/bin/pushlua", binary)
	if err := os.WriteFile(path, []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, _ = exec.Command(sa, "security", "--offline=yes", "--no-pager", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for pushlua\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("exposure level %s; want at most 2.0 (systemd's scale: 0 safe … 10 unsafe)\n%s", m[1], out)
	}
}

// TestDockerfile checks what can be checked without a container engine:
// the build stage's Go matches go.mod, the final stage runs as a non-root
// user, and the build command (the Dockerfile's own RUN line) makes a
// static binary (no ELF interpreter) that runs.
func TestDockerfile(t *testing.T) {
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVer := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVer == nil {
		t.Fatal("go.mod has no go line")
	}
	if !strings.Contains(string(df), "FROM golang:"+string(goVer[1])+"-") {
		t.Errorf("the build stage is not golang:%s-* (go.mod says go %s)", goVer[1], goVer[1])
	}
	users := regexp.MustCompile(`(?m)^USER (\S+)`).FindAllSubmatch(df, -1)
	if len(users) == 0 {
		t.Fatal("no USER line: the image would run as root")
	}
	if u := string(users[len(users)-1][1]); strings.HasPrefix(u, "root") || strings.HasPrefix(u, "0") {
		t.Errorf("USER %s: want a non-root user", u)
	}
	run := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*) -o /out/pushlua \./cmd/pushlua`).FindSubmatch(df)
	if run == nil {
		t.Fatal("no RUN CGO_ENABLED=0 go build ... -o /out/pushlua ./cmd/pushlua line")
	}
	out := filepath.Join(t.TempDir(), "pushlua")
	// Without -trimpath, which would rebuild every package from scratch
	// (minutes on a busy 2-core machine) and changes only file names.
	line := strings.Replace(string(run[1]), " -trimpath", "", 1)
	cmd := exec.Command("sh", "-c", line+" -o "+out+" .")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary has an ELF interpreter: it is not static")
		}
	}
	if b, err := exec.Command(out, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(b), "pushlua ") {
		t.Errorf("%s version: %v %s", out, err, b)
	}
}
