package scheduler

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/backoff"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/internal/mscope"
	"github.com/shardwise/shardwise/metrics"
)

// fetcher polls one shard with GetRecords and pushes what it reads into the
// shard's queue. It runs on its own goroutine, owned by the shard consumer,
// and never waits for processing unless the queue is full.
type fetcher struct {
	s       *Scheduler
	stream  *streamInfo
	shardID string
	q       *queue
	log     zerolog.Logger
	conv    recordConverter
	scope   *mscope.Scope
	fetched *atomic.Int64 // records pushed, for Stats
	behind  *atomic.Int64 // MillisBehindLatest of the last response
	lag     *lagTracker   // marks each batch pushed

	// after is the position everything up to which has been pushed (or
	// was already checkpointed); an iterator renewal restarts there.
	after consumer.ExtendedSequenceNumber
	// reserve is the payload expected of the next call: the previous
	// response's bytes, or -1 before the first call.
	reserve int64
}

// inFlightFactorX2 is twice the memory a GetRecords response takes while
// it is read and decoded, per byte of payload: the body (about 1.37 bytes
// of JSON and base64 per byte, in a buffer rounded up to a power of two)
// and the decoded records.
const inFlightFactorX2 = 5

// maxResponseBytes is the most data one GetRecords response returns.
const maxResponseBytes = 10 << 20

// noteResponse folds a response's payload bytes into the worker's
// estimate: a maximum that decays by an eighth with every smaller
// response, so a few large shards are not forgotten at once.
func (s *Scheduler) noteResponse(n int64) {
	for {
		old := s.respEstimate.Load()
		if s.respEstimate.CompareAndSwap(old, max(n, old-old/8)) {
			return
		}
	}
}

// run fetches until the shard ends (the queue then holds the end marker)
// or ctx ends. It closes the queue when it returns.
func (f *fetcher) run(ctx context.Context) {
	defer f.q.close()
	cfg := &f.s.cfg
	throttle := backoff.Backoff{Base: cfg.ThrottleBackoff, Max: cfg.ThrottleMaxBackoff}

	iter, ok := f.iterator(ctx, &throttle)
	if !ok {
		return
	}
	var lastCall time.Time
	for ctx.Err() == nil {
		// Kinesis allows five GetRecords calls per second per shard.
		if wait := cfg.MinGetRecordsInterval - time.Since(lastCall); wait > 0 && !backoff.Sleep(ctx, wait) {
			return
		}
		lastCall = time.Now()
		out, b, err := f.fetch(ctx, iter)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			switch {
			case awsapi.IsExpiredIterator(err):
				// The iterator outlived its five minutes (a slow processor
				// kept the queue full): start again after what was pushed.
				f.log.Info().Msg("shard iterator expired; getting a fresh one")
				f.scope.Count(metricnames.MetricExpiredIterator, 1, metrics.LevelSummary)
				if iter, ok = f.iterator(ctx, &throttle); !ok {
					return
				}
				continue
			case awsapi.IsThrottle(err):
				f.s.warn.Warn(&f.log, "throttled").Err(err).Msg("GetRecords throttled; backing off")
				f.scope.Count(metricnames.MetricGetRecordsThrottled, 1, metrics.LevelSummary)
			default:
				f.s.warn.Warn(&f.log, "getrecords").Err(err).Msg("GetRecords failed; backing off")
			}
			if !backoff.Sleep(ctx, throttle.Next()) {
				return
			}
			continue
		}
		throttle.Reset()
		f.behind.Store(b.millisBehind)
		if n := len(b.records); n > 0 {
			f.after = b.records[n-1].Position()
			f.fetched.Add(int64(n))
			f.lag.fetched(b)
			if err := f.push(ctx, b); err != nil {
				return
			}
		}
		now := b.fetchedAt
		if out.NextShardIterator == nil {
			f.log.Debug().Int("child_shards", len(out.ChildShards)).Msg("reached the end of the shard")
			_ = f.push(ctx, &batch{shardEnd: true, childShards: out.ChildShards, fetchedAt: now})
			return
		}
		iter = aws.ToString(out.NextShardIterator)
		if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
			if !backoff.Sleep(ctx, cfg.IdleTimeBetweenReads) {
				return
			}
		}
	}
}

// push waits for room in the shard's queue. The batch's share of the
// worker-wide byte budget (b.held) is already held; the processor gives it
// back once the batch is done, or push does if the batch never gets in.
func (f *fetcher) push(ctx context.Context, b *batch) error {
	if err := f.q.push(ctx, b); err != nil {
		f.s.releaseBytes(b.held)
		return err
	}
	return nil
}

