package dconfig

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Config is a parsed Dovecot-style config file.
type Config struct {
	// Path is the absolute path of the main config file; "" when the
	// config came from ParseReader.
	Path string

	// Settings holds the top-level "key = value" settings (the last value
	// of a key wins), plus overrides for mail_debug and pushlua_* keys.
	Settings map[string]string

	// Plugin holds the settings of the top-level plugin { } sections, as
	// mail_user_plugin_getenv would see them. Keys are case-sensitive.
	Plugin map[string]string

	// MailDebug is the top-level mail_debug setting (default false).
	MailDebug bool

	// Sections lists the sections whose contents were ignored, outermost
	// only, in file order.
	Sections []Section

	// Filters holds Dovecot 2.4's named push-notification blocks
	// (`push_notification NAME { driver = ...; ... }`), in file order.
	Filters []*Filter

	// Files lists the absolute path of every file read, main file first,
	// then included files in the order they were read.
	Files []string

	// Warnings holds non-fatal findings, each starting with "file:line: ".
	Warnings []string

	// PluginSections lists where each top-level plugin { } section opens.
	PluginSections []Position

	// Ignored lists the pushlua_* settings written inside a section whose
	// contents pushlua ignores (service, protocol, ...), where pushlua
	// never reads them; Lint reports them.
	Ignored []Placed

	dir string // absolute directory that relative paths are resolved in

	// settingPos and pluginPos say where each top-level and plugin
	// setting was last set.
	settingPos, pluginPos map[string]Position
}

// Position is where a setting was set: a file and line, or a command-line
// override (-o).
type Position struct {
	File     string
	Line     int
	Override string // the "-o key=value" argument; File and Line are then empty
}

// String returns "file:line", "file", or "-o key=value".
func (p Position) String() string {
	switch {
	case p.Override != "":
		return "-o " + p.Override
	case p.Line > 0:
		return p.File + ":" + strconv.Itoa(p.Line)
	default:
		return p.File
	}
}

// Placed is a setting and where it was written.
type Placed struct {
	Key     string
	Section string // the section it was written in ("service imap"); "" for none
	Pos     Position
}

// SettingPos returns where the top-level setting key was last set.
func (c *Config) SettingPos(key string) (Position, bool) {
	p, ok := c.settingPos[key]
	return p, ok
}

// PluginPos returns where the plugin setting key was last set.
func (c *Config) PluginPos(key string) (Position, bool) {
	p, ok := c.pluginPos[key]
	return p, ok
}

func (c *Config) setSettingPos(key string, pos Position) {
	if c.settingPos == nil {
		c.settingPos = map[string]Position{}
	}
	c.settingPos[key] = pos
}

func (c *Config) setPluginPos(key string, pos Position) {
	if c.pluginPos == nil {
		c.pluginPos = map[string]Position{}
	}
	c.pluginPos[key] = pos
}

// FilterSection is the name of Dovecot 2.4's push-notification blocks.
const FilterSection = "push_notification"

// Filter is one Dovecot 2.4 `push_notification NAME { }` block.
type Filter struct {
	Name string // the block's name; also the driver when Settings has no "driver"
	File string
	Line int
	// Settings holds the block's own settings (driver, lua_file,
	// push_notification_ox_url, ...).
	Settings map[string]string
	// LuaSettings holds its lua_settings { } subsection: the table that
	// script_init gets.
	LuaSettings map[string]string
}

// Driver returns the block's driver: its driver setting, else its name.
func (f *Filter) Driver() string {
	if d, ok := f.Settings["driver"]; ok && d != "" {
		return d
	}
	return f.Name
}

// FilterKey is the name under which a setting written inside a
// push_notification NAME { } block is kept in Filter.Settings. Dovecot 2.4
// lets a setting of a named filter be written with or without the filter's
// prefix: push_notification_driver or driver, push_notification_ox_url or
// ox_url. Settings keeps driver and name short, and the OX settings long,
// as Dovecot's documentation writes them; other keys as written.
func FilterKey(key string) string {
	const prefix = FilterSection + "_"
	switch short, ok := strings.CutPrefix(key, prefix); {
	case ok && (short == "driver" || short == "name"):
		return short
	case strings.HasPrefix(key, "ox_"):
		return prefix + key
	}
	return key
}

