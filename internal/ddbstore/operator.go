package ddbstore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/internal/leaseargs"
	"github.com/shardwise/shardwise/leases"
)

// This file holds what the operator's command (cmd/shardwise) needs beyond
// the Store interface: reading raw items one by one, so that one odd item
// is reported rather than failing a whole listing, and moving a checkpoint
// on an operator's behalf. The item format stays in item.go.

// DecodeLeaseItem reads one lease-table item as a lease, with the rules
// List applies; the error names the attribute that does not fit.
func DecodeLeaseItem(item map[string]types.AttributeValue) (leases.Lease, error) {
	return decodeLease(item)
}

// IsLeaseItem reports whether item is a lease rather than another KCL
// entity sharing the table (entityType absent or LEASE).
func IsLeaseItem(item map[string]types.AttributeValue) bool {
	return isLeaseItem(item)
}

// MoveCheckpoint sets the checkpoint of lease l.Key to pos for an
// operator, whoever owns it. The write is conditioned on the owner, the
// counter and the checkpoint owner of l, as read just before: any write
// in between (a checkpoint, a take, the start or end of a hand-off) makes
// it fail with leases.ErrConditionFailed (leases.ErrNotFound if the lease
// is gone), and nothing changes. It increments the counter, so a worker
// that still holds the lease finds its next checkpoint fenced, loses the
// lease and resumes from the new position once it holds it again (the
// Java KCL likewise loses a lease whose counter moved under it). It
// resets ownerSwitchesSinceCheckpoint and drops a prepared checkpoint,
// as a checkpoint does.
func (s *DynamoStore) MoveCheckpoint(ctx context.Context, l leases.Lease, pos consumer.ExtendedSequenceNumber) (leases.Lease, error) {
	const op = "move checkpoint"
	if l.Key == "" {
		return leases.Lease{}, leaseargs.Error(op, "", "lease key is empty")
	}
	if err := leaseargs.Position(pos); err != nil {
		return leases.Lease{}, err
	}
	e := newExpr()
	cond := e.isLease() + " AND " + e.ownerIs(l.Owner) + " AND " + e.counterIs(l.Counter) + " AND " + e.checkpointOwnerIs(l.CheckpointOwner)
	set := []string{
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrCheckpoint), e.v(avS(pos.SequenceNumber))),
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrCheckpointSubSequenceNumber), e.v(avN(pos.SubSequenceNumber))),
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrOwnerSwitchesSinceCheckpoint), e.v(avN(0))),
		fmt.Sprintf("%s = %s", e.n(kclschema.AttrLeaseCounter), e.v(avN(l.Counter+1))),
	}
	remove := []string{
		e.n(kclschema.AttrPendingCheckpoint),
		e.n(kclschema.AttrPendingCheckpointSubSequenceNumber),
		e.n(kclschema.AttrPendingCheckpointState),
	}
	return s.ownershipWrite(ctx, op, l.Key, e, set, remove, cond)
}

// checkpointOwnerIs compares checkpointOwner; absent when no hand-off is
// pending.
func (e *expr) checkpointOwnerIs(owner string) string {
	if owner == "" {
		return fmt.Sprintf("attribute_not_exists(%s)", e.n(kclschema.AttrCheckpointOwner))
	}
	return fmt.Sprintf("%s = %s", e.n(kclschema.AttrCheckpointOwner), e.v(avS(owner)))
}
