package batch

import (
	"context"
	"errors"
	"time"

	"github.com/shardwise/shardwise/consumer"
)

// This file is the public face of the batch handler: the handler
// signatures, what they receive and return, and the constructors that turn
// them into a consumer.ProcessorFactory. The machinery lives in
// processor.go (lifecycle, admission, backpressure, checkpoints), lane.go
// (batching, retries, bisection, destinations), window.go (tumbling
// windows) and ledger.go (the finished prefix); the settings in config.go.

// Handler handles one batch of records, as the body of a Lambda function on
// a Kinesis trigger does. Returning an error fails the whole batch: it is
// retried (or bisected, or given up) as the Config says, and the shard does
// not move past it until its records have ended.
//
// Threading contract: handlers run on goroutines the processor owns, never
// on the scheduler's processor goroutine. Calls for one shard's lane (see
// ParallelizationFactor) never overlap and come in sequence order; with
// ParallelizationFactor N up to N calls for one shard run at once, on
// disjoint sets of partition keys; calls for different shards run
// concurrently. A handler must return when ctx ends: ctx ends when the
// lease is lost (context.Cause is consumer.ErrLeaseLost) or when processing of the
// shard ends for good. A panic is recovered and counts as an error.
//
// The Batch's records are not reused and may be kept after the call, but
// must not be modified: the same records are offered again on a retry and
// given to the OnFailure destination.
type Handler func(ctx context.Context, b Batch) error

// ResponseHandler is a Handler that can report which records failed (the
// partial batch response a Lambda function returns with
// ReportBatchItemFailures) and, with TumblingWindow, the window's new state.
// A non-nil error fails the whole batch and the response is ignored.
type ResponseHandler func(ctx context.Context, b Batch) (Response, error)

// Batch is what a handler receives.
type Batch struct {
	// ShardID is the shard the records come from.
	ShardID string
	// StreamARN is the ARN of the shard's stream, as the scheduler gave it
	// in InitializationInput (so each stream of a multi-stream
	// application is told apart); empty when the scheduler does not know
	// it.
	StreamARN string
	// Records are in sequence order; they all belong to one lane (one
	// set of partition keys). Empty only in the final call of a tumbling
	// window.
	Records []consumer.Record
	// Window is set when TumblingWindow is configured, nil otherwise.
	Window *Window
}

// Window describes the tumbling window a call belongs to (the window,
// state, isFinalInvokeForWindow and isWindowTerminatedEarly fields of a
// Lambda tumbling-window event).
type Window struct {
	// Start and End bound the window: a record belongs to the window
	// whose [Start, End) holds its ApproximateArrivalTimestamp. Windows
	// are aligned to multiples of the window length since the Unix epoch.
	Start, End time.Time
	// State is the state the previous call of this window returned (nil
	// in a window's first call). It belongs to the handler for the call.
	State []byte
	// IsFinalInvokeForWindow marks the last call of a window. It carries
	// no records: it hands over the final State once every record of the
	// window (in this lane) has been handled, and only after it returns
	// successfully do the window's records count as finished (so a
	// checkpoint never lands inside a window, and a new owner of the
	// shard rebuilds the window from its first record).
	IsFinalInvokeForWindow bool
	// IsWindowTerminatedEarly is set with IsFinalInvokeForWindow when the
	// window was cut short: its state grew beyond MaxWindowStateSize, or
	// its held records filled the processor's pending bound. The next
	// call continues the same window with empty state.
	IsWindowTerminatedEarly bool
}

// Response is what a ResponseHandler returns.
type Response struct {
	// BatchItemFailures lists the positions of the records that failed
	// (Lambda's batchItemFailures / itemIdentifier). Processing resumes at
	// the lowest of them: the records before it count as handled, and it
	// and every record after it in the batch are offered again, including
	// records after it that succeeded, so those may be delivered more than
	// once. A position that is not in the batch fails the whole batch (as
	// Lambda treats an unknown itemIdentifier). Empty means success.
	//
	// Retries (MaxRetryAttempts) are counted for the record processing
	// resumes at, and start over when the resume point moves on. When they
	// are used up, that record alone goes to the OnFailure destination and
	// the records after it are tried again: they may not have been handled
	// (a handler may stop at its first failure), and giving them up would
	// lose them.
	BatchItemFailures []consumer.ExtendedSequenceNumber
	// State is the tumbling window's new state (ignored without
	// TumblingWindow). It is kept even when BatchItemFailures is not
	// empty, so it should reflect only the records before the first
	// failure: the records from there on will be offered again.
	State []byte
}

