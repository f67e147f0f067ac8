package kinesisserver

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardwise/shardwise/internal/fastdecode"
)

// decoders are the two ways a client decodes SubscribeToShard streams.
var decoders = []struct {
	name string
	opt  func(*kinesis.Options)
}{
	{"sdk", fastdecode.SDKSubscribeToShardOption},
	{"fast", fastdecode.SubscribeToShardOption},
}

func h2Client(s *Server) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region: "us-east-1", Credentials: aws.AnonymousCredentials{},
		BaseEndpoint: aws.String(s.URL), HTTPClient: s.H2CClient(), RetryMaxAttempts: 1,
	})
}

func register(t *testing.T, c *kinesis.Client, s *Server, name string) string {
	t.Helper()
	out, err := c.RegisterStreamConsumer(ctx(t), &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(s.StreamARN()), ConsumerName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Consumer.ConsumerARN)
}

func subscribe(t *testing.T, c *kinesis.Client, arn, shard string, pos types.StartingPosition, opt func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error) {
	t.Helper()
	return c.SubscribeToShard(ctx(t), &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(arn), ShardId: aws.String(shard), StartingPosition: &pos}, opt)
}

// readEvents reads up to n events (n < 0: until the stream ends).
func readEvents(t *testing.T, out *kinesis.SubscribeToShardOutput, n int) []types.SubscribeToShardEvent {
	t.Helper()
	var evs []types.SubscribeToShardEvent
	for ev := range out.GetStream().Events() {
		e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !ok {
			t.Fatalf("event %T", ev)
		}
		evs = append(evs, e.Value)
		if len(evs) == n {
			break
		}
	}
	return evs
}

var trim = types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}

func TestConsumerRegistry(t *testing.T) {
	s := start(t, Config{Shards: 1})
	c := h2Client(s)
	arn := register(t, c, s, "app")
	if !strings.HasPrefix(arn, s.StreamARN()+"/consumer/app:") {
		t.Fatalf("ARN %s", arn)
	}
	var riu *types.ResourceInUseException
	if _, err := c.RegisterStreamConsumer(ctx(t), &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(s.StreamARN()), ConsumerName: aws.String("app")}); !errors.As(err, &riu) {
		t.Fatalf("second registration: %v", err)
	}
	d, err := c.DescribeStreamConsumer(ctx(t), &kinesis.DescribeStreamConsumerInput{StreamARN: aws.String(s.StreamARN()), ConsumerName: aws.String("app")})
	if err != nil || aws.ToString(d.ConsumerDescription.ConsumerARN) != arn || d.ConsumerDescription.ConsumerStatus != types.ConsumerStatusActive {
		t.Fatalf("describe: %+v %v", d, err)
	}
	for i := range 19 {
		register(t, c, s, "other-"+string(rune('a'+i)))
	}
	var lee *types.LimitExceededException
	if _, err := c.RegisterStreamConsumer(ctx(t), &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(s.StreamARN()), ConsumerName: aws.String("one-too-many")}); !errors.As(err, &lee) {
		t.Fatalf("21st consumer: %v", err)
	}
	l, err := c.ListStreamConsumers(ctx(t), &kinesis.ListStreamConsumersInput{StreamARN: aws.String(s.StreamARN())})
	if err != nil || len(l.Consumers) != 20 || aws.ToString(l.Consumers[0].ConsumerName) != "app" {
		t.Fatalf("list: %d %v", len(l.Consumers), err)
	}
	if _, err := c.DeregisterStreamConsumer(ctx(t), &kinesis.DeregisterStreamConsumerInput{ConsumerARN: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	var rnf *types.ResourceNotFoundException
	if _, err := c.DescribeStreamConsumer(ctx(t), &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn)}); !errors.As(err, &rnf) {
		t.Fatalf("describe after deregistration: %v", err)
	}
	// CREATING, then ACTIVE.
	s2 := start(t, Config{ConsumerActivation: time.Hour})
	c2 := h2Client(s2)
	arn2 := register(t, c2, s2, "slow")
	d, err = c2.DescribeStreamConsumer(ctx(t), &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn2)})
	if err != nil || d.ConsumerDescription.ConsumerStatus != types.ConsumerStatusCreating {
		t.Fatalf("describe a new consumer: %+v %v", d, err)
	}
}

