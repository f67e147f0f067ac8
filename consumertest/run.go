package consumertest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/shardwise/shardwise/checkpoint"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/seqnum"
)

// Batch is the records of one ProcessRecords call.
type Batch struct {
	// Records are the batch's records in sequence order, after the lease's
	// checkpoint and after the records of earlier batches (required, not
	// empty).
	Records []consumer.Record
	// MillisBehindLatest is given to ProcessRecords as Kinesis's figure.
	// Default: 0.
	MillisBehindLatest int64
	// FetchedAt is given to ProcessRecords as when the batch arrived.
	// Default: the time Run delivers the batch.
	FetchedAt time.Time
	// Stop asks the shard to stop while this batch is in hand, as a
	// graceful shutdown or a hand-off does: ProcessRecords sees Stopping
	// closed, an error it returns is not retried (the batch is left to the
	// next owner), no later batch is delivered, and the lifecycle ends with
	// ShutdownRequested (LeaseLost if End is EndLeaseLost), never with
	// ShardEnded. Default: false.
	Stop bool
}

// Ending is how a lease's processing ends.
type Ending int

const (
	// EndShutdownRequested ends with ShutdownRequested, as when the worker
	// shuts down gracefully or the leader moves the lease to another
	// worker.
	EndShutdownRequested Ending = iota
	// EndShardEnded ends with ShardEnded, as when every record of a closed
	// shard was delivered; the processor must checkpoint SHARD_END.
	EndShardEnded
	// EndLeaseLost ends with LeaseLost, as when another worker took the
	// lease: the processor's context is canceled with cause
	// consumer.ErrLeaseLost and every checkpoint call fails with it.
	EndLeaseLost
)

// Config is the lease and the records Run drives a processor through.
type Config struct {
	// ShardID is the shard the factory is asked for and every input names.
	// Default: "shardId-000000000000".
	ShardID string
	// StreamARN is given to Initialize as the shard's stream (as the
	// scheduler gives it, in a multi-stream application above all).
	// Default: none (empty).
	StreamARN string
	// Checkpointer is the processor's checkpointer; its checkpoint and
	// prepared checkpoint are what Initialize is given. Pass one to start
	// from a checkpoint or to inject checkpoint failures. Run closes it when
	// the lifecycle ends. Default: a checkpoint.Fake at consumer.TrimHorizon.
	Checkpointer *checkpoint.Fake
	// Batches are delivered in order, each to one ProcessRecords call.
	// Default: none.
	Batches []Batch
	// End is how the lease ends after the last batch. Default:
	// EndShutdownRequested.
	End Ending
	// MaxAttempts is how many times Initialize, a batch's ProcessRecords,
	// or ShardEnded (until it checkpoints SHARD_END) is called before Run
	// gives up. The scheduler retries without limit, after a backoff; Run
	// retries at once. Default: 3.
	MaxAttempts int
}

// Validate reports the first invalid field as a *consumer.ConfigError.
func (c Config) Validate() error {
	bad := func(field, reason string) error { return &consumer.ConfigError{Field: field, Reason: reason} }
	if c.End < EndShutdownRequested || c.End > EndLeaseLost {
		return bad("End", "is not one of the Ending constants")
	}
	if c.MaxAttempts < 0 {
		return bad("MaxAttempts", "is negative")
	}
	prev := consumer.ExtendedSequenceNumber{}
	if c.Checkpointer != nil {
		if last := c.Checkpointer.LastCheckpoint(); !seqnum.IsSentinel(last.SequenceNumber) {
			prev = last
		}
	}
	for i, b := range c.Batches {
		field := "Batches[" + strconv.Itoa(i) + "].Records"
		if len(b.Records) == 0 {
			return bad(field, "is empty")
		}
		for j := range b.Records {
			pos := b.Records[j].Position()
			if err := pos.Validate(); err != nil || seqnum.IsSentinel(pos.SequenceNumber) {
				return bad(field+"["+strconv.Itoa(j)+"]", "has no valid sequence number")
			}
			if consumer.Compare(pos, prev) <= 0 {
				return bad(field+"["+strconv.Itoa(j)+"]", fmt.Sprintf("position %s is not after %s", pos, prev))
			}
			prev = pos
		}
	}
	return nil
}

