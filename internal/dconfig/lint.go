package dconfig

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Finding is a problem Lint found in a configuration: an error (the
// configuration would not do what it says) or a warning.
type Finding struct {
	Pos   Position
	Key   string
	Msg   string
	Error bool
}

// String returns "place: message".
func (f Finding) String() string {
	if p := f.Pos.String(); p != "" {
		return p + ": " + f.Msg
	}
	return f.Msg
}

// Errors returns the findings that are errors.
func Errors(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Error {
			out = append(out, f)
		}
	}
	return out
}

// Lint checks what a typo would silently get wrong:
//
//   - a pushlua_* setting at top level that is not one of Known's top-level
//     settings: an error, with a "did you mean" hint, or saying that it
//     goes inside plugin { } (a forwarder setting);
//   - a pushlua_* setting inside plugin { } that is not one of the
//     forwarder's: an error saying that it goes at top level, or with a
//     hint; one inside any other section (service, protocol, ...): an
//     error, since nothing reads it there;
//   - a plugin { } key close to a setting Dovecot's push-notification
//     plugins read (push_notification_driver, ..._lua_script_file,
//     mail_lua_script, push_notification_backend): a warning;
//     push_notification_* written at top level: a warning (Dovecot 2.3
//     reads them inside plugin { } only);
//   - a driver name Dovecot does not know, or an argument its driver does
//     not read (lua:fle=...): an error naming it;
//   - a gap in the driver list (push_notification_driver3 without ...2):
//     a warning, since Dovecot stops at the gap.
//
// The findings are sorted by place. NoDriver reports a configuration with
// no driver at all.
func (c *Config) Lint() []Finding {
	var out []Finding
	add := func(pos Position, key string, isErr bool, format string, args ...any) {
		out = append(out, Finding{Pos: pos, Key: key, Error: isErr, Msg: fmt.Sprintf(format, args...)})
	}
	top, plugin := knownNames(TopLevel), knownNames(InPlugin)

	for _, key := range sortedKeys(c.Settings) {
		pos, _ := c.SettingPos(key)
		switch {
		case strings.HasPrefix(key, pushluaPrefix):
			k, ok := LookupKnown(key)
			switch {
			case ok && k.Where&TopLevel != 0:
			case ok:
				add(pos, key, true, "%s is the forwarder's setting: it goes inside plugin { } of Dovecot's configuration; pushlua does not read it at top level", key)
			default:
				add(pos, key, true, "unknown setting %s%s", key, hint(key, top))
			}
		case (strings.HasPrefix(key, "push_notification_") || key == "mail_lua_script") && len(c.Filters) == 0:
			add(pos, key, false, "%s is a plugin setting: Dovecot 2.3 reads it inside plugin { } only, and so does pushlua", key)
		}
	}

	for _, key := range sortedKeys(c.Plugin) {
		pos, _ := c.PluginPos(key)
		if strings.HasPrefix(key, pushluaPrefix) {
			k, ok := LookupKnown(key)
			switch {
			case ok && k.Where&InPlugin != 0:
				if k.Where&TopLevel != 0 && pos.Override == "" {
					if _, top := c.Settings[key]; !top {
						add(pos, key, false, "%s inside plugin { } is the forwarder's (Dovecot's side); pushlua serve reads the top-level %s", key, key)
					}
				}
			case ok:
				add(pos, key, true, "%s is misplaced: it goes at top level, outside plugin { }", key)
			default:
				add(pos, key, true, "unknown setting %s inside plugin { }%s", key, hint(key, append(plugin, top...)))
			}
			continue
		}
		if slices.Contains(pushSettings, key) {
			continue
		}
		base, indexed := stripIndex(key)
		if indexed && (base == DriverRoot || base == LegacyDriverRoot) {
			continue
		}
		if near, ok := closest(base, pushSettings); ok && base != near {
			add(pos, key, false, "%s is not a setting Dovecot reads; did you mean %s?", key, strings.Replace(key, base, near, 1))
		}
	}

	for _, ig := range c.Ignored {
		where := "at top level"
		if k, ok := LookupKnown(ig.Key); ok && k.Where == InPlugin {
			where = "inside plugin { }"
		} else if !ok {
			where = "at top level" + hint(ig.Key, top)
		}
		add(ig.Pos, ig.Key, true, "%s inside %s { } is never read: it goes %s", ig.Key, ig.Section, where)
	}

	out = append(out, c.lintDrivers()...)
	sort.SliceStable(out, func(i, j int) bool { return less(out[i].Pos, out[j].Pos) })
	return out
}

