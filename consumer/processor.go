package consumer

import (
	"context"
	"time"
)

// Processor handles the records of one shard for as long as this worker
// holds the shard's lease.
//
// Threading contract: Shardwise creates one Processor per shard lease it
// starts (through the ProcessorFactory) and calls its methods one at a time,
// from one goroutine, in this order:
//
//	Initialize, then ProcessRecords any number of times, then exactly one of
//	ShardEnded, ShutdownRequested or LeaseLost.
//
// Different shards' processors run concurrently. A method must not call back
// into the scheduler's Run. The ctx a method receives ends when
// the lease ends; context.Cause(ctx) tells why: ErrLeaseLost (the lease was
// taken, or this worker fenced itself) or ErrShutdown (the scheduler shut
// down; the cause also wraps ErrShutdownTimeout when the graceful shutdown
// ran out of time and cancelled the processor).
//
// Errors and panics: an error or a panic from ProcessRecords makes Shardwise
// offer the same batch again after a backoff (the records are never
// skipped). An error from Initialize is retried the same way. An error from
// ShardEnded or ShutdownRequested is logged; at shard end the shard is
// retried until the processor checkpoints SHARD_END.
type Processor interface {
	// Initialize is called once before the first batch, with the position
	// processing resumes after.
	Initialize(ctx context.Context, in InitializationInput) error
	// ProcessRecords handles one batch. Use in.Checkpointer to record
	// progress; checkpointing is the processor's choice, not automatic.
	ProcessRecords(ctx context.Context, in ProcessRecordsInput) error
	// LeaseLost is called when another worker took the lease (or this
	// worker fenced itself). Checkpointing is no longer possible.
	LeaseLost(ctx context.Context, in LeaseLostInput)
	// ShardEnded is called when every record of a closed shard has been
	// delivered. The processor must call in.Checkpointer.Checkpoint (which
	// records SHARD_END) so that the shard's children may start.
	ShardEnded(ctx context.Context, in ShardEndedInput) error
	// ShutdownRequested is called when the worker shuts down gracefully or
	// hands the lease to another worker. Checkpoint here to avoid
	// redelivery to the next owner.
	ShutdownRequested(ctx context.Context, in ShutdownRequestedInput) error
}

// ProcessorFactory makes the Processor for one shard. It is called from the
// scheduler's goroutines and must be safe for concurrent use.
type ProcessorFactory interface {
	NewProcessor(shardID string) Processor
}

// StreamProcessorFactory is a ProcessorFactory that is also told which
// stream the shard belongs to, as the Java KCL's factory is given a
// StreamIdentifier in a multi-stream application. When the factory given
// to the scheduler has this method, the scheduler calls it instead of
// NewProcessor, with the stream's ARN (empty in a single-stream
// application configured by stream name only, as
// InitializationInput.StreamARN) and the bare shard id.
type StreamProcessorFactory interface {
	ProcessorFactory
	NewStreamProcessor(streamARN, shardID string) Processor
}

// ProcessorFactoryFunc adapts a function to ProcessorFactory.
type ProcessorFactoryFunc func(shardID string) Processor

// NewProcessor calls f.
func (f ProcessorFactoryFunc) NewProcessor(shardID string) Processor { return f(shardID) }

// InitializationInput is given to Processor.Initialize.
type InitializationInput struct {
	// ShardID is the shard the processor was made for (a bare shard id,
	// in a multi-stream application too).
	ShardID string
	// StreamARN is the ARN of the shard's stream: in a multi-stream
	// application, the stream the shard belongs to. Empty in a
	// single-stream application configured by stream name only.
	StreamARN string
	// Checkpoint is the lease's checkpoint: a sequence number or one of the
	// starting sentinels.
	Checkpoint ExtendedSequenceNumber
	// PendingCheckpoint is a prepared checkpoint left by an earlier owner,
	// or the zero value.
	PendingCheckpoint ExtendedSequenceNumber
	// PendingCheckpointState is the application state saved with it.
	PendingCheckpointState []byte
}

// ProcessRecordsInput is given to Processor.ProcessRecords.
type ProcessRecordsInput struct {
	// ShardID is the shard the records come from.
	ShardID string
	// Records are in sequence order; never empty.
	Records []Record
	// MillisBehindLatest is how far the last GetRecords call was behind the
	// tip of the shard, as reported by Kinesis.
	MillisBehindLatest int64
	// FetchedAt is when the batch arrived from Kinesis.
	FetchedAt time.Time
	// Checkpointer records progress for this shard.
	Checkpointer Checkpointer
	// Stopping is closed when the worker asks this shard to stop (graceful
	// shutdown, or a hand-off to another worker). A processor that waits
	// on something of its own (backpressure, a slow downstream) may return
	// early with an error; the batch is then not offered again here, and
	// whatever was not checkpointed is delivered to the next owner. Nil
	// (never closed) when the caller has no such signal.
	Stopping <-chan struct{}
}

// LeaseLostInput is given to Processor.LeaseLost.
type LeaseLostInput struct {
	// ShardID is the shard whose lease was lost.
	ShardID string
}

// ShardEndedInput is given to Processor.ShardEnded.
type ShardEndedInput struct {
	// ShardID is the shard that ended.
	ShardID string
	// Checkpointer must record SHARD_END (call Checkpoint) before the
	// shard's children may start.
	Checkpointer Checkpointer
}

// ShutdownRequestedInput is given to Processor.ShutdownRequested.
type ShutdownRequestedInput struct {
	// ShardID is the shard being stopped or handed off.
	ShardID string
	// Checkpointer records what was processed before the lease moves on.
	Checkpointer Checkpointer
}

// Checkpointer records how far a shard has been processed, in the lease
// table, fenced by lease ownership: a write from a worker that no longer
// holds the lease fails with ErrLeaseLost and changes nothing.
//
// A checkpoint must not go below the last checkpoint and must not go past
// the largest position delivered to the processor (SHARD_END once the shard
// has ended); a request that does fails with a *CheckpointError and writes
// nothing. A checkpoint equal to the last one is a successful no-op.
//
// Methods may be called from the processor's goroutine or from goroutines it
// starts; calls are serialized.
type Checkpointer interface {
	// Checkpoint records everything delivered so far (SHARD_END inside
	// ShardEnded).
	Checkpoint(ctx context.Context) error
	// CheckpointRecord records the given record as processed.
	CheckpointRecord(ctx context.Context, r *Record) error
	// CheckpointAt records an explicit position.
	CheckpointAt(ctx context.Context, pos ExtendedSequenceNumber) error
	// PrepareCheckpoint stores a pending (two-phase) checkpoint at pos with
	// optional application state, without moving the checkpoint. A later
	// Checkpoint* call at or beyond pos clears it.
	PrepareCheckpoint(ctx context.Context, pos ExtendedSequenceNumber, state []byte) error
	// LastCheckpoint is the last position successfully recorded.
	LastCheckpoint() ExtendedSequenceNumber
	// LargestDelivered is the largest position delivered to the processor.
	LargestDelivered() ExtendedSequenceNumber
}
