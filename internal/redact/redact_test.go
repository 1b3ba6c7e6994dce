package redact

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no secret", "pushlua(alice@example.com)<t1>: Debug: Called begin_txn push_notification plugin hook.",
			"pushlua(alice@example.com)<t1>: Debug: Called begin_txn push_notification plugin hook."},
		{"url without userinfo", "Using URL http://ox.example.com:8009/notify", "Using URL http://ox.example.com:8009/notify"},
		{"user only", "GET https://user@example.com/x", "GET https://user@example.com/x"},
		{"password", "Using URL http://login:pass@ox.example.com:8009/notify",
			"Using URL http://login:xxxxx@ox.example.com:8009/notify"},
		{"bad scheme, reload error", "reload: push_notification_driver: Failed to parse OX REST URL htp://login:SECRETPASS@127.0.0.1:9/notify: Not an HTTP URL",
			"reload: push_notification_driver: Failed to parse OX REST URL htp://login:xxxxx@127.0.0.1:9/notify: Not an HTTP URL"},
		{"go quoted url, no path", `Get "http://login:SECRETPASS@127.0.0.1:1": dial tcp`, `Get "http://login:xxxxx@127.0.0.1:1": dial tcp`},
		{"url at end", "x http://a:b@h", "x http://a:xxxxx@h"},
		{"password with @", "http://login:p@ss@host/x", "http://login:xxxxx@host/x"},
		{"password with quote", `Failed to parse url http://login:SEC"RET@127.0.0.1:1/: Invalid host port`,
			`Failed to parse url http://login:xxxxx@127.0.0.1:1/: Invalid host port`},
		{"password with slash", "parse http://login:pa/ss@host/x: invalid port", "parse http://login:xxxxx@host/x: invalid port"},
		{"port then @ in the path", "GET http://h:8080/users/bob@example.com", "GET http://h:8080/users/bob@example.com"},
		{"ipv6 then @ in the path", "GET http://[::1]:80/u/bob@x", "GET http://[::1]:80/u/bob@x"},
		{"ipv6 with userinfo", "GET http://u:p@[::1]:80/", "GET http://u:xxxxx@[::1]:80/"},
		{"two urls", "http://a:b@h1/ and ftp://c:d@h2", "http://a:xxxxx@h1/ and ftp://c:xxxxx@h2"},
		{"empty password", "http://a:@h/", "http://a:@h/"},
		{"already masked", "http://login:xxxxx@h/?token=xxxxx", "http://login:xxxxx@h/?token=xxxxx"},
		{"net/http's mask", "Put \"http://login:***@h/\": EOF", "Put \"http://login:xxxxx@h/\": EOF"},
		{"token param", "POST https://push.example.com/v1?user=bob&token=abc123&x=1 failed",
			"POST https://push.example.com/v1?user=bob&token=xxxxx&x=1 failed"},
		{"param names without case", "/x?Access_Token=abc;API_KEY=def#f", "/x?Access_Token=xxxxx;API_KEY=xxxxx#f"},
		{"param not a secret", "/x?user=bob&tokens=1&monkey=2", "/x?user=bob&tokens=1&monkey=2"},
		{"key=value without separator", "metadata user=11@3 key=abc", "metadata user=11@3 key=abc"},
		{"empty param", "/x?token=&a=1", "/x?token=&a=1"},
		{"authorization header", "Authorization: Bearer s3cret", "Authorization: Bearer xxxxx"},
		{"authorization basic", "Authorization: Basic bG9naW46cGFzcw==\nContent-Type: x",
			"Authorization: Basic xxxxx\nContent-Type: x"},
		{"authorization no scheme", "authorization:abc def", "authorization:xxxxx def"},
		{"unknown scheme word is masked", "Authorization: sEcReT next", "Authorization: xxxxx next"},
		{"proxy-authorization json", `{"Proxy-Authorization": "Basic dTpw", "X": "y"}`, `{"Proxy-Authorization": "Basic xxxxx", "X": "y"}`},
		{"lua table dump", `["authorization"]="Digest user=1, resp=2"`, `["authorization"]="Digest xxxxx"`},
		{"go header map", "map[Authorization:[Bearer t0k] Date:[x]]", "map[Authorization:[Bearer xxxxx] Date:[x]]"},
		{"mixed case", "AuThOrIzAtIoN = 'Bearer abc'", "AuThOrIzAtIoN = 'Bearer xxxxx'"},
		{"twice", "authorization: a, Authorization: b", "authorization: xxxxx, Authorization: xxxxx"},
		{"prose", "add_header: Proxy-Authorization cannot be set", "add_header: Proxy-Authorization cannot be set"},
		{"no Authorization", "no Authorization header", "no Authorization header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := String(tt.in)
			if got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := String(got); again != got {
				t.Errorf("String is not idempotent: String(%q) = %q", got, again)
			}
		})
	}
}

func TestStringNoAllocWithoutSecrets(t *testing.T) {
	s := "pushlua(alice@example.com)<t1>: Debug: Message data: Mailbox [INBOX], UID [1], UIDVALIDITY [5]"
	if n := testing.AllocsPerRun(100, func() { _ = String(s) }); n != 0 {
		t.Errorf("got %v allocations; want 0", n)
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := &Writer{W: &buf}
	in := "pushlua serve: Failed to parse OX REST URL htp://login:SECRETPASS@h/: x\n"
	n, err := fmt.Fprint(w, in)
	if err != nil || n != len(in) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(in))
	}
	if got, want := buf.String(), "pushlua serve: Failed to parse OX REST URL htp://login:xxxxx@h/: x\n"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

// FuzzString checks that String never panics, is idempotent, leaves text
// without a trigger alone, and hides the password of any URL that net/url
// reads with one.
func FuzzString(f *testing.F) {
	for _, s := range []string{
		"http://login:pass@host/x", "htp://login:SECRETPASS@127.0.0.1:9/", "?token=abc&x=1",
		"Authorization: Bearer x", "http://login:pa/ss@host/", "://:@", "a://b:c/d@e f",
		`"Authorization"]=["Basic a"]`, "http://[::1]:80/a@b", "x;key=1;pass=2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := String(s)
		if again := String(got); again != got {
			t.Fatalf("not idempotent: String(%q) = %q, String of that = %q", s, got, again)
		}
		if !strings.Contains(s, "://") && !strings.Contains(s, "=") && indexAuth(s, 0) < 0 && got != s {
			t.Fatalf("String(%q) = %q; want it unchanged", s, got)
		}
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || u.Opaque != "" || u.User == nil {
			return
		}
		pw, ok := u.User.Password()
		if !ok || pw == "" || pw == Mask {
			return
		}
		raw := ":" + pw + "@"
		if strings.Count(s, raw) != 1 {
			return // escaped, or also elsewhere in the text
		}
		if strings.Contains(got, raw) {
			t.Fatalf("String(%q) = %q still holds the password %q", s, got, pw)
		}
		// The same URL in an error message, quoted as net/url does.
		msg := fmt.Sprintf("Get %q: dial tcp: connection refused", s)
		if strings.Count(msg, raw) == 1 && strings.Contains(String(msg), raw) {
			t.Fatalf("String(%q) = %q still holds the password %q", msg, String(msg), pw)
		}
	})
}

func BenchmarkString(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"plain", "pushlua(alice@example.com)<741b52ad-1>: Debug: Message data: Mailbox [INBOX], UID [1], UIDVALIDITY [1795978712]"},
		{"url", "push-notification-ox: Using URL http://login:pass@ox.example.com:8009/preliminary/http-notify/v1/notify"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = String(bc.s)
			}
		})
	}
}
