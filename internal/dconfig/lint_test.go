package dconfig

import (
	"strings"
	"testing"
)

func lintOf(t *testing.T, text string, overrides ...string) *Config {
	t.Helper()
	c, err := ParseReader("p.conf", strings.NewReader(text), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range overrides {
		if err := c.Override(o); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestLint(t *testing.T) {
	tests := []struct {
		name      string
		conf      string
		overrides []string
		want      []string // each finding's String(), prefixed "E " or "W "
	}{
		{name: "clean", conf: "pushlua_listen = 127.0.0.1:1\nmail_debug = yes\nprotocols = imap\nplugin {\n  push_notification_driver = lua:file=p.lua\n  push_notification_driver2 = dlog:details anything=1\n  push_lua_url = http://x/\n  pushlua_url = http://127.0.0.1:8787/v1/transactions\n}\n"},
		{name: "misspelled top-level setting",
			conf: "pushlua_listn = 127.0.0.1:9\nplugin {\n  push_notification_driver = dlog\n}\n",
			want: []string{"E p.conf:1: unknown setting pushlua_listn (did you mean pushlua_listen?)"}},
		{name: "unknown top-level setting without a near name",
			conf: "pushlua_frobnicate = 1\n",
			want: []string{"E p.conf:1: unknown setting pushlua_frobnicate"}},
		{name: "top-level setting inside plugin",
			conf: "plugin {\n  push_notification_driver = dlog\n  pushlua_drain_timeout = 5s\n}\n",
			want: []string{"E p.conf:3: pushlua_drain_timeout is misplaced: it goes at top level, outside plugin { }"}},
		{name: "forwarder setting at top level",
			conf: "pushlua_url = http://127.0.0.1:8787/v1/transactions\n",
			want: []string{"E p.conf:1: pushlua_url is the forwarder's setting: it goes inside plugin { } of Dovecot's configuration; pushlua does not read it at top level"}},
		{name: "unknown plugin pushlua setting",
			conf: "plugin {\n  pushlua_tokn = x\n}\n",
			want: []string{"E p.conf:2: unknown setting pushlua_tokn inside plugin { } (did you mean pushlua_token?)"}},
		{name: "spool only inside plugin",
			conf: "plugin {\n  pushlua_spool = /var/spool/pushlua\n}\n",
			want: []string{"W p.conf:2: pushlua_spool inside plugin { } is the forwarder's (Dovecot's side); pushlua serve reads the top-level pushlua_spool"}},
		{name: "spool on both sides", conf: "pushlua_spool = /s\nplugin {\n  pushlua_spool = /s\n}\n"},
		{name: "setting in an ignored section",
			conf: "service imap {\n  pushlua_listen = 1\n}\n",
			want: []string{"E p.conf:2: pushlua_listen inside service imap { } is never read: it goes at top level"}},
		{name: "plugin key close to a Dovecot push setting",
			conf: "plugin {\n  push_notification_driver = dlog\n  push_notification_lua_script_fle = x.lua\n  mail_lua_scripts = y.lua\n}\n",
			want: []string{
				"W p.conf:3: push_notification_lua_script_fle is not a setting Dovecot reads; did you mean push_notification_lua_script_file?",
				"W p.conf:4: mail_lua_scripts is not a setting Dovecot reads; did you mean mail_lua_script?",
			}},
		{name: "indexed driver typo",
			conf: "plugin {\n  push_notification_driver = dlog\n  push_notification_drivr2 = dlog\n}\n",
			want: []string{"W p.conf:3: push_notification_drivr2 is not a setting Dovecot reads; did you mean push_notification_driver2?"}},
		{name: "driver setting at top level",
			conf: "push_notification_driver = dlog\n",
			want: []string{"W p.conf:1: push_notification_driver is a plugin setting: Dovecot 2.3 reads it inside plugin { } only, and so does pushlua"}},
		{name: "unknown lua argument",
			conf: "plugin {\n  push_notification_driver = lua:fle=push.lua\n}\n",
			want: []string{`E p.conf:2: push_notification_driver = lua:fle=push.lua: the lua driver has no argument "fle" (it reads file) (did you mean file?)`}},
		{name: "unknown ox argument",
			conf: "plugin {\n  push_notification_driver = ox:url=http://h/ cache_lifetim=5s\n}\n",
			want: []string{`E p.conf:2: push_notification_driver = ox:url=http://h/ cache_lifetim=5s: the ox driver has no argument "cache_lifetim" (it reads url, cache_lifetime, max_retries, timeout_msecs, user_from_metadata) (did you mean cache_lifetime?)`}},
		{name: "unknown driver",
			conf: "plugin {\n  push_notification_driver = dlgo\n}\n",
			want: []string{`E p.conf:2: push_notification_driver = dlgo: unknown push notification driver "dlgo" (Dovecot knows lua, ox and dlog) (did you mean dlog?)`}},
		{name: "gap in the driver list",
			conf: "plugin {\n  push_notification_driver = dlog\n  push_notification_driver3 = dlog\n}\n",
			want: []string{"W p.conf:3: push_notification_driver3 is never read: Dovecot reads push_notification_driver, push_notification_driver2, ... up to the first one missing or empty"}},
		{name: "2.4 block with an unknown driver and a typo",
			conf: "push_notification x {\n  driver = lau\n  lua_fle = a.lua\n}\n",
			want: []string{
				`E p.conf:1: push_notification x: unknown driver "lau" (did you mean lua?)`,
				"W p.conf:1: push_notification x: lua_fle is not a setting of a push_notification block; did you mean lua_file?",
			}},
		{name: "overrides", conf: "plugin {\n  push_notification_driver = dlog\n}\n",
			overrides: []string{"pushlua_handler_memry=1M", "pushlua_handler_memory=2M"},
			want:      []string{"E -o pushlua_handler_memry=1M: unknown setting pushlua_handler_memry (did you mean pushlua_handler_memory?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := lintOf(t, tt.conf, tt.overrides...)
			var got []string
			for _, f := range c.Lint() {
				kind := "W "
				if f.Error {
					kind = "E "
				}
				got = append(got, kind+f.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Lint() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestNoDriver(t *testing.T) {
	tests := []struct{ name, conf, want string }{
		{"configured", "plugin {\n  push_notification_driver = dlog\n}\n", ""},
		{"legacy", "plugin {\n  push_notification_backend = dlog\n}\n", ""},
		{"2.4", "push_notification dlog {\n}\n", ""},
		{"misspelled", "plugin {\n  push_notification_drivr = dlog\n}\n",
			"p.conf:2: no push notification driver configured: push_notification_drivr is not a setting Dovecot reads; did you mean push_notification_driver?"},
		{"empty", "plugin {\n  push_notification_driver =\n}\n",
			"p.conf:2: no push notification driver configured: push_notification_driver is empty"},
		{"starts at 2", "plugin {\n  push_notification_driver2 = dlog\n}\n",
			"p.conf:2: no push notification driver configured: push_notification_driver2 is never read without push_notification_driver (Dovecot stops at the first missing one)"},
		{"top level", "mail_debug = yes\npush_notification_driver = dlog\n",
			"p.conf:2: no push notification driver configured: push_notification_driver is written at top level; it goes inside plugin { }"},
		{"empty plugin", "mail_debug = yes\nplugin {\n  x = 1\n}\n",
			"p.conf:2: no push notification driver configured: this plugin { } section has no push_notification_driver"},
		{"no plugin", "mail_debug = yes\n",
			"configuration: no push notification driver configured: there is no plugin { } section; add one with push_notification_driver = ... (or a Dovecot 2.4 push_notification NAME { } block)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := lintOf(t, tt.conf).NoDriver()
			got := ""
			if f != nil {
				got = f.String()
			}
			if got != tt.want {
				t.Errorf("NoDriver() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestClosest(t *testing.T) {
	tests := []struct {
		s    string
		want string
		ok   bool
	}{
		{"pushlua_listn", "pushlua_listen", true},
		{"pushlua_lsten_addr", "pushlua_listen", false},
		{"fle", "file", true},
		{"xyz", "file", false},
	}
	names := append(knownNames(TopLevel), "file")
	for _, tt := range tests {
		got, ok := closest(tt.s, names)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("closest(%q) = %q, %v; want %q, %v", tt.s, got, ok, tt.want, tt.ok)
		}
	}
	if d := levenshtein("kitten", "sitting"); d != 3 {
		t.Errorf("levenshtein(kitten, sitting) = %d; want 3", d)
	}
	if d := levenshtein("dlgo", "dlog"); d != 1 {
		t.Errorf("levenshtein(dlgo, dlog) = %d; want 1 (a transposition)", d)
	}
}
