package ddbstore

import (
	"fmt"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/leaseargs"
	"github.com/shardwise/shardwise/leases"
)

func conditionFailed(op, key string) error {
	return fmt.Errorf("shardwise: %s %q: %w", op, key, leases.ErrConditionFailed)
}

func notFound(op, key string) error {
	return fmt.Errorf("shardwise: %s %q: %w", op, key, leases.ErrNotFound)
}

func leaseLost(op, key string) error {
	return fmt.Errorf("shardwise: %s %q: %w", op, key, consumer.ErrLeaseLost)
}

func validateNewLease(l leases.Lease) error {
	return leaseargs.NewLease(l.Key, l.Counter, l.OwnerSwitchesSinceCheckpoint, l.ThroughputKBps, l.Checkpoint, l.PendingCheckpoint)
}

// normalizeLease is leases' normalization, for the item a Create writes
// (see leaseItem): shard-id sets as DynamoDB keeps them.
func normalizeLease(l leases.Lease) leases.Lease {
	l = l.Clone()
	l.ParentShardIDs = leaseargs.ShardIDs(l.ParentShardIDs)
	l.ChildShardIDs = leaseargs.ShardIDs(l.ChildShardIDs)
	return l
}
