package dovecoturl

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes the parser panic, that every
// failure is an *Error with a text, and that the request target a URL
// becomes parses again. (The authority need not: like Dovecot, the host
// name parser keeps a percent escape it stops at in the name, so
// "//0%01" has the host "0%01", sent as "0%2501"; see testdata/fuzz.)
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1:18080/push/path?x=1",
		"HTTPS://Example.COM.:443/a%20b/?",
		"http://h/a/../../b/./c/.",
		"http://u:p%40ss@h/",
		"http://[::1]:8080/x",
		"http://[v1.x]/",
		"http://h/%c3%a9?q=%C3%A9",
		"http://%2d/",
		"http://a%2db.c%2E/x%2f..?#",
		"//h/x",
		"http:h",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, userinfo bool) {
		var flags Flags
		if userinfo {
			flags = AllowUserinfo
		}
		u, err := Parse(s, flags)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || err.Error() == "" {
				t.Fatalf("Parse(%q): error %#v; want an *Error with a text", s, err)
			}
			return
		}
		if !userinfo && (u.User != nil || u.Password != nil) {
			t.Errorf("Parse(%q) without AllowUserinfo has userinfo", s)
		}
		target := u.Target()
		if !strings.HasPrefix(target, "/") {
			t.Errorf("Parse(%q): target %q does not start with /", s, target)
		}
		if _, err := Parse("http://h"+target, 0); err != nil {
			t.Fatalf("Parse(%q) made the target %q, which does not parse: %v", s, target, err)
		}
	})
}
