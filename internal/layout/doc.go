// Package layout holds no code: its test keeps the dependency direction of
// CONVENTIONS.md true (bindings and stdlib never import the runtime or each
// other; stdlib/pattern never imports the VM; only cmd/pushlua is a main).
package layout
