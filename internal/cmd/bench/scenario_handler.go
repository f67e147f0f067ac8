package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardwise/shardwise/batch"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

func init() {
	register("handler", "Lambda-style batch handler on one shard, 5 ms per batch of 100: records/s at ParallelizationFactor 1 vs 10, and per-key order", runHandlerScenario)
}

const (
	handlerBatchSize  = 100
	handlerBatchSleep = 5 * time.Millisecond
	handlerKeys       = 1000
)

func runHandlerScenario(ctx context.Context, opts options, out *report) error {
	// PF 10 gets five times the records so that both runs last about as
	// long and start-up costs weigh the same in each.
	n1, n10 := 40_000, 200_000
	if opts.quick {
		n1, n10 = 8_000, 40_000
	}
	out.kv("shards", 1)
	out.kv("batch_size", handlerBatchSize)
	out.kv("handler_sleep_ms_per_batch", handlerBatchSleep.Milliseconds())
	out.kv("partition_keys", handlerKeys)
	r1, v1, err := handlerRun(ctx, 1, n1)
	if err != nil {
		return fmt.Errorf("ParallelizationFactor 1: %w", err)
	}
	r10, v10, err := handlerRun(ctx, 10, n10)
	if err != nil {
		return fmt.Errorf("ParallelizationFactor 10: %w", err)
	}
	out.kv("records_pf1", n1)
	out.kv("records_pf10", n10)
	out.kv("records_per_s_pf1", r1)
	out.kv("records_per_s_pf10", r10)
	out.kv("ratio_pf10_over_pf1", r10/r1)
	out.kv("order_violations", v1+v10)
	return nil
}

// handlerRun consumes n records of a fresh one-shard stream through the
// scheduler with a batch handler at the given ParallelizationFactor, and
// returns the records/s from the first handler call to the last record,
// and how many records were handled out of their key's order (or more
// than once).
func handlerRun(ctx context.Context, pf, n int) (float64, int64, error) {
	fake, err := kinesistest.New(kinesistest.Config{GetRecordsPerSecond: -1, GetShardIteratorPerSecond: -1})
	if err != nil {
		return 0, 0, err
	}
	if err := fake.CreateStream("bench-handler", 1); err != nil {
		return 0, 0, err
	}
	// Payload "key:n", n counting the key's records, so order is checked
	// per key from the payload alone.
	perKey := make([]int, handlerKeys)
	const chunk = 10_000
	for sent := 0; sent < n; sent += chunk {
		entries := make([]kinesistest.PutEntry, min(chunk, n-sent))
		for i := range entries {
			k := (sent + i) % handlerKeys
			key := "key-" + strconv.Itoa(k)
			entries[i] = kinesistest.PutEntry{PartitionKey: key, Data: []byte(key + ":" + strconv.Itoa(perKey[k]))}
			perKey[k]++
		}
		if _, err := fake.PutRecords("bench-handler", entries); err != nil {
			return 0, 0, err
		}
	}

	var (
		mu         sync.Mutex
		next       = map[string]int{} // the count each key expects next
		violations int64
		handled    atomic.Int64
		first      atomic.Int64 // unix nanos of the first call
		last       atomic.Int64 // unix nanos when the last record was handled
		done       = make(chan struct{})
		once       sync.Once
	)
	h := func(ctx context.Context, b batch.Batch) error {
		first.CompareAndSwap(0, time.Now().UnixNano())
		time.Sleep(handlerBatchSleep)
		mu.Lock()
		for _, r := range b.Records {
			key, c, _ := strings.Cut(string(r.Data), ":")
			got, _ := strconv.Atoi(c)
			if got != next[key] {
				violations++
			}
			next[key] = got + 1
		}
		mu.Unlock()
		if handled.Add(int64(len(b.Records))) >= int64(n) {
			last.Store(time.Now().UnixNano())
			once.Do(func() { close(done) })
		}
		return nil
	}
	factory, err := batch.New(h, batch.Config{BatchSize: handlerBatchSize, ParallelizationFactor: pf})
	if err != nil {
		return 0, 0, err
	}
	s, err := scheduler.New(scheduler.Config{
		ApplicationName:       "bench-handler",
		StreamName:            "bench-handler",
		InitialPosition:       consumer.InitialPositionTrimHorizon,
		KinesisClient:         fake,
		Stores:                leases.NewMemoryStores(),
		WorkerID:              "bench-worker",
		MinGetRecordsInterval: time.Millisecond,
	}, factory)
	if err != nil {
		return 0, 0, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Run(runCtx) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		cancel()
		<-errc
		return 0, 0, fmt.Errorf("handled %d of %d records in 5 minutes", handled.Load(), n)
	case err := <-errc:
		return 0, 0, fmt.Errorf("worker stopped early: %v", err)
	}
	cancel()
	if err := <-errc; err != nil {
		return 0, 0, err
	}
	mu.Lock()
	defer mu.Unlock()
	// A record never handled is a violation too.
	for k, want := range perKey {
		if got := next["key-"+strconv.Itoa(k)]; got != want {
			violations += int64(want - got)
		}
	}
	elapsed := time.Duration(last.Load() - first.Load())
	return float64(n) / elapsed.Seconds(), violations, nil
}
