package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/rs/zerolog"
	"golang.org/x/sync/semaphore"

	"github.com/shardwise/shardwise/balancer"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/backoff"
	"github.com/shardwise/shardwise/internal/coordinator"
	"github.com/shardwise/shardwise/internal/crashtest"
	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/fastdecode"
	"github.com/shardwise/shardwise/internal/lograte"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/internal/mscope"
	"github.com/shardwise/shardwise/internal/seqnum"
	"github.com/shardwise/shardwise/internal/session"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/metrics"
)

// Scheduler runs a worker of a consumer application: it keeps a worker
// session alive, takes part in leader election (the leader assigns leases),
// and runs a processor for every lease assigned to it.
type Scheduler struct {
	cfg         Config
	factory     consumer.ProcessorFactory
	kinesis     KinesisAPI
	store       leases.Store
	workers     leases.WorkerStore
	coordStore  leases.CoordinatorStore
	log         zerolog.Logger
	warn        *lograte.Limiter // repeated warnings: one line per key per lograte.Interval
	cpu         *coordinator.CPUSampler
	loadSample  func() float64 // Config.LoadSampler, or nil for cpu
	sink        metrics.Sink   // never nil
	workerScope *mscope.Scope  // Operation=RenewAllLeases
	decoder     *fastdecode.Decoder
	getRecOpt   func(*kinesis.Options)                       // per-call GetRecords option
	subOpt      func(fastdecode.Gate) func(*kinesis.Options) // a subscription's SubscribeToShard option (fan-out), with its gate on the byte budget
	// describedARN is the stream ARN DescribeStreamSummary gave at start
	// (single-stream mode), set before any consumer starts.
	describedARN string
	// fanOut holds the ACTIVE fan-out consumer of each stream (FanOut
	// only).
	fanOut streamConsumers
	// session and coordinator are set by Run's start-up, before any
	// consumer starts; atomic because Stats may read them at any time.
	session     atomic.Pointer[session.Session]
	coordinator atomic.Pointer[coordinator.Coordinator]
	// streams is the set of streams consumed now; set by New (one
	// stream) or, in multi-stream mode, by every refreshStreams.
	streams       atomic.Pointer[streamSet]
	unknownLeases atomic.Int64 // leases skipped as not this worker's to touch, for tests

	fetchSem *semaphore.Weighted // GetRecords calls in flight, worker-wide
	// respEstimate is a decaying maximum of the payload bytes of the
	// worker's non-empty GetRecords responses (see noteResponse): a
	// shard's first call reserves budget for it.
	respEstimate atomic.Int64
	bytesSem     *semaphore.Weighted // prefetched bytes, worker-wide
	stats        counters
	running      atomic.Bool
	discovered   atomic.Bool     // the first lease discovery after start-up completed
	stopping     atomic.Bool     // Run's context ended: shutting down
	stopped      atomic.Bool     // Run returned
	crashed      atomic.Bool     // Run's context ended with crashtest.ErrCrash
	runCtx       context.Context // parent of every lease context; set by Run
	wakeLoop     chan struct{}   // nudges the main loop to discover leases now
	endSignal    struct {
		mu sync.Mutex
		ch chan struct{} // closed and replaced whenever a local shard ends
	}

	mu        sync.Mutex // guards the fields below
	consumers map[string]*shardConsumer
	finished  map[string]bool // leases seen at SHARD_END: never started again
	handOn    []string        // during shutdown: workers to hand leases on to
	handOnN   int             // round-robin position in handOn
	load      loadTracker
	vanished  map[string]bool          // leases missing from the last shard listing (main loop only)
	former    map[string]*formerStream // leader: streams with leases but not consumed (main loop only)
	// streamRefreshes counts refreshStreams calls and describedAt holds,
	// per configured stream (ARN or name), the refresh that last described
	// it (start and main loop only).
	streamRefreshes int
	describedAt     map[string]int
	// resumed holds, for leases this worker still owns and will resume
	// (an earlier incarnation's at start, its own after a fence), the
	// reason logged when they are acquired.
	resumed map[string]string

	// ddb is the DynamoDB client of the three tables; nil with Stores.
	ddb awsapi.DynamoDB
	// leaseKBps is each running lease's throughput (KB/s, EMA) as the
	// last heartbeat computed it; checkpoints write it into the lease
	// (throughputKBps, for a Java KCL fleet after a rollback).
	leaseKBps atomic.Pointer[map[string]float64]
}

