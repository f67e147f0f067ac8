package leases

import (
	"slices"

	"github.com/shardwise/shardwise/consumer"
)

// Lease is one item of the lease table, in the Java KCL v3 format (see the
// attribute table in the package documentation).
type Lease struct {
	// Key is the lease key: the shard id for a single-stream application,
	// "<account>:<stream>:<creationEpoch>:<shardId>" for a multi-stream one.
	Key string
	// Owner is the worker id holding the lease; empty when unassigned.
	Owner string
	// Counter is incremented by every write that changes or proves
	// ownership and by every checkpoint; compare-and-set writes are
	// conditioned on it.
	Counter int64
	// Checkpoint is the last recorded position (a sequence number or a
	// sentinel).
	Checkpoint consumer.ExtendedSequenceNumber
	// PendingCheckpoint is a prepared checkpoint, or the zero value.
	PendingCheckpoint consumer.ExtendedSequenceNumber
	// PendingCheckpointState is application state saved with it.
	PendingCheckpointState []byte
	// OwnerSwitchesSinceCheckpoint counts ownership changes since the last
	// checkpoint.
	OwnerSwitchesSinceCheckpoint int64
	// ParentShardIDs are the shard's parents (one after a split, two after
	// a merge).
	ParentShardIDs []string
	// ChildShardIDs are filled in when the shard ends.
	ChildShardIDs []string
	// StartingHashKey is the low end of the shard's hash range, a decimal
	// 128-bit integer.
	StartingHashKey string
	// EndingHashKey is the high end (inclusive) of the shard's hash range.
	EndingHashKey string
	// ThroughputKBps is the recent throughput delivered from this lease.
	ThroughputKBps float64
	// CheckpointOwner is set only while a graceful hand-off is pending: the
	// previous owner, which may still checkpoint until it completes the
	// hand-off.
	CheckpointOwner string
}

// Clone returns a deep copy of l.
func (l Lease) Clone() Lease {
	l.PendingCheckpointState = slices.Clone(l.PendingCheckpointState)
	l.ParentShardIDs = slices.Clone(l.ParentShardIDs)
	l.ChildShardIDs = slices.Clone(l.ChildShardIDs)
	return l
}

// IsFinished reports whether the lease's shard has been processed to its
// end.
func (l *Lease) IsFinished() bool { return l.Checkpoint.IsShardEnd() }

// HandoffPending reports whether a graceful hand-off is under way.
func (l *Lease) HandoffPending() bool { return l.CheckpointOwner != "" }
