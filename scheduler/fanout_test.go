package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
)

// fanOutConfig is the harness config in fan-out mode.
func (h *harness) fanOutConfig(worker string) Config {
	cfg := h.config(worker)
	cfg.FanOut = true
	return cfg
}

// newFanOutScheduler is a fan-out Scheduler that is not run: the tests
// call its registration directly.
func newFanOutScheduler(t *testing.T, h *harness, worker string, k KinesisAPI) *Scheduler {
	t.Helper()
	cfg := h.fanOutConfig(worker)
	cfg.KinesisClient = k
	s, err := New(cfg, nopFactory())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const testStreamARN = "arn:aws:kinesis:us-east-1:000000000000:stream/test-stream"

// Many workers starting at once register the consumer once between them:
// the others find it registered, or lose the race with
// ResourceInUseException, and all end up with the same ACTIVE consumer;
// registration throttling is retried.
func TestFanOutManyWorkersRegisterOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 1)
		h.fake.InjectError("RegisterStreamConsumer", "", &types.LimitExceededException{Message: aws.String("injected")}, 2)
		// Calls take time, so the workers all find the consumer missing
		// before any of them has registered it.
		h.fake.InjectLatency("DescribeStreamConsumer", 50*time.Millisecond)
		h.fake.InjectLatency("RegisterStreamConsumer", 50*time.Millisecond)
		const workers = 12
		arns := make([]string, workers)
		var wg sync.WaitGroup
		for i := range workers {
			s := newFanOutScheduler(t, h, fmt.Sprint("w", i), h.fake)
			wg.Go(func() {
				arn, err := s.ensureStreamConsumer(context.Background(), testStreamARN)
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
				}
				arns[i] = arn
			})
		}
		wg.Wait()
		for i, a := range arns {
			if a == "" || a != arns[0] {
				t.Fatalf("worker %d got consumer %q, worker 0 %q", i, a, arns[0])
			}
		}
		l, err := h.fake.ListStreamConsumers(context.Background(), &kinesis.ListStreamConsumersInput{StreamARN: aws.String(testStreamARN)})
		if err != nil || len(l.Consumers) != 1 || aws.ToString(l.Consumers[0].ConsumerName) != "test-app" {
			t.Fatalf("consumers after %d workers started: %+v, %v; want test-app only", workers, l, err)
		}
		// Two calls were refused (injected throttling); the spread keeps
		// the rest to a few (without it, every worker registers: 14). The
		// pauses are random, so the count varies from run to run: 3 to 7
		// over 200 runs, and 8 once (several workers woke within the
		// 100 ms a look and a registration take); the bound leaves room
		// for that tail and still tells a herd apart.
		reg, desc := h.fake.Calls("RegisterStreamConsumer"), h.fake.Calls("DescribeStreamConsumer")
		t.Logf("%d workers: %d RegisterStreamConsumer, %d DescribeStreamConsumer calls", workers, reg, desc)
		if reg > 2+workers*3/4 {
			t.Fatalf("%d workers made %d RegisterStreamConsumer calls (2 of them throttled): a thundering herd", workers, reg)
		}
	})
}

// A consumer already ACTIVE costs one DescribeStreamConsumer and no
// registration; a given ConsumerARN is never registered, and a missing one
// is a clear error.
func TestFanOutExistingConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 1)
		out, err := h.fake.RegisterStreamConsumer(context.Background(), &kinesis.RegisterStreamConsumerInput{
			StreamARN: aws.String(testStreamARN), ConsumerName: aws.String("test-app")})
		if err != nil {
			t.Fatal(err)
		}
		arn, err := newFanOutScheduler(t, h, "w1", h.fake).ensureStreamConsumer(context.Background(), testStreamARN)
		if err != nil || arn != aws.ToString(out.Consumer.ConsumerARN) {
			t.Fatalf("ensureStreamConsumer = %q, %v", arn, err)
		}
		if r, d := h.fake.Calls("RegisterStreamConsumer"), h.fake.Calls("DescribeStreamConsumer"); r != 1 || d != 1 {
			t.Fatalf("%d registrations (want only the test's), %d descriptions (want 1)", r-1, d)
		}
		cfg := h.fanOutConfig("w2")
		cfg.ConsumerARN = arn
		s, err := New(cfg, nopFactory())
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.ensureStreamConsumer(context.Background(), ""); err != nil || got != arn {
			t.Fatalf("with ConsumerARN: %q, %v", got, err)
		}
		cfg.ConsumerARN = testStreamARN + "/consumer/other:1"
		s, err = New(cfg, nopFactory())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ensureStreamConsumer(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("with a missing ConsumerARN: %v", err)
		}
		if r := h.fake.Calls("RegisterStreamConsumer"); r != 1 {
			t.Fatalf("%d registrations with ConsumerARN given", r-1)
		}
	})
}