// counters are the scheduler's running totals.
type counters struct {
	recordsProcessed atomic.Int64
	bytesProcessed   atomic.Int64
	processorErrors  atomic.Int64
	leasesLost       atomic.Int64
	leasesTaken      atomic.Int64
}

// tableWaitTimeout bounds the creation of each table, and the wait for it
// to become usable, when Run starts.
const tableWaitTimeout = 2 * time.Minute

// New validates cfg and returns a Scheduler that hands records to
// processors made by factory. It does no I/O and never panics.
func New(cfg Config, factory consumer.ProcessorFactory) (*Scheduler, error) {
	if factory == nil {
		return nil, &consumer.ConfigError{Field: "factory", Reason: "is nil"}
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Scheduler{
		cfg:        cfg,
		factory:    factory,
		kinesis:    cfg.KinesisClient,
		store:      cfg.Stores.Leases,
		workers:    cfg.Stores.Workers,
		coordStore: cfg.Stores.Coordinator,
		cpu:        coordinator.NewCPUSampler("/"),
		loadSample: cfg.LoadSampler,
		fetchSem:   semaphore.NewWeighted(int64(cfg.MaxConcurrentFetches)),
		bytesSem:   semaphore.NewWeighted(cfg.MaxTotalPendingBytes),
		wakeLoop:   make(chan struct{}, 1),
		consumers:  make(map[string]*shardConsumer),
		finished:   make(map[string]bool),
	}
	s.endSignal.ch = make(chan struct{})
	if cfg.multiStream() {
		s.log = cfg.Logger.With().Str("worker", cfg.WorkerID).Logger()
		s.streams.Store(&streamSet{multi: true, byID: map[string]*streamInfo{}})
	} else {
		s.log = cfg.Logger.With().Str("worker", cfg.WorkerID).Str("stream", cfg.StreamName).Logger()
		s.streams.Store(singleStreamSet(&cfg))
	}
	s.warn = lograte.New(lograte.Interval)
	s.sink = cfg.Metrics
	if s.sink == nil {
		s.sink = metrics.Nop
	}
	s.decoder = fastdecode.New()
	s.getRecOpt = s.decoder.Option
	// Our event-stream decoder keeps no state between messages; each
	// subscription gets it with a gate on the byte budget (subscriber.run).
	s.subOpt = s.decoder.GatedSubscribeToShardOption
	if cfg.SDKDecoder {
		// The request-body fix is independent of the decoder: it avoids
		// needless retries of responses that arrived whole.
		s.getRecOpt = fastdecode.RequestBodyFix
		// The SDK client keeps one event-stream codec for all its calls,
		// which concurrent subscriptions race on: each call gets its own,
		// with the same gate on the byte budget as ours.
		s.subOpt = fastdecode.SDKGatedSubscribeToShardOption
	}
	s.workerScope = mscope.New(s.sink, metrics.Dimension{Name: metricnames.DimensionOperation, Value: metricnames.OperationRenewAllLeases},
		metrics.Dimension{Name: metricnames.DimensionWorkerIdentifier, Value: cfg.WorkerID})
	if s.kinesis == nil {
		var opts []func(*kinesis.Options)
		if cfg.FanOut {
			// A small HTTP/2 window per subscription: what the transport
			// reads ahead is outside the byte budget (fanout_client.go).
			opts = append(opts, func(o *kinesis.Options) { o.HTTPClient = fanOutHTTPClient(o.HTTPClient) })
		}
		s.kinesis = kinesis.NewFromConfig(*cfg.AWSConfig, opts...)
	}
	if s.store == nil {
		ddb := cfg.DynamoDBClient
		if ddb == nil {
			ddb = dynamodb.NewFromConfig(*cfg.AWSConfig)
		}
		st, err := ddbstore.NewDynamoStore(ddbstore.DynamoConfig{
			Client:           ddb,
			TableName:        cfg.LeaseTableName,
			BillingMode:      types.BillingModePayPerRequest,
			TableWaitTimeout: tableWaitTimeout,
			Logger:           s.log,
			Metrics:          s.workerScope,
			Throughput:       s.leaseThroughput,
		})
		if err != nil {
			return nil, fmt.Errorf("shardwise: lease store: %w", err)
		}
		s.store = st
		s.ddb = ddb
		if s.workers, err = ddbstore.NewDynamoWorkerStore(ddb, cfg.WorkerMetricsTableName, tableWaitTimeout); err != nil {
			return nil, err
		}
		if s.coordStore, err = ddbstore.NewDynamoCoordinatorStore(ddb, cfg.CoordinatorTableName, tableWaitTimeout); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// WorkerID is this worker's id in the lease table.
func (s *Scheduler) WorkerID() string { return s.cfg.WorkerID }

// IsLeader reports whether this worker currently assigns the leases.
func (s *Scheduler) IsLeader() bool {
	c := s.coordinator.Load()
	return c != nil && c.IsLeader()
}

// Run runs the worker until ctx ends, then shuts down gracefully and
// returns nil. If the graceful shutdown does not finish within
// ShutdownTimeout, the processors still running are cancelled (their
// context's cause wraps consumer.ErrShutdownTimeout) and Run returns an
// error wrapping consumer.ErrShutdownTimeout. It returns an error at once if
// the worker cannot start: the stream does not exist, a permission is
// missing, a table has a foreign key schema. A Scheduler runs once.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("shardwise: Run called twice")
	}
	defer s.stopped.Store(true)
	// Lease contexts outlive ctx during graceful shutdown (the batch in
	// hand is finished and the processor may checkpoint), so they hang off
	// a context of their own, cancelled once shutdown is over.
	runCtx, cancelRun := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRun(consumer.ErrShutdown)
	s.runCtx = runCtx

	if err := s.start(ctx); err != nil {
		if ctx.Err() != nil {
			// Stopped while starting: nothing was taken, nothing to undo.
			return nil
		}
		return err
	}
	// The coordinator runs until the consumers are stopped: a leader that
	// shuts down keeps leading until its own leases are handed on.
	coordCtx, stopCoord := context.WithCancel(runCtx)
	coordDone := make(chan struct{})
	go func() {
		defer close(coordDone)
		s.coordinator.Load().Run(coordCtx)
	}()
	s.log.Info().Str("lease_table", s.cfg.LeaseTableName).Str("initial_position", s.cfg.InitialPosition.String()).
		Str("cpu_source", s.loadSource()).Msg("worker started")
	sig, why := s.loadSignal()
	s.log.Info().Str("load_signal", sig).Str("why", why).Msg("the leader balances this worker on " + sig)

	discover := time.NewTicker(s.cfg.LeaseDiscoveryInterval)
	defer discover.Stop()
	sync := time.NewTicker(s.cfg.ShardSyncInterval)
	defer sync.Stop()
	audit := time.NewTicker(max(s.cfg.ShardSyncInterval/4, time.Second))
	defer audit.Stop()
	s.discover(ctx)
	for {
		select {
		case <-ctx.Done():
			s.stopping.Store(true)
			if errors.Is(context.Cause(ctx), crashtest.ErrCrash) {
				s.crash(cancelRun)
				stopCoord()
				<-coordDone
				s.session.Load().Abandon()
				return nil
			}
			abandoned := s.shutdown(cancelRun)
			stopCoord()
			<-coordDone
			s.finishShutdown()
			if abandoned > 0 {
				return fmt.Errorf("%w (ShutdownTimeout %v): %d shard processors did not finish and were cancelled; their records after the last checkpoint will be delivered again",
					consumer.ErrShutdownTimeout, s.cfg.ShutdownTimeout, abandoned)
			}
			return nil
		case <-discover.C:
			s.discover(ctx)
		case <-s.wakeLoop:
			s.discover(ctx)
		case <-audit.C:
			if s.IsLeader() {
				s.auditHashRanges(ctx)
			}
		case <-sync.C:
			if s.cfg.multiStream() {
				if err := s.refreshStreams(ctx, false); err != nil && ctx.Err() == nil {
					s.warn.Warn(&s.log, "streams").Err(err).Msg("reading the stream list failed; keeping the previous one")
				}
				s.stopRemovedStreams()
			}
			if !s.IsLeader() {
				continue
			}
			if err := s.syncShards(ctx); err != nil && ctx.Err() == nil {
				s.warn.Warn(&s.log, "shard-sync").Err(err).Msg("shard sync failed; will retry")
			}
		}
	}
}

// start checks the stream, makes sure the tables exist, creates the
// missing leases and starts the worker session. Its errors are fatal and
// name the problem.
func (s *Scheduler) start(ctx context.Context) error {
	if s.cfg.multiStream() {
		// A stream of the static list that does not exist is an error
		// here; a stream gone later is skipped with a warning.
		if err := s.refreshStreams(ctx, s.cfg.StreamTracker == nil); err != nil {
			return err
		}
	} else if err := s.describeStream(ctx); err != nil {
		return err
	}
	if s.cfg.FanOut {
		// Every stream known now has its consumer before any lease is
		// taken (a refused registration fails Run); streams a
		// StreamTracker adds later get theirs when first read.
		if err := s.registerStreamConsumers(ctx); err != nil {
			return err
		}
	}
	for _, t := range []struct {
		name   string
		ensure func(context.Context) error
	}{
		{s.cfg.LeaseTableName, s.store.EnsureTable},
		{s.cfg.WorkerMetricsTableName, s.workers.EnsureTable},
		{s.cfg.CoordinatorTableName, s.coordStore.EnsureTable},
	} {
		if err := t.ensure(ctx); err != nil {
			return fmt.Errorf("shardwise: table %q: %w", t.name, err)
		}
	}
	if err := s.checkJavaFleet(ctx); err != nil {
		return err
	}
	retry := backoff.Backoff{Base: s.cfg.ThrottleBackoff, Max: s.cfg.ThrottleMaxBackoff}
	for {
		err := s.syncShards(ctx)
		if err == nil {
			break
		}
		if awsapi.IsNotFound(err) || awsapi.IsAccessDenied(err) || ctx.Err() != nil {
			return fmt.Errorf("shardwise: shard sync: %w", err)
		}
		s.warn.Warn(&s.log, "shard-sync").Err(err).Msg("initial shard sync failed; retrying")
		if !backoff.Sleep(ctx, retry.Next()) {
			return ctx.Err()
		}
	}
	// Read before this session can be assigned anything.
	if keys, err := s.store.ListKeysByOwner(ctx, s.cfg.WorkerID); err == nil {
		s.mu.Lock()
		s.resumed = make(map[string]string, len(keys))
		for _, k := range keys {
			s.resumed[k] = "resumed: held by this worker id before it (re)started"
		}
		s.mu.Unlock()
	}
	sess, err := session.StartSession(ctx, session.SessionConfig{
		Store:             s.workers,
		WorkerID:          s.cfg.WorkerID,
		FailoverTime:      s.cfg.FailoverTime,
		HeartbeatInterval: s.cfg.HeartbeatInterval,
		FenceMargin:       s.cfg.FenceMargin,
		Load:              s.fillLoad,
		OnFenced:          s.fenceAll,
		OnAlive:           s.wake,
		Logger:            s.log,
	})
	if err != nil {
		return fmt.Errorf("shardwise: worker session in table %q: %w", s.cfg.WorkerMetricsTableName, err)
	}
	s.session.Store(sess)
	coord, err := coordinator.NewCoordinator(coordinator.CoordinatorConfig{
		WorkerID:           s.cfg.WorkerID,
		Session:            sess,
		Leases:             s.store,
		Workers:            s.workers,
		Coordinator:        s.coordStore,
		FailoverTime:       s.cfg.FailoverTime,
		ScanInterval:       s.cfg.LeaderScanInterval,
		AssignmentInterval: s.cfg.LeaseAssignmentInterval,
		HandoffTimeout:     s.cfg.GracefulHandoffTimeout,
		BalanceEvery:       s.cfg.BalanceEvery,
		Plan: balancer.PlanConfig{
			MaxLeasesForWorker: s.cfg.MaxLeasesForWorker,
			ThresholdPercent:   s.cfg.RebalanceThresholdPercent,
			DampeningPercent:   s.cfg.RebalanceDampeningPercent,
		},
		Logger:  s.log,
		Metrics: mscope.New(s.sink, metrics.Dimension{Name: metricnames.DimensionWorkerIdentifier, Value: s.cfg.WorkerID}),
		OnAssign: func([]balancer.Move, int) {
			s.wake() // moves to this worker start without waiting a discovery tick
		},
		Accept: s.acceptsLease,
	})
	if err != nil {
		_ = sess.Close(context.WithoutCancel(ctx))
		return err
	}
	s.coordinator.Store(coord)
	return nil
}

// describeStream fails with a clear error when the stream is missing or
// the worker may not read it.
func (s *Scheduler) describeStream(ctx context.Context) error {
	in := &kinesis.DescribeStreamSummaryInput{StreamARN: s.streamARNOrNil()}
	if in.StreamARN == nil {
		in.StreamName = aws.String(s.cfg.StreamName)
	}
	out, err := s.kinesis.DescribeStreamSummary(ctx, in)
	if err == nil && out.StreamDescriptionSummary != nil {
		s.describedARN = aws.ToString(out.StreamDescriptionSummary.StreamARN)
	}
	switch {
	case err == nil, awsapi.IsUnsupported(err):
		return nil
	case awsapi.IsNotFound(err):
		return fmt.Errorf("shardwise: stream %q does not exist: %w", s.cfg.StreamName, err)
	case awsapi.IsAccessDenied(err):
		return fmt.Errorf("shardwise: not allowed to read stream %q (the worker needs kinesis:DescribeStreamSummary, ListShards, GetShardIterator, GetRecords): %w", s.cfg.StreamName, err)
	}
	return fmt.Errorf("shardwise: describing stream %q: %w", s.cfg.StreamName, err)
}

// wake makes the main loop discover leases now.
func (s *Scheduler) wake() {
	select {
	case s.wakeLoop <- struct{}{}:
	default:
	}
}

// fence is the self-fencing check made before a batch is handed out and
// before every checkpoint.
func (s *Scheduler) fence() error { return s.session.Load().Fence() }

// fenceAll stops every processor: the worker could not prove it is alive
// in time, so another worker may soon be given its leases.
func (s *Scheduler) fenceAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resumed == nil {
		s.resumed = map[string]string{}
	}
	for key, c := range s.consumers {
		c.cancelLease(session.ErrFenced)
		s.resumed[key] = "resumed: still owned by this worker after its session was fenced and came back"
	}
}