// withDefaults is the one place Config's defaults are applied.
func (c Config) withDefaults() (Config, error) {
	if c.ShardID == "" {
		c.ShardID = "shardId-000000000000"
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if c.Checkpointer == nil {
		cp, err := checkpoint.NewFake(checkpoint.FakeConfig{})
		if err != nil {
			return c, err
		}
		c.Checkpointer = cp
	}
	return c, nil
}

// Result is what a processor did in one Run.
type Result struct {
	// Checkpoints are the checkpoints written, in order.
	Checkpoints []consumer.ExtendedSequenceNumber
	// LastCheckpoint is the lease's checkpoint at the end.
	LastCheckpoint consumer.ExtendedSequenceNumber
	// PendingCheckpoint is the prepared checkpoint left at the end, or the
	// zero value.
	PendingCheckpoint consumer.ExtendedSequenceNumber
	// PendingCheckpointState is the state saved with PendingCheckpoint.
	PendingCheckpointState []byte
	// Processed is how many batches ProcessRecords accepted (returned nil).
	Processed int
	// Errors are the errors the processor's methods returned, and its
	// panics as errors, in order, including the failed attempts of calls
	// that later succeeded: each ProcessRecords error here is a batch the
	// scheduler would offer again.
	Errors []error
}

// ErrShardEndNotCheckpointed is returned by Run when the processor did not
// checkpoint SHARD_END in ShardEnded (in MaxAttempts calls). In
// production the shard's children stay blocked until it does.
var ErrShardEndNotCheckpointed = errors.New("shardwise: ShardEnded did not checkpoint SHARD_END")

// Run drives the processor factory.NewProcessor(cfg.ShardID) makes through
// one lease's lifecycle, as the scheduler does:
//
//  1. Initialize, with the checkpointer's checkpoint and prepared
//     checkpoint; retried on error.
//  2. For each batch: the checkpointer learns the batch was delivered (up
//     to its last record), then ProcessRecords, retried with the same
//     input on error or panic. A batch given up on (Batch.Stop, or
//     MaxAttempts failures) is taken back from the checkpointer (Rewind),
//     so that Checkpoint cannot cover it, and no later batch is delivered.
//  3. Unless a batch was given up on: for EndShardEnded, the checkpointer
//     learns the shard ended and ShardEnded is called until the processor
//     checkpoints SHARD_END; for EndShutdownRequested, ShutdownRequested;
//     for EndLeaseLost, the lease is lost (context canceled with cause
//     consumer.ErrLeaseLost, checkpoints fail) and LeaseLost is called.
//     After a batch was given up on, ShutdownRequested (LeaseLost for
//     EndLeaseLost).
//  4. The processor's context ends (cause consumer.ErrShutdown unless the
//     lease was lost) and the checkpointer is closed.
//
// Every method gets a context derived from ctx. Run returns the Result and
// a non-nil error when the lifecycle did not complete as asked: an invalid
// cfg (*consumer.ConfigError), a nil processor, a call still failing after
// MaxAttempts (wrapping the processor's last error), ShardEnded not
// checkpointing SHARD_END (ErrShardEndNotCheckpointed), an error from
// ShutdownRequested, or ctx ending.
func Run(ctx context.Context, factory consumer.ProcessorFactory, cfg Config) (Result, error) {
	if factory == nil {
		return Result{}, &consumer.ConfigError{Field: "factory", Reason: "is nil"}
	}
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	proc := factory.NewProcessor(cfg.ShardID)
	if proc == nil {
		return Result{}, errors.New("shardwise: the processor factory returned nil")
	}
	r := &runner{cfg: cfg, cp: cfg.Checkpointer, proc: proc, stopping: make(chan struct{})}
	r.leaseCtx, r.cancelLease = context.WithCancelCause(ctx)
	err = r.run()
	r.cancelLease(consumer.ErrShutdown)
	r.cp.Close()
	return r.result(), err
}

// runner holds one Run's state. It runs on Run's goroutine only.
type runner struct {
	cfg         Config
	cp          *checkpoint.Fake
	proc        consumer.Processor
	leaseCtx    context.Context
	cancelLease context.CancelCauseFunc
	stopping    chan struct{} // closed when a batch asks the shard to stop
	stopped     bool
	processed   int
	errs        []error
}

func (r *runner) run() error {
	if err := r.initialize(); err != nil {
		return errors.Join(err, r.finish())
	}
	for i, b := range r.cfg.Batches {
		done, err := r.deliver(i, b)
		if err != nil || !done {
			return errors.Join(err, r.finish())
		}
	}
	if err := r.ctxErr(); err != nil {
		return errors.Join(err, r.finish())
	}
	if r.cfg.End == EndShardEnded {
		return r.shardEnded()
	}
	return r.finish()
}

// call runs one processor method, turning a panic into an error (as the
// scheduler does) and recording any error in the Result.
func (r *runner) call(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("shardwise: processor panicked: %v", p)
		}
		if err != nil {
			r.errs = append(r.errs, err)
		}
	}()
	return f()
}

// ctxErr reports why the lease's processing must stop, or nil. A lease the
// checkpointer found lost ends the lease context, as the scheduler's
// checkpointer does.
func (r *runner) ctxErr() error {
	if err := r.cp.Lost(); err != nil && r.leaseCtx.Err() == nil {
		r.cancelLease(err)
	}
	if err := context.Cause(r.leaseCtx); err != nil {
		return fmt.Errorf("shardwise: stopped: %w", err)
	}
	return nil
}

