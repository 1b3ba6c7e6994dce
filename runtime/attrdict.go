package runtime

import (
	"log/slog"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/dictproxy"
	"github.com/pushlua/pushlua/internal/logx"
	"github.com/pushlua/pushlua/internal/store"
)

// scriptStore is the store the scripts of cfg see: opts.Store, with the
// METADATA writes of scripts sent first to Dovecot's mail_attribute_dict
// when that is a proxy dict (package dictproxy); other dict drivers are
// not supported and leave the writes in pushlua's store, with a warning.
func scriptStore(opts Options, cfg *dconfig.Config, log *slog.Logger) store.Store {
	uri := cfg.Settings["mail_attribute_dict"]
	if uri == "" {
		return opts.Store
	}
	t, ok, err := dictproxy.ParseURI(uri, cfg.Settings["base_dir"])
	switch {
	case err != nil:
		log.Warn("{error}: METADATA writes stay in pushlua's store", logx.Args("error", err))
		return opts.Store
	case !ok:
		log.Warn("mail_attribute_dict = {uri}: only proxy dicts are supported; METADATA writes stay in pushlua's store", logx.Args("uri", uri))
		return opts.Store
	}
	return &dictproxy.Store{Store: opts.Store, Client: &dictproxy.Client{Target: t}, Logger: log}
}