// discover reads which leases the leader gave this worker (a query of the
// owner index, which costs no write), starts their consumers, and stops
// the consumers of leases this worker lost or must hand off.
func (s *Scheduler) discover(ctx context.Context) {
	if ctx.Err() != nil || s.fence() != nil {
		return
	}
	me := s.cfg.WorkerID
	keys, err := s.store.ListKeysByOwner(ctx, me)
	if err != nil {
		if ctx.Err() == nil {
			s.warn.Warn(&s.log, "discover").Err(err).Msg("reading this worker's leases failed; will retry")
		}
		return
	}
	mine := make(map[string]bool, len(keys))
	for _, k := range keys {
		mine[k] = true
	}
	s.mu.Lock()
	running := make(map[string]*shardConsumer, len(s.consumers))
	for k, c := range s.consumers {
		select {
		case <-c.done:
			delete(s.consumers, k)
		default:
			running[k] = c
		}
	}
	s.mu.Unlock()

	// Running consumers whose lease is no longer listed as ours: the index
	// may lag, so the lease itself decides.
	for key, c := range running {
		if mine[key] {
			continue
		}
		l, err := s.store.Get(ctx, key)
		switch {
		case errors.Is(err, leases.ErrNotFound):
			c.lose("the lease was deleted (its shard no longer exists)", "")
		case err != nil:
			// Unknown: keep going; the checkpoint fence protects the lease.
		case l.Owner == me:
		case l.CheckpointOwner == me:
			// Logged once, at info, when the hand-off completes.
			c.log.Debug().Str("new_owner", l.Owner).Msg("hand-off requested: finishing the batch in hand and checkpointing")
			c.requestHandoff(l.Owner)
		default:
			c.lose("taken by another worker", l.Owner)
		}
	}
	var unknown map[string][]string
	for _, key := range keys {
		s.mu.Lock()
		skip := running[key] != nil || s.finished[key]
		s.mu.Unlock()
		if skip {
			continue
		}
		// A lease this worker does not consume (another stream's, a
		// malformed key, the other key form) is never started, even
		// when it names this worker as owner.
		st, shardID, why := s.streams.Load().lookup(key)
		if why != resolved {
			if unknown == nil {
				unknown = map[string][]string{}
			}
			unknown[why] = append(unknown[why], key)
			continue
		}
		l, err := s.store.Get(ctx, key)
		if err != nil || l.Owner != me {
			continue
		}
		if l.IsFinished() {
			s.mu.Lock()
			s.finished[key] = true
			s.mu.Unlock()
			continue
		}
		if l.HandoffPending() {
			continue // the old owner is still checkpointing; it completes the hand-off
		}
		// Prove ownership with a compare-and-set that bumps the counter:
		// any earlier incarnation of this worker id still holding the
		// lease can then no longer checkpoint.
		taken, err := s.store.Take(ctx, l, me)
		if err != nil {
			if !errors.Is(err, leases.ErrConditionFailed) && !errors.Is(err, leases.ErrNotFound) && ctx.Err() == nil {
				s.warn.Warn(&s.log, "take").Err(err).Str("lease", key).Msg("taking the lease failed")
			}
			continue
		}
		if s.fence() != nil {
			return
		}
		s.stats.leasesTaken.Add(1)
		s.mu.Lock()
		resumed := s.resumed[key]
		delete(s.resumed, key)
		s.mu.Unlock()
		s.log.Info().Str("lease", key).Str("event", "acquired").Str("reason", acquireReason(taken, resumed)).
			Str("checkpoint", taken.Checkpoint.String()).Msg("lease acquired")
		s.startConsumer(taken, st, shardID)
	}
	s.skipped("discover", unknown)
	s.discovered.Store(true)
}

