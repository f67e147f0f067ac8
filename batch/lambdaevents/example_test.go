package lambdaevents_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shardwise/shardwise/batch"
	"github.com/shardwise/shardwise/batch/lambdaevents"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// The body of a Lambda function on a Kinesis trigger (with
// ReportBatchItemFailures) runs unchanged under the scheduler; here on the
// in-memory Kinesis fake, with a record that is not JSON among 50 orders.
func Example() {
	type order struct {
		Customer string `json:"customer"`
		Amount   int    `json:"amount"`
	}
	var (
		mu       sync.Mutex
		totals   = map[string]int{}
		progress = make(chan struct{}, 1)
	)
	// As it ran in Lambda: stop at the first bad record and report it, so
	// that processing resumes there.
	handler := func(ctx context.Context, e events.KinesisEvent) (events.KinesisEventResponse, error) {
		defer notify(progress)
		for _, r := range e.Records {
			var o order
			if err := json.Unmarshal(r.Kinesis.Data, &o); err != nil {
				return events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{
					{ItemIdentifier: r.Kinesis.SequenceNumber},
				}}, nil
			}
			mu.Lock()
			totals[o.Customer] += o.Amount
			mu.Unlock()
		}
		return events.KinesisEventResponse{}, nil
	}
	var givenUp []string
	onFailure := func(ctx context.Context, f batch.FailedRecords) error {
		defer notify(progress)
		mu.Lock()
		defer mu.Unlock()
		for _, r := range f.Records {
			givenUp = append(givenUp, string(r.Data))
		}
		return nil
	}

	factory, err := lambdaevents.NewWithResponse(handler, batch.Config{BatchSize: 20, ParallelizationFactor: 2, MaxRetryAttempts: new(2), OnFailure: onFailure, RetryBackoff: time.Millisecond, RetryMaxBackoff: 10 * time.Millisecond}, lambdaevents.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}

	kin, err := kinesistest.New(kinesistest.Config{})
	if err == nil {
		err = kin.CreateStream("orders", 1)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	var entries []kinesistest.PutEntry
	for i := range 50 {
		o := order{Customer: "bob", Amount: 2}
		if i%2 == 0 {
			o = order{Customer: "alice", Amount: 3}
		}
		data, _ := json.Marshal(o)
		entries = append(entries, kinesistest.PutEntry{PartitionKey: o.Customer, Data: data})
		if i == 20 {
			entries = append(entries, kinesistest.PutEntry{PartitionKey: "alice", Data: []byte("not json " + strconv.Itoa(i))})
		}
	}
	if _, err := kin.PutRecords("orders", entries); err != nil {
		fmt.Println(err)
		return
	}

	s, err := scheduler.New(scheduler.Config{
		ApplicationName:      "orders-app",
		StreamName:           "orders",
		InitialPosition:      consumer.InitialPositionTrimHorizon,
		KinesisClient:        kin,
		Stores:               leases.NewMemoryStores(),
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
		return totals["alice"] == 75 && totals["bob"] == 50 && len(givenUp) == 1
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
	stop()
	if err := <-ran; err != nil {
		fmt.Println(err)
	}

	mu.Lock()
	defer mu.Unlock()
	var names []string
	for n := range totals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("%s: %d\n", n, totals[n])
	}
	fmt.Printf("given up: %q\n", givenUp)
	// Output:
	// alice: 75
	// bob: 50
	// given up: ["not json 20"]
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
