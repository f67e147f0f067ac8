package kinesistest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/eventstream"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

// Enhanced fan-out subscriptions. SubscribeToShard returns the SDK's own
// output: the fake serves the call through an SDK client whose transport
// is in memory, and writes the subscription's events in the service's
// event-stream framing (an initial-response, then SubscribeToShardEvent
// messages), so the caller reads them with GetStream().Events() through
// whatever event-stream decoder the SDK uses. Writing is synchronous: a
// caller that stops reading stops the subscription, as HTTP/2 flow
// control does.
//
// A subscription sends an event at once (records or not), then one as
// soon as records arrive and an empty one every keepAliveInterval; it
// ends cleanly after Config.SubscriptionLifetime, and at the end of a
// closed shard with an event that has no ContinuationSequenceNumber and
// lists the children. Each event's ContinuationSequenceNumber is the
// position right after what it delivered, to resume at with
// AT_SEQUENCE_NUMBER. Subscription timing (lifetime, keep-alives, silence)
// runs on real timers: under testing/synctest, the bubble's clock.
//
// Each open subscription runs one goroutine, which ends with it.

const (
	// defaultSubLifetime is Config.SubscriptionLifetime's default, the
	// service's.
	defaultSubLifetime = 5 * time.Minute
	keepAliveInterval  = 5 * time.Second
	// takeoverAfter: a second subscription of a consumer to a shard within
	// this time of the first is refused; after it, it takes over.
	takeoverAfter = 5 * time.Second
)

// subscription is one open SubscribeToShard call.
type subscription struct {
	f           *Fake
	key         string // consumer ARN and shard id
	consumerARN string
	st          *stream
	s           *shard
	started     time.Time
	deadline    time.Time
	closed      chan struct{} // closed when the caller closes the stream
	closeOnce   sync.Once

	// Guarded by f.mu.
	pos         uint64    // next event counter to read
	atTime      time.Time // AT_TIMESTAMP until a record was delivered
	ended       bool
	endErr      error
	silentUntil time.Time
	wake        chan struct{} // closed and replaced when a fault changes the subscription
}

type subKeyType struct{}

// SubscribeToShard opens a subscription of the consumer ConsumerARN to a
// shard, from StartingPosition, and returns its event stream. As the
// service, it refuses more than one call a second for the same consumer
// and shard (LimitExceededException) and a second subscription within 5
// seconds of the open one (ResourceInUseException); a later one takes
// over, and the open one ends with a ResourceInUseException event.
// optFns are ignored.
func (f *Fake) SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, _ ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error) {
	const op = opSubscribeToShard
	if in == nil {
		in = &kinesis.SubscribeToShardInput{}
	}
	if err := f.begin(ctx, op); err != nil {
		return nil, err
	}
	if in.ConsumerARN == nil || in.ShardId == nil || in.StartingPosition == nil {
		return nil, opError(op, paramRequired("SubscribeToShardInput", "ConsumerARN", "ShardId", "StartingPosition"))
	}
	if err := f.injected(op, *in.ShardId); err != nil {
		return nil, err
	}
	sub, err := f.subscribe(in)
	if err != nil {
		return nil, opError(op, err)
	}
	out, err := f.subscribeClient().SubscribeToShard(context.WithValue(ctx, subKeyType{}, sub), in, ownCodec)
	if err != nil {
		sub.close()
		f.mu.Lock()
		f.dropLocked(sub)
		f.mu.Unlock()
		return nil, err
	}
	return out, nil
}

