package stdlib

import (
	"github.com/pushlua/pushlua/internal/luax"
)

// benchEnv is the host of BenchmarkLib: a budget that never trips, as the
// runtime sets one on every state. (In a tree without the budget this
// file is replaced by one returning &luax.StaticHost{}.)
func benchEnv() *luax.StaticHost {
	return &luax.StaticHost{Budget: &luax.MemBudget{Limit: 1 << 40}, CheckFunc: func() error { return nil }}
}

// benchReset starts a new call, as the runtime's arm does.
func benchReset(env *luax.StaticHost) { env.Budget.Reset() }