// acquireReason says why this worker holds a lease it is about to start.
// The lease itself does not say who assigned it, so the reason is read
// from its shape and from when it was found.
func acquireReason(l leases.Lease, resumed string) string {
	switch {
	case resumed != "":
		return resumed
	case len(l.ParentShardIDs) > 0 && seqnum.IsSentinel(l.Checkpoint.SequenceNumber):
		return "child of an ended parent, not processed before (created by the parent's worker or assigned by the leader)"
	default:
		return "assigned by the leader or handed on by a worker shutting down"
	}
}

// startConsumer runs a consumer of l, a lease of shard shardID of stream
// st (as discovery resolved its key).
func (s *Scheduler) startConsumer(l leases.Lease, st *streamInfo, shardID string) {
	c, err := newShardConsumer(s, l, st, shardID)
	if err != nil {
		s.log.Error().Err(err).Str("lease", l.Key).Msg("cannot start the shard consumer")
		return
	}
	s.mu.Lock()
	s.consumers[l.Key] = c
	s.mu.Unlock()
	go c.run()
}

// shutdown stops every consumer gracefully — each finishes its batch, gets
// ShutdownRequested, and hands its lease on to another worker at once —
// bounded by ShutdownTimeout; after that, lease contexts are cancelled and
// the consumers are waited for.
//
// It returns how many consumers had not finished when ShutdownTimeout
// ran out.
func (s *Scheduler) shutdown(cancelRun context.CancelCauseFunc) (abandoned int) {
	ctx, cancel := context.WithTimeout(s.runCtx, s.cfg.ShutdownTimeout)
	defer cancel()
	// Tell the leader to assign this worker nothing more, then pick the
	// workers to hand leases on to.
	if err := s.session.Load().SetDraining(ctx); err != nil {
		s.log.Warn().Err(err).Msg("marking this worker as draining failed")
	}
	targets := s.handOnTargets(ctx)
	s.mu.Lock()
	s.handOn = targets
	cs := make([]*shardConsumer, 0, len(s.consumers))
	for _, c := range s.consumers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	s.log.Info().Int("consumers", len(cs)).Strs("hand_on_to", targets).Msg("shutting down")
	for _, c := range cs {
		c.requestShutdown()
	}
	for _, c := range cs {
		select {
		case <-c.done:
			continue
		default:
		}
		select {
		case <-c.done:
			continue
		case <-ctx.Done():
		}
		if abandoned == 0 {
			s.log.Warn().Dur("timeout", s.cfg.ShutdownTimeout).Msg("graceful shutdown timed out; cancelling processors")
			cancelRun(fmt.Errorf("%w: %w", consumer.ErrShutdown, consumer.ErrShutdownTimeout))
		}
		abandoned++
	}
	cancelRun(consumer.ErrShutdown)
	for _, c := range cs {
		<-c.done
	}
	// The run context is cancelled now; the last hand-on gets its own.
	handCtx, cancelHand := context.WithTimeout(context.WithoutCancel(s.runCtx), s.cfg.ShutdownTimeout)
	defer cancelHand()
	s.handOnUnstarted(handCtx, cs)
	return abandoned
}

