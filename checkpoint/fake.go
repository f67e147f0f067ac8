package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/shardwise/shardwise/consumer"
)

// Fake is a consumer.Checkpointer for tests. It enforces the same rules as
// the scheduler's checkpointer (see Check), keeps a prepared checkpoint as
// the lease table does (any later checkpoint clears it), and records every
// checkpoint written. The test plays the scheduler's part: it reports what
// it delivered (Delivered, ShardEnded) and can make writes fail
// (InjectError, LoseLease).
//
// All methods are safe for concurrent use; calls are serialized, as the
// scheduler's are. The zero value is not usable; call NewFake.
type Fake struct {
	mu           sync.Mutex // guards everything below
	last         consumer.ExtendedSequenceNumber
	largest      consumer.ExtendedSequenceNumber
	pending      consumer.ExtendedSequenceNumber
	pendingState []byte
	shardEnded   bool
	closed       bool
	lost         error // set once a write failed with consumer.ErrLeaseLost
	failures     []error
	history      []consumer.ExtendedSequenceNumber
}

var _ consumer.Checkpointer = (*Fake)(nil)

// FakeConfig is the lease a Fake starts from.
type FakeConfig struct {
	// Checkpoint is the lease's checkpoint: a sequence number or a
	// starting sentinel. Default: consumer.TrimHorizon.
	Checkpoint consumer.ExtendedSequenceNumber
	// PendingCheckpoint is a prepared checkpoint an earlier owner left.
	// Default: none.
	PendingCheckpoint consumer.ExtendedSequenceNumber
	// PendingCheckpointState is the application state saved with
	// PendingCheckpoint. Default: none.
	PendingCheckpointState []byte
}

// Validate reports an invalid field as a *consumer.ConfigError.
func (c FakeConfig) Validate() error {
	if !c.Checkpoint.IsZero() {
		if err := c.Checkpoint.Validate(); err != nil {
			return &consumer.ConfigError{Field: "Checkpoint", Reason: err.Error()}
		}
	}
	if !c.PendingCheckpoint.IsZero() {
		if err := c.PendingCheckpoint.Validate(); err != nil {
			return &consumer.ConfigError{Field: "PendingCheckpoint", Reason: err.Error()}
		}
	}
	if c.PendingCheckpoint.IsZero() && len(c.PendingCheckpointState) > 0 {
		return &consumer.ConfigError{Field: "PendingCheckpointState", Reason: "is set without a PendingCheckpoint"}
	}
	return nil
}

// withDefaults is the one place FakeConfig's defaults are applied.
func (c FakeConfig) withDefaults() FakeConfig {
	if c.Checkpoint.IsZero() {
		c.Checkpoint = consumer.TrimHorizon
	}
	c.PendingCheckpointState = slices.Clone(c.PendingCheckpointState)
	return c
}

// NewFake returns a Fake for a lease in the state cfg describes, with
// nothing delivered yet, or a *consumer.ConfigError.
func NewFake(cfg FakeConfig) (*Fake, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Fake{last: cfg.Checkpoint, pending: cfg.PendingCheckpoint, pendingState: cfg.PendingCheckpointState}, nil
}

// Delivered records that every position up to and including pos was handed
// to the processor, so it may checkpoint up to pos. The scheduler calls it
// with a batch's last record before ProcessRecords.
func (f *Fake) Delivered(pos consumer.ExtendedSequenceNumber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if consumer.Compare(pos, f.largest) > 0 {
		f.largest = pos
	}
}

// Rewind lowers the largest delivered position back to pos, as the
// scheduler does after a batch the processor gave up on (it returned an
// error while the shard was stopping), so that Checkpoint cannot record
// records that were never processed. Checkpoints already written stand.
func (f *Fake) Rewind(pos consumer.ExtendedSequenceNumber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if consumer.Compare(pos, f.largest) < 0 {
		f.largest = pos
	}
}

// ShardEnded records that the shard ended and every record was delivered:
// from now on SHARD_END may be checkpointed, and Checkpoint records it.
// The scheduler calls it before Processor.ShardEnded.
func (f *Fake) ShardEnded() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shardEnded = true
}

// Close makes every later call fail with consumer.ErrShutdown, as the
// scheduler's checkpointer does once the shard's processing ended.
func (f *Fake) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}

