package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/rs/zerolog"
	"golang.org/x/sync/semaphore"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/backoff"
	"github.com/shardwise/shardwise/leases"
)

// Scheduler runs a worker of a consumer application: it keeps leases for
// the stream's shards and runs a processor for every lease it holds.
type Scheduler struct {
	cfg     Config
	factory consumer.ProcessorFactory
	kinesis KinesisAPI
	store   leases.Store
	log     zerolog.Logger

	fetchSem  *semaphore.Weighted // GetRecords calls in flight, worker-wide
	bytesSem  *semaphore.Weighted // prefetched bytes, worker-wide
	stats     counters
	running   atomic.Bool
	runCtx    context.Context // parent of every lease context; set by Run
	wakeLoop  chan struct{}   // nudges the main loop to discover leases now
	endSignal struct {
		mu sync.Mutex
		ch chan struct{} // closed and replaced whenever a local shard ends
	}

	mu        sync.Mutex // guards consumers
	consumers map[string]*shardConsumer
}

// counters are the scheduler's running totals.
type counters struct {
	recordsProcessed atomic.Int64
	processorErrors  atomic.Int64
	leasesLost       atomic.Int64
	leasesTaken      atomic.Int64
}

// New validates cfg and returns a Scheduler that hands records to
// processors made by factory. It does no I/O and never panics.
func New(cfg Config, factory consumer.ProcessorFactory) (*Scheduler, error) {
	if factory == nil {
		return nil, &ConfigError{Field: "factory", Reason: "is nil"}
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Scheduler{
		cfg:       cfg,
		factory:   factory,
		kinesis:   cfg.KinesisClient,
		store:     cfg.LeaseStore,
		fetchSem:  semaphore.NewWeighted(int64(cfg.MaxConcurrentFetches)),
		bytesSem:  semaphore.NewWeighted(cfg.MaxTotalPendingBytes),
		wakeLoop:  make(chan struct{}, 1),
		consumers: make(map[string]*shardConsumer),
	}
	s.endSignal.ch = make(chan struct{})
	s.log = cfg.Logger.With().Str("worker", cfg.WorkerID).Str("stream", cfg.StreamName).Logger()
	if s.kinesis == nil {
		s.kinesis = kinesis.NewFromConfig(*cfg.AWSConfig)
	}
	if s.store == nil {
		ddb := cfg.DynamoDBClient
		if ddb == nil {
			ddb = dynamodb.NewFromConfig(*cfg.AWSConfig)
		}
		st, err := leases.NewDynamoStore(leases.DynamoConfig{Client: ddb, TableName: cfg.LeaseTableName, Logger: s.log})
		if err != nil {
			return nil, fmt.Errorf("shardwise: lease store: %w", err)
		}
		s.store = st
	}
	return s, nil
}

// WorkerID is this worker's id in the lease table.
func (s *Scheduler) WorkerID() string { return s.cfg.WorkerID }

// Run runs the worker until ctx ends, then shuts down gracefully and
// returns nil. It returns an error at once if the worker cannot start: the
// stream does not exist, a permission is missing, the lease table has a
// foreign key schema. A Scheduler runs once.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("shardwise: Run called twice")
	}
	// Lease contexts outlive ctx during graceful shutdown (the batch in
	// hand is finished and the processor may checkpoint), so they hang off
	// a context of their own, cancelled once shutdown is over.
	runCtx, cancelRun := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRun(errShutdown)
	s.runCtx = runCtx

	if err := s.start(ctx); err != nil {
		return err
	}
	s.log.Info().Str("lease_table", s.cfg.LeaseTableName).Str("initial_position", s.cfg.InitialPosition.String()).Msg("worker started")

	discover := time.NewTicker(s.cfg.LeaseDiscoveryInterval)
	defer discover.Stop()
	sync := time.NewTicker(s.cfg.ShardSyncInterval)
	defer sync.Stop()
	s.discover(ctx)
	for {
		select {
		case <-ctx.Done():
			s.shutdown(cancelRun)
			return nil
		case <-discover.C:
			s.discover(ctx)
		case <-s.wakeLoop:
			s.discover(ctx)
		case <-sync.C:
			if err := s.syncShards(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn().Err(err).Msg("shard sync failed; will retry")
			}
		}
	}
}

// start checks the stream, makes sure the lease table exists and creates
// the missing leases. Its errors are fatal and name the problem.
func (s *Scheduler) start(ctx context.Context) error {
	if err := s.describeStream(ctx); err != nil {
		return err
	}
	if err := s.store.EnsureTable(ctx); err != nil {
		return fmt.Errorf("shardwise: lease table %q: %w", s.cfg.LeaseTableName, err)
	}
	retry := backoff.Backoff{Base: s.cfg.ThrottleBackoff, Max: s.cfg.ThrottleMaxBackoff}
	for {
		err := s.syncShards(ctx)
		if err == nil {
			return nil
		}
		if awsapi.IsNotFound(err) || awsapi.IsAccessDenied(err) || ctx.Err() != nil {
			return fmt.Errorf("shardwise: shard sync of stream %q: %w", s.cfg.StreamName, err)
		}
		s.log.Warn().Err(err).Msg("initial shard sync failed; retrying")
		if !backoff.Sleep(ctx, retry.Next()) {
			return ctx.Err()
		}
	}
}

