package stdlib

// benchEnv is the Env of BenchmarkLib: a budget that never trips, as the
// runtime sets one on every state. (In a tree without the budget this
// file is replaced by one returning &Env{}.)
func benchEnv() *Env {
	return &Env{Mem: &MemBudget{Limit: 1 << 40}, Check: func() error { return nil }}
}

// benchReset starts a new call, as the runtime's arm does.
func benchReset(env *Env) { env.Mem.Reset() }
