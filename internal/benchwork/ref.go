package benchwork

import (
	"encoding/json"
	"fmt"
	"slices"

	lua "github.com/Shopify/go-lua"
)

// handlers maps event names to the collecting script's handler names.
var handlers = map[string]string{
	"MessageNew": "dovecot_lua_notify_event_message_new", "MessageAppend": "dovecot_lua_notify_event_message_append",
	"FlagsSet": "dovecot_lua_notify_event_flags_set", "FlagsClear": "dovecot_lua_notify_event_flags_clear",
}

// Ref is the reference loop: one go-lua state running CollectScript, fed
// by encoding/json. It is what "pushlua's own cost" is measured against:
// everything pushlua does beyond it (validation, the store, the user
// object, dispatch, logs) is overhead.
type Ref struct {
	l *lua.State
}

// NewRef loads CollectScript into a fresh state.
func NewRef() (*Ref, error) {
	l := lua.NewState()
	lua.OpenLibraries(l)
	if err := lua.DoString(l, CollectScript); err != nil {
		return nil, fmt.Errorf("benchwork: %w", err)
	}
	return &Ref{l: l}, nil
}

// Run decodes one transaction line and calls begin_txn, the handlers of
// its events and end_txn.
func (r *Ref) Run(line []byte) error {
	var t struct {
		User   json.RawMessage  `json:"user"`
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(line, &t); err != nil {
		return err
	}
	var user struct {
		Username string `json:"username"`
	}
	if err := json.Unmarshal(t.User, &user); err != nil {
		return err
	}
	l := r.l
	l.Global("dovecot_lua_notify_begin_txn")
	l.CreateTable(0, 1)
	l.PushString(user.Username)
	l.SetField(-2, "username")
	if err := l.ProtectedCall(1, 1, 0); err != nil {
		return err
	}
	for _, ev := range t.Events {
		name, _ := ev["name"].(string)
		h, ok := handlers[name]
		if !ok {
			continue
		}
		l.Global(h)
		l.PushValue(-2)
		push(l, ev)
		if err := l.ProtectedCall(2, 0, 0); err != nil {
			return err
		}
	}
	l.Global("dovecot_lua_notify_end_txn")
	l.Insert(-2)
	l.PushBoolean(true)
	return l.ProtectedCall(2, 0, 0)
}

func push(l *lua.State, v any) {
	switch v := v.(type) {
	case string:
		l.PushString(v)
	case float64:
		l.PushNumber(v)
	case bool:
		l.PushBoolean(v)
	case []any:
		l.CreateTable(len(v), 0)
		for i, x := range v {
			push(l, x)
			l.RawSetInt(-2, i+1)
		}
	case map[string]any:
		l.CreateTable(0, len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			push(l, v[k])
			l.SetField(-2, k)
		}
	default:
		l.PushNil()
	}
}
