package batch_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/shardwise/shardwise/batch"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// A function becomes a processor with the settings of a Lambda Kinesis
// trigger. Here it runs under a scheduler on the in-memory Kinesis and
// lease tables: one record of 200 is poison; bisection isolates it, its
// retries run out, the on-failure destination takes it, and the shard's
// checkpoint still reaches the last record.
func ExampleNew() {
	kin, err := kinesistest.New(kinesistest.Config{})
	if err == nil {
		err = kin.CreateStream("orders", 1)
	}
	var last []kinesistest.PutResult
	if err == nil {
		entries := make([]kinesistest.PutEntry, 200)
		for i := range entries {
			key := "key-" + strconv.Itoa(i%10)
			entries[i] = kinesistest.PutEntry{PartitionKey: key, Data: []byte(key + ":" + strconv.Itoa(i))}
		}
		last, err = kin.PutRecords("orders", entries)
	}
	if err != nil {
		fmt.Println(err)
		return
	}

	var (
		mu       sync.Mutex
		handled  int
		givenUp  []string
		progress = make(chan struct{}, 1)
	)
	tick := func() {
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	handle := func(ctx context.Context, b batch.Batch) error {
		defer tick()
		for _, r := range b.Records {
			if string(r.Data) == "key-3:123" {
				return errors.New("cannot handle key-3:123")
			}
		}
		mu.Lock()
		handled += len(b.Records)
		mu.Unlock()
		return nil
	}
	onFailure := func(ctx context.Context, f batch.FailedRecords) error {
		defer tick()
		mu.Lock()
		defer mu.Unlock()
		for _, r := range f.Records {
			givenUp = append(givenUp, fmt.Sprintf("%s after %d retries (%s)", r.Data, f.RetryAttempts, f.Condition))
		}
		return nil
	}
	factory, err := batch.New(handle, batch.Config{
		BatchSize:             50,
		ParallelizationFactor: 4,
		BisectOnError:         true,
		MaxRetryAttempts:      new(2),
		OnFailure:             onFailure,
		RetryBackoff:          time.Millisecond,
		RetryMaxBackoff:       10 * time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	stores := leases.NewMemoryStores()
	s, err := scheduler.New(scheduler.Config{
		ApplicationName:      "orders-app",
		StreamName:           "orders",
		InitialPosition:      consumer.InitialPositionTrimHorizon,
		KinesisClient:        kin,
		Stores:               stores,
		WorkerID:             "worker-1",
		FailoverTime:         time.Second,
		IdleTimeBetweenReads: 20 * time.Millisecond,
	}, factory)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()

	finished := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return handled+len(givenUp) == 200
	}
	deadline := time.After(30 * time.Second)
wait:
	for !finished() {
		select {
		case <-progress:
		case <-deadline:
			fmt.Println("timed out")
			break wait
		}
	}
	stop() // graceful: checkpoints what finished
	if err := <-ran; err != nil {
		fmt.Println(err)
	}
	l, err := stores.Leases.Get(context.Background(), "shardId-000000000000")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("handled:", handled)
	fmt.Println("given up:", givenUp)
	fmt.Println("checkpoint at the shard's last record:", l.Checkpoint.SequenceNumber == last[len(last)-1].SequenceNumber)
	// Output:
	// handled: 199
	// given up: [key-3:123 after 2 retries (RetryAttemptsExhausted)]
	// checkpoint at the shard's last record: true
}
