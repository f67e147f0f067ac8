package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// The fanout-latency scenario measures, for polling at its default
// settings and for enhanced fan-out, with a producer writing 1,000
// records/s of 1 KB per shard into the in-memory Kinesis fake (which
// pushes fan-out events as records are written, through the AWS SDK's own
// event-stream decoding):
//
//   - added latency: from the moment Shardwise has a response or event in
//     hand (ProcessRecordsInput.FetchedAt) to the processor call — what
//     the library's queues and dispatch add;
//   - end-to-end latency: from the put to the processor call.
//
// Both modes run in this process, one after the other, with a processor
// that checkpoints every batch. The throughput, CPU and heap figures of
// fan-out need the HTTP/2 endpoint (internal/kinesisserver) and belong to
// the throughput-style "fanout" scenario.
func init() {
	register("fanout-latency", "added and end-to-end latency p50/p99 at 1,000 records/s per shard: polling (defaults) vs enhanced fan-out (in-memory fake)", runSchedulerFanoutLatency)
}

func runSchedulerFanoutLatency(ctx context.Context, opts options, out *report) error {
	shards, window := 4, 20*time.Second
	if opts.quick {
		window = 5 * time.Second
	}
	const perShardPerSecond, size = 1000, 1024
	out.kv("shards", shards)
	out.kv("records_per_s_per_shard", perShardPerSecond)
	out.kv("window_s", window.Seconds())
	for _, mode := range []string{"polling", "fanout"} {
		added, e2e, err := measureLatency(ctx, mode == "fanout", shards, perShardPerSecond, size, window)
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		prefix := "polling_"
		if mode == "fanout" {
			prefix = ""
		}
		out.kv(prefix+"added_latency_ms_p50", percentileMs(added, 50))
		out.kv(prefix+"added_latency_ms_p99", percentileMs(added, 99))
		out.kv(prefix+"end_to_end_latency_ms_p50", percentileMs(e2e, 50))
		out.kv(prefix+"end_to_end_latency_ms_p99", percentileMs(e2e, 99))
		out.kv(prefix+"latency_samples", len(e2e))
	}
	return nil
}

// latencyProcessor records, per batch, the added latency, and per record
// the end-to-end latency (records carry their put time).
type latencyProcessor struct {
	rec *latencyRecorder
}

type latencyRecorder struct {
	on         atomic.Bool
	mu         sync.Mutex
	added, e2e []time.Duration
}

func (p *latencyProcessor) Initialize(context.Context, consumer.InitializationInput) error {
	return nil
}

func (p *latencyProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	now := time.Now()
	if p.rec.on.Load() && len(in.Records) > 0 {
		p.rec.mu.Lock()
		p.rec.added = append(p.rec.added, now.Sub(in.FetchedAt))
		for _, r := range in.Records {
			if len(r.Data) >= 8 {
				put := time.Unix(0, int64(binary.BigEndian.Uint64(r.Data)))
				p.rec.e2e = append(p.rec.e2e, now.Sub(put))
			}
		}
		p.rec.mu.Unlock()
	}
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *latencyProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (p *latencyProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *latencyProcessor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func measureLatency(ctx context.Context, fanOut bool, shards, rate, size int, window time.Duration) (added, e2e []time.Duration, err error) {
	fake, err := kinesistest.New(kinesistest.Config{}) // the service's call limits
	if err != nil {
		return nil, nil, err
	}
	const stream = "latency"
	if err := fake.CreateStream(stream, shards); err != nil {
		return nil, nil, err
	}
	rec := &latencyRecorder{}
	s, err := scheduler.New(scheduler.Config{
		ApplicationName: "latency-app",
		StreamName:      stream,
		InitialPosition: consumer.InitialPositionLatest,
		KinesisClient:   fake,
		Stores:          leases.NewMemoryStores(),
		WorkerID:        "w1",
		FanOut:          fanOut,
	}, consumer.ProcessorFactoryFunc(func(string) consumer.Processor { return &latencyProcessor{rec: rec} }))
	if err != nil {
		return nil, nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	if err := waitOrFail(time.Minute, "every shard processing", func() bool {
		n := 0
		for _, sh := range s.Stats().Leases {
			if sh.State == "processing" {
				n++
			}
		}
		return n == shards
	}); err != nil {
		return nil, nil, err
	}
	// Produce: every 10 ms, rate/100 records per shard (random keys
	// spread them over the shards).
	prodCtx, stopProd := context.WithCancel(runCtx)
	defer stopProd()
	prodErr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		n := 0
		for {
			select {
			case <-prodCtx.Done():
				prodErr <- nil
				return
			case <-tick.C:
			}
			entries := make([]kinesistest.PutEntry, shards*rate/100)
			now := time.Now().UnixNano()
			for i := range entries {
				data := make([]byte, size)
				binary.BigEndian.PutUint64(data, uint64(now))
				entries[i] = kinesistest.PutEntry{PartitionKey: strconv.Itoa(n), Data: data}
				n++
			}
			if _, err := fake.PutRecords(stream, entries); err != nil {
				prodErr <- err
				return
			}
		}
	}()
	if !sleepCtx(ctx, 2*time.Second) { // warm-up
		return nil, nil, ctx.Err()
	}
	rec.on.Store(true)
	if !sleepCtx(ctx, window) {
		return nil, nil, ctx.Err()
	}
	rec.on.Store(false)
	stopProd()
	if err := <-prodErr; err != nil {
		return nil, nil, err
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return nil, nil, err
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.e2e) == 0 {
		return nil, nil, errors.New("no record processed in the window")
	}
	return rec.added, rec.e2e, nil
}

func percentileMs(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return float64(s[i]) / float64(time.Millisecond)
}