// subscribe validates a SubscribeToShard request and registers the
// subscription.
func (f *Fake) subscribe(in *kinesis.SubscribeToShardInput) (*subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, c, err := f.consumerByARNLocked(*in.ConsumerARN)
	if err != nil {
		return nil, err
	}
	s, ok := st.byID[*in.ShardId]
	if !ok || st.expired(s) {
		return nil, f.shardNotFound(st, *in.ShardId)
	}
	now := f.now()
	key := c.arn + "|" + s.id
	if f.subs == nil {
		f.subs = make(map[string]*subscription)
		f.subCalls = make(map[string]time.Time)
	}
	if last, ok := f.subCalls[key]; ok && now.Sub(last) < time.Second {
		return nil, errLimit("Rate exceeded for consumer %s and shard %s in stream %s under account %s.", c.arn, s.id, st.name, f.cfg.account)
	}
	if prev, open := f.subs[key]; open {
		// The service refuses a second subscription within takeoverAfter
		// of the first; later, the new one takes over and the old one
		// fails with ResourceInUseException.
		if now.Sub(prev.started) < takeoverAfter {
			return nil, errInUse("Another active subscription exists for consumer %s and shard %s in stream %s under account %s.", c.arn, s.id, st.name, f.cfg.account)
		}
		prev.endLocked(errInUse("Another subscription of consumer %s to shard %s in stream %s under account %s took over.", c.arn, s.id, st.name, f.cfg.account))
		delete(f.subs, key)
	}
	sub := &subscription{f: f, key: key, consumerARN: c.arn, st: st, s: s, started: now, deadline: now.Add(f.cfg.subLifetime),
		closed: make(chan struct{}), wake: make(chan struct{})}
	sp := in.StartingPosition
	switch sp.Type {
	case types.ShardIteratorTypeTrimHorizon:
		sub.pos = 0
	case types.ShardIteratorTypeLatest:
		sub.pos = f.counter + 1
		if !s.isOpen() {
			sub.pos = s.endCounter + 1
		}
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		c, err := f.continuationInShard(st, s, sp.SequenceNumber)
		if err != nil {
			return nil, err
		}
		sub.pos = c
		if sp.Type == types.ShardIteratorTypeAfterSequenceNumber {
			sub.pos = c + 1
		}
	case types.ShardIteratorTypeAtTimestamp:
		if sp.Timestamp == nil {
			return nil, errInvalid("Timestamp must be provided for StartingPosition AT_TIMESTAMP")
		}
		sub.atTime = sp.Timestamp.Truncate(time.Millisecond).UTC()
	default:
		return nil, errInvalid("StartingPosition type %q is not one of AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP", sp.Type)
	}
	f.subCalls[key] = now
	f.subs[key] = sub
	return sub, nil
}

// continuationInShard is seqInShard for SubscribeToShard, which also
// accepts the position right after the shard's newest record (the
// ContinuationSequenceNumber of an event that delivered it).
func (f *Fake) continuationInShard(st *stream, s *shard, seq *string) (uint64, error) {
	if p, ok := parseSeq(aws.ToString(seq)); ok && p.incarnation == st.incarnation && p.shardIndex == uint64(s.index) {
		last := f.counter
		if !s.isOpen() {
			last = s.endCounter
		}
		if p.counter == last+1 {
			return p.counter, nil
		}
	}
	return f.seqInShard(st, s, seq)
}

func (f *Fake) dropLocked(sub *subscription) {
	if f.subs[sub.key] == sub {
		delete(f.subs, sub.key)
	}
}

// close is the caller closing the stream.
func (sub *subscription) close() { sub.closeOnce.Do(func() { close(sub.closed) }) }

// endLocked ends the subscription: cleanly with a nil err, else as a
// broken connection with err.
func (sub *subscription) endLocked(err error) {
	if !sub.ended {
		sub.ended, sub.endErr = true, err
	}
	sub.wakeLocked()
}

func (sub *subscription) wakeLocked() {
	close(sub.wake)
	sub.wake = make(chan struct{})
}

// serve writes the subscription's events to w until it ends.
func (sub *subscription) serve(ctx context.Context, w *io.PipeWriter) {
	f := sub.f
	defer func() {
		f.mu.Lock()
		f.dropLocked(sub)
		f.mu.Unlock()
	}()
	if err := writeInitialResponse(w); err != nil {
		return
	}
	first := true
	var lastSent time.Time
	for {
		f.mu.Lock()
		now := f.now()
		if !sub.ended && !now.Before(sub.deadline) && !now.Before(sub.silentUntil) {
			sub.ended = true // the subscription's lifetime is up
		}
		if cur, ok := f.streams[sub.st.name]; !sub.ended && (!ok || cur != sub.st) {
			sub.endLocked(f.streamNotFound(sub.st.name))
		}
		if sub.ended {
			err := sub.endErr
			f.mu.Unlock()
			var ae smithy.APIError
			switch {
			case err == nil:
				_ = w.Close()
			case errors.As(err, &ae):
				// A service error ends the stream with an exception event.
				if werr := writeException(w, ae); werr != nil {
					return
				}
				_ = w.Close()
			default:
				_ = w.CloseWithError(err)
			}
			return
		}
		var ev *types.SubscribeToShardEvent
		wait := sub.deadline.Sub(now)
		if now.Before(sub.silentUntil) {
			// A stalled connection does not even end on time.
			wait = sub.silentUntil.Sub(now)
		} else {
			ev = sub.nextEventLocked(now, first || now.Sub(lastSent) >= keepAliveInterval)
			if ev == nil {
				wait = min(wait, keepAliveInterval-now.Sub(lastSent))
			}
		}
		changed, wake := sub.st.changedLocked(), sub.wake
		f.mu.Unlock()
		if ev != nil {
			if err := writeEvent(w, ev); err != nil {
				return // the caller closed the stream
			}
			first, lastSent = false, now
			if ev.ContinuationSequenceNumber == nil {
				_ = w.Close() // the shard's end
				return
			}
			continue
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-changed:
		case <-wake:
		case <-t.C:
		case <-sub.closed:
			t.Stop()
			_ = w.Close()
			return
		case <-ctx.Done():
			t.Stop()
			_ = w.CloseWithError(ctx.Err())
			return
		}
		t.Stop()
	}
}

