package runtime

import (
	"errors"
	"fmt"
	"os"

	"github.com/pushlua/pushlua/internal/dconfig"
	"github.com/pushlua/pushlua/internal/doveadm"
	"github.com/pushlua/pushlua/internal/store"
)

// liveStore reads pushlua_doveadm_url, pushlua_doveadm_key (else
// $PUSHLUA_DOVEADM_KEY) and pushlua_doveadm_timeout: with a URL, the
// scripts' store is base with live lookups through doveadm's HTTP API for
// what a transaction's snapshot does not carry (package doveadm); without
// one it is base.
func liveStore(cfg *dconfig.Config, base store.Store) (store.Store, error) {
	rawURL := cfg.Settings["pushlua_doveadm_url"]
	key, keySet := cfg.Settings["pushlua_doveadm_key"]
	if rawURL == "" {
		if keySet && key != "" {
			return nil, errors.New("pushlua_doveadm_key is set but pushlua_doveadm_url is not")
		}
		return base, nil
	}
	if key == "" {
		key = os.Getenv("PUSHLUA_DOVEADM_KEY")
	}
	if key == "" {
		return nil, errors.New("pushlua_doveadm_url needs pushlua_doveadm_key (or $PUSHLUA_DOVEADM_KEY): Dovecot's doveadm_api_key")
	}
	opts := doveadm.Options{URL: rawURL, Key: key}
	if v, ok := cfg.Settings["pushlua_doveadm_timeout"]; ok {
		d, err := dconfig.ParseTimeMsecs(v)
		if err != nil {
			return nil, fmt.Errorf("pushlua_doveadm_timeout: %w", err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("pushlua_doveadm_timeout: must be more than 0, got %q", v)
		}
		opts.Timeout = d
	}
	c, err := doveadm.New(opts)
	if err != nil {
		return nil, fmt.Errorf("pushlua_doveadm_url: %w", err)
	}
	return doveadm.NewStore(base, c), nil
}
