package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/txn"
	"github.com/pushlua/pushlua/scripts"
)

// This file builds a version's driver list from the configuration: what a
// driver is, the table of the driver kinds pushlua knows (drivers), and
// the walk over Dovecot 2.3's settings or 2.4's blocks.

// Driver is one configured push-notification driver (one
// push_notification_driver<N> setting).
type Driver interface {
	// Name is the driver name as typed in the configuration.
	Name() string
	// Scripts lists the files the driver runs.
	Scripts() []string
	// Instance returns the driver's instance for one worker.
	Instance() driverInstance
}

// driverInstance is a driver inside one worker; one goroutine uses it.
type driverInstance interface {
	// Begin starts the driver's part of a transaction; false keeps the
	// driver out of it (no events, no End).
	Begin(r *txnRun) bool
	// Process hands over the events of one message or mailbox record.
	Process(r *txnRun, events []txn.Event)
	// End finishes the transaction.
	End(r *txnRun, success bool)
	// Close releases the instance (script_deinit).
	Close(ctx context.Context, logger *slog.Logger)
	// Discard drops the instance's state without calling into it, after a
	// Go panic left it in an unknown state; the next transaction builds a
	// fresh one.
	Discard()
}

// engineSettings reads pushlua's own top-level settings.
func engineSettings(cfg *dconfig.Config, b Budget) (Budget, bool, error) {
	if v, ok := cfg.Settings["pushlua_handler_timeout"]; ok && b.Timeout == 0 {
		d, err := dconfig.ParseTime(v)
		if err != nil {
			return b, false, fmt.Errorf("pushlua_handler_timeout: %w", err)
		}
		b.Timeout = d
	}
	if v, ok := cfg.Settings["pushlua_handler_instructions"]; ok && b.Instructions == 0 {
		var n int64
		if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
			return b, false, fmt.Errorf("pushlua_handler_instructions: expected a positive integer, got %q", v)
		}
		b.Instructions = n
	}
	if v, ok := cfg.Settings["pushlua_handler_memory"]; ok && b.Memory == 0 {
		n, err := parseSize(v)
		if err == nil && n <= 0 {
			err = fmt.Errorf("expected a positive size, got %q", v)
		}
		if err != nil {
			return b, false, fmt.Errorf("pushlua_handler_memory: %w", err)
		}
		b.Memory = n
	}
	allow := false
	if v, ok := cfg.Settings["pushlua_allow_exec"]; ok {
		var err error
		if allow, err = dconfig.ParseBool(v); err != nil {
			return b, false, fmt.Errorf("pushlua_allow_exec: %w", err)
		}
	}
	return b, allow, nil
}

// buildDrivers builds the driver list. With Dovecot 2.4's named
// `push_notification NAME { }` blocks in the configuration, those are the
// list, in file order; otherwise it walks 2.3's push_notification_driver,
// ...2, ... (then the legacy push_notification_backend list when that gave
// no driver). Either way the first unknown or failing driver ends the list.
func buildDrivers(ctx context.Context, de *driverEnv) ([]Driver, []error) {
	cfg := de.opts.Config
	var errs []error
	if len(cfg.Filters) > 0 {
		var drivers []Driver
		for _, f := range cfg.Filters {
			d, err := newBlockDriver(ctx, f, de)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: push_notification %s: %w", f.File, f.Line, f.Name, err))
				break
			}
			drivers = append(drivers, d)
		}
		return drivers, errs
	}
	getenv := cfg.PluginGetenv
	for _, root := range []string{dconfig.DriverRoot, dconfig.LegacyDriverRoot} {
		var drivers []Driver
		for _, set := range dconfig.DriverValues(getenv, root) {
			spec := dconfig.ParseDriver(set.Value)
			d, err := newDriver(ctx, spec, de)
			if err != nil {
				err = fmt.Errorf("%s: %w", set.Key, err)
				errs = append(errs, err)
				break
			}
			drivers = append(drivers, d)
		}
		if len(drivers) > 0 {
			return drivers, errs
		}
	}
	return nil, errs
}

// Syntax says which configuration syntax the driver list came from.
func (e *Engine) Syntax() string {
	if len(e.opts.Config.Filters) > 0 {
		return "Dovecot 2.4 push_notification blocks"
	}
	return "Dovecot 2.3 plugin settings (push_notification_driver)"
}

// driverEnv is what building a driver needs besides its own settings: the
// engine's options (with the version's configuration), the handler
// budget, whether scripts may run programs, and the logger that init
// failures go to.
type driverEnv struct {
	opts      Options
	budget    Budget
	allowExec bool
	log       *slog.Logger
}