// nextEventLocked reads the records after the subscription's position
// into an event. It returns nil when there is nothing to send: no records,
// not the shard's end, and no event due (force).
func (sub *subscription) nextEventLocked(now time.Time, force bool) *types.SubscribeToShardEvent {
	f, st, s := sub.f, sub.st, sub.s
	first := len(s.records)
	if sub.atTime.IsZero() {
		first = s.firstAtOrAfter(sub.pos)
	} else {
		for i := range s.records {
			if !s.records[i].arrival.Before(sub.atTime) {
				first = i
				break
			}
		}
	}
	ev := &types.SubscribeToShardEvent{Records: []types.Record{}}
	n, size := 0, 0
	for i := first; i < len(s.records) && n < f.cfg.maxRecordsPerCall; i++ {
		r := &s.records[i]
		if n > 0 && size+s.size(r) > f.cfg.maxBytesPerCall {
			break
		}
		size += s.size(r)
		n++
		ev.Records = append(ev.Records, types.Record{
			SequenceNumber:              aws.String(r.seq),
			PartitionKey:                aws.String(r.pk),
			Data:                        bytes.Clone(r.data),
			ApproximateArrivalTimestamp: aws.Time(r.arrival),
		})
	}
	rest := len(s.records) - (first + n)
	atEnd := !s.isOpen() && rest == 0
	if n == 0 && !atEnd && !force {
		return nil
	}
	if n > 0 {
		sub.pos = s.records[first+n-1].counter + 1
		sub.atTime = time.Time{}
	} else if sub.atTime.IsZero() && sub.pos < s.startCounter {
		sub.pos = s.startCounter
	}
	behind := int64(0)
	if rest > 0 {
		behind = max(now.Sub(s.records[first+n].arrival).Milliseconds(), 0)
	}
	ev.MillisBehindLatest = aws.Int64(behind)
	if atEnd {
		if !f.cfg.omitChildShards {
			ev.ChildShards = st.childShards(s)
		}
		return ev
	}
	pos := sub.pos
	if !sub.atTime.IsZero() || pos == 0 {
		// No record delivered yet from a time, or from the horizon: the
		// position is the oldest record kept (or what comes next).
		pos = max(s.startCounter, st.horizon)
		if first < len(s.records) {
			pos = s.records[first].counter
		} else if sub.atTime.IsZero() {
			pos = max(pos, 1)
		} else {
			pos = f.counter + 1
		}
	}
	if last := f.counter + 1; pos > last {
		pos = last
	}
	ev.ContinuationSequenceNumber = aws.String(formatSeq(pos, st.incarnation, s.index))
	return ev
}

// changedLocked returns a channel closed at the stream's next change
// (records put, a shard closed).
func (st *stream) changedLocked() <-chan struct{} {
	if st.changed == nil {
		st.changed = make(chan struct{})
	}
	return st.changed
}

// signalLocked wakes the subscriptions waiting for a change.
func (st *stream) signalLocked() {
	if st.changed != nil {
		close(st.changed)
		st.changed = nil
	}
}

// EndSubscriptions ends the open SubscribeToShard subscriptions to
// shardID ("" for every shard) now: with a nil err cleanly, as when a
// subscription's lifetime is up; otherwise the connection breaks and the
// caller's event stream fails with an error wrapping err (a reset). It
// returns how many it ended.
func (f *Fake) EndSubscriptions(shardID string, err error) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, sub := range f.subs {
		if (shardID == "" || sub.s.id == shardID) && !sub.ended {
			sub.endLocked(err)
			n++
		}
	}
	return n
}

