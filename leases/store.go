package leases

import (
	"context"
	"errors"
	"fmt"

	"github.com/shardwise/shardwise/consumer"
)

// Store keeps leases. Every method that writes is a compare-and-set as its
// documentation says; implementations must enforce exactly these conditions
// (the in-memory store is used in tests as a stand-in for DynamoDB, so a
// test that passes on it must mean something).
//
// All methods are safe for concurrent use.
type Store interface {
	// EnsureTable creates the lease table (hash key leaseKey S, the
	// LeaseOwnerToLeaseKeyIndex GSI) if it does not exist and waits until
	// it is usable. It is idempotent and safe when many processes call it
	// at once. A table that exists with another key schema is a
	// *TableSchemaError.
	EnsureTable(ctx context.Context) error

	// Create writes l if no lease with its key exists. It reports whether
	// it created the lease; an existing lease is not changed.
	Create(ctx context.Context, l Lease) (created bool, err error)

	// Get reads one lease (strongly consistent). ErrNotFound if absent.
	Get(ctx context.Context, key string) (Lease, error)

	// List reads every lease (strongly consistent, paginated), skipping
	// items of other entity types.
	List(ctx context.Context) ([]Lease, error)

	// ListKeysByOwner lists the keys of the leases owned by owner, from the
	// owner index (eventually consistent on DynamoDB).
	ListKeysByOwner(ctx context.Context, owner string) ([]string, error)

	// Take sets the owner of the lease to newOwner, on condition that the
	// stored lease still has l.Owner (absent when l.Owner is empty) and
	// l.Counter. It increments the counter, increments
	// ownerSwitchesSinceCheckpoint when the owner changes, and removes
	// checkpointOwner. It returns the lease as stored after the write.
	// ErrConditionFailed if the lease changed; ErrNotFound if it is gone.
	Take(ctx context.Context, l Lease, newOwner string) (Lease, error)

	// Release removes the owner, on the same condition as Take, and
	// increments the counter. It returns the lease as stored after the
	// write. ErrConditionFailed if the lease changed; ErrNotFound if it is
	// gone.
	Release(ctx context.Context, l Lease) (Lease, error)

	// StartHandoff moves a live lease to newOwner gracefully: on condition
	// that the stored lease has l.Owner and l.Counter and no hand-off is
	// pending, it sets leaseOwner = newOwner and checkpointOwner = l.Owner
	// and increments the counter. It returns the lease as stored after the
	// write. ErrConditionFailed if the lease changed or a hand-off is
	// already pending; ErrNotFound if it is gone.
	StartHandoff(ctx context.Context, l Lease, newOwner string) (Lease, error)

	// CompleteHandoff removes checkpointOwner on condition that it is
	// oldOwner, and increments the counter. ErrConditionFailed otherwise;
	// ErrNotFound if the lease is gone.
	CompleteHandoff(ctx context.Context, key, oldOwner string) (Lease, error)

	// Checkpoint records pos for the lease key, fenced by ownership: the
	// write succeeds only if (leaseOwner = owner and leaseCounter = counter
	// and no hand-off is pending) or checkpointOwner = owner. It
	// increments the counter, sets ownerSwitchesSinceCheckpoint to 0,
	// removes the pending checkpoint and its state, and returns the new
	// counter. consumer.ErrLeaseLost if the condition fails or the lease is
	// gone.
	Checkpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber) (int64, error)

	// PrepareCheckpoint records a pending checkpoint and state under the
	// same fence as Checkpoint, leaving the checkpoint itself unchanged.
	PrepareCheckpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber, state []byte) (int64, error)

	// SetChildShards records the children of an ended shard under the same
	// fence as Checkpoint.
	SetChildShards(ctx context.Context, key, owner string, counter int64, children []string) (int64, error)

	// Delete removes the lease on condition that its counter is still
	// counter. ErrConditionFailed if it changed; deleting an absent lease
	// succeeds.
	Delete(ctx context.Context, key string, counter int64) error
}

var (
	// ErrNotFound reports that no lease has the key.
	ErrNotFound = errors.New("shardwise: lease not found")
	// ErrConditionFailed reports that a compare-and-set lost: the lease
	// changed since it was read.
	ErrConditionFailed = errors.New("shardwise: lease changed (condition failed)")
)

// TableSchemaError reports a table that exists with a key schema other than
// the one Shardwise needs.
type TableSchemaError struct {
	// Table is the table's name.
	Table string
	// Want is the key schema Shardwise needs, e.g. "leaseKey (HASH)".
	Want string
	// Got is the key schema the table has.
	Got string
}

// Error says which table has which key schema.
func (e *TableSchemaError) Error() string {
	return fmt.Sprintf("shardwise: table %q has key schema %s, want %s (is it another application's table?)", e.Table, e.Got, e.Want)
}
