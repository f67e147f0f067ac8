package scheduler

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/backoff"
	"github.com/shardwise/shardwise/internal/checkpointer"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/internal/mscope"
	"github.com/shardwise/shardwise/internal/session"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/metrics"
)

// shardConsumer runs the lifecycle of one held lease:
//
//	waiting on parents -> initializing -> processing -> one of
//	shard ended | shutdown requested | lease lost
//
// It owns two goroutines: run (the processor's goroutine, which calls every
// Processor method, one at a time) and the records publisher it starts
// (polling or fan-out, see recordsPublisher). Both end
// before done is closed.
type shardConsumer struct {
	s     *Scheduler
	lease leases.Lease // as taken; not updated afterwards
	// stream and shardID are what the lease key names: the stream the
	// shard belongs to and its bare shard id (the key itself in a
	// single-stream application).
	stream  *streamInfo
	shardID string
	log     zerolog.Logger
	cp      *checkpointer.Checkpointer
	scope   *mscope.Scope // Operation=ProcessTask, ShardId, WorkerIdentifier

	// leaseCtx is the context processor calls get. It ends when the lease
	// ends: lost (cause consumer.ErrLeaseLost) or after shutdown completed.
	leaseCtx    context.Context
	cancelLease context.CancelCauseFunc

	// stopCtx ends when the consumer should stop taking new batches
	// (graceful shutdown or hand-off); the batch in hand is finished.
	stopCtx context.Context
	stop    context.CancelFunc

	done chan struct{} // closed when run returned

	// handoff is set when the leader moved the lease to another worker
	// and this worker must finish, checkpoint and complete the hand-off.
	handoff   atomic.Bool
	handoffAt time.Time // when the hand-off was noticed; written before handoff is set
	handoffTo string    // the new owner; written with handoffAt
	// bytes and records count what was processed, for throughput figures
	// and Stats; behind is the MillisBehindLatest of the last GetRecords
	// response (empty ones too).
	bytes   atomic.Int64
	records atomic.Int64
	fetched atomic.Int64
	behind  atomic.Int64
	lag     lagTracker            // oldest uncheckpointed record, batch in hand
	queue   atomic.Pointer[queue] // set once fetching starts
	phase   atomic.Value          // string: lifecycle state for Stats
	since   time.Time             // when the consumer started
	// children are the ended shard's children (processor goroutine only).
	children []string

	mu         sync.Mutex // guards the fields below
	lostReason string     // why discovery found the lease lost ("" when it did not)
	newOwner   string     // who holds it now, when known
}

func newShardConsumer(s *Scheduler, l leases.Lease, st *streamInfo, shardID string) (*shardConsumer, error) {
	dims := []metrics.Dimension{
		{Name: metricnames.DimensionOperation, Value: metricnames.OperationProcessTask},
		{Name: metricnames.DimensionShardID, Value: shardID},
		{Name: metricnames.DimensionWorkerIdentifier, Value: s.cfg.WorkerID},
	}
	logc := s.log.With().Str("shard", shardID).Str("lease", l.Key)
	if st.prefix != "" {
		// Multi-stream: the Java KCL adds the stream identifier as a
		// StreamId dimension next to ShardId.
		dims = append(dims, metrics.Dimension{Name: metricnames.DimensionStreamID, Value: st.prefix})
		logc = logc.Str("stream", st.label())
	}
	c := &shardConsumer{
		s:       s,
		lease:   l,
		stream:  st,
		shardID: shardID,
		log:     logc.Logger(),
		done:    make(chan struct{}),
		scope:   mscope.New(s.sink, dims...),
	}
	c.since = time.Now()
	c.phase.Store("waiting-for-parents")
	cp, err := checkpointer.New(checkpointer.Config{
		Store:    s.store,
		LeaseKey: l.Key,
		Owner:    s.cfg.WorkerID,
		Counter:  l.Counter,
		Last:     l.Checkpoint,
		Fence:    s.fence,
		OnLeaseLost: func(err error) {
			c.cancelLease(err)
		},
	})
	if err != nil {
		return nil, err
	}
	c.cp = cp
	c.lag.checkpoint = cp.LastCheckpoint
	c.leaseCtx, c.cancelLease = context.WithCancelCause(s.runCtx)
	c.stopCtx, c.stop = context.WithCancel(c.leaseCtx)
	return c, nil
}