// creatingKinesis answers CREATING to the first DescribeStreamConsumer
// calls, as the service does while a consumer is being created.
type creatingKinesis struct {
	*kinesistest.Fake
	creating atomic.Int32
}

func (k *creatingKinesis) DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, o ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error) {
	out, err := k.Fake.DescribeStreamConsumer(ctx, in, o...)
	if err == nil && k.creating.Add(-1) >= 0 {
		out.ConsumerDescription.ConsumerStatus = types.ConsumerStatusCreating
	}
	return out, err
}

func TestFanOutWaitsForActive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 1)
		k := &creatingKinesis{Fake: h.fake}
		k.creating.Store(3)
		if _, err := newFanOutScheduler(t, h, "w1", k).ensureStreamConsumer(context.Background(), testStreamARN); err != nil {
			t.Fatal(err)
		}
		if k.creating.Load() >= 0 {
			t.Fatalf("returned while the consumer was still CREATING")
		}
	})
}

// Subscriptions are renewed when they end (their lifetime), break (a
// reset), go silent, or are refused (ResourceInUseException after a
// hand-off, the call rate): every record is delivered once, in order, and
// records written while a subscription was silent arrive within the idle
// timeout.
func TestFanOutRenewsThroughFaultsWithoutGapOrDuplicate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 2, kinesistest.Config{SubscriptionLifetime: 20 * time.Second})
		const idle = 10 * time.Second
		cfg := h.fanOutConfig("w1")
		cfg.SubscriptionIdleTimeout = idle
		j := &journal{}
		stop := h.start(cfg, factoryOf(j, "w1", nil))

		const total = 900 // one record every 200ms: three minutes
		put := func(i int) { h.put(i, 1, 7) }
		faults := map[int]func(){
			150: func() { h.fake.EndSubscriptions("", errors.New("connection reset by peer")) },
			300: func() { h.fake.SilenceSubscriptions("", time.Hour) },
			500: func() {
				h.fake.InjectError("SubscribeToShard", "", &types.ResourceInUseException{Message: aws.String("injected")}, 3)
				h.fake.InjectError("SubscribeToShard", "", &types.LimitExceededException{Message: aws.String("injected")}, 2)
				h.fake.EndSubscriptions("", nil)
			},
		}
		var silencedAt time.Time
		for i := range total {
			if f := faults[i]; f != nil {
				f()
				if i == 300 {
					silencedAt = time.Now()
				}
			}
			put(i)
			time.Sleep(200 * time.Millisecond)
		}
		waitFor(t, time.Minute, "every record", func() bool { return j.count() >= total })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		ds, _ := j.snapshot()
		seen := checkOrder(t, ds)
		if len(ds) != total || len(seen) != total {
			t.Fatalf("delivered %d (%d distinct), want %d once each", len(ds), len(seen), total)
		}
		// The silence: the record written right after it started arrived
		// within the idle timeout (plus the resubscription's second).
		for _, d := range ds {
			if c, _ := strconv.Atoi(d.data[strings.IndexByte(d.data, ':')+1:]); c == 300 {
				if late := d.at.Sub(silencedAt); late > idle+2*time.Second {
					t.Fatalf("record written as the subscriptions went silent arrived %v later (idle timeout %v)", late, idle)
				}
			}
		}
		if n := h.fake.Calls("SubscribeToShard"); n < 2*(180/20) {
			t.Fatalf("%d SubscribeToShard calls over 3 minutes of 20s subscriptions on 2 shards", n)
		}
		if h.fake.Calls("GetRecords") != 0 {
			t.Fatal("fan-out polled")
		}
	})
}

