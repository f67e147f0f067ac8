// Package checkpointer is the scheduler's consumer.Checkpointer for one
// shard lease: it enforces the checkpoint rules (checkpoint.Check), fences
// every write by lease ownership through the lease store, and tells its
// owner when a write proves the lease was lost. Only the scheduler
// constructs one; users test with checkpoint.Fake, which enforces the same
// rules.
//
// It does not fetch records or decide when to checkpoint; the processor
// does that.
package checkpointer

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/shardwise/shardwise/checkpoint"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// Config describes the lease a Checkpointer writes to.
type Config struct {
	// Store is the lease store (required).
	Store leases.Store
	// LeaseKey and Owner identify the lease and this worker (required).
	LeaseKey string
	Owner    string
	// Counter is the lease counter this worker holds the lease at.
	Counter int64
	// Last is the lease's checkpoint when processing started.
	Last consumer.ExtendedSequenceNumber
	// Fence, if set, is called before every write; a non-nil error (the
	// worker is past its self-fencing deadline) fails the checkpoint with
	// that error and nothing is written.
	Fence func() error
	// OnLeaseLost, if set, is called once when a write fails because the
	// lease is no longer this worker's.
	OnLeaseLost func(error)
}

// Checkpointer is the consumer.Checkpointer of one shard lease. Its methods
// are safe for concurrent use; writes are serialized so that the counter
// each write is conditioned on is the one the previous write produced.
type Checkpointer struct {
	store       leases.Store
	key, owner  string
	fence       func() error
	onLeaseLost func(error)

	// lastSnap holds a copy of last, written with it, for readers that
	// must not wait for a write in flight (the fetcher's lag figures,
	// Stats): mu is held across a store call.
	lastSnap atomic.Pointer[consumer.ExtendedSequenceNumber]

	mu         sync.Mutex // guards the fields below and serializes writes
	counter    int64
	last       consumer.ExtendedSequenceNumber
	largest    consumer.ExtendedSequenceNumber
	shardEnded bool
	closed     bool
	lostErr    error
}

var _ consumer.Checkpointer = (*Checkpointer)(nil)

// New returns a Checkpointer for the lease described by cfg.
func New(cfg Config) (*Checkpointer, error) {
	switch {
	case cfg.Store == nil:
		return nil, &consumer.ConfigError{Field: "Store", Reason: "is nil"}
	case cfg.LeaseKey == "":
		return nil, &consumer.ConfigError{Field: "LeaseKey", Reason: "is empty"}
	case cfg.Owner == "":
		return nil, &consumer.ConfigError{Field: "Owner", Reason: "is empty"}
	}
	c := &Checkpointer{
		store:       cfg.Store,
		key:         cfg.LeaseKey,
		owner:       cfg.Owner,
		fence:       cfg.Fence,
		onLeaseLost: cfg.OnLeaseLost,
		counter:     cfg.Counter,
		last:        cfg.Last,
	}
	last := cfg.Last
	c.lastSnap.Store(&last)
	return c, nil
}

// Delivered records that every position up to and including pos has been
// handed to the processor, so the processor may checkpoint up to it.
func (c *Checkpointer) Delivered(pos consumer.ExtendedSequenceNumber) {
	c.mu.Lock()
	if consumer.Compare(pos, c.largest) > 0 {
		c.largest = pos
	}
	c.mu.Unlock()
}

// Rewind lowers the largest delivered position back to pos after a batch
// the processor did not handle (it returned an error and will not be
// offered the batch again here), so that Checkpoint() cannot record
// records that were never processed. Explicit checkpoints written while
// the batch was in hand stand.
func (c *Checkpointer) Rewind(pos consumer.ExtendedSequenceNumber) {
	c.mu.Lock()
	if consumer.Compare(pos, c.largest) < 0 {
		c.largest = pos
	}
	c.mu.Unlock()
}

// ShardEnded allows a SHARD_END checkpoint: every record of the closed
// shard has been delivered.
func (c *Checkpointer) ShardEnded() {
	c.mu.Lock()
	c.shardEnded = true
	c.mu.Unlock()
}

// Close makes every later call fail with consumer.ErrShutdown.
func (c *Checkpointer) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

// Counter is the lease counter after the last successful write.
func (c *Checkpointer) Counter() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counter
}

// Lost reports the error that proved the lease lost, or nil.
func (c *Checkpointer) Lost() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lostErr
}

// LastCheckpoint implements consumer.Checkpointer. It does not wait for a
// checkpoint write in flight: it returns the last one that succeeded.
func (c *Checkpointer) LastCheckpoint() consumer.ExtendedSequenceNumber {
	if p := c.lastSnap.Load(); p != nil {
		return *p
	}
	return consumer.ExtendedSequenceNumber{}
}