// lose ends the consumer because the lease is no longer this worker's,
// for the reason given (logged when the consumer ends). The processor gets
// LeaseLost.
func (c *shardConsumer) lose(reason, newOwner string) {
	c.mu.Lock()
	if c.lostReason == "" {
		c.lostReason, c.newOwner = reason, newOwner
	}
	c.mu.Unlock()
	c.cancelLease(consumer.ErrLeaseLost)
}

// requestShutdown asks the consumer to finish the batch in hand, call
// ShutdownRequested and hand the lease on.
func (c *shardConsumer) requestShutdown() { c.stop() }

// requestHandoff is requestShutdown for a lease the leader moved: the
// consumer completes the hand-off instead of handing the lease on itself.
func (c *shardConsumer) requestHandoff(to string) {
	if !c.handoff.Load() {
		c.handoffAt, c.handoffTo = time.Now(), to
		c.handoff.Store(true)
	}
	c.stop()
}

// state is the lifecycle state shown by Stats.
func (c *shardConsumer) state() string {
	if v, ok := c.phase.Load().(string); ok {
		return v
	}
	return "starting"
}

func (c *shardConsumer) run() {
	defer close(c.done)
	defer c.cancelLease(consumer.ErrShutdown)
	defer c.cp.Close()

	if !c.waitForParents() {
		c.finish(nil)
		return
	}
	var proc consumer.Processor
	if f, ok := c.s.factory.(consumer.StreamProcessorFactory); ok {
		proc = f.NewStreamProcessor(c.stream.arn, c.shardID)
	} else {
		proc = c.s.factory.NewProcessor(c.shardID)
	}
	if proc == nil {
		c.log.Error().Msg("processor factory returned nil; releasing the lease")
		c.release("the processor factory returned nil")
		return
	}
	c.phase.Store("initializing")
	if !c.initialize(proc) {
		c.finish(proc)
		return
	}
	c.log.Debug().Str("checkpoint", c.lease.Checkpoint.String()).Msg("processing shard")

	q := newQueue(c.s.cfg.MaxPendingRecords, c.s.cfg.MaxPendingBytes)
	c.queue.Store(q)
	c.phase.Store("processing")
	pub := c.newPublisher(q)
	fetchCtx, stopFetch := context.WithCancel(c.stopCtx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pub.run(fetchCtx)
	}()
	end := c.processLoop(proc, q)
	// Stop the publisher (it may be blocked on a full queue) and wait for
	// it, then give back the byte budget of what it fetched but nobody will
	// process.
	stopFetch()
	wg.Wait()
	for {
		b, err := q.pop(context.Background())
		if err != nil {
			break
		}
		c.s.releaseBytes(b.held)
	}
	if end != nil {
		c.phase.Store("shard-ended")
		c.shardEnded(proc, end)
		return
	}
	c.phase.Store("shutting-down")
	c.finish(proc)
}

// processLoop hands batches to the processor until the shard ends (it
// returns the end marker), or the consumer is stopped or loses its lease
// (nil).
func (c *shardConsumer) processLoop(proc consumer.Processor, q *queue) *batch {
	for {
		b, err := q.pop(c.stopCtx)
		if err != nil {
			return nil
		}
		if b.shardEnd {
			c.s.releaseBytes(b.held)
			return b
		}
		prev := c.cp.LargestDelivered()
		c.cp.Delivered(b.records[len(b.records)-1].Position())
		ok := c.deliver(proc, b)
		c.s.releaseBytes(b.held)
		if !ok {
			// The batch was not handled: Checkpoint() in ShutdownRequested
			// must not cover it.
			c.cp.Rewind(prev)
			return nil
		}
	}
}