// A slow processor stops the reading of the event stream: what the
// subscriber pushed and the processor has not handled stays within the
// shard's queue bound plus the batch in hand and one event, however much
// is written; everything arrives once the processor is released.
func TestFanOutBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 1, kinesistest.Config{MaxRecordsPerCall: 10})
		cfg := h.fanOutConfig("w1")
		cfg.MaxPendingRecords = 20
		release := make(chan struct{})
		j := &journal{}
		stop := h.start(cfg, factoryOf(j, "w1", func(p *testProcessor) { p.block = release }))
		const total = 2000
		h.put(0, total, 5)
		synctest.Wait()
		time.Sleep(time.Minute) // let anything that would read on do so
		var c *shardConsumer
		h.sched.mu.Lock()
		for _, sc := range h.sched.consumers {
			c = sc
		}
		h.sched.mu.Unlock()
		if c == nil {
			t.Fatal("no shard consumer")
		}
		const bound = 10 + 20 + 10 // batch in hand + queue + one event
		if got := c.fetched.Load(); got > bound || got == 0 {
			t.Fatalf("subscriber pushed %d records while the processor was blocked, want 1..%d", got, bound)
		}
		close(release)
		waitFor(t, time.Minute, "every record", func() bool { return j.count() >= total })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		ds, _ := j.snapshot()
		if seen := checkOrder(t, ds); len(seen) != total || len(ds) != total {
			t.Fatalf("delivered %d (%d distinct), want %d once each", len(ds), len(seen), total)
		}
	})
}

// The SubscribeToShard starting position follows polling's rule.
func TestFanOutStartingPosition(t *testing.T) {
	cp := consumer.ExtendedSequenceNumber{SequenceNumber: "49000000000000000000000000000600000000000001000000000000", SubSequenceNumber: 3}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := &Scheduler{cfg: Config{InitialPosition: consumer.InitialPosition{Timestamp: ts}}}
	st := singleStreamSet(&s.cfg).single
	for _, c := range []struct {
		after consumer.ExtendedSequenceNumber
		cont  string
		typ   types.ShardIteratorType
		seq   string
	}{
		{consumer.TrimHorizon, "", types.ShardIteratorTypeTrimHorizon, ""},
		{consumer.Latest, "", types.ShardIteratorTypeLatest, ""},
		{consumer.AtTimestamp, "", types.ShardIteratorTypeAtTimestamp, ""},
		{cp, "", types.ShardIteratorTypeAtSequenceNumber, cp.SequenceNumber},
		{consumer.Latest, "4901", types.ShardIteratorTypeAtSequenceNumber, "4901"},
		{cp, "4902", types.ShardIteratorTypeAtSequenceNumber, "4902"},
	} {
		p := &subscriber{s: s, stream: st, shardID: "shard", after: c.after, cont: c.cont, consumerARN: "arn"}
		in := p.input()
		if in.StartingPosition.Type != c.typ || aws.ToString(in.StartingPosition.SequenceNumber) != c.seq {
			t.Errorf("after %v cont %q: %s %q, want %s %q", c.after, c.cont, in.StartingPosition.Type, aws.ToString(in.StartingPosition.SequenceNumber), c.typ, c.seq)
		}
		if c.typ == types.ShardIteratorTypeAtTimestamp && !aws.ToTime(in.StartingPosition.Timestamp).Equal(ts) {
			t.Errorf("AT_TIMESTAMP at %v", in.StartingPosition.Timestamp)
		}
	}
}

// lostRaceKinesis makes every RegisterStreamConsumer call lose the race:
// the consumer gets registered (by "another worker") and the call answers
// ResourceInUseException.
type lostRaceKinesis struct{ *kinesistest.Fake }

func (k lostRaceKinesis) RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, o ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error) {
	if _, err := k.Fake.RegisterStreamConsumer(ctx, in, o...); err != nil {
		return nil, err
	}
	return nil, &types.ResourceInUseException{Message: aws.String("registered by another worker")}
}

func TestFanOutRegistrationLostToAnotherWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 1)
		arn, err := newFanOutScheduler(t, h, "w1", lostRaceKinesis{h.fake}).ensureStreamConsumer(context.Background(), testStreamARN)
		if err != nil || !strings.HasPrefix(arn, testStreamARN+"/consumer/test-app:") {
			t.Fatalf("after losing the registration race: %q, %v", arn, err)
		}
	})
}