// handOnUnstarted hands on the leases this worker owns but never started
// (assigned since its last discovery), so they do not wait for the leader
// to notice that this worker is gone.
func (s *Scheduler) handOnUnstarted(ctx context.Context, started []*shardConsumer) {
	ran := make(map[string]bool, len(started))
	for _, c := range started {
		ran[c.lease.Key] = true
	}
	keys, err := s.store.ListKeysByOwner(ctx, s.cfg.WorkerID)
	if err != nil {
		return
	}
	for _, key := range keys {
		if ran[key] || !s.acceptsLease(key) {
			continue // a lease of a stream not consumed now stays as it is
		}
		l, err := s.store.Get(ctx, key)
		if err != nil || l.Owner != s.cfg.WorkerID || l.IsFinished() || l.HandoffPending() {
			continue
		}
		if target := s.nextHandOnTarget(); target != "" {
			if _, err := s.store.Take(ctx, l, target); err == nil {
				s.log.Info().Str("lease", key).Str("event", "handed-off").Str("reason", "worker shutting down (lease not started yet)").Str("to", target).Msg("lease handed on")
				continue
			}
		}
		if _, err := s.store.Release(ctx, l); err == nil {
			s.log.Info().Str("lease", key).Str("event", "released").Str("reason", "worker shutting down (lease not started yet), no other worker to hand it to").Msg("lease released")
		}
	}
}

