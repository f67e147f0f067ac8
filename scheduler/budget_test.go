package scheduler

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
)

// outstandingKinesis tracks the payload bytes that GetRecords returned and
// the processors have not finished: what a worker holds in memory for
// records fetched and not yet processed.
type outstandingKinesis struct {
	*kinesistest.Fake
	outstanding, peak atomic.Int64
}

func (k *outstandingKinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	out, err := k.Fake.GetRecords(ctx, in, opts...)
	if err == nil {
		var n int64
		for _, r := range out.Records {
			n += int64(len(r.Data))
		}
		v := k.outstanding.Add(n)
		for p := k.peak.Load(); v > p && !k.peak.CompareAndSwap(p, v); p = k.peak.Load() {
		}
	}
	return out, err
}

type slowByteProcessor struct {
	k     *outstandingKinesis
	delay time.Duration
	done  *atomic.Int64
}

func (p *slowByteProcessor) Initialize(context.Context, consumer.InitializationInput) error {
	return nil
}

func (p *slowByteProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	time.Sleep(p.delay) // the processor's own work, in simulated time
	var n int64
	for _, r := range in.Records {
		n += int64(len(r.Data))
	}
	p.k.outstanding.Add(-n)
	p.done.Add(int64(len(in.Records)))
	return nil
}

func (p *slowByteProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (p *slowByteProcessor) ShardEnded(context.Context, consumer.ShardEndedInput) error {
	return nil
}

func (p *slowByteProcessor) ShutdownRequested(context.Context, consumer.ShutdownRequestedInput) error {
	return nil
}

// With many shards of large records and a slow processor, what a worker
// holds fetched and unprocessed stays within MaxTotalPendingBytes plus one
// response per GetRecords call allowed in flight — however many shards
// are waiting for room. (Fetchers used to hold a decoded response each
// while they waited for the budget: 32 shards here held about 36
// responses.)
func TestPrefetchMemoryBoundedWithManyShards(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			shards    = 32
			perShard  = 12
			size      = 100 << 10 // payload bytes per record (one record per response)
			budget    = 8 * size
			fetchers  = 2
			wantBound = budget + fetchers*size
		)
		h := newHarness(t, shards)
		entries := make([]kinesistest.PutEntry, 0, shards*perShard)
		for i := range shards * perShard {
			entries = append(entries, kinesistest.PutEntry{PartitionKey: "k-" + strconv.Itoa(i), Data: make([]byte, size)})
		}
		if _, err := h.fake.PutRecords(h.stream, entries); err != nil {
			t.Fatal(err)
		}
		k := &outstandingKinesis{Fake: h.fake}
		cfg := h.config("w1")
		cfg.KinesisClient = k
		cfg.MaxRecords = 1
		cfg.MaxTotalPendingBytes = budget
		cfg.MaxPendingBytes = 2 * size
		cfg.MaxConcurrentFetches = fetchers
		var done atomic.Int64
		stop := h.start(cfg, consumer.ProcessorFactoryFunc(func(string) consumer.Processor {
			return &slowByteProcessor{k: k, delay: 50 * time.Millisecond, done: &done}
		}))
		waitFor(t, time.Minute, "every record processed", func() bool { return done.Load() == shards*perShard })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		peak := k.peak.Load()
		t.Logf("peak fetched-and-unprocessed bytes %d (budget %d, bound %d)", peak, budget, wantBound)
		if peak > wantBound {
			t.Fatalf("peak fetched-and-unprocessed bytes %d above MaxTotalPendingBytes %d + %d responses in flight = %d", peak, budget, fetchers, wantBound)
		}
		if peak < budget/2 {
			t.Fatalf("peak %d never reached half the budget %d: the test did not fill the prefetch queues", peak, budget)
		}
	})
}
