package leases

import (
	"fmt"
	"math"
	"slices"

	"github.com/shardwise/shardwise/consumer"
)

// Operation names, as used in errors and by MemoryStore.InjectError and
// its counters. They are the Store method names.
const (
	OpEnsureTable       = "EnsureTable"
	OpCreate            = "Create"
	OpGet               = "Get"
	OpList              = "List"
	OpListKeysByOwner   = "ListKeysByOwner"
	OpTake              = "Take"
	OpRelease           = "Release"
	OpStartHandoff      = "StartHandoff"
	OpCompleteHandoff   = "CompleteHandoff"
	OpCheckpoint        = "Checkpoint"
	OpPrepareCheckpoint = "PrepareCheckpoint"
	OpSetChildShards    = "SetChildShards"
	OpDelete            = "Delete"
)

// normalizeLease returns a deep copy of l in the one form both stores keep,
// so that the in-memory store hands back exactly what a DynamoDB round trip
// would: shard-id sets sorted, without duplicates or empty ids, and nil
// when empty (a DynamoDB string set can be neither empty nor hold
// duplicates, and comes back in no particular order); pending state only
// alongside a pending checkpoint, and nil when empty.
func normalizeLease(l Lease) Lease {
	l = l.Clone()
	l.ParentShardIDs = normalizeShardIDs(l.ParentShardIDs)
	l.ChildShardIDs = normalizeShardIDs(l.ChildShardIDs)
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

func normalizeShardIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// validateNewLease checks a lease given to Create. Both stores reject the
// same leases, so a test that passes on the in-memory store does not hide
// an item DynamoDB would refuse.
func validateNewLease(l Lease) error {
	switch {
	case l.Key == "":
		return argError(OpCreate, "", "lease key is empty")
	case l.Counter < 0:
		return argError(OpCreate, l.Key, "negative leaseCounter %d", l.Counter)
	case l.OwnerSwitchesSinceCheckpoint < 0:
		return argError(OpCreate, l.Key, "negative ownerSwitchesSinceCheckpoint %d", l.OwnerSwitchesSinceCheckpoint)
	case math.IsNaN(l.ThroughputKBps) || math.IsInf(l.ThroughputKBps, 0) || l.ThroughputKBps < 0:
		return argError(OpCreate, l.Key, "throughputKBps %v is not a finite non-negative number", l.ThroughputKBps)
	}
	if !l.Checkpoint.IsZero() {
		if err := l.Checkpoint.Validate(); err != nil {
			return argError(OpCreate, l.Key, "checkpoint: %v", err)
		}
	}
	if !l.PendingCheckpoint.IsZero() {
		if err := l.PendingCheckpoint.Validate(); err != nil {
			return argError(OpCreate, l.Key, "pending checkpoint: %v", err)
		}
	}
	return nil
}

// validatePosition checks a position handed to Checkpoint or
// PrepareCheckpoint. It is a CheckpointError (errors.Is
// consumer.ErrInvalidCheckpoint), not a lease loss: nothing was written.
func validatePosition(pos consumer.ExtendedSequenceNumber) error {
	if err := pos.Validate(); err != nil {
		return &consumer.CheckpointError{Requested: pos, Reason: err.Error()}
	}
	return nil
}

// validateFenced checks the arguments shared by the ownership-fenced
// writes.
func validateFenced(op, key, owner string) error {
	switch {
	case key == "":
		return argError(op, "", "lease key is empty")
	case owner == "":
		return argError(op, key, "owner is empty")
	}
	return nil
}

func validateTransfer(op string, l Lease, newOwner string) error {
	switch {
	case l.Key == "":
		return argError(op, "", "lease key is empty")
	case newOwner == "":
		return argError(op, l.Key, "new owner is empty (use Release to unassign a lease)")
	}
	if op == OpStartHandoff {
		switch {
		case l.Owner == "":
			return argError(op, l.Key, "lease has no owner to hand off from (use Take)")
		case l.Owner == newOwner:
			return argError(op, l.Key, "lease is already owned by %q", newOwner)
		}
	}
	return nil
}

func argError(op, key, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if key == "" {
		return fmt.Errorf("shardwise/leases: %s: invalid argument: %s", op, msg)
	}
	return fmt.Errorf("shardwise/leases: %s %q: invalid argument: %s", op, key, msg)
}

func conditionFailed(op, key string) error {
	return fmt.Errorf("%s %q: %w", op, key, ErrConditionFailed)
}

func notFound(op, key string) error {
	return fmt.Errorf("%s %q: %w", op, key, ErrNotFound)
}

func leaseLost(op, key string) error {
	return fmt.Errorf("%s %q: %w", op, key, consumer.ErrLeaseLost)
}
