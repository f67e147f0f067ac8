// Package leases owns the lease model in the Java KCL v3 lease-table format
// and the interfaces of the three tables a Shardwise application keeps:
// leases (Store), worker sessions and load (WorkerStore) and the leader item
// (CoordinatorStore), with in-memory implementations that enforce the same
// compare-and-set semantics as the DynamoDB ones the scheduler uses. Use it
// to run the scheduler on a store of your own, or on in-memory tables in
// tests (scheduler.Config.Stores, leases.NewMemoryStores).
//
// Every write that changes or proves ownership is a compare-and-set on the
// lease's owner and counter, so two writers that disagree about who owns a
// lease can never both succeed. Checkpoint writes are fenced the same way
// and fail with consumer.ErrLeaseLost when the writer no longer holds the
// lease.
//
// This package does not decide who should own what (the scheduler's
// leader does, with package balancer's planner) and does not talk to
// Kinesis or DynamoDB.
//
// # DynamoDB tables
//
// The lease table (named after the application unless configured) uses
// the Java KCL v3's attribute names and types, so a team moving from the
// Java KCL keeps its checkpoints. Hash key leaseKey (S); global secondary
// index LeaseOwnerToLeaseKeyIndex (hash leaseOwner, range leaseKey, keys
// only). Items whose entityType is present and not "LEASE" (other KCL 3.5
// entities) are skipped and never rewritten.
//
//	attribute                           type  Lease field
//	leaseKey                            S     Key
//	leaseOwner                          S     Owner
//	leaseCounter                        N     Counter
//	checkpoint                          S     Checkpoint.SequenceNumber
//	checkpointSubSequenceNumber         N     Checkpoint.SubSequenceNumber
//	pendingCheckpoint                   S     PendingCheckpoint.SequenceNumber
//	pendingCheckpointSubSequenceNumber  N     PendingCheckpoint.SubSequenceNumber
//	pendingCheckpointState              B     PendingCheckpointState
//	ownerSwitchesSinceCheckpoint        N     OwnerSwitchesSinceCheckpoint
//	parentShardId                       SS    ParentShardIDs
//	childShardIds                       SS    ChildShardIDs
//	startingHashKey                     S     StartingHashKey
//	endingHashKey                       S     EndingHashKey
//	throughputKBps                      N     ThroughputKBps
//	checkpointOwner                     S     CheckpointOwner
//	entityType                          S     (absent or "LEASE")
//	streamName                          S     (multi-stream: derived from Key)
//	shardId                             S     (multi-stream: derived from Key)
//
// In a multi-stream application (the Java KCL's multi-stream mode) Key is
// "<account>:<stream>:<creationEpoch>:<shardId>", and a DynamoDB store
// writes streamName (the "<account>:<stream>:<creationEpoch>" prefix, as
// Java does) and shardId with every lease it creates; parentShardId and
// childShardIds hold bare shard ids.
//
// The worker-metrics table (<app>-WorkerMetricStats, hash key wid) holds a
// WorkerRecord per worker: wid (S, ID), lut (N, epoch seconds,
// LastUpdate), sts (M of L of N, Stats) and opr (M of L of N,
// OperatingRange) as the Java KCL names them, with metric short names "C"
// (CPU percent) and "T" (throughput); and Shardwise's sid (S, SessionID),
// hb (N, Heartbeat), ltp (M of N, LeaseThroughput), llg (M of N,
// LeaseLag, milliseconds) and drn (BOOL, Draining).
//
// A row counts as a worker only with sid and hb: rows in another format (a
// Java KCL worker's) are skipped, never counted, rewritten or deleted.
//
// The coordinator-state table (<app>-CoordinatorState, hash key key) holds
// the LeaderRecord in the item whose key is "ShardwiseLeader": leader (S),
// sid (S, SessionID) and epoch (N). The Java KCL's items in the same table
// ("Leader", its lock; "Migration3.0") are never read as Shardwise's or
// written.
package leases
