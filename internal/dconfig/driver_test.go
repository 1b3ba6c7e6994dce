package dconfig

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

func TestDriverValues(t *testing.T) {
	tests := []struct {
		name   string
		plugin map[string]string
		root   string
		want   []Setting
	}{
		{"none", map[string]string{}, DriverRoot, nil},
		{"one", map[string]string{"push_notification_driver": "dlog"}, DriverRoot,
			[]Setting{{"push_notification_driver", "dlog"}}},
		{"three in order", map[string]string{
			"push_notification_driver3": "c", "push_notification_driver": "a", "push_notification_driver2": "b"},
			DriverRoot, []Setting{{"push_notification_driver", "a"}, {"push_notification_driver2", "b"}, {"push_notification_driver3", "c"}}},
		{"gap ends the list", map[string]string{"push_notification_driver": "a", "push_notification_driver3": "c"},
			DriverRoot, []Setting{{"push_notification_driver", "a"}}},
		{"empty ends the list", map[string]string{"push_notification_driver": "a", "push_notification_driver2": "", "push_notification_driver3": "c"},
			DriverRoot, []Setting{{"push_notification_driver", "a"}}},
		{"empty first", map[string]string{"push_notification_driver": "", "push_notification_driver2": "b"}, DriverRoot, nil},
		{"no driver1 means nothing", map[string]string{"push_notification_driver2": "b"}, DriverRoot, nil},
		{"driver1 is not root1", map[string]string{"push_notification_driver": "a", "push_notification_driver1": "x"},
			DriverRoot, []Setting{{"push_notification_driver", "a"}}},
		{"legacy root", map[string]string{"push_notification_backend": "dlog", "push_notification_backend2": "ox:url=http://h/"},
			LegacyDriverRoot, []Setting{{"push_notification_backend", "dlog"}, {"push_notification_backend2", "ox:url=http://h/"}}},
		{"case-sensitive keys", map[string]string{"Push_Notification_Driver": "dlog"}, DriverRoot, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{Plugin: tt.plugin}
			got := DriverValues(c.PluginGetenv, tt.root)
			if !slices.Equal(got, tt.want) {
				t.Errorf("DriverValues(%s) = %q; want %q", tt.root, got, tt.want)
			}
		})
	}
}

func TestParseDriver(t *testing.T) {
	tests := []struct {
		value string
		want  DriverSpec
		lower string
	}{
		{"dlog", DriverSpec{Name: "dlog", Args: map[string]string{}}, "dlog"},
		{"dlog:", DriverSpec{Name: "dlog", HasArgs: true, Args: map[string]string{}}, "dlog"},
		{"LUA:file=/x/push.lua", DriverSpec{Name: "LUA", RawArgs: "file=/x/push.lua", HasArgs: true,
			Args: map[string]string{"file": "/x/push.lua"}}, "lua"},
		{"ox:url=http://u:p@h:8009/x user_from_metadata", DriverSpec{Name: "ox",
			RawArgs: "url=http://u:p@h:8009/x user_from_metadata", HasArgs: true,
			Args: map[string]string{"url": "http://u:p@h:8009/x", "user_from_metadata": ""}}, "ox"},
		{"ox:  url=a==b   cache_lifetime=5s  ", DriverSpec{Name: "ox", RawArgs: "  url=a==b   cache_lifetime=5s  ", HasArgs: true,
			Args: map[string]string{"url": "a==b", "cache_lifetime": "5s"}}, "ox"},
		{"x:a=1\tb=2", DriverSpec{Name: "x", RawArgs: "a=1\tb=2", HasArgs: true,
			Args: map[string]string{"a": "1\tb=2"}}, "x"},
		{"x:a\tb", DriverSpec{Name: "x", RawArgs: "a\tb", HasArgs: true,
			Args: map[string]string{"a\tb": ""}}, "x"},
		{"x:k=1 k=2 K=3", DriverSpec{Name: "x", RawArgs: "k=1 k=2 K=3", HasArgs: true,
			Args: map[string]string{"k": "2", "K": "3"}}, "x"},
		{"x:k= =v k2", DriverSpec{Name: "x", RawArgs: "k= =v k2", HasArgs: true,
			Args: map[string]string{"k": "", "": "v", "k2": ""}}, "x"},
		{"x:file=\"a b\"", DriverSpec{Name: "x", RawArgs: `file="a b"`, HasArgs: true,
			Args: map[string]string{"file": `"a`, `b"`: ""}}, "x"},
		{"", DriverSpec{Args: map[string]string{}}, ""},
		{":a=b", DriverSpec{RawArgs: "a=b", HasArgs: true, Args: map[string]string{"a": "b"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got := ParseDriver(tt.value)
			if got.Name != tt.want.Name || got.RawArgs != tt.want.RawArgs || got.HasArgs != tt.want.HasArgs {
				t.Errorf("ParseDriver(%q) = {%q %q %v}; want {%q %q %v}", tt.value,
					got.Name, got.RawArgs, got.HasArgs, tt.want.Name, tt.want.RawArgs, tt.want.HasArgs)
			}
			if got.Args == nil || !maps.Equal(got.Args, tt.want.Args) {
				t.Errorf("ParseDriver(%q).Args = %q; want %q", tt.value, got.Args, tt.want.Args)
			}
			if l := got.LowerName(); l != tt.lower {
				t.Errorf("LowerName() = %q; want %q", l, tt.lower)
			}
		})
	}
}

func ExampleParseDriver() {
	d := ParseDriver("ox:url=http://u:p@h:8009/x user_from_metadata")
	fmt.Println(d.Name, d.HasArgs)
	fmt.Printf("%q\n", d.Args)
	// Output:
	// ox true
	// map["url":"http://u:p@h:8009/x" "user_from_metadata":""]
}
