package dconfig

import (
	"maps"
	"strings"
	"testing"
	"time"
)

func TestOverride(t *testing.T) {
	tests := []struct {
		name         string
		kvs          []string
		wantSettings map[string]string
		wantPlugin   map[string]string
		wantDebug    bool
		wantErr      string
	}{
		{name: "plugin prefix", kvs: []string{"plugin/push_notification_driver=dlog"},
			wantPlugin: map[string]string{"push_notification_driver": "dlog"}},
		{name: "unknown key goes to plugin", kvs: []string{"push_notification_driver2=lua:file=x.lua"},
			wantPlugin: map[string]string{"push_notification_driver2": "lua:file=x.lua"}},
		{name: "split at first equals", kvs: []string{"push_notification_driver=ox:url=http://h/x a=b"},
			wantPlugin: map[string]string{"push_notification_driver": "ox:url=http://h/x a=b"}},
		{name: "empty value", kvs: []string{"plugin/x="}, wantPlugin: map[string]string{"x": ""}},
		{name: "value used as written", kvs: []string{"x= \"q\" "}, wantPlugin: map[string]string{"x": ` "q" `}},
		{name: "mail_debug", kvs: []string{"mail_debug=yes"},
			wantSettings: map[string]string{"mail_debug": "yes"}, wantDebug: true},
		{name: "mail_debug true then 0", kvs: []string{"mail_debug=true", "mail_debug=0"},
			wantSettings: map[string]string{"mail_debug": "0"}},
		{name: "pushlua key", kvs: []string{"pushlua_workers=4"},
			wantSettings: map[string]string{"pushlua_workers": "4"}},
		{name: "overrides existing", kvs: []string{"plugin/a=2"},
			wantPlugin: map[string]string{"a": "2"}},
		{name: "no equals", kvs: []string{"mail_debug"}, wantErr: `override "mail_debug": expected key=value`},
		{name: "empty key", kvs: []string{"=x"}, wantErr: `override "=x": empty key`},
		{name: "empty plugin name", kvs: []string{"plugin/=x"}, wantErr: `override "plugin/=x": empty plugin setting name`},
		{name: "bad mail_debug", kvs: []string{"mail_debug=maybe"},
			wantErr: `override "mail_debug=maybe": Invalid boolean value: maybe (use yes or no)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{Plugin: map[string]string{"a": "1"}}
			var err error
			for _, kv := range tt.kvs {
				if err = c.Override(kv); err != nil {
					break
				}
			}
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Override error = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Override: %v", err)
			}
			wantPlugin := map[string]string{"a": "1"}
			maps.Copy(wantPlugin, tt.wantPlugin)
			if !maps.Equal(c.Plugin, wantPlugin) {
				t.Errorf("Plugin = %q; want %q", c.Plugin, wantPlugin)
			}
			wantSettings := tt.wantSettings
			if wantSettings == nil {
				wantSettings = map[string]string{}
			}
			if !maps.Equal(c.Settings, wantSettings) {
				t.Errorf("Settings = %q; want %q", c.Settings, wantSettings)
			}
			if c.MailDebug != tt.wantDebug {
				t.Errorf("MailDebug = %v; want %v", c.MailDebug, tt.wantDebug)
			}
		})
	}
}

func TestOverrideZeroConfig(t *testing.T) {
	var c Config
	if err := c.Override("a=1"); err != nil {
		t.Fatalf("Override: %v", err)
	}
	if got, ok := c.PluginGetenv("a"); got != "1" || !ok {
		t.Errorf("PluginGetenv(a) = %q, %v; want %q, true", got, ok, "1")
	}
}

func TestPluginGetenv(t *testing.T) {
	c := &Config{Plugin: map[string]string{"set": "v", "empty": ""}}
	tests := []struct {
		name   string
		want   string
		wantOK bool
	}{
		{"set", "v", true},
		{"empty", "", true},
		{"Set", "", false},
		{"missing", "", false},
	}
	for _, tt := range tests {
		got, ok := c.PluginGetenv(tt.name)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("PluginGetenv(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestFilters(t *testing.T) {
	cfg, err := ParseReader("dovecot.conf", strings.NewReader(`
mail_plugins = $mail_plugins push_notification
push_notification ox {
  push_notification_ox_url = http://login:pass@node1.example.com:8009/notify
  push_notification_ox_cache_ttl = 5s
}
push_notification mylua {
  driver = lua
  lua_file = /etc/dovecot/push.lua
  lua_settings {
    endpoint = https://push.example.com
    token = "a b"
  }
}
namespace inbox {
  push_notification ignored {
  }
}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Filters) != 2 {
		t.Fatalf("got %d filters; want 2", len(cfg.Filters))
	}
	ox, lua := cfg.Filters[0], cfg.Filters[1]
	if ox.Name != "ox" || ox.Driver() != "ox" || ox.Settings["push_notification_ox_cache_ttl"] != "5s" || ox.Line != 3 {
		t.Errorf("ox block: got %+v", ox)
	}
	if lua.Driver() != "lua" || lua.Settings["lua_file"] != "/etc/dovecot/push.lua" ||
		lua.LuaSettings["endpoint"] != "https://push.example.com" || lua.LuaSettings["token"] != "a b" {
		t.Errorf("lua block: got %+v", lua)
	}
	if _, ok := lua.Settings["endpoint"]; ok {
		t.Errorf("lua_settings leaked into the block's settings")
	}
}

func TestParseTimeMsecsDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"1500ms": 1500 * time.Millisecond, "2s": 2 * time.Second, "0": 0} {
		if got, err := ParseTimeMsecs(in); err != nil || got != want {
			t.Errorf("ParseTimeMsecs(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseTimeMsecs("fast"); err == nil {
		t.Errorf("ParseTimeMsecs(fast): no error")
	}
}