// FailureCondition says why records were given up.
type FailureCondition string

// Failure conditions, named like the condition field of the record Lambda
// sends to an on-failure destination.
const (
	// ConditionRetryAttemptsExhausted: the records failed more than
	// MaxRetryAttempts times.
	ConditionRetryAttemptsExhausted FailureCondition = "RetryAttemptsExhausted"
	// ConditionRecordAgeExceeded: the records were older than
	// MaxRecordAge when they were about to be (re)tried.
	ConditionRecordAgeExceeded FailureCondition = "RecordAgeExceeded"
)

// FailedRecords is what the OnFailure destination receives: the records
// given up, with the shard and the sequence range they span (Lambda sends
// the shard id and the start and end sequence numbers of the batch).
type FailedRecords struct {
	// ShardID is the shard the records come from.
	ShardID string
	// Records are the records given up, in sequence order. With
	// ParallelizationFactor above 1 they are one lane's records, so other
	// records of the shard may lie between Start and End.
	Records []consumer.Record
	// StartSequenceNumber and EndSequenceNumber are the positions of the
	// first and the last of Records.
	StartSequenceNumber, EndSequenceNumber consumer.ExtendedSequenceNumber
	// Condition says why they were given up.
	Condition FailureCondition
	// Err is the handler's last error (nil for ConditionRecordAgeExceeded
	// when the records were never tried).
	Err error
	// InvokeCount is how many handler calls included these records.
	InvokeCount int
	// RetryAttempts is how many of those calls were retries (bisecting a
	// batch does not use up retry attempts, as in Lambda).
	RetryAttempts int
}

// FailureDestination receives records that were given up (Lambda's
// on-failure destination). It runs on the lane's goroutine. The records
// count as finished, and may be checkpointed past, only after it returned
// nil; an error is retried with backoff, and until it succeeds the lane
// (and the shard's checkpoint) does not move: nothing is skipped, and the
// error shows in the log and in the error ProcessRecords returns once the
// shard stalls (see ErrStalled).
type FailureDestination func(ctx context.Context, f FailedRecords) error

// ErrStalled is wrapped by the error a batch processor's ProcessRecords
// returns when it cannot take more records because a lane keeps failing
// (three failures in a row: a handler error being retried, or an
// OnFailure destination that fails). The scheduler logs it and offers the
// records it could not take again after its backoff; the records already
// taken are not taken twice.
var ErrStalled = errors.New("shardwise: batch handler stalled")

// New returns a consumer.ProcessorFactory whose processors hand a shard's
// records to h in batches, with the Lambda event source mapping settings
// given in cfg. An invalid cfg, or a nil h, returns a
// *consumer.ConfigError naming the field ("handler" for h).
//
// Checkpoints are written by the processor: only ever over the contiguous
// prefix of the shard's records whose handling ended (handled, filtered
// out, or given up and accepted by the OnFailure destination). See
// NewWithResponse for the partial batch response variant.
func New(h Handler, cfg Config) (consumer.ProcessorFactory, error) {
	if h == nil {
		return nil, &consumer.ConfigError{Field: "handler", Reason: "is nil"}
	}
	return newFactory(func(ctx context.Context, b Batch) (Response, error) {
		// The window state is carried over unchanged: a Handler has no way
		// to return a new one.
		var state []byte
		if b.Window != nil {
			state = b.Window.State
		}
		return Response{State: state}, h(ctx, b)
	}, cfg)
}

// NewWithResponse is New for a handler that reports failed records
// (Lambda's ReportBatchItemFailures) and returns tumbling window state.
func NewWithResponse(h ResponseHandler, cfg Config) (consumer.ProcessorFactory, error) {
	if h == nil {
		return nil, &consumer.ConfigError{Field: "handler", Reason: "is nil"}
	}
	return newFactory(h, cfg)
}

func newFactory(h ResponseHandler, cfg Config) (consumer.ProcessorFactory, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return consumer.ProcessorFactoryFunc(func(shardID string) consumer.Processor {
		return newProcessor(&cfg, h, shardID)
	}), nil
}