// describeStream fails with a clear error when the stream is missing or
// the worker may not read it.
func (s *Scheduler) describeStream(ctx context.Context) error {
	in := &kinesis.DescribeStreamSummaryInput{StreamARN: s.streamARNOrNil()}
	if in.StreamARN == nil {
		in.StreamName = aws.String(s.cfg.StreamName)
	}
	_, err := s.kinesis.DescribeStreamSummary(ctx, in)
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

// discover reads the lease table, takes the leases this worker should
// process, starts their consumers, and stops the consumers of leases this
// worker no longer holds.
func (s *Scheduler) discover(ctx context.Context) {
	all, err := s.store.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("reading the lease table failed; will retry")
		}
		return
	}
	me := s.cfg.WorkerID
	seen := make(map[string]bool, len(all))
	for _, l := range all {
		seen[l.Key] = true
		s.mu.Lock()
		c := s.consumers[l.Key]
		s.mu.Unlock()
		if c != nil {
			select {
			case <-c.done:
				s.mu.Lock()
				delete(s.consumers, l.Key)
				s.mu.Unlock()
				c = nil
			default:
			}
		}
		if c != nil {
			if l.Owner != me && l.CheckpointOwner != me {
				c.log.Info().Str("new_owner", l.Owner).Msg("lease taken by another worker")
				c.leaseLost()
			}
			continue
		}
		if l.IsFinished() || ctx.Err() != nil {
			continue
		}
		// Take unowned leases and leases still held under this worker id
		// by an earlier incarnation; the compare-and-set bumps the counter,
		// which fences any earlier incarnation that may still wake up.
		if l.Owner != "" && l.Owner != me {
			continue
		}
		taken, err := s.store.Take(ctx, l, me)
		if err != nil {
			if !errors.Is(err, leases.ErrConditionFailed) && !errors.Is(err, leases.ErrNotFound) && ctx.Err() == nil {
				s.log.Warn().Err(err).Str("lease", l.Key).Msg("taking the lease failed")
			}
			continue
		}
		s.stats.leasesTaken.Add(1)
		s.log.Info().Str("lease", taken.Key).Str("previous_owner", l.Owner).Msg("lease taken")
		s.startConsumer(taken)
	}
	// A lease that vanished from the table is lost too.
	s.mu.Lock()
	for key, c := range s.consumers {
		if !seen[key] {
			c.leaseLost()
		}
	}
	s.mu.Unlock()
}

func (s *Scheduler) startConsumer(l leases.Lease) {
	c, err := newShardConsumer(s, l)
	if err != nil {
		s.log.Error().Err(err).Str("lease", l.Key).Msg("cannot start the shard consumer")
		return
	}
	s.mu.Lock()
	s.consumers[l.Key] = c
	s.mu.Unlock()
	go c.run()
}

// shutdown stops every consumer gracefully (each finishes its batch, gets
// ShutdownRequested and releases its lease), bounded by ShutdownTimeout;
// after that, lease contexts are cancelled and the consumers are waited
// for.
func (s *Scheduler) shutdown(cancelRun context.CancelCauseFunc) {
	s.mu.Lock()
	cs := make([]*shardConsumer, 0, len(s.consumers))
	for _, c := range s.consumers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	s.log.Info().Int("consumers", len(cs)).Msg("shutting down")
	for _, c := range cs {
		c.requestShutdown()
	}
	timeout := time.NewTimer(s.cfg.ShutdownTimeout)
	defer timeout.Stop()
	for _, c := range cs {
		select {
		case <-c.done:
		case <-timeout.C:
			s.log.Warn().Dur("timeout", s.cfg.ShutdownTimeout).Msg("graceful shutdown timed out; cancelling processors")
			cancelRun(fmt.Errorf("%w: ShutdownTimeout exceeded", errShutdown))
		}
	}
	cancelRun(errShutdown)
	for _, c := range cs {
		<-c.done
	}
	s.log.Info().Int64("records_processed", s.stats.recordsProcessed.Load()).Msg("worker stopped")
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

// acquireBytes reserves n bytes of the worker-wide prefetch budget. A
// batch larger than the whole budget reserves the whole budget.
func (s *Scheduler) acquireBytes(ctx context.Context, n int64) error {
	if n <= 0 {
		return nil
	}
	return s.bytesSem.Acquire(ctx, min(n, s.cfg.MaxTotalPendingBytes))
}

func (s *Scheduler) releaseBytes(n int64) {
	if n > 0 {
		s.bytesSem.Release(min(n, s.cfg.MaxTotalPendingBytes))
	}
}

func (s *Scheduler) streamARNOrNil() *string {
	if s.cfg.StreamARN == "" {
		return nil
	}
	return aws.String(s.cfg.StreamARN)
}

func defaultConcurrentFetches() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
