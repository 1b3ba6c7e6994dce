// Package txn owns pushlua's transaction format: the JSON object (one per
// line in JSON Lines inputs) that describes one push-notification
// transaction, its strict validation, and the Go types the engine runs.
// docs/transactions.md documents the format for users.
package txn