// crash stops every consumer without any of the shutdown protocol.
func (s *Scheduler) crash(cancelRun context.CancelCauseFunc) {
	s.crashed.Store(true)
	s.mu.Lock()
	cs := make([]*shardConsumer, 0, len(s.consumers))
	for _, c := range s.consumers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	cancelRun(crashtest.ErrCrash)
	for _, c := range cs {
		<-c.done
	}
	s.log.Warn().Msg("worker crashed (simulated)")
}

// finishShutdown gives up leadership and deletes the worker record, so the
// fleet learns at once that this worker is gone.
func (s *Scheduler) finishShutdown() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.runCtx), s.cfg.ShutdownTimeout)
	defer cancel()
	s.coordinator.Load().Release(ctx)
	if err := s.session.Load().Close(ctx); err != nil {
		s.log.Warn().Err(err).Msg("deleting the worker record failed; the leader removes it once it expires")
	}
	s.log.Info().Int64("records_processed", s.stats.recordsProcessed.Load()).Msg("worker stopped")
}

// handOnTargets lists the other workers that are not draining, those with
// the fewest leases first. Their liveness is not checked: a target that
// turns out dead has its leases reassigned by the leader after the failover
// time, which is what they would have waited for anyway.
func (s *Scheduler) handOnTargets(ctx context.Context) []string {
	ws, err := s.workers.List(ctx)
	if err != nil {
		s.log.Warn().Err(err).Msg("reading the worker table failed; releasing leases instead of handing them on")
		return nil
	}
	type cand struct {
		id     string
		leases int
	}
	var cs []cand
	for _, w := range ws {
		if w.ID != s.cfg.WorkerID && !w.Draining {
			cs = append(cs, cand{w.ID, len(w.LeaseThroughput)})
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].leases != cs[j].leases {
			return cs[i].leases < cs[j].leases
		}
		return cs[i].id < cs[j].id
	})
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.id
	}
	return out
}

