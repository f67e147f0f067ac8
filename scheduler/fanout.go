package scheduler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/backoff"
	"github.com/shardwise/shardwise/internal/mscope"
)

// subscriber is the enhanced fan-out records publisher: one
// SubscribeToShard subscription at a time on its shard, renewed from the
// last ContinuationSequenceNumber whenever it ends (the service ends each
// one after 5 minutes), fails or goes silent.
//
// It reads the SDK client's event stream (GetStream().Events()), decoded
// by ours or the SDK's decoder behind a gate (prepaid): a message is read
// only once the worker's byte budget has room for reading and decoding it,
// its event then keeps its records' bytes there until they are processed,
// and an event's records are pushed only once the shard's queue has room.
// So a slow processor stops the reading within the budget, and the
// transport's flow control holds the rest at the service.
type subscriber struct {
	s       *Scheduler
	stream  *streamInfo
	shardID string
	q       *queue
	log     zerolog.Logger
	conv    recordConverter
	scope   *mscope.Scope
	fetched *atomic.Int64 // records pushed, for Stats
	behind  *atomic.Int64 // MillisBehindLatest of the last event
	lag     *lagTracker   // marks each batch pushed

	// after is the position everything up to which has been pushed (or
	// was already checkpointed): records at or before it are dropped, so
	// a resubscription never delivers a record twice, and a checkpoint
	// inside a KPL aggregate resumes at the next sub-record.
	after consumer.ExtendedSequenceNumber
	// cont is the ContinuationSequenceNumber of the last event handled,
	// where a renewed subscription starts ("" before the first event:
	// the subscription then starts at after).
	cont string
	// lastCall is when SubscribeToShard was last called on this shard.
	lastCall time.Time
	// consumerARN is the stream's fan-out consumer, once known.
	consumerARN string
}

// errSilent ends a subscription that delivered no event within
// SubscriptionIdleTimeout.
var errSilent = errors.New("shardwise: no event within SubscriptionIdleTimeout")

// run subscribes until the shard ends (the queue then holds the end
// marker) or ctx ends. It closes the queue when it returns.
func (p *subscriber) run(ctx context.Context) {
	defer p.q.close()
	cfg := &p.s.cfg
	retry := backoff.Backoff{Base: cfg.ThrottleBackoff, Max: cfg.ThrottleMaxBackoff}
	for ctx.Err() == nil {
		if p.consumerARN == "" {
			arn, err := p.s.streamConsumer(ctx, p.stream)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				p.s.warn.Warn(&p.log, "stream-consumer").Err(err).Msg("no enhanced fan-out consumer for the shard's stream yet; retrying")
				if !backoff.Sleep(ctx, retry.Next()) {
					return
				}
				continue
			}
			p.consumerARN = arn
		}
		// One SubscribeToShard per second per consumer and shard.
		if wait := subscribeInterval - time.Since(p.lastCall); wait > 0 && !backoff.Sleep(ctx, wait) {
			return
		}
		p.lastCall = time.Now()
		in := p.input()
		subCtx, cancel := context.WithCancel(ctx)
		// The stream's reader reads a message only once the byte budget
		// has room for what reading and decoding it holds: what the stream
		// reads ahead stays within the budget.
		pre := &prepaid{s: p.s, ctx: subCtx}
		out, err := p.s.kinesis.SubscribeToShard(subCtx, in, p.s.subOpt(pre))
		if err != nil {
			pre.close()
			cancel()
			if ctx.Err() != nil {
				return
			}
			p.subscribeFailed(err, in)
			if !backoff.Sleep(ctx, retry.Next()) {
				return
			}
			continue
		}
		progressed, ended, err := p.drain(ctx, out.GetStream(), pre)
		cancel()
		pre.close()
		if ended || ctx.Err() != nil {
			return
		}
		switch {
		case awsapi.IsResourceInUse(err):
			// Inside the stream: the previous subscription of this
			// consumer on this shard is still open (kinesis-local sends
			// it so after a hand-off); it closes shortly.
			p.log.Debug().Err(err).Str("from", p.position()).Msg("the shard's previous fan-out subscription is still open; retrying")
		case errors.Is(err, errSilent):
			p.s.warn.Warn(&p.log, "subscription-silent").Dur("idle_timeout", cfg.SubscriptionIdleTimeout).Str("from", p.position()).
				Msg("fan-out subscription went silent; resubscribing from the last position")
		case err != nil:
			p.s.warn.Warn(&p.log, "subscription-failed").Err(err).Str("from", p.position()).
				Msg("fan-out subscription failed; resubscribing from the last position")
		default:
			p.log.Debug().Str("from", p.position()).Msg("fan-out subscription ended; renewing it")
		}
		if progressed {
			retry.Reset()
			continue
		}
		// A subscription that ended before its first event is a failure
		// to back off from, like a refused call.
		if !backoff.Sleep(ctx, retry.Next()) {
			return
		}
	}
}

