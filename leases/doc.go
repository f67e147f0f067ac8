// Package leases owns the lease model in the Java KCL v3 lease-table format
// and the Store that keeps leases: a DynamoDB implementation and an
// in-memory one with the same conditional-write semantics.
//
// Every write that changes or proves ownership is a compare-and-set on the
// lease's owner and counter, so two writers that disagree about who owns a
// lease can never both succeed. Checkpoint writes are fenced the same way
// and fail with consumer.ErrLeaseLost when the writer no longer holds the
// lease.
//
// This package does not decide who should own what (that is the balancer's
// job) and does not talk to Kinesis.
package leases