// nextHandOnTarget picks the worker the next lease is handed on to, or ""
// to release it.
func (s *Scheduler) nextHandOnTarget() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.handOn) == 0 {
		return ""
	}
	t := s.handOn[s.handOnN%len(s.handOn)]
	s.handOnN++
	return t
}

// shardEndSignal returns a channel closed at the next local shard end.
func (s *Scheduler) shardEndSignal() <-chan struct{} {
	s.endSignal.mu.Lock()
	defer s.endSignal.mu.Unlock()
	return s.endSignal.ch
}

// broadcastShardEnd wakes children waiting on a parent of this worker and
// the main loop (to take new child leases at once).
func (s *Scheduler) broadcastShardEnd() {
	s.endSignal.mu.Lock()
	close(s.endSignal.ch)
	s.endSignal.ch = make(chan struct{})
	s.endSignal.mu.Unlock()
	select {
	case s.wakeLoop <- struct{}{}:
	default:
	}
}

// after is time.After for waits that end with their select: the timer is
// collected once it fires or is unreferenced.
func (s *Scheduler) after(d time.Duration) <-chan time.Time { return time.After(d) }

// acquireBytes reserves n bytes (at most MaxTotalPendingBytes) of the
// worker-wide prefetch budget.
func (s *Scheduler) acquireBytes(ctx context.Context, n int64) error {
	if n <= 0 {
		return nil
	}
	return s.bytesSem.Acquire(ctx, n)
}

func (s *Scheduler) releaseBytes(n int64) {
	if n > 0 {
		s.bytesSem.Release(n)
	}
}

func (s *Scheduler) streamARNOrNil() *string {
	if s.cfg.StreamARN == "" {
		return nil
	}
	return aws.String(s.cfg.StreamARN)
}

func defaultConcurrentFetches() int { return 32 * runtime.GOMAXPROCS(0) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Scheduler) loadSource() string {
	if s.loadSample != nil {
		return "Config.LoadSampler"
	}
	return s.cpu.Source()
}
