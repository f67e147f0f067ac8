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
	"github.com/shardwise/shardwise/metrics"
)

// fetcher polls one shard with GetRecords and pushes what it reads into the
// shard's queue. It runs on its own goroutine, owned by the shard consumer,
// and never waits for processing unless the queue is full.
type fetcher struct {
	s       *Scheduler
	shardID string
	q       *queue
	log     zerolog.Logger
	conv    recordConverter
	scope   *metrics.Scope
	fetched *atomic.Int64 // records pushed, for Stats

	// after is the position everything up to which has been pushed (or
	// was already checkpointed); an iterator renewal restarts there.
	after consumer.ExtendedSequenceNumber
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
		out, err := f.getRecords(ctx, iter)
		if f.scope.Enabled(metrics.LevelDetailed) {
			f.scope.Time(metrics.MetricGetRecordsTime, time.Since(lastCall), metrics.LevelDetailed)
			f.scope.Success(metrics.MetricGetRecordsSuccess, err == nil, metrics.LevelDetailed)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			switch {
			case awsapi.IsExpiredIterator(err):
				// The iterator outlived its five minutes (a slow processor
				// kept the queue full): start again after what was pushed.
				f.log.Info().Msg("shard iterator expired; getting a fresh one")
				f.scope.Count(metrics.MetricExpiredIterator, 1, metrics.LevelSummary)
				if iter, ok = f.iterator(ctx, &throttle); !ok {
					return
				}
				continue
			case awsapi.IsThrottle(err):
				f.log.Debug().Err(err).Msg("GetRecords throttled; backing off")
				f.scope.Count(metrics.MetricGetRecordsThrottled, 1, metrics.LevelSummary)
			default:
				f.log.Warn().Err(err).Msg("GetRecords failed; backing off")
			}
			if !backoff.Sleep(ctx, throttle.Next()) {
				return
			}
			continue
		}
		throttle.Reset()
		now := time.Now()
		b := &batch{millisBehind: aws.ToInt64(out.MillisBehindLatest), fetchedAt: now}
		b.records, b.bytes = f.conv.appendRecords(nil, out.Records, f.after)
		if n := len(b.records); n > 0 {
			f.after = b.records[n-1].Position()
			f.fetched.Add(int64(n))
			if err := f.push(ctx, b); err != nil {
				return
			}
		}
		if out.NextShardIterator == nil {
			f.log.Info().Int("child_shards", len(out.ChildShards)).Msg("reached the end of the shard")
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

// push waits for room in the worker-wide byte budget, then in the shard's
// queue. The budget is given back by the processor once the batch is done.
func (f *fetcher) push(ctx context.Context, b *batch) error {
	if err := f.s.acquireBytes(ctx, b.bytes); err != nil {
		return err
	}
	if err := f.q.push(ctx, b); err != nil {
		f.s.releaseBytes(b.bytes)
		return err
	}
	return nil
}

// getRecords makes one GetRecords call with the worker-wide bound on calls
// in flight: the response is decoded inside the call, and decoding is
// CPU-bound, so more decodes than a few per core only adds contention.
func (f *fetcher) getRecords(ctx context.Context, iter string) (*kinesis.GetRecordsOutput, error) {
	if err := f.s.fetchSem.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	defer f.s.fetchSem.Release(1)
	return f.s.kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{
		ShardIterator: aws.String(iter),
		Limit:         aws.Int32(int32(f.s.cfg.MaxRecords)),
		StreamARN:     f.s.streamARNOrNil(),
	}, f.s.getRecOpt)
}

// iterator gets a shard iterator at f.after: right at a sequence number
// (records at or before f.after are then filtered out, which is what lets a
// checkpoint inside a KPL aggregate resume at the next sub-record), or at
// the initial position's sentinel. It retries until it succeeds or ctx
// ends.
func (f *fetcher) iterator(ctx context.Context, throttle *backoff.Backoff) (string, bool) {
	in := &kinesis.GetShardIteratorInput{
		ShardId:    aws.String(f.shardID),
		StreamName: aws.String(f.s.cfg.StreamName),
		StreamARN:  f.s.streamARNOrNil(),
	}
	if in.StreamARN != nil {
		in.StreamName = nil
	}
	switch f.after.SequenceNumber {
	case consumer.SentinelTrimHorizon:
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	case consumer.SentinelLatest:
		in.ShardIteratorType = types.ShardIteratorTypeLatest
	case consumer.SentinelAtTimestamp:
		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		in.Timestamp = aws.Time(f.s.cfg.InitialPosition.Timestamp)
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
			err = fmt.Errorf("GetShardIterator returned no iterator")
		}
		f.log.Warn().Err(err).Str("iterator_type", string(in.ShardIteratorType)).Msg("GetShardIterator failed; backing off")
		if !backoff.Sleep(ctx, throttle.Next()) {
			return "", false
		}
	}
}