// Getenv returns the user:plugin_getenv of a script configured by the
// block f, as Dovecot 2.4 looks a setting up from inside a named filter
// (2.4 has no plugin { } section: plugin settings are global): the block's
// own setting (with or without the push_notification_ prefix), else the
// top-level setting, else, for configurations that still have one, the
// plugin { } setting.
func (c *Config) Getenv(f *Filter) func(name string) (string, bool) {
	return func(name string) (string, bool) {
		if f != nil {
			if v, ok := f.Settings[FilterKey(name)]; ok {
				return v, true
			}
		}
		if v, ok := c.Settings[name]; ok {
			return v, true
		}
		return c.PluginGetenv(name)
	}
}

// Section is a config section whose contents pushlua ignores.
type Section struct {
	Name string // for example "namespace"
	Arg  string // for example "inbox"; "" when the section has no name
	File string
	Line int
}

// Parse reads the config file at path and the files it includes.
func Parse(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &ParseError{File: path, Err: err}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ParseError{File: path, Err: err}
	}
	c := newConfig(filepath.Dir(abs))
	c.Path = abs
	p := &parser{cfg: c, lookupEnv: os.LookupEnv}
	if err := p.run(path, filepath.Dir(path), abs, data); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseReader reads a config from r. name is used in error messages; dir
// is the directory that relative !include patterns and Resolve are
// relative to ("" means the working directory).
func ParseReader(name string, r io.Reader, dir string) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &ParseError{File: name, Err: err}
	}
	if dir == "" {
		dir = "."
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, &ParseError{File: name, Err: err}
	}
	c := newConfig(absDir)
	p := &parser{cfg: c, lookupEnv: os.LookupEnv}
	if err := p.run(name, dir, "", data); err != nil {
		return nil, err
	}
	return c, nil
}

func newConfig(dir string) *Config {
	return &Config{
		Settings: map[string]string{},
		Plugin:   map[string]string{},
		dir:      dir,
	}
}

// Resolve returns p made relative to the main config file's directory
// (ParseReader's dir); an absolute or empty p is returned as it is.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	dir := c.dir
	if dir == "" && c.Path != "" {
		dir = filepath.Dir(c.Path)
	}
	return filepath.Join(dir, p)
}

// PluginGetenv returns the plugin setting name and whether it is set, like
// Dovecot's mail_user_plugin_getenv (which returns NULL when unset).
func (c *Config) PluginGetenv(name string) (string, bool) {
	v, ok := c.Plugin[name]
	return v, ok
}

// Override applies one command-line "-o key=value". The argument is split
// at its first "="; the value is used as written. "plugin/NAME" sets the
// plugin setting NAME; mail_debug (which must be a valid boolean) and
// keys starting with "pushlua_" set top-level settings; every other key is
// a plugin setting.
func (c *Config) Override(kv string) error {
	key, value, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("override %q: expected key=value", kv)
	}
	if c.Settings == nil {
		c.Settings = map[string]string{}
	}
	if c.Plugin == nil {
		c.Plugin = map[string]string{}
	}
	switch {
	case key == "":
		return fmt.Errorf("override %q: empty key", kv)
	case strings.HasPrefix(key, pluginPrefix):
		name := key[len(pluginPrefix):]
		if name == "" {
			return fmt.Errorf("override %q: empty plugin setting name", kv)
		}
		c.Plugin[name] = value
		c.setPluginPos(name, Position{Override: kv})
	case key == "mail_debug":
		b, err := ParseBool(value)
		if err != nil {
			return fmt.Errorf("override %q: %w", kv, err)
		}
		c.Settings[key] = value
		c.MailDebug = b
		c.setSettingPos(key, Position{Override: kv})
	case strings.HasPrefix(key, pushluaPrefix):
		c.Settings[key] = value
		c.setSettingPos(key, Position{Override: kv})
	default:
		c.Plugin[key] = value
		c.setPluginPos(key, Position{Override: kv})
	}
	return nil
}

const (
	pluginPrefix  = "plugin/"
	pushluaPrefix = "pushlua_"
)
