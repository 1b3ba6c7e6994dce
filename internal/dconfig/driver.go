package dconfig

import (
	"strconv"
	"strings"
)

// The plugin settings that list push-notification drivers (spec §1.1).
// DriverRoot is read first; LegacyDriverRoot only when DriverRoot yields
// no driver.
const (
	DriverRoot       = "push_notification_driver"
	LegacyDriverRoot = "push_notification_backend"
)

// Setting is one plugin setting.
type Setting struct {
	Key   string
	Value string
}

// DriverValues returns the settings root, root2, root3, … in order,
// stopping at the first one that is missing or empty, as Dovecot's
// push_notification_config_init does. getenv is usually
// (*Config).PluginGetenv. Initialising the drivers, stopping at the first
// failed init and falling back to LegacyDriverRoot are the caller's job.
func DriverValues(getenv func(string) (string, bool), root string) []Setting {
	var out []Setting
	for i := 1; ; i++ {
		key := root
		if i > 1 {
			key = root + strconv.Itoa(i)
		}
		v, ok := getenv(key)
		if !ok || v == "" {
			return out
		}
		out = append(out, Setting{Key: key, Value: v})
	}
}

// DriverSpec is a parsed "<driver>[:<args>]" value (spec §1.2).
type DriverSpec struct {
	// Name is the driver name as typed; Dovecot compares it
	// case-insensitively (see LowerName) but logs it as typed.
	Name string
	// RawArgs is everything after the first ":" (Dovecot's raw_config).
	RawArgs string
	// HasArgs is true when the value has a ":", even with nothing after
	// it ("dlog:"); raw_config is NULL in Dovecot when it is false.
	HasArgs bool
	// Args is RawArgs split on spaces into key=value pairs. Never nil.
	Args map[string]string
}

// LowerName returns Name in lower case, for matching driver names.
func (d DriverSpec) LowerName() string { return strings.ToLower(d.Name) }

// ParseDriver parses a push_notification_driver value exactly like
// Dovecot's push_notification_driver_parse_config: the value is split at
// its first ":"; the args are split on the space character only (runs of
// spaces collapse, empty tokens are dropped, TAB is part of a token); each
// token is split at its first "=" (a token without "=" maps to ""); a
// later duplicate key overwrites an earlier one; keys are case-sensitive.
// There is no quoting or escaping.
func ParseDriver(value string) DriverSpec {
	name, raw, has := strings.Cut(value, ":")
	d := DriverSpec{Name: name, RawArgs: raw, HasArgs: has, Args: map[string]string{}}
	for _, tok := range strings.Split(raw, " ") {
		if tok == "" {
			continue
		}
		k, v, _ := strings.Cut(tok, "=")
		d.Args[k] = v
	}
	return d
}