// input is the SubscribeToShard request at the current position: the last
// continuation, else the checkpoint (AT_SEQUENCE_NUMBER, what is at or
// before it is then dropped, as in polling), else the initial position's
// sentinel.
func (p *subscriber) input() *kinesis.SubscribeToShardInput {
	pos := &types.StartingPosition{}
	switch {
	case p.cont != "":
		pos.Type = types.ShardIteratorTypeAtSequenceNumber
		pos.SequenceNumber = aws.String(p.cont)
	case p.after.SequenceNumber == consumer.TrimHorizon.SequenceNumber:
		pos.Type = types.ShardIteratorTypeTrimHorizon
	case p.after.SequenceNumber == consumer.Latest.SequenceNumber:
		pos.Type = types.ShardIteratorTypeLatest
	case p.after.SequenceNumber == consumer.AtTimestamp.SequenceNumber:
		pos.Type = types.ShardIteratorTypeAtTimestamp
		pos.Timestamp = aws.Time(p.stream.pos.Timestamp)
	default:
		pos.Type = types.ShardIteratorTypeAtSequenceNumber
		pos.SequenceNumber = aws.String(p.after.SequenceNumber)
	}
	return &kinesis.SubscribeToShardInput{
		ConsumerARN:      aws.String(p.consumerARN),
		ShardId:          aws.String(p.shardID),
		StartingPosition: pos,
	}
}

// position describes where the next subscription starts, for logs.
func (p *subscriber) position() string {
	if p.cont != "" {
		return p.cont
	}
	return p.after.String()
}

// subscribeFailed logs a refused SubscribeToShard call.
func (p *subscriber) subscribeFailed(err error, in *kinesis.SubscribeToShardInput) {
	switch {
	case awsapi.IsResourceInUse(err):
		// The previous subscription of this consumer on this shard is
		// still open (ours, just ended, or the previous owner's right
		// after a hand-off): it closes shortly.
		p.log.Debug().Err(err).Msg("the shard's previous fan-out subscription is still open; retrying")
	case awsapi.IsThrottle(err):
		p.s.warn.Warn(&p.log, "subscribe-throttled").Err(err).Msg("SubscribeToShard throttled; backing off")
	default:
		p.s.warn.Warn(&p.log, "subscribe").Err(err).Str("starting_position", string(in.StartingPosition.Type)).
			Msg("SubscribeToShard failed; backing off")
	}
}

// drain reads the subscription's events until it ends (err is the
// stream's error, nil for a clean end), goes silent (errSilent), the shard
// ends (ended: its end marker is queued) or ctx ends. progressed reports
// whether any event arrived.
func (p *subscriber) drain(ctx context.Context, es *kinesis.SubscribeToShardEventStream, pre *prepaid) (progressed, ended bool, err error) {
	if es == nil {
		return false, false, errors.New("shardwise: SubscribeToShard returned no event stream")
	}
	defer es.Close()
	idle := p.s.cfg.SubscriptionIdleTimeout
	timer := time.NewTimer(idle)
	defer timer.Stop()
	events := es.Events()
	for {
		select {
		case <-ctx.Done():
			return progressed, false, nil
		case <-timer.C:
			if pre.waiting() {
				// The gate waits for room in the budget: backpressure,
				// not silence.
				timer.Reset(idle)
				continue
			}
			return progressed, false, errSilent
		case ev, ok := <-events:
			if !ok {
				return progressed, false, es.Err()
			}
			e, isEvent := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !isEvent {
				if n, ok := pre.pop(); ok {
					p.s.releaseBytes(n)
				}
				continue // an event type this SDK does not know
			}
			progressed = true
			end, err := p.handle(ctx, &e.Value, pre)
			if err != nil || end {
				return true, end, err
			}
			// Time spent waiting for room (backpressure) is not silence.
			timer.Reset(idle)
		}
	}
}