// InjectError makes the next `times` writes (checkpoints and prepared
// checkpoints that pass the rules and are not no-ops) fail with err and
// change nothing. An error that matches consumer.ErrLeaseLost also makes
// every later call fail with it, as the real checkpointer does once a
// write proved the lease lost. times <= 0 or a nil err does nothing.
func (f *Fake) InjectError(err error, times int) {
	if err == nil || times <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for range times {
		f.failures = append(f.failures, err)
	}
}

// LoseLease makes every later call fail with consumer.ErrLeaseLost, as
// when another worker took the lease.
func (f *Fake) LoseLease() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost == nil {
		f.lost = consumer.ErrLeaseLost
	}
}

// Lost returns the error that proved the lease lost (LoseLease, or an
// injected error matching consumer.ErrLeaseLost that a write hit), or nil.
func (f *Fake) Lost() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lost
}

// Checkpoints returns every checkpoint written, in order (not the
// prepared ones, nor requests equal to the last checkpoint, which write
// nothing).
func (f *Fake) Checkpoints() []consumer.ExtendedSequenceNumber {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.history)
}

// Pending returns the prepared checkpoint and its state, or the zero
// value and nil when there is none.
func (f *Fake) Pending() (consumer.ExtendedSequenceNumber, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending, slices.Clone(f.pendingState)
}

// LastCheckpoint implements consumer.Checkpointer.
func (f *Fake) LastCheckpoint() consumer.ExtendedSequenceNumber {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// LargestDelivered implements consumer.Checkpointer: consumer.ShardEnd
// after ShardEnded.
func (f *Fake) LargestDelivered() consumer.ExtendedSequenceNumber {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.largestLocked()
}

func (f *Fake) largestLocked() consumer.ExtendedSequenceNumber {
	if f.shardEnded {
		return consumer.ShardEnd
	}
	return f.largest
}

// Checkpoint implements consumer.Checkpointer: it records everything
// delivered, or SHARD_END after ShardEnded. With nothing delivered beyond
// the last checkpoint it writes nothing and returns nil.
func (f *Fake) Checkpoint(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.usableLocked(); err != nil {
		return err
	}
	pos := f.largestLocked()
	if pos.IsZero() || consumer.Compare(pos, f.last) <= 0 {
		return nil
	}
	return f.checkpointLocked(ctx, pos)
}

// CheckpointRecord implements consumer.Checkpointer.
func (f *Fake) CheckpointRecord(ctx context.Context, r *consumer.Record) error {
	if r == nil {
		return &consumer.CheckpointError{Reason: "nil record"}
	}
	return f.CheckpointAt(ctx, r.Position())
}

// CheckpointAt implements consumer.Checkpointer.
func (f *Fake) CheckpointAt(ctx context.Context, pos consumer.ExtendedSequenceNumber) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.usableLocked(); err != nil {
		return err
	}
	return f.checkpointLocked(ctx, pos)
}

// PrepareCheckpoint implements consumer.Checkpointer: it keeps pos and a
// copy of state as the pending checkpoint without moving the checkpoint.
func (f *Fake) PrepareCheckpoint(ctx context.Context, pos consumer.ExtendedSequenceNumber, state []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.usableLocked(); err != nil {
		return err
	}
	if err := Check(pos, f.last, f.largestLocked()); err != nil {
		return err
	}
	if err := f.writeLocked(ctx); err != nil {
		return err
	}
	f.pending = pos
	f.pendingState = nil
	if len(state) > 0 {
		f.pendingState = slices.Clone(state)
	}
	return nil
}

// usableLocked fails calls after Close or once the lease is lost.
func (f *Fake) usableLocked() error {
	if f.closed {
		return consumer.ErrShutdown
	}
	return f.lost
}

func (f *Fake) checkpointLocked(ctx context.Context, pos consumer.ExtendedSequenceNumber) error {
	if err := Check(pos, f.last, f.largestLocked()); err != nil {
		return err
	}
	if consumer.Compare(pos, f.last) == 0 {
		return nil
	}
	if err := f.writeLocked(ctx); err != nil {
		return err
	}
	f.last = pos
	f.history = append(f.history, pos)
	f.pending, f.pendingState = consumer.ExtendedSequenceNumber{}, nil
	return nil
}

// writeLocked stands for the lease-table write: it fails if ctx has
// ended or an injected error is due.
func (f *Fake) writeLocked(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("shardwise: checkpoint: %w", err)
	}
	if len(f.failures) == 0 {
		return nil
	}
	err := f.failures[0]
	f.failures = f.failures[1:]
	if errors.Is(err, consumer.ErrLeaseLost) {
		f.lost = err
	}
	return err
}
