package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pushlua/pushlua/internal/dconfig"
)

func TestReadQueueSettings(t *testing.T) {
	t.Setenv("PUSHLUA_QUEUE_PASSWORD", "")
	conf := `pushlua_queue = nats://10.0.0.1:4222, 10.0.0.2:4222,tls://nats3.example.net:4443
pushlua_queue_creds = nats.creds
pushlua_queue_user = pushlua
pushlua_queue_password = fromconfig
pushlua_queue_tls_ca = ca.pem
pushlua_queue_stream = PUSH
pushlua_queue_subject = push.txn
pushlua_queue_partitions = 128
pushlua_queue_replicas = 3
pushlua_queue_max_bytes = 2G
pushlua_queue_max_age = 7d
pushlua_queue_duplicate_window = 5 mins
pushlua_queue_ack_wait = 1500ms
pushlua_queue_max_deliver = 9
plugin {
  push_notification_driver = dlog
}
`
	dir := writeFiles(t, map[string]string{"p.conf": conf})
	cfg, err := dconfig.Parse(filepath.Join(dir, "p.conf"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := readQueueSettings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"url", o.URL, "nats://10.0.0.1:4222,nats://10.0.0.2:4222,tls://nats3.example.net:4443"},
		{"creds", o.CredsFile, filepath.Join(dir, "nats.creds")},
		{"user", o.User, "pushlua"},
		{"password", o.Password, "fromconfig"},
		{"ca", o.TLSCA, filepath.Join(dir, "ca.pem")},
		{"stream", o.Stream, "PUSH"},
		{"subject", o.Subject, "push.txn"},
		{"partitions", o.Partitions, 128},
		{"replicas", o.Replicas, 3},
		{"max bytes", o.MaxBytes, int64(2 << 30)},
		{"max age", o.MaxAge, 7 * 24 * time.Hour},
		{"duplicate window", o.DuplicateWindow, 5 * time.Minute},
		{"ack wait", o.AckWait, 1500 * time.Millisecond},
		{"max deliver", o.MaxDeliver, 9},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v; want %v", c.name, c.got, c.want)
		}
	}
	// The environment wins over the file for secrets.
	t.Setenv("PUSHLUA_QUEUE_PASSWORD", "fromenv")
	if o, _ := readQueueSettings(cfg); o.Password != "fromenv" {
		t.Errorf("password: got %q; want the environment's", o.Password)
	}
	// Without pushlua_queue, or with "local": the write-ahead log.
	for _, v := range []string{"", "pushlua_queue = local\n"} {
		dir := writeFiles(t, map[string]string{"p.conf": v + "plugin {\n  push_notification_driver = dlog\n}\n"})
		cfg, err := dconfig.Parse(filepath.Join(dir, "p.conf"))
		if err != nil {
			t.Fatal(err)
		}
		if o, err := readQueueSettings(cfg); err != nil || o.URL != "" {
			t.Errorf("%q: got %q, %v; want the local log", strings.TrimSpace(v), o.URL, err)
		}
	}
}