// fetch makes one GetRecords call and converts its records into a batch
// whose bytes are held in the worker-wide prefetch budget (b.held).
//
// The call is made within the worker-wide bound on calls in flight: the
// response is decoded inside the call, and decoding is CPU-bound, so more
// decodes than a few per core only adds contention.
//
// Memory: with the call's slot held, the budget is reserved for the
// response the call is expected to bring (the size of this shard's
// previous response; for a shard's first call, or after an empty one, a
// decaying maximum of the worker's recent responses; with no response seen
// yet, the most a GetRecords response holds),
// counted inFlightFactorX2/2 times to cover the body being read and
// decoded as well as the records; then the call is made, and the slot is
// kept until the response's actual size is held. So a response decoded but
// not yet counted in the budget exists only while its slot is held (at most
// MaxConcurrentFetches of them, each over its reservation by less than one
// response), and fetchers that could not be admitted wait before calling,
// holding nothing. Nothing waits for budget while holding budget (a
// reservation that turns out short is given back before waiting for the
// whole size), so waits for the budget always end as processors finish.
func (f *fetcher) fetch(ctx context.Context, iter string) (*kinesis.GetRecordsOutput, *batch, error) {
	s := f.s
	if err := s.fetchSem.Acquire(ctx, 1); err != nil {
		return nil, nil, err
	}
	defer s.fetchSem.Release(1)
	est := f.reserve
	if est <= 0 {
		// A shard with no history of its own (or an empty last response)
		// expects what the worker's shards recently brought; with nothing
		// known at all, the most Kinesis returns.
		if est = s.respEstimate.Load(); est == 0 {
			est = maxResponseBytes
		}
	}
	reserved := min(est*inFlightFactorX2/2, s.cfg.MaxTotalPendingBytes)
	if err := s.acquireBytes(ctx, reserved); err != nil {
		return nil, nil, err
	}
	started := time.Now()
	out, err := s.kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{
		ShardIterator: aws.String(iter),
		Limit:         aws.Int32(int32(s.cfg.MaxRecords)),
		StreamARN:     f.stream.arnOrNil(),
	}, s.getRecOpt)
	if f.scope.Enabled(metrics.LevelDetailed) && ctx.Err() == nil {
		f.scope.Time(metricnames.MetricGetRecordsTime, time.Since(started), metrics.LevelDetailed)
		f.scope.Success(metricnames.MetricGetRecordsSuccess, err == nil, metrics.LevelDetailed)
	}
	if err != nil {
		s.releaseBytes(reserved)
		return nil, nil, err
	}
	b := &batch{millisBehind: aws.ToInt64(out.MillisBehindLatest), fetchedAt: time.Now()}
	b.records, b.bytes = f.conv.appendRecords(nil, out.Records, f.after)
	f.reserve = b.bytes
	if b.bytes > 0 {
		s.noteResponse(b.bytes)
	}
	// A batch larger than the whole budget holds the whole budget.
	b.held = min(b.bytes, s.cfg.MaxTotalPendingBytes)
	switch {
	case b.held > reserved:
		if !s.bytesSem.TryAcquire(b.held - reserved) {
			s.releaseBytes(reserved)
			if err := s.acquireBytes(ctx, b.held); err != nil {
				return nil, nil, err
			}
		}
	case b.held < reserved:
		s.releaseBytes(reserved - b.held)
	}
	if len(b.records) == 0 {
		s.releaseBytes(b.held)
		b.held = 0
	}
	return out, b, nil
}

// iterator gets a shard iterator at f.after: right at a sequence number
// (records at or before f.after are then filtered out, which is what lets a
// checkpoint inside a KPL aggregate resume at the next sub-record), or at
// the initial position's sentinel. It retries until it succeeds or ctx
// ends.
func (f *fetcher) iterator(ctx context.Context, throttle *backoff.Backoff) (string, bool) {
	in := &kinesis.GetShardIteratorInput{
		ShardId:    aws.String(f.shardID),
		StreamName: f.stream.nameOrNil(),
		StreamARN:  f.stream.arnOrNil(),
	}
	switch f.after.SequenceNumber {
	case consumer.TrimHorizon.SequenceNumber:
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	case consumer.Latest.SequenceNumber:
		in.ShardIteratorType = types.ShardIteratorTypeLatest
	case consumer.AtTimestamp.SequenceNumber:
		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		in.Timestamp = aws.Time(f.stream.pos.Timestamp)
	default:
		in.ShardIteratorType = types.ShardIteratorTypeAtSequenceNumber
		in.StartingSequenceNumber = aws.String(f.after.SequenceNumber)
	}
	for {
		out, err := f.s.kinesis.GetShardIterator(ctx, in)
		if err == nil && out.ShardIterator != nil {
			throttle.Reset()
			return *out.ShardIterator, true
		}
		if ctx.Err() != nil {
			return "", false
		}
		if err == nil {
			err = fmt.Errorf("shardwise: GetShardIterator returned no iterator")
		}
		f.s.warn.Warn(&f.log, "iterator").Err(err).Str("iterator_type", string(in.ShardIteratorType)).Msg("GetShardIterator failed; backing off")
		if !backoff.Sleep(ctx, throttle.Next()) {
			return "", false
		}
	}
}