// codecKinesis checks that every SubscribeToShard call brings an
// event-stream codec of its own (the SDK client's shared one is not safe
// for concurrent subscriptions).
type codecKinesis struct {
	*kinesistest.Fake
	mu      sync.Mutex
	seen    map[any]bool
	calls   int
	missing int
	shared  int
}

func (k *codecKinesis) SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, opts ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error) {
	var o kinesis.Options
	for _, f := range opts {
		f(&o)
	}
	k.mu.Lock()
	k.calls++
	switch {
	case o.Protocol == nil:
		k.missing++
	case k.seen[o.Protocol]:
		k.shared++
	default:
		k.seen[o.Protocol] = true
	}
	k.mu.Unlock()
	return k.Fake.SubscribeToShard(ctx, in, opts...)
}

// With the SDK's decoder every subscription brings a protocol (and so an
// event-stream codec) of its own; with ours it brings our decoder, which
// keeps no state between messages.
func TestFanOutEverySubscriptionHasItsOwnCodec(t *testing.T) {
	for _, sdk := range []bool{true, false} {
		t.Run(map[bool]string{true: "sdk", false: "fast"}[sdk], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, 4)
				h.put(0, 100, 10)
				k := &codecKinesis{Fake: h.fake, seen: map[any]bool{}}
				cfg := h.fanOutConfig("w1")
				cfg.KinesisClient = k
				cfg.SDKDecoder = sdk
				j := &journal{}
				stop := h.start(cfg, factoryOf(j, "w1", nil))
				waitFor(t, time.Minute, "every record", func() bool { return j.count() >= 100 })
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				k.mu.Lock()
				defer k.mu.Unlock()
				if k.calls < 4 || k.missing > 0 || k.shared > 0 {
					t.Fatalf("%d SubscribeToShard calls: %d without a codec of their own, %d sharing one", k.calls, k.missing, k.shared)
				}
			})
		})
	}
}

// startsKinesis records the starting position of every SubscribeToShard
// call.
type startsKinesis struct {
	*kinesistest.Fake
	mu     sync.Mutex
	starts []types.StartingPosition
}

func (k *startsKinesis) SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, opts ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error) {
	k.mu.Lock()
	k.starts = append(k.starts, *in.StartingPosition)
	k.mu.Unlock()
	return k.Fake.SubscribeToShard(ctx, in, opts...)
}

// An event stream that just ends — no ChildShards, Err() nil, as the SDK's
// decoder reports a cut connection — is not the shard's end: the shard is
// resubscribed from the last continuation, with no gap and no duplicate.
func TestFanOutCleanEndWithoutChildShardsResubscribes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 1)
		k := &startsKinesis{Fake: h.fake}
		cfg := h.fanOutConfig("w1")
		cfg.KinesisClient = k
		j := &journal{}
		stop := h.start(cfg, factoryOf(j, "w1", nil))
		const rounds, per = 4, 25
		for r := range rounds {
			h.put(r*per, per, 5)
			waitFor(t, time.Minute, "the round's records", func() bool { return j.count() >= (r+1)*per })
			if n := h.fake.EndSubscriptions("", nil); n != 1 {
				t.Fatalf("round %d: ended %d subscriptions, want 1", r, n)
			}
		}
		h.put(rounds*per, per, 5)
		waitFor(t, time.Minute, "every record", func() bool { return j.count() >= (rounds+1)*per })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		ds, evs := j.snapshot()
		seen := checkOrder(t, ds)
		if len(ds) != (rounds+1)*per || len(seen) != len(ds) {
			t.Fatalf("delivered %d (%d distinct), want %d once each", len(ds), len(seen), (rounds+1)*per)
		}
		for _, e := range evs {
			if strings.HasSuffix(e, ":shard-ended") {
				t.Fatalf("a clean end of the event stream ended the shard: %v", evs)
			}
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		if len(k.starts) < rounds+1 {
			t.Fatalf("%d SubscribeToShard calls, want at least %d", len(k.starts), rounds+1)
		}
		for i, st := range k.starts[1:] {
			if st.Type != types.ShardIteratorTypeAtSequenceNumber || aws.ToString(st.SequenceNumber) == "" {
				t.Fatalf("renewal %d started at %s %q, want the last continuation", i+1, st.Type, aws.ToString(st.SequenceNumber))
			}
		}
	})
}
