// Package checkpoint implements consumer.Checkpointer for one shard lease:
// it enforces the checkpoint rules (never below the last checkpoint, never
// past what was delivered, SHARD_END only after the shard ended), fences
// every write by lease ownership through the lease store, and tells its
// owner when a write proves the lease was lost.
//
// It does not fetch records or decide when to checkpoint; the processor
// does that.
package checkpoint