// driverKind builds one kind of driver, from either configuration syntax.
type driverKind struct {
	// fromSpec builds it from a Dovecot 2.3 push_notification_driver value.
	fromSpec func(ctx context.Context, spec dconfig.DriverSpec, de *driverEnv) (Driver, error)
	// fromBlock builds it from a Dovecot 2.4 push_notification block
	// (spec §9).
	fromBlock func(ctx context.Context, f *dconfig.Filter, de *driverEnv) (Driver, error)
}

// The bundled drivers' names (package scripts has their scripts).
const (
	bundledDlog = "dlog"
	bundledOx   = "ox"
)

// drivers lists the driver kinds by lower-case name, as Dovecot's driver
// registry does: adding a driver is one entry.
var drivers = map[string]driverKind{
	"lua":       {fromSpec: newLuaDriver, fromBlock: newLuaBlockDriver},
	bundledDlog: bundledKind("", func(*dconfig.Filter) (map[string]string, error) { return map[string]string{}, nil }),
	bundledOx:   bundledKind("push-notification-ox: ", oxArgs24),
}

// errUnknownDriver is returned for a driver name nothing implements.
var errUnknownDriver = errors.New("unknown push notification driver")

// driverFailed is the message of a driver that failed to initialise.
const driverFailed = "{driver}: {error}"

// newDriver builds the driver a 2.3 push_notification_driver value names.
// A failure is logged, as Dovecot logs it.
func newDriver(ctx context.Context, spec dconfig.DriverSpec, de *driverEnv) (Driver, error) {
	kind, ok := drivers[strings.ToLower(spec.Name)]
	if !ok {
		de.log.Error("Unknown push notification driver: {driver}", logx.Args("driver", spec.Name))
		return nil, fmt.Errorf("%w: %s", errUnknownDriver, spec.Name)
	}
	d, err := kind.fromSpec(ctx, spec, de)
	if err != nil {
		de.log.Error(driverFailed, logx.Args("driver", spec.Name, "error", err))
		return nil, err
	}
	return d, nil
}

// newBlockDriver builds the driver of a Dovecot 2.4 push_notification
// block, mapped onto the same drivers as 2.3's settings (spec §9). A
// failure is logged, as Dovecot logs it.
func newBlockDriver(ctx context.Context, f *dconfig.Filter, de *driverEnv) (Driver, error) {
	name := f.Driver()
	kind, ok := drivers[strings.ToLower(name)]
	if !ok {
		de.log.Error("Unable to identify push notification driver '{driver}': Name does not match any registered drivers", logx.Args("driver", name))
		return nil, fmt.Errorf("%w: %s", errUnknownDriver, name)
	}
	d, err := kind.fromBlock(ctx, f, de)
	if err != nil {
		de.log.Error(driverFailed, logx.Args("driver", name, "error", err))
		return nil, err
	}
	return d, nil
}

// newLuaDriver locates the script as spec §4.1 says and prepares its first
// state.
func newLuaDriver(ctx context.Context, spec dconfig.DriverSpec, de *driverEnv) (Driver, error) {
	cfg := de.opts.Config
	d := &luaDriver{name: spec.Name}
	prefix := "lua: "
	path, ok := cfg.PluginGetenv("push_notification_lua_script_file")
	if !ok || path == "" {
		path, ok = spec.Args["file"]
	}
	if !ok || path == "" {
		path, ok = cfg.PluginGetenv("mail_lua_script")
		if !ok || path == "" {
			return nil, errNoScript
		}
		d.mailLua, prefix = true, ""
	}
	path = cfg.Resolve(path)
	src, err := readScript(path)
	if err != nil {
		return nil, err
	}
	d.spec = newScriptSpec(spec, de.opts, path, src, prefix, de.budget, de.allowExec)
	return d.prepare(ctx, de.log)
}

// newLuaBlockDriver is the lua driver of a 2.4 block: its lua_file, and
// its lua_settings for script_init and dovecot's settings lookups.
func newLuaBlockDriver(ctx context.Context, f *dconfig.Filter, de *driverEnv) (Driver, error) {
	name := f.Driver()
	file := f.Settings["lua_file"]
	if file == "" {
		return nil, errors.New("lua_file setting is empty")
	}
	path := de.opts.Config.Resolve(file)
	src, err := readScript(path)
	if err != nil {
		return nil, err
	}
	d := &luaDriver{name: name}
	d.spec = newScriptSpec(dconfig.DriverSpec{Name: name, Args: f.LuaSettings}, de.opts, path, src, "lua: ", de.budget, de.allowExec)
	d.spec.Settings24, d.spec.InitArgs = true, f.LuaSettings
	// Dovecot 2.4's dovecot.http.client and settings lookups.
	d.spec.Env.Settings24, d.spec.Env.Getenv = true, de.opts.Config.Getenv(f)
	return d.prepare(ctx, de.log)
}

