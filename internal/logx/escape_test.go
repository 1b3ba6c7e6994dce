package logx

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

// A user name, transaction id, prefix or attribute cannot start a line of
// its own, and credentials never reach the output.
func TestTextHostile(t *testing.T) {
	forged := "mallory\npushlua(alice@example.com)<x>: Info: forged"
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{"newline in user", func(l *slog.Logger) {
			l.With(KeyUser, forged, KeyTxn, "t1").Info("hello")
		}, `pushlua(mallory\npushlua(alice@example.com)<x>: Info: forged)<t1>: Info: hello` + "\n"},
		{"carriage return and escape in user", func(l *slog.Logger) {
			l.Info("m", KeyUser, "bob\r\x1b[31mred\x7f")
		}, `pushlua(bob\r\x1b[31mred\x7f): Info: m` + "\n"},
		{"tab in user", func(l *slog.Logger) { l.Info("m", KeyUser, "a\tb") }, `pushlua(a\tb): Info: m` + "\n"},
		{"unicode separators and C1 in txn", func(l *slog.Logger) {
			l.Info("m", KeyTxn, "t\u2028x\u2029y\u0085z")
		}, `pushlua<t\u2028x\u2029y\u0085z>: Info: m` + "\n"},
		{"invalid utf-8", func(l *slog.Logger) {
			l.Info("caf\xe9 \xff", KeyUser, "j\xc3")
		}, `pushlua(j\xc3): Info: caf\xe9 \xff` + "\n"},
		{"legitimate non-ASCII kept", func(l *slog.Logger) {
			l.Info("Grüße “quotes” 😀 \\Seen", KeyUser, "jörg+tag@exämple.org")
		}, "pushlua(jörg+tag@exämple.org): Info: Grüße “quotes” 😀 \\Seen\n"},
		{"message lines keep the prefix, CR escaped", func(l *slog.Logger) {
			l.Error("a\r\npushlua(alice@example.com): Info: forged\n\tx", KeyUser, "bob")
		}, `pushlua(bob): Error: a\r` + "\npushlua(bob): Error: pushlua(alice@example.com): Info: forged\npushlua(bob): Error: \tx\n"},
		{"replaced prefix", func(l *slog.Logger) {
			l.Info("m", KeyPrefix, "evil\nprefix: ")
		}, `evil\nprefix: Info: m` + "\n"},
		{"password in message", func(l *slog.Logger) {
			l.Error("reload: Failed to parse OX REST URL htp://login:SECRETPASS@h/: Not an HTTP URL")
		}, "pushlua: Error: reload: Failed to parse OX REST URL htp://login:xxxxx@h/: Not an HTTP URL\n"},
		{"password in a message line", func(l *slog.Logger) {
			l.Error("x\nGet \"http://u:SECRETPASS@h/\": refused")
		}, "pushlua: Error: x\npushlua: Error: Get \"http://u:xxxxx@h/\": refused\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(NewText(&buf, nil)))
			if got := buf.String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestTextAttrsHostile(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewText(&buf, &Options{Attrs: true}))
	l.Info("m", "url", "http://u:SECRETPASS@h/", "err", errors.New("x\ny"), "k\nk", "v")
	if got, want := buf.String(), `pushlua: Info: m url=http://u:xxxxx@h/ err=x\ny k\nk=v`+"\n"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestEscapeField(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "",
		"alice@example.com":   "alice@example.com",
		"a\x00b":              `a\x00b`,
		"\a\b\f\v":            `\x07\x08\x0c\x0b`,
		"ü\u0080\u009f\u00a0": `ü\u0080\u009f` + "\u00a0",
	} {
		if got := EscapeField(in); got != want {
			t.Errorf("EscapeField(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestEscapeFieldNoAlloc(t *testing.T) {
	s := "pushlua(jörg@example.com)<741b52ad-1>"
	if n := testing.AllocsPerRun(100, func() { _ = EscapeField(s) }); n != 0 {
		t.Errorf("got %v allocations; want 0", n)
	}
}

// FuzzText checks that whatever a user name and a message hold, every
// output line starts with the record's own prefix and is valid UTF-8
// without control characters other than tab.
func FuzzText(f *testing.F) {
	f.Add("mallory\npushlua(alice@example.com)<x>: Info: forged", "m\r\nx")
	f.Add("a\u2028b", "\xff\x1b")
	f.Fuzz(func(t *testing.T, user, msg string) {
		var buf bytes.Buffer
		slog.New(NewText(&buf, nil)).Info(msg, KeyUser, user, KeyTxn, "t")
		prefix := "pushlua<t>: Info: "
		if user != "" {
			prefix = "pushlua(" + field(user) + ")<t>: Info: "
		}
		out := strings.TrimSuffix(buf.String(), "\n")
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, prefix) {
				t.Fatalf("line %q does not start with %q", line, prefix)
			}
			if !utf8.ValidString(line) {
				t.Fatalf("line %q is not valid UTF-8", line)
			}
			for _, r := range line {
				if r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0x2028 || r == 0x2029 {
					t.Fatalf("line %q holds control %U", line, r)
				}
			}
		}
		if want := strings.Count(msg, "\n") + 1; strings.Count(out, "\n")+1 != want {
			t.Fatalf("got %d lines; want %d (one per message line)", strings.Count(out, "\n")+1, want)
		}
	})
}

func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewJSON(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l.With(KeyUser, "mallory\n{\"forged\":1}\xff").WithGroup("g").Error("Failed to parse htp://login:SECRETPASS@h/",
		"err", errors.New("Get \"http://u:SECRETPASS@h\": refused"), "n", 3, slog.Group("in", "url", "http://a:SECRETPASS@b/?token=tok"))
	out := buf.String()
	if strings.Contains(out, "SECRETPASS") || strings.Contains(out, "tok\"") {
		t.Errorf("credentials in %s", out)
	}
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("got %d lines; want 1: %q", strings.Count(out, "\n"), out)
	}
	var rec struct {
		Msg  string
		User string
		G    struct {
			Err string
			N   int
			In  struct{ URL string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("not JSON: %v: %s", err, out)
	}
	if want := "Failed to parse htp://login:xxxxx@h/"; rec.Msg != want {
		t.Errorf("msg %q; want %q", rec.Msg, want)
	}
	if want := "mallory\n{\"forged\":1}\ufffd"; rec.User != want {
		t.Errorf("user %q; want %q", rec.User, want)
	}
	if want := `Get "http://u:xxxxx@h": refused`; rec.G.Err != want {
		t.Errorf("err %q; want %q", rec.G.Err, want)
	}
	if rec.G.N != 3 || rec.G.In.URL != "http://a:xxxxx@b/?token=xxxxx" {
		t.Errorf("got n=%d url=%q; want 3 and the URL redacted", rec.G.N, rec.G.In.URL)
	}
}