// handle pushes one event's records (waiting for budget and queue room)
// and moves the position past them. An event without a continuation is
// the last of a closed shard: the end marker follows its records.
func (p *subscriber) handle(ctx context.Context, ev *types.SubscribeToShardEvent, pre *prepaid) (ended bool, err error) {
	s := p.s
	b := &batch{millisBehind: aws.ToInt64(ev.MillisBehindLatest), fetchedAt: time.Now()}
	b.records, b.bytes = p.conv.appendRecords(nil, ev.Records, p.after)
	p.behind.Store(b.millisBehind)
	paid, _ := pre.pop()
	if n := len(b.records); n > 0 {
		// The batch holds its records' bytes (a batch larger than the
		// whole budget holds the whole budget), settled from what the
		// gate held for the event: the event's records' data once decoded.
		b.held = min(b.bytes, s.cfg.MaxTotalPendingBytes)
		switch {
		case b.held < paid:
			s.releaseBytes(paid - b.held)
		case b.held > paid && !s.bytesSem.TryAcquire(b.held-paid):
			// More than was paid (no gate ran, or the records hold more
			// than the gate was told): wait for the whole amount without
			// holding a part of it meanwhile.
			s.releaseBytes(paid)
			if err := s.acquireBytes(ctx, b.held); err != nil {
				return false, err
			}
		}
		p.fetched.Add(int64(n))
		p.lag.fetched(b)
		if err := p.q.push(ctx, b); err != nil {
			s.releaseBytes(b.held)
			return false, err
		}
		p.after = b.records[n-1].Position()
	} else {
		s.releaseBytes(paid)
	}
	if ev.ContinuationSequenceNumber == nil {
		p.log.Debug().Int("child_shards", len(ev.ChildShards)).Msg("reached the end of the shard")
		if err := p.q.push(ctx, &batch{shardEnd: true, childShards: ev.ChildShards, fetchedAt: b.fetchedAt}); err != nil {
			return false, err
		}
		return true, nil
	}
	p.cont = *ev.ContinuationSequenceNumber
	return false, nil
}

// prepaid is the gate of one subscription (fastdecode.Gate): what it took
// from the worker's byte budget for the messages it let the stream's
// reader read, in stream order. Admit takes the most reading and decoding
// a message holds; Decoded gives back what the decoded event does not
// keep; each event the subscriber receives takes the first amount (its
// batch settles it at its records' bytes, or it is released when the
// event has no records). When the subscription ends, close releases what
// no event took (messages read ahead, an exception), and a gate that gets
// through afterwards gives its bytes back at once.
type prepaid struct {
	s       *Scheduler
	ctx     context.Context // the subscription's: Admit waits no longer
	mu      sync.Mutex
	q       []int64
	closed  bool
	blocked atomic.Int32 // gates waiting for room
}

// waiting reports whether the gate is waiting for room in the budget.
func (pp *prepaid) waiting() bool { return pp != nil && pp.blocked.Load() > 0 }

var errSubscriptionClosed = errors.New("shardwise: the subscription was closed")

// Admit waits until the budget has room for n bytes (the whole budget for
// more).
func (pp *prepaid) Admit(n int) error {
	held := min(int64(n), pp.s.cfg.MaxTotalPendingBytes)
	pp.blocked.Add(1)
	err := pp.s.acquireBytes(pp.ctx, held)
	pp.blocked.Add(-1)
	if err != nil {
		return err
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.closed {
		pp.s.releaseBytes(held)
		return errSubscriptionClosed
	}
	pp.q = append(pp.q, held)
	return nil
}

// Decoded settles the amount of the message admitted last at n, the bytes
// its event keeps: the reader calls it before it hands the event on, so
// that amount is still the last one queued (or close took it).
func (pp *prepaid) Decoded(n int) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if len(pp.q) == 0 {
		return
	}
	last := &pp.q[len(pp.q)-1]
	if keep := min(int64(n), pp.s.cfg.MaxTotalPendingBytes); keep < *last {
		pp.s.releaseBytes(*last - keep)
		*last = keep
	}
}

// pop takes the amount paid for the next event (ok false without a gate).
func (pp *prepaid) pop() (n int64, ok bool) {
	if pp == nil {
		return 0, false
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if len(pp.q) == 0 {
		return 0, false
	}
	n = pp.q[0]
	pp.q = pp.q[1:]
	return n, true
}

// close releases what no event took.
func (pp *prepaid) close() {
	if pp == nil {
		return
	}
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.closed = true
	for _, n := range pp.q {
		pp.s.releaseBytes(n)
	}
	pp.q = nil
}