// prepare builds the driver's first state, which the first worker's
// instance takes over.
func (d *luaDriver) prepare(ctx context.Context, log *slog.Logger) (Driver, error) {
	st, err := d.build(ctx, log)
	if err != nil {
		return nil, err
	}
	d.first = st
	return d, nil
}

// bundledKind is a driver pushlua bundles as a Lua script (package
// scripts, by the driver's name): prefix is the log prefix of its events,
// as the C driver's is; args24 maps a 2.4 block onto its 2.3 driver
// arguments.
func bundledKind(prefix string, args24 func(*dconfig.Filter) (map[string]string, error)) driverKind {
	return driverKind{
		fromSpec: func(ctx context.Context, spec dconfig.DriverSpec, de *driverEnv) (Driver, error) {
			return newBundledDriver(ctx, spec, prefix, de)
		},
		fromBlock: func(ctx context.Context, f *dconfig.Filter, de *driverEnv) (Driver, error) {
			args, err := args24(f)
			if err != nil {
				return nil, err
			}
			return newBundledDriver(ctx, dconfig.DriverSpec{Name: f.Driver(), Args: args}, prefix, de)
		},
	}
}

// newBundledDriver prepares one of the bundled drivers, with the driver
// arguments for script_init.
func newBundledDriver(ctx context.Context, spec dconfig.DriverSpec, prefix string, de *driverEnv) (Driver, error) {
	name := strings.ToLower(spec.Name)
	src, ok := scripts.Driver(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", errUnknownDriver, spec.Name)
	}
	d := &luaDriver{name: spec.Name}
	d.spec = newScriptSpec(spec, de.opts, "scripts/"+name+".lua", src, prefix, de.budget, de.allowExec)
	d.spec.Bundled, d.spec.InitArgs = true, spec.Args
	return d.prepare(ctx, de.log)
}

// oxArgs24 turns a 2.4 ox block into the bundled ox driver's arguments,
// with 2.4.4's HTTP defaults (2 s timeout, 2 attempts) and the cache TTL
// meaning the time it says (2.4 stores it in milliseconds and compares it
// with seconds, so its cache lives 1000 times longer).
func oxArgs24(f *dconfig.Filter) (map[string]string, error) {
	s := f.Settings
	url := s["push_notification_ox_url"]
	if url == "" {
		return nil, errors.New("push_notification_ox_url is missing or empty")
	}
	args := map[string]string{"url": url, "timeout_msecs": "2000", "max_retries": "1", "cache_lifetime": "60s"}
	if v, ok := s["push_notification_ox_cache_ttl"]; ok {
		d, err := dconfig.ParseTimeMsecs(v)
		if err != nil {
			return nil, fmt.Errorf("push_notification_ox_cache_ttl: %w", err)
		}
		if d == 0 {
			return nil, errors.New("push_notification_ox_cache_ttl must not be 0")
		}
		args["cache_lifetime"] = fmt.Sprintf("%ds", int64((d+time.Second-1)/time.Second))
	}
	if v, ok := s["push_notification_ox_user_from_metadata"]; ok {
		on, err := dconfig.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("push_notification_ox_user_from_metadata: %w", err)
		}
		if on {
			args["user_from_metadata"] = ""
		}
	}
	if v, ok := s["http_client_request_timeout"]; ok {
		d, err := dconfig.ParseTimeMsecs(v)
		if err != nil {
			return nil, fmt.Errorf("http_client_request_timeout: %w", err)
		}
		args["timeout_msecs"] = fmt.Sprint(d.Milliseconds())
	}
	if v, ok := s["http_client_request_max_attempts"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("http_client_request_max_attempts: expected a positive integer, got %q", v)
		}
		args["max_retries"] = fmt.Sprint(n - 1)
	}
	return args, nil
}

// Drivers lists the drivers of the current version, in order.
func (e *Engine) Drivers() []Driver { return e.current().drivers }

// InitErrors returns the driver init failures of the current version (each
// ended the list).
func (e *Engine) InitErrors() []error { return e.current().errs }
