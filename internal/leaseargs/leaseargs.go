// Package leaseargs holds the argument checks every lease store makes (the
// in-memory store in package leases and the DynamoDB store in
// internal/ddbstore), so both refuse exactly the same calls with the same
// errors, and the operation names those errors and the in-memory store's
// fault injection use.
//
// It knows nothing of leases.Lease (package leases imports it); callers
// pass the fields a check needs.
package leaseargs

import (
	"fmt"
	"math"
	"slices"

	"github.com/shardwise/shardwise/consumer"
)

// Operation names: the leases.Store method names.
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

// Ops lists every operation name.
var Ops = []string{
	OpEnsureTable, OpCreate, OpGet, OpList, OpListKeysByOwner, OpTake,
	OpRelease, OpStartHandoff, OpCompleteHandoff, OpCheckpoint,
	OpPrepareCheckpoint, OpSetChildShards, OpDelete,
}

// ShardIDs returns ids in the one form both stores keep: sorted, without
// duplicates or empty ids, and nil when empty (a DynamoDB string set can be
// neither empty nor hold duplicates, and comes back in no particular
// order).
func ShardIDs(ids []string) []string {
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

// NewLease checks the fields of a lease given to Create that a store could
// refuse. Both stores reject the same leases, so a test that passes on the
// in-memory store does not hide an item DynamoDB would refuse.
func NewLease(key string, counter, ownerSwitches int64, throughputKBps float64, checkpoint, pending consumer.ExtendedSequenceNumber) error {
	switch {
	case key == "":
		return Error(OpCreate, "", "lease key is empty")
	case counter < 0:
		return Error(OpCreate, key, "negative leaseCounter %d", counter)
	case ownerSwitches < 0:
		return Error(OpCreate, key, "negative ownerSwitchesSinceCheckpoint %d", ownerSwitches)
	case math.IsNaN(throughputKBps) || math.IsInf(throughputKBps, 0) || throughputKBps < 0:
		return Error(OpCreate, key, "throughputKBps %v is not a finite non-negative number", throughputKBps)
	}
	if !checkpoint.IsZero() {
		if err := checkpoint.Validate(); err != nil {
			return Error(OpCreate, key, "checkpoint: %v", err)
		}
	}
	if !pending.IsZero() {
		if err := pending.Validate(); err != nil {
			return Error(OpCreate, key, "pending checkpoint: %v", err)
		}
	}
	return nil
}

// Position checks a position handed to Checkpoint or PrepareCheckpoint. It
// is a CheckpointError (errors.Is consumer.ErrInvalidCheckpoint), not a
// lease loss: nothing was written.
func Position(pos consumer.ExtendedSequenceNumber) error {
	if err := pos.Validate(); err != nil {
		return &consumer.CheckpointError{Requested: pos, Reason: err.Error()}
	}
	return nil
}

// Fenced checks the arguments shared by the ownership-fenced writes.
func Fenced(op, key, owner string) error {
	switch {
	case key == "":
		return Error(op, "", "lease key is empty")
	case owner == "":
		return Error(op, key, "owner is empty")
	}
	return nil
}

// Transfer checks the arguments of Take and StartHandoff: the lease's key
// and owner as read, and the new owner.
func Transfer(op, key, owner, newOwner string) error {
	switch {
	case key == "":
		return Error(op, "", "lease key is empty")
	case newOwner == "":
		return Error(op, key, "new owner is empty (use Release to unassign a lease)")
	}
	if op == OpStartHandoff {
		switch {
		case owner == "":
			return Error(op, key, "lease has no owner to hand off from (use Take)")
		case owner == newOwner:
			return Error(op, key, "lease is already owned by %q", newOwner)
		}
	}
	return nil
}

// Error reports an invalid argument of op on the lease key (which may be
// empty).
func Error(op, key, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if key == "" {
		return fmt.Errorf("shardwise: leases: %s: invalid argument: %s", op, msg)
	}
	return fmt.Errorf("shardwise: leases: %s %q: invalid argument: %s", op, key, msg)
}