// deliver calls ProcessRecords until it succeeds, offering the same batch
// again after a backoff when it fails or panics. It gives up only when the
// consumer stops or the lease is lost (the records are then redelivered to
// whoever processes the shard next, from the last checkpoint).
func (c *shardConsumer) deliver(proc consumer.Processor, b *batch) bool {
	retry := backoff.Backoff{Base: c.s.cfg.ProcessorRetryBackoff, Max: c.s.cfg.ProcessorRetryMaxBackoff}
	in := consumer.ProcessRecordsInput{
		ShardID:            c.shardID,
		Records:            b.records,
		MillisBehindLatest: b.millisBehind,
		FetchedAt:          b.fetchedAt,
		Checkpointer:       c.cp,
		Stopping:           c.stopCtx.Done(),
	}
	// The stall check (Healthy) counts from here until the batch is
	// handled or given up, across retries.
	c.lag.busy(time.Now(), len(b.records))
	defer c.lag.idle()
	for {
		// Stopped (shutdown, a graceful hand-off, or the lease lost, which
		// ends stopCtx too): a batch not yet started is not handed out.
		// The batch in hand is finished; those fetched behind it (pop
		// prefers a queued batch to a done context) are left to the next
		// owner, which resumes at the checkpoint.
		if c.stopCtx.Err() != nil {
			return false
		}
		// A worker past its fencing deadline must not hand out another
		// batch: another worker may already own the shard.
		if err := c.s.fence(); err != nil {
			c.cancelLease(err)
			return false
		}
		started := time.Now()
		err := safeCall(func() error { return proc.ProcessRecords(c.leaseCtx, in) })
		took := time.Since(started)
		c.scope.Time(metricnames.MetricProcessRecordsTime, took, metrics.LevelSummary)
		c.scope.Success(metricnames.MetricProcessTaskSuccess, err == nil, metrics.LevelSummary)
		if err == nil {
			c.s.stats.recordsProcessed.Add(int64(len(b.records)))
			c.s.stats.bytesProcessed.Add(b.bytes)
			c.bytes.Add(b.bytes)
			c.records.Add(int64(len(b.records)))
			c.scope.Count(metricnames.MetricRecordsProcessed, int64(len(b.records)), metrics.LevelSummary)
			c.scope.Value(metricnames.MetricDataBytesProcessed, float64(b.bytes), metrics.UnitBytes, metrics.LevelSummary)
			c.scope.Value(metricnames.MetricMillisBehindLatest, float64(b.millisBehind), metrics.UnitMilliseconds, metrics.LevelSummary)
			return true
		}
		if c.stopCtx.Err() != nil {
			// Asked to stop, the processor gave up on the batch: it is
			// not offered again here (the next owner resumes at the last
			// checkpoint), and this is not a processor failure.
			c.log.Debug().Err(err).Msg("ProcessRecords returned early because the shard is stopping")
			return false
		}
		c.s.stats.processorErrors.Add(1)
		c.scope.Count(metricnames.MetricProcessRecordsRetries, 1, metrics.LevelSummary)
		delay := retry.Next()
		c.s.warn.Warn(&c.log, "process:"+c.lease.Key).Err(err).Int("records", len(b.records)).Str("first", b.records[0].Position().String()).
			Int("attempt", retry.Attempts()).Dur("retry_in", delay).Msg("ProcessRecords failed; the batch will be offered again")
		if !backoff.Sleep(c.stopCtx, delay) {
			return false
		}
	}
}

// initialize calls Initialize until it succeeds, the consumer stops or the
// lease is lost.
func (c *shardConsumer) initialize(proc consumer.Processor) bool {
	retry := backoff.Backoff{Base: c.s.cfg.ProcessorRetryBackoff, Max: c.s.cfg.ProcessorRetryMaxBackoff}
	in := consumer.InitializationInput{
		ShardID:                c.shardID,
		StreamARN:              c.stream.arn,
		Checkpoint:             c.lease.Checkpoint,
		PendingCheckpoint:      c.lease.PendingCheckpoint,
		PendingCheckpointState: c.lease.PendingCheckpointState,
	}
	for {
		err := safeCall(func() error { return proc.Initialize(c.leaseCtx, in) })
		if err == nil {
			return true
		}
		delay := retry.Next()
		c.s.warn.Warn(&c.log, "init:"+c.lease.Key).Err(err).Dur("retry_in", delay).Msg("Initialize failed; retrying")
		if !backoff.Sleep(c.stopCtx, delay) {
			return false
		}
	}
}

// finish ends a consumer that did not reach the end of its shard: LeaseLost
// if the lease was lost, otherwise ShutdownRequested and then the lease
// goes on: the hand-off the leader asked for is completed, or (on worker
// shutdown) the lease is handed on to another worker at once.
func (c *shardConsumer) finish(proc consumer.Processor) {
	if c.s.crashed.Load() {
		return // a dead process calls nothing and writes nothing
	}
	if errors.Is(context.Cause(c.leaseCtx), consumer.ErrLeaseLost) || c.cp.Lost() != nil {
		reason, owner := c.lossReason()
		ev := c.log.Info().Str("event", "lost").Str("reason", reason)
		if owner != "" {
			ev = ev.Str("new_owner", owner)
		}
		ev.Msg("lease lost; processing stopped")
		c.s.stats.leasesLost.Add(1)
		if proc != nil {
			safeCall(func() error {
				proc.LeaseLost(c.leaseCtx, consumer.LeaseLostInput{ShardID: c.shardID})
				return nil
			})
		}
		return
	}
	if proc != nil {
		err := safeCall(func() error {
			return proc.ShutdownRequested(c.leaseCtx, consumer.ShutdownRequestedInput{ShardID: c.shardID, Checkpointer: c.cp})
		})
		if err != nil {
			c.log.Warn().Err(err).Msg("ShutdownRequested failed; records after the last checkpoint will be delivered again")
		}
	}
	c.release("worker shutting down")
}