// TestSubscribeThroughTheSDK subscribes with the SDK's client, with each
// decoder: records in order, continuations that resume with no gap and no
// duplicate, the lifetime, ResourceInUseException on a second open
// subscription and LimitExceededException on a call within the second.
func TestSubscribeThroughTheSDK(t *testing.T) {
	for _, dec := range decoders {
		t.Run(dec.name, func(t *testing.T) {
			s := start(t, Config{Shards: 2, RecordsPerCall: 5, RecordSize: 100, MillisBehindLatest: 3, SubscribeInterval: -1, SubscriptionLifetime: time.Hour})
			c := h2Client(s)
			arn := register(t, c, s, "app")
			out, err := subscribe(t, c, arn, "shardId-000000000001", trim, dec.opt)
			if err != nil {
				t.Fatal(err)
			}
			evs := readEvents(t, out, 3)
			// The same consumer on the same shard: in use while open.
			var riu *types.ResourceInUseException
			if _, err := subscribe(t, c, arn, "shardId-000000000001", trim, dec.opt); !errors.As(err, &riu) {
				t.Fatalf("second subscription: %v", err)
			}
			_ = out.GetStream().Close()
			var want uint64
			for _, ev := range evs {
				if len(ev.Records) != 5 || aws.ToInt64(ev.MillisBehindLatest) != 3 {
					t.Fatalf("event: %d records, millis %v", len(ev.Records), ev.MillisBehindLatest)
				}
				for i, r := range ev.Records {
					if got := aws.ToString(r.SequenceNumber); got != sequenceNumber(want, i) || len(r.Data) != 100 || r.ApproximateArrivalTimestamp == nil {
						t.Fatalf("record %d of page %d: %s", i, want, got)
					}
				}
				if got := aws.ToString(ev.ContinuationSequenceNumber); got != sequenceNumber(want, 4) {
					t.Fatalf("continuation %s", got)
				}
				want++
			}
			// Resume after the last continuation: the next page, no gap,
			// no duplicate, once the endpoint has seen the client leave.
			cont := evs[len(evs)-1].ContinuationSequenceNumber
			if err := s.AwaitClosed(ctx(t), arn, "shardId-000000000001"); err != nil {
				t.Fatal(err)
			}
			out2, err := subscribe(t, c, arn, "shardId-000000000001", types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: cont}, dec.opt)
			if err != nil {
				t.Fatal(err)
			}
			next := readEvents(t, out2, 1)
			_ = out2.GetStream().Close()
			if got := aws.ToString(next[0].Records[0].SequenceNumber); got != sequenceNumber(3, 0) {
				t.Fatalf("resumed at %s", got)
			}
		})
	}
}

func TestSubscribeCallLimitAndLifetime(t *testing.T) {
	s := start(t, Config{Shards: 1, RecordsPerCall: 2, RecordSize: 10, RecordsPerSecond: 200, SubscribeInterval: time.Hour, SubscriptionLifetime: 300 * time.Millisecond})
	c := h2Client(s)
	arn := register(t, c, s, "app")
	for _, dec := range decoders[:1] {
		out, err := subscribe(t, c, arn, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeLatest}, dec.opt)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		evs := readEvents(t, out, -1) // ends with the lifetime
		if err := out.GetStream().Err(); err != nil || len(evs) == 0 || time.Since(start) < 250*time.Millisecond {
			t.Fatalf("%d events in %v, err %v", len(evs), time.Since(start), err)
		}
		var lee *types.LimitExceededException
		if _, err := subscribe(t, c, arn, "shardId-000000000000", trim, dec.opt); !errors.As(err, &lee) {
			t.Fatalf("a second call within the interval: %v", err)
		}
	}
}

