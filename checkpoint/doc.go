// Package checkpoint holds what a user needs about checkpoints outside a
// running scheduler: the checkpoint rules every Shardwise
// consumer.Checkpointer enforces (Check), and Fake, a consumer.Checkpointer
// for unit tests that enforces the same rules, two-phase PrepareCheckpoint
// included, and records what was checkpointed.
//
// The checkpointer the scheduler gives a processor, which writes to the
// lease table fenced by lease ownership, is not constructed by users and
// lives inside the module. To drive a processor through its whole
// lifecycle with a Fake, use package consumertest.
package checkpoint