// lossReason says why the lease was lost: what discovery found, else the
// fence or the checkpoint write that proved it.
func (c *shardConsumer) lossReason() (reason, newOwner string) {
	c.mu.Lock()
	reason, newOwner = c.lostReason, c.newOwner
	c.mu.Unlock()
	if reason != "" {
		return reason, newOwner
	}
	cause := context.Cause(c.leaseCtx)
	switch lost := c.cp.Lost(); {
	case errors.Is(cause, session.ErrFenced) || errors.Is(lost, session.ErrFenced):
		return "fenced: this worker had no successful heartbeat in time", ""
	case lost != nil:
		return "a checkpoint write found the lease owned by another worker", ""
	}
	return "lost", ""
}

// release passes the lease on (why says what ended the consumer) so that another worker (or the next start
// of this one) takes it at once instead of waiting for it to expire: it
// completes a hand-off the leader asked for, or writes the next owner
// itself (on shutdown), or clears the owner when there is nobody to hand
// it to.
func (c *shardConsumer) release(why string) {
	if c.cp.Lost() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.leaseCtx), c.s.cfg.ShutdownTimeout)
	defer cancel()
	me := c.s.cfg.WorkerID
	if c.handoff.Load() {
		c.completeHandoff(ctx)
		return
	}
	l := c.lease
	l.Owner = me
	l.Counter = c.cp.Counter()
	if target := c.s.nextHandOnTarget(); target != "" {
		_, err := c.s.store.Take(ctx, l, target)
		switch {
		case err == nil:
			c.log.Info().Str("event", "handed-off").Str("reason", why).Str("to", target).Msg("lease handed on")
			return
		case errors.Is(err, leases.ErrConditionFailed):
			if c.handoffRequestedMeanwhile(ctx) {
				return
			}
		default:
			c.s.warn.Warn(&c.log, "hand-on").Err(err).Str("to", target).Msg("handing the lease on failed; releasing it")
		}
	}
	if _, err := c.s.store.Release(ctx, l); err != nil {
		if errors.Is(err, leases.ErrConditionFailed) && c.handoffRequestedMeanwhile(ctx) {
			return
		}
		c.s.warn.Warn(&c.log, "release").Err(err).Msg("releasing the lease failed; it will be taken over when it expires")
		return
	}
	c.log.Info().Str("event", "released").Str("reason", why+", no other worker to hand it to").Msg("lease released")
}

// handoffRequestedMeanwhile handles a hand-on that lost its
// compare-and-set because the leader started a graceful hand-off of the
// lease while this worker was shutting down: the processor has already
// checkpointed, so the hand-off is completed at once (otherwise the new
// owner would wait for the leader's hand-off timeout). It reports whether
// that was the case.
func (c *shardConsumer) handoffRequestedMeanwhile(ctx context.Context) bool {
	cur, err := c.s.store.Get(ctx, c.lease.Key)
	if err != nil || cur.CheckpointOwner != c.s.cfg.WorkerID {
		return false
	}
	c.handoffAt, c.handoffTo = time.Now(), cur.Owner
	c.completeHandoff(ctx)
	return true
}

// completeHandoff clears checkpointOwner, letting the new owner start.
func (c *shardConsumer) completeHandoff(ctx context.Context) {
	if _, err := c.s.store.CompleteHandoff(ctx, c.lease.Key, c.s.cfg.WorkerID); err != nil {
		c.s.warn.Warn(&c.log, "complete-handoff").Err(err).Msg("completing the hand-off failed; the leader completes it after its timeout")
		return
	}
	c.scope.Time(metricnames.MetricHandoffTime, time.Since(c.handoffAt), metrics.LevelSummary)
	c.log.Info().Str("event", "handed-off").Str("reason", "moved by the leader (graceful hand-off)").Str("to", c.handoffTo).
		Dur("took", time.Since(c.handoffAt)).Msg("hand-off completed")
}

// safeCall runs f and turns a panic into an error, so that a processor
// that panics has its batch offered again instead of killing the worker.
func safeCall(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("shardwise: processor panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return f()
}