// SilenceSubscriptions makes the open subscriptions to shardID ("" for
// every shard) send nothing, keep-alives and their end included, for d
// while their connections stay open, as a stalled connection does. It returns how
// many it silenced.
func (f *Fake) SilenceSubscriptions(shardID string, d time.Duration) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	until := f.now().Add(d)
	n := 0
	for _, sub := range f.subs {
		if (shardID == "" || sub.s.id == shardID) && !sub.ended {
			sub.silentUntil = until
			sub.wakeLocked()
			n++
		}
	}
	return n
}

// The in-memory transport under the fake's SDK client.

// ownCodec gives one call an event-stream codec of its own: the SDK
// client's codec keeps a decode buffer shared by all its calls, which
// concurrent subscriptions would race on.
func ownCodec(o *kinesis.Options) { o.Protocol = awsjson.New11(schemas.Kinesis_20131202) }

func writeInitialResponse(w io.Writer) error {
	var msg eventstream.Message
	msg.Headers.Set(eventstream.MessageTypeHeader, eventstream.StringValue(eventstream.EventMessageType))
	msg.Headers.Set(eventstream.EventTypeHeader, eventstream.StringValue("initial-response"))
	msg.Headers.Set(eventstream.ContentTypeHeader, eventstream.StringValue("application/x-amz-json-1.1"))
	msg.Payload = []byte("{}")
	return eventstream.NewEncoder().Encode(w, msg)
}

// writeException ends a stream with the service error ae, as an exception
// event.
func writeException(w io.Writer, ae smithy.APIError) error {
	var msg eventstream.Message
	msg.Headers.Set(eventstream.MessageTypeHeader, eventstream.StringValue(eventstream.ExceptionMessageType))
	msg.Headers.Set(eventstream.ExceptionTypeHeader, eventstream.StringValue(ae.ErrorCode()))
	msg.Headers.Set(eventstream.ContentTypeHeader, eventstream.StringValue("application/x-amz-json-1.1"))
	payload, err := json.Marshal(map[string]string{"message": ae.ErrorMessage()})
	if err != nil {
		return err
	}
	msg.Payload = payload
	return eventstream.NewEncoder().Encode(w, msg)
}

// writeEvent encodes ev with a codec of its own (codecs are not safe for
// concurrent use).
func writeEvent(w io.Writer, ev *types.SubscribeToShardEvent) error {
	return awsjson.New11(schemas.Kinesis_20131202).SerializeEventMessage(schemas.SubscribeToShardEventStream, schemas.SubscribeToShardEventStream_SubscribeToShardEvent, ev, w)
}

// subscribeClient is the SDK client the fake serves SubscribeToShard
// through.
func (f *Fake) subscribeClient() *kinesis.Client {
	f.sdkOnce.Do(func() {
		f.sdk = kinesis.New(kinesis.Options{
			Region:           f.cfg.region,
			Credentials:      aws.AnonymousCredentials{},
			BaseEndpoint:     aws.String("http://kinesistest.invalid"),
			HTTPClient:       subscribeTransport{},
			RetryMaxAttempts: 1,
		})
	})
	return f.sdk
}

type subscribeTransport struct{}

func (subscribeTransport) Do(req *http.Request) (*http.Response, error) {
	sub, ok := req.Context().Value(subKeyType{}).(*subscription)
	if !ok {
		return nil, errors.New("shardwise: kinesistest: request not made through the fake")
	}
	if req.Body != nil {
		_ = req.Body.Close()
	}
	pr, pw := io.Pipe()
	go sub.serve(req.Context(), pw)
	return &http.Response{
		Status:     "200 OK",
		StatusCode: http.StatusOK,
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     http.Header{"Content-Type": {"application/vnd.amazon.eventstream"}},
		Body:       &subscriptionBody{PipeReader: pr, sub: sub},
		Request:    req,
	}, nil
}

// subscriptionBody is the response body; closing it closes the
// subscription.
type subscriptionBody struct {
	*io.PipeReader
	sub *subscription
}

func (b *subscriptionBody) Close() error {
	b.sub.close()
	return b.PipeReader.Close()
}