// TestSubscribeFaults drives each fault hook through the SDK's client with
// each decoder.
func TestSubscribeFaults(t *testing.T) {
	for _, dec := range decoders {
		t.Run(dec.name, func(t *testing.T) {
			s := start(t, Config{Shards: 1, RecordsPerCall: 50, RecordSize: 1000, SubscribeInterval: -1, SubscriptionLifetime: 500 * time.Millisecond})
			c := h2Client(s)
			arn := register(t, c, s, "app")
			const shard = "shardId-000000000000"
			sub := func() *kinesis.SubscribeToShardOutput {
				// The client may see a reset before the endpoint's
				// handler has let go of the subscription.
				if err := s.AwaitClosed(ctx(t), arn, shard); err != nil {
					t.Fatal(err)
				}
				out, err := subscribe(t, c, arn, shard, trim, dec.opt)
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			// Ended early: a clean end after one event.
			s.InjectFault(shard, FaultEndEarly)
			out := sub()
			if evs := readEvents(t, out, -1); len(evs) != 0 || out.GetStream().Err() != nil {
				t.Fatalf("ended early: %d events, err %v", len(evs), out.GetStream().Err())
			}
			// Reset mid-event: no half event, and an error — except that
			// the SDK's decoder reads a connection closed mid-message
			// (io.ErrUnexpectedEOF from the body) as a clean end; whether
			// the close reaches it as that EOF or as a TCP reset (an
			// error) depends on timing, so its error is not checked.
			for _, f := range []Fault{FaultStreamReset, FaultConnReset} {
				s.InjectFault(shard, f)
				out = sub()
				evs := readEvents(t, out, -1)
				sdkConnReset := dec.name == "sdk" && f == FaultConnReset
				if len(evs) != 0 || (!sdkConnReset && out.GetStream().Err() == nil) {
					t.Fatalf("fault %d: %d events, err %v", f, len(evs), out.GetStream().Err())
				}
				t.Logf("fault %d: err %v", f, out.GetStream().Err())
			}
			// Silence: no event until the lifetime ends the stream.
			s.InjectFault(shard, FaultSilence)
			out = sub()
			start := time.Now()
			if evs := readEvents(t, out, -1); len(evs) != 0 || time.Since(start) < 400*time.Millisecond {
				t.Fatalf("silence: %d events after %v", len(evs), time.Since(start))
			}
			// ResourceInUseException, injected.
			if err := s.AwaitClosed(ctx(t), arn, shard); err != nil {
				t.Fatal(err)
			}
			s.InjectFault(shard, FaultResourceInUse)
			var riu *types.ResourceInUseException
			if _, err := subscribe(t, c, arn, shard, trim, dec.opt); !errors.As(err, &riu) {
				t.Fatalf("injected in-use: %v", err)
			}
			// And the next subscription streams again.
			out = sub()
			if evs := readEvents(t, out, 2); len(evs) != 2 {
				t.Fatalf("after the faults: %d events", len(evs))
			}
			_ = out.GetStream().Close()
		})
	}
}

func TestSubscribeShardEnd(t *testing.T) {
	for _, dec := range decoders {
		for _, kplCase := range []bool{false, true} {
			cfg := Config{Shards: 2, RecordsPerCall: 3, RecordSize: 10, ShardEndAfterPages: 2, SubscribeInterval: -1}
			if kplCase {
				cfg.SubRecords, cfg.SubRecordSize = 4, 10
			}
			s := start(t, cfg)
			c := h2Client(s)
			arn := register(t, c, s, "app")
			out, err := subscribe(t, c, arn, "shardId-000000000001", trim, dec.opt)
			if err != nil {
				t.Fatal(err)
			}
			evs := readEvents(t, out, -1)
			if err := out.GetStream().Err(); err != nil || len(evs) != 3 {
				t.Fatalf("%s: %d events, err %v", dec.name, len(evs), err)
			}
			last := evs[2]
			if last.ContinuationSequenceNumber != nil || len(last.ChildShards) != 1 || len(last.Records) != 0 ||
				aws.ToString(last.ChildShards[0].ShardId) != ChildShardID(1, 2) || last.ChildShards[0].ParentShards[0] != "shardId-000000000001" {
				t.Fatalf("%s: last event %+v", dec.name, last)
			}
		}
	}
}

func TestSubscribeUnknownConsumer(t *testing.T) {
	s := start(t, Config{})
	c := h2Client(s)
	_, err := subscribe(t, c, s.StreamARN()+"/consumer/nobody:1", "shardId-000000000000", trim, fastdecode.SubscribeToShardOption)
	var rnf *types.ResourceNotFoundException
	var api smithy.APIError
	if !errors.As(err, &rnf) || !errors.As(err, &api) {
		t.Fatalf("unknown consumer: %v", err)
	}
}

// TestSubscribePacedPushesAsWritten: with RecordsPerSecond, each page goes
// out as an event as soon as it is written, and OnEventSent sees it.
func TestSubscribePacedPushesAsWritten(t *testing.T) {
	sent := make(chan time.Time, 100)
	s := start(t, Config{Shards: 1, RecordsPerCall: 10, RecordSize: 10, RecordsPerSecond: 1000, SubscribeInterval: -1,
		OnEventSent: func(_ string, page uint64, at time.Time) {
			select {
			case sent <- at:
			default:
			}
		}})
	c := h2Client(s)
	arn := register(t, c, s, "app")
	out, err := subscribe(t, c, arn, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeLatest}, fastdecode.SubscribeToShardOption)
	if err != nil {
		t.Fatal(err)
	}
	defer out.GetStream().Close()
	evs := readEvents(t, out, 20)
	first, _ := pageOf(aws.ToString(evs[0].Records[0].SequenceNumber))
	for i, ev := range evs {
		if p, _ := pageOf(aws.ToString(ev.Records[0].SequenceNumber)); p != first+uint64(i) {
			t.Fatalf("event %d carries page %d", i, p)
		}
		// Nothing is pushed before it is written.
		if at := <-sent; at.Before(s.pageAvailable(first + uint64(i))) {
			t.Fatalf("page %d sent at %v, before it was written", first+uint64(i), at)
		}
	}
}