// LargestDelivered implements consumer.Checkpointer.
func (c *Checkpointer) LargestDelivered() consumer.ExtendedSequenceNumber {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shardEnded {
		return consumer.ShardEnd
	}
	return c.largest
}

// Checkpoint implements consumer.Checkpointer: it records everything
// delivered, or SHARD_END once the shard has ended.
func (c *Checkpointer) Checkpoint(ctx context.Context) error {
	c.mu.Lock()
	pos := c.largest
	if c.shardEnded {
		pos = consumer.ShardEnd
	}
	c.mu.Unlock()
	c.mu.Lock()
	closed, lost := c.closed, c.lostErr
	nothingNew := pos.IsZero() || consumer.Compare(pos, c.last) <= 0
	c.mu.Unlock()
	switch {
	case closed:
		return consumer.ErrShutdown
	case lost != nil:
		return lost
	}
	if nothingNew {
		// Nothing delivered beyond the last checkpoint: nothing to record.
		return nil
	}
	return c.CheckpointAt(ctx, pos)
}

// CheckpointRecord implements consumer.Checkpointer.
func (c *Checkpointer) CheckpointRecord(ctx context.Context, r *consumer.Record) error {
	if r == nil {
		return &consumer.CheckpointError{Reason: "nil record"}
	}
	return c.CheckpointAt(ctx, r.Position())
}

// CheckpointAt implements consumer.Checkpointer.
func (c *Checkpointer) CheckpointAt(ctx context.Context, pos consumer.ExtendedSequenceNumber) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(pos); err != nil {
		return err
	}
	if consumer.Compare(pos, c.last) == 0 {
		return nil
	}
	if err := c.preWrite(); err != nil {
		return err
	}
	n, err := c.store.Checkpoint(ctx, c.key, c.owner, c.counter, pos)
	if err != nil {
		return c.writeFailed(err)
	}
	c.counter = n
	c.last = pos
	c.lastSnap.Store(&pos)
	return nil
}

// PrepareCheckpoint implements consumer.Checkpointer.
func (c *Checkpointer) PrepareCheckpoint(ctx context.Context, pos consumer.ExtendedSequenceNumber, state []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(pos); err != nil {
		return err
	}
	if err := c.preWrite(); err != nil {
		return err
	}
	n, err := c.store.PrepareCheckpoint(ctx, c.key, c.owner, c.counter, pos, state)
	if err != nil {
		return c.writeFailed(err)
	}
	c.counter = n
	return nil
}

// RecordChildShards records the children of the ended shard on its lease,
// under the same ownership fence as a checkpoint.
func (c *Checkpointer) RecordChildShards(ctx context.Context, children []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return consumer.ErrShutdown
	}
	if c.lostErr != nil {
		return c.lostErr
	}
	if err := c.preWrite(); err != nil {
		return err
	}
	n, err := c.store.SetChildShards(ctx, c.key, c.owner, c.counter, children)
	if err != nil {
		return c.writeFailed(err)
	}
	c.counter = n
	return nil
}

// check applies the checkpoint rules (checkpoint.Check) to a request.
// Called with c.mu held.
func (c *Checkpointer) check(pos consumer.ExtendedSequenceNumber) error {
	if c.closed {
		return consumer.ErrShutdown
	}
	if c.lostErr != nil {
		return c.lostErr
	}
	largest := c.largest
	if c.shardEnded {
		largest = consumer.ShardEnd
	}
	return checkpoint.Check(pos, c.last, largest)
}

func (c *Checkpointer) preWrite() error {
	if c.fence == nil {
		return nil
	}
	if err := c.fence(); err != nil {
		c.markLost(err)
		return err
	}
	return nil
}

func (c *Checkpointer) writeFailed(err error) error {
	if errors.Is(err, consumer.ErrLeaseLost) {
		c.markLost(err)
	}
	return &writeError{key: c.key, err: err}
}

// writeError is a failed checkpoint write: the store's error with the
// lease key as context, and the "shardwise: " prefix once.
type writeError struct {
	key string
	err error
}

func (e *writeError) Error() string {
	return "shardwise: checkpoint " + e.key + ": " + strings.TrimPrefix(e.err.Error(), "shardwise: ")
}

func (e *writeError) Unwrap() error { return e.err }

// markLost records the loss and tells the owner once. Called with c.mu held;
// the callback must not call back into the Checkpointer.
func (c *Checkpointer) markLost(err error) {
	if c.lostErr != nil {
		return
	}
	c.lostErr = err
	if c.onLeaseLost != nil {
		c.onLeaseLost(err)
	}
}