func (r *runner) initialize() error {
	pending, state := r.cp.Pending()
	in := consumer.InitializationInput{
		ShardID:                r.cfg.ShardID,
		StreamARN:              r.cfg.StreamARN,
		Checkpoint:             r.cp.LastCheckpoint(),
		PendingCheckpoint:      pending,
		PendingCheckpointState: state,
	}
	var err error
	for range r.cfg.MaxAttempts {
		if cerr := r.ctxErr(); cerr != nil {
			return cerr
		}
		if err = r.call(func() error { return r.proc.Initialize(r.leaseCtx, in) }); err == nil {
			return nil
		}
	}
	return fmt.Errorf("shardwise: Initialize failed %d times: %w", r.cfg.MaxAttempts, err)
}

// deliver hands batch i to ProcessRecords until it succeeds. It reports
// whether it did; false with a nil error means the processor gave up on a
// batch while the shard was stopping.
func (r *runner) deliver(i int, b Batch) (bool, error) {
	if b.Stop {
		close(r.stopping)
		r.stopped = true
	}
	fetched := b.FetchedAt
	if fetched.IsZero() {
		fetched = time.Now()
	}
	in := consumer.ProcessRecordsInput{
		ShardID:            r.cfg.ShardID,
		Records:            b.Records,
		MillisBehindLatest: b.MillisBehindLatest,
		FetchedAt:          fetched,
		Checkpointer:       r.cp,
		Stopping:           r.stopping,
	}
	prev := r.cp.LargestDelivered()
	r.cp.Delivered(b.Records[len(b.Records)-1].Position())
	var err error
	for range r.cfg.MaxAttempts {
		if cerr := r.ctxErr(); cerr != nil {
			r.cp.Rewind(prev)
			return false, cerr
		}
		if err = r.call(func() error { return r.proc.ProcessRecords(r.leaseCtx, in) }); err == nil {
			r.processed++
			return !r.stopped, nil
		}
		if r.stopped {
			// Asked to stop, the processor gave up on the batch: it is
			// not offered again, and that is not a failure.
			r.cp.Rewind(prev)
			return false, nil
		}
	}
	r.cp.Rewind(prev)
	return false, fmt.Errorf("shardwise: ProcessRecords of batch %d failed %d times: %w", i, r.cfg.MaxAttempts, err)
}

// shardEnded calls ShardEnded until the processor checkpoints SHARD_END.
func (r *runner) shardEnded() error {
	r.cp.ShardEnded()
	in := consumer.ShardEndedInput{ShardID: r.cfg.ShardID, Checkpointer: r.cp}
	for range r.cfg.MaxAttempts {
		if cerr := r.ctxErr(); cerr != nil {
			return cerr
		}
		_ = r.call(func() error { return r.proc.ShardEnded(r.leaseCtx, in) })
		if r.cp.LastCheckpoint().IsShardEnd() {
			return nil
		}
		if cerr := r.ctxErr(); cerr != nil {
			// The scheduler calls LeaseLost if the lease was lost, and
			// otherwise nothing more: the shard's end is processed again
			// by whoever takes the lease.
			if r.lost() {
				r.leaseLost()
			}
			return errors.Join(ErrShardEndNotCheckpointed, cerr)
		}
	}
	return ErrShardEndNotCheckpointed
}

// lost reports whether the lease context ended because the lease was lost.
func (r *runner) lost() bool {
	return errors.Is(context.Cause(r.leaseCtx), consumer.ErrLeaseLost)
}

// leaseLost calls LeaseLost.
func (r *runner) leaseLost() {
	_ = r.call(func() error {
		r.proc.LeaseLost(r.leaseCtx, consumer.LeaseLostInput{ShardID: r.cfg.ShardID})
		return nil
	})
}

// finish ends a lease that did not reach the end of its shard: LeaseLost
// if the test asked for a lost lease or a checkpoint found it lost,
// otherwise ShutdownRequested.
func (r *runner) finish() error {
	if r.cfg.End == EndLeaseLost {
		r.cp.LoseLease()
	}
	_ = r.ctxErr() // ends the lease context if the lease is lost
	if r.lost() {
		r.leaseLost()
		return nil
	}
	in := consumer.ShutdownRequestedInput{ShardID: r.cfg.ShardID, Checkpointer: r.cp}
	if err := r.call(func() error { return r.proc.ShutdownRequested(r.leaseCtx, in) }); err != nil {
		return fmt.Errorf("shardwise: ShutdownRequested: %w", err)
	}
	return nil
}

func (r *runner) result() Result {
	pending, state := r.cp.Pending()
	return Result{
		Checkpoints:            r.cp.Checkpoints(),
		LastCheckpoint:         r.cp.LastCheckpoint(),
		PendingCheckpoint:      pending,
		PendingCheckpointState: state,
		Processed:              r.processed,
		Errors:                 r.errs,
	}
}