// lintDrivers checks the driver names and arguments, and gaps in the list.
func (c *Config) lintDrivers() []Finding {
	var out []Finding
	names := slices.Sorted(maps.Keys(driverArgs))
	for _, f := range c.Filters {
		pos := Position{File: f.File, Line: f.Line}
		name := strings.ToLower(f.Driver())
		if _, ok := driverArgs[name]; !ok {
			out = append(out, Finding{Pos: pos, Key: f.Name, Error: true,
				Msg: fmt.Sprintf("push_notification %s: unknown driver %q%s", f.Name, f.Driver(), hint(name, names))})
		}
		for _, k := range sortedKeys(f.Settings) {
			if slices.Contains(filterSettings, k) {
				continue
			}
			if near, ok := closest(k, filterSettings); ok {
				out = append(out, Finding{Pos: pos, Key: k, Msg: fmt.Sprintf("push_notification %s: %s is not a setting of a push_notification block; did you mean %s?", f.Name, k, near)})
			}
		}
	}
	if len(c.Filters) > 0 {
		return out
	}
	for _, root := range []string{DriverRoot, LegacyDriverRoot} {
		list := DriverValues(c.PluginGetenv, root)
		for _, set := range list {
			pos, _ := c.PluginPos(set.Key)
			spec := ParseDriver(set.Value)
			name := spec.LowerName()
			allowed, ok := driverArgs[name]
			if !ok {
				out = append(out, Finding{Pos: pos, Key: set.Key, Error: true,
					Msg: fmt.Sprintf("%s = %s: unknown push notification driver %q (Dovecot knows lua, ox and dlog)%s", set.Key, set.Value, spec.Name, hint(name, names))})
				break // Dovecot's list ends here
			}
			if allowed == nil {
				continue
			}
			for _, arg := range sortedKeys(spec.Args) {
				if slices.Contains(allowed, arg) {
					continue
				}
				out = append(out, Finding{Pos: pos, Key: set.Key, Error: true,
					Msg: fmt.Sprintf("%s = %s: the %s driver has no argument %q (it reads %s)%s", set.Key, set.Value, name, arg, strings.Join(allowed, ", "), hint(arg, allowed))})
			}
		}
		// A gap ends Dovecot's list: what follows it is never read.
		for key := range c.Plugin {
			base, indexed := stripIndex(key)
			if base != root || !indexed || c.Plugin[key] == "" {
				continue
			}
			if !slices.ContainsFunc(list, func(s Setting) bool { return s.Key == key }) {
				pos, _ := c.PluginPos(key)
				out = append(out, Finding{Pos: pos, Key: key,
					Msg: fmt.Sprintf("%s is never read: Dovecot reads %s, %s2, ... up to the first one missing or empty", key, root, root)})
			}
		}
	}
	return out
}

// NoDriver returns an error finding when the configuration names no
// push-notification driver at all (no Dovecot 2.4 push_notification block,
// no non-empty push_notification_driver or push_notification_backend):
// nothing would ever run. It names the likeliest cause: a misspelled
// driver setting, a driver setting at top level, or where the plugin
// section is.
func (c *Config) NoDriver() *Finding {
	if len(c.Filters) > 0 || len(DriverValues(c.PluginGetenv, DriverRoot)) > 0 ||
		len(DriverValues(c.PluginGetenv, LegacyDriverRoot)) > 0 {
		return nil
	}
	const none = "no push notification driver configured"
	for _, key := range sortedKeys(c.Plugin) {
		base, _ := stripIndex(key)
		if base == DriverRoot || base == LegacyDriverRoot {
			pos, _ := c.PluginPos(key)
			if c.Plugin[key] == "" {
				return &Finding{Pos: pos, Key: key, Error: true, Msg: fmt.Sprintf("%s: %s is empty", none, key)}
			}
			return &Finding{Pos: pos, Key: key, Error: true,
				Msg: fmt.Sprintf("%s: %s is never read without %s (Dovecot stops at the first missing one)", none, key, base)}
		}
		if near, ok := closest(base, []string{DriverRoot, LegacyDriverRoot}); ok {
			pos, _ := c.PluginPos(key)
			return &Finding{Pos: pos, Key: key, Error: true,
				Msg: fmt.Sprintf("%s: %s is not a setting Dovecot reads; did you mean %s?", none, key, strings.Replace(key, base, near, 1))}
		}
	}
	for _, key := range sortedKeys(c.Settings) {
		base, _ := stripIndex(key)
		if base == DriverRoot || base == LegacyDriverRoot {
			pos, _ := c.SettingPos(key)
			return &Finding{Pos: pos, Key: key, Error: true,
				Msg: fmt.Sprintf("%s: %s is written at top level; it goes inside plugin { }", none, key)}
		}
	}
	if len(c.PluginSections) == 0 {
		return &Finding{Pos: Position{File: c.displayName()}, Error: true,
			Msg: none + ": there is no plugin { } section; add one with push_notification_driver = ... (or a Dovecot 2.4 push_notification NAME { } block)"}
	}
	p := c.PluginSections[0]
	return &Finding{Pos: p, Error: true, Msg: none + ": this plugin { } section has no push_notification_driver"}
}

func (c *Config) displayName() string {
	if len(c.Files) > 0 {
		return c.Files[0]
	}
	return "configuration"
}

// hint returns " (did you mean X?)" when s is close to one of names.
func hint(s string, names []string) string {
	if near, ok := closest(s, names); ok {
		return " (did you mean " + near + "?)"
	}
	return ""
}

func less(a, b Position) bool {
	if (a.Override != "") != (b.Override != "") {
		return a.Override == "" // the files first, then -o
	}
	if a.File != b.File {
		return a.File < b.File
	}
	return a.Line < b.Line
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
