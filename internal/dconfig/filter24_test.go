package dconfig

import (
	"strings"
	"testing"
)

// TestFilter24Forms: inside push_notification NAME { }, Dovecot 2.4 takes
// a setting with or without the filter's prefix; push_notification_driver
// = lua used to leave the driver to the block's name ("unknown push
// notification driver: NAME").
func TestFilter24Forms(t *testing.T) {
	cfg, err := ParseReader("t.conf", strings.NewReader(`custom_top = top
plugin {
  only_plugin = old
  custom_top = plugin
}
push_notification chat {
  push_notification_driver = lua
  lua_file = /etc/dovecot/chat.lua
  endpoint = https://chat.example.com/hook
  custom_top = block
}
push_notification ox {
  ox_url = http://ox.example.com/
  push_notification_ox_cache_ttl = 2s
}
push_notification dlog {
  push_notification_name = ignored
}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Filters) != 3 {
		t.Fatalf("got %d filters; want 3", len(cfg.Filters))
	}
	chat, ox, dlog := cfg.Filters[0], cfg.Filters[1], cfg.Filters[2]
	if got := chat.Driver(); got != "lua" {
		t.Errorf("chat driver: got %q; want lua", got)
	}
	if got := dlog.Driver(); got != "dlog" {
		t.Errorf("dlog driver: got %q; want dlog", got)
	}
	if got := ox.Settings["push_notification_ox_url"]; got != "http://ox.example.com/" {
		t.Errorf("ox_url kept as %v", ox.Settings)
	}
	getenv := cfg.Getenv(chat)
	for _, tt := range []struct {
		name, want string
		ok         bool
	}{
		{"endpoint", "https://chat.example.com/hook", true}, // the block's own
		{"push_notification_driver", "lua", true},           // either form
		{"driver", "lua", true},                             // either form
		{"custom_top", "block", true},                       // the block wins
		{"only_plugin", "old", true},                        // plugin { } last
		{"lua_file", "/etc/dovecot/chat.lua", true},         // block settings
		{"missing", "", false},                              // NULL
	} {
		got, ok := getenv(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("getenv(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if got, _ := cfg.Getenv(ox)("custom_top"); got != "top" {
		t.Errorf("another block's getenv(custom_top) = %q; want the top-level setting", got)
	}
}

func TestFilterKey(t *testing.T) {
	for in, want := range map[string]string{
		"push_notification_driver":    "driver",
		"driver":                      "driver",
		"push_notification_name":      "name",
		"ox_url":                      "push_notification_ox_url",
		"push_notification_ox_url":    "push_notification_ox_url",
		"lua_file":                    "lua_file",
		"http_client_request_timeout": "http_client_request_timeout",
	} {
		if got := FilterKey(in); got != want {
			t.Errorf("FilterKey(%q) = %q; want %q", in, got, want)
		}
	}
}
