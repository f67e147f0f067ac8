package scheduler_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// counter counts the records of its shard and checkpoints after every
// batch.
type counter struct {
	mu   *sync.Mutex
	seen map[string]int // partition key -> records
	done chan<- int     // receives each batch's size
}

func (c counter) Initialize(context.Context, consumer.InitializationInput) error { return nil }

func (c counter) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	c.mu.Lock()
	for _, r := range in.Records {
		c.seen[r.PartitionKey]++
	}
	c.mu.Unlock()
	// A failed checkpoint is not returned: that would hand the batch over
	// again; the next batch's checkpoint covers these records.
	_ = in.Checkpointer.Checkpoint(ctx)
	c.done <- len(in.Records)
	return nil
}

func (c counter) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (c counter) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func (c counter) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

// A scheduler runs in a test on the in-memory Kinesis and in-memory lease
// tables: the same scheduler as in production, with no AWS account and no
// emulator. Short intervals keep the test quick.
func Example_inMemory() {
	kin, err := kinesistest.New(kinesistest.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := kin.CreateStream("orders", 2); err != nil {
		fmt.Println(err)
		return
	}
	var entries []kinesistest.PutEntry
	for i := range 100 {
		key := "customer-" + strconv.Itoa(i%5)
		entries = append(entries, kinesistest.PutEntry{PartitionKey: key, Data: []byte("order " + strconv.Itoa(i))})
	}
	if _, err := kin.PutRecords("orders", entries); err != nil {
		fmt.Println(err)
		return
	}

	stores := leases.NewMemoryStores()
	var mu sync.Mutex
	seen := map[string]int{}
	batches := make(chan int, 16)
	s, err := scheduler.New(scheduler.Config{
		ApplicationName:      "orders-app",
		StreamName:           "orders",
		InitialPosition:      consumer.InitialPositionTrimHorizon,
		KinesisClient:        kin,
		Stores:               stores,
		WorkerID:             "worker-1",
		FailoverTime:         time.Second,
		IdleTimeBetweenReads: 20 * time.Millisecond,
	}, consumer.ProcessorFactoryFunc(func(shardID string) consumer.Processor {
		return counter{mu: &mu, seen: seen, done: batches}
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()

	for n := 0; n < len(entries); {
		select {
		case b := <-batches:
			n += b
		case <-time.After(30 * time.Second):
			fmt.Println("timed out")
			n = len(entries)
		}
	}
	drained := make(chan struct{})
	go func() { // shutdown may hand over a last (empty) batch
		defer close(drained)
		for range batches {
		}
	}()
	stop()
	if err := <-ran; err != nil {
		fmt.Println(err)
	}
	close(batches) // Run returned: no processor runs any more
	<-drained

	mu.Lock()
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Println(k, seen[k])
	}
	mu.Unlock()
	all, _ := stores.Leases.List(context.Background())
	for _, l := range all {
		// A graceful shutdown checkpoints and hands each lease on (here,
		// with no other worker, releases it).
		fmt.Println(l.Key, "checkpointed:", l.Checkpoint != consumer.TrimHorizon, "released:", l.Owner == "")
	}
	// Output:
	// customer-0 20
	// customer-1 20
	// customer-2 20
	// customer-3 20
	// customer-4 20
	// shardId-000000000000 checkpointed: true released: true
	// shardId-000000000001 checkpointed: true released: true
}
