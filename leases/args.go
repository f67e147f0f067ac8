package leases

import (
	"fmt"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/leaseargs"
)

// normalizeLease returns a deep copy of l in the one form both stores keep,
// so that the in-memory store hands back exactly what a DynamoDB round trip
// would: shard-id sets as leaseargs.ShardIDs keeps them; pending state
// only alongside a pending checkpoint, and nil when empty.
func normalizeLease(l Lease) Lease {
	l = l.Clone()
	l.ParentShardIDs = leaseargs.ShardIDs(l.ParentShardIDs)
	l.ChildShardIDs = leaseargs.ShardIDs(l.ChildShardIDs)
	if l.PendingCheckpoint.IsZero() || len(l.PendingCheckpointState) == 0 {
		l.PendingCheckpointState = nil
	}
	if l.Checkpoint.IsZero() {
		l.Checkpoint.SubSequenceNumber = 0
	}
	if l.PendingCheckpoint.IsZero() {
		l.PendingCheckpoint.SubSequenceNumber = 0
	}
	return l
}

func validateNewLease(l Lease) error {
	return leaseargs.NewLease(l.Key, l.Counter, l.OwnerSwitchesSinceCheckpoint, l.ThroughputKBps, l.Checkpoint, l.PendingCheckpoint)
}

func conditionFailed(op, key string) error {
	return fmt.Errorf("shardwise: %s %q: %w", op, key, ErrConditionFailed)
}

func notFound(op, key string) error {
	return fmt.Errorf("shardwise: %s %q: %w", op, key, ErrNotFound)
}

func leaseLost(op, key string) error {
	return fmt.Errorf("shardwise: %s %q: %w", op, key, consumer.ErrLeaseLost)
}
