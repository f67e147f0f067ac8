package main

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// measureLatency is polling's latency figure of the fanout scenario (it
// was the fanout-latency scenario, now folded into fanout): with a
// producer writing rate records/s of size bytes per shard into the
// in-memory Kinesis fake, the worker at its default settings, it returns
// per batch the time from the response in hand (FetchedAt) to the
// processor call, and per record the time from its put to the processor
// call.

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
