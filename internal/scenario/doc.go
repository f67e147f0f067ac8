// Package scenario runs several Shardwise workers in one process on the
// in-memory Kinesis fake and in-memory stores, for scenario tests and the
// bench command: workers are started, stopped, crashed, partitioned from
// the stores and overloaded, while a journal records every delivery, so
// that the invariants (no record lost, per-key order, no two workers on one
// shard at once, checkpoints never going backwards) can be checked and the
// timings measured.
//
// It is test support: it imports the public packages, and nothing in the
// library imports it.
package scenario
