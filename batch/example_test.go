package batch_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/batch"
)

// A function becomes a processor with the settings of a Lambda Kinesis
// trigger. Here it runs through the scheduler on the in-memory Kinesis
// fake: one record of 200 is poison; bisection isolates it, its retries
// run out, the on-failure destination takes it, and the shard's checkpoint
// still reaches the end.
func ExampleNew() {
	s, err := newFakeStream(1)
	if err == nil {
		err = s.put(0, 200, 10) // payloads "key-K:N", N = 0..199
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
	factory, err := batch.New(handle, batch.Config{BatchSize: 50, ParallelizationFactor: 4, BisectOnError: true, MaxRetryAttempts: new(2), OnFailure: onFailure, RetryBackoff: time.Millisecond, RetryMaxBackoff: 10 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	stop, err := s.run(s.config("example-worker", zerolog.Nop()), factory)
	if err != nil {
		fmt.Println(err)
		return
	}
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
	if err := stop(); err != nil { // graceful: checkpoints what finished
		fmt.Println(err)
	}
	cps, err := s.checkpoints()
	if err != nil {
		fmt.Println(err)
	}
	shard := "shardId-000000000000"
	fmt.Println("handled:", handled)
	fmt.Println("given up:", givenUp)
	fmt.Println("checkpoint at the shard's last record:", cps[shard] == s.last[shard])
	// Output:
	// handled: 199
	// given up: [key-3:123 after 2 retries (RetryAttemptsExhausted)]
	// checkpoint at the shard's last record: true
}
