// Command lambda runs the body of a Lambda function written for a Kinesis
// trigger (aws-lambda-go's events.KinesisEvent in, events.KinesisEventResponse
// with batch item failures out) under a Shardwise scheduler instead of
// Lambda, with the trigger's settings (batch size, parallelization factor,
// bisect on error, retry attempts, on-failure destination) in a batch.Config.
//
// It builds its AWS clients the way a service does
// (config.LoadDefaultConfig: region, credentials and endpoints from the
// environment). By default it creates a stream, writes orders into it (one
// in -bad-every is not JSON), consumes them and prints a summary once every
// order was either handled or given up. Against the local emulators:
//
//	go run ./internal/emulator/cmd/withemulators -- go run ./examples/lambda
//
// (which sets AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_DYNAMODB, a region
// and local credentials). With -stream NAME it consumes an existing stream
// until interrupted, producing nothing.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/batch"
	"github.com/shardwise/shardwise/batch/lambdaevents"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/scheduler"
)

// order is what the function consumes.
type order struct {
	ID       int    `json:"id"`
	Customer string `json:"customer"`
	Cents    int    `json:"cents"`
}

// totals is the function's in-process state: a thing a Lambda function
// cannot keep between invocations, and a service can.
type totals struct {
	mu      sync.Mutex
	cents   map[string]int
	orders  int
	givenUp []string
	changed chan struct{} // capacity 1: something was counted
}

func (t *totals) notify() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// handle is the Lambda function body, unchanged from what ran in Lambda:
// it handles records in order and, at the first one it cannot parse,
// reports it and stops, so that processing resumes there.
func (t *totals) handle(ctx context.Context, e events.KinesisEvent) (events.KinesisEventResponse, error) {
	defer t.notify()
	for _, r := range e.Records {
		var o order
		if err := json.Unmarshal(r.Kinesis.Data, &o); err != nil {
			return events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{
				{ItemIdentifier: r.Kinesis.SequenceNumber},
			}}, nil
		}
		t.mu.Lock()
		t.cents[o.Customer] += o.Cents
		t.orders++
		t.mu.Unlock()
	}
	return events.KinesisEventResponse{}, nil
}

// onFailure is the on-failure destination; a real one would write to a
// queue. Returning an error would hold the shard until it succeeds.
func (t *totals) onFailure(ctx context.Context, f batch.FailedRecords) error {
	defer t.notify()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range f.Records {
		t.givenUp = append(t.givenUp, string(r.Data))
	}
	fmt.Printf("lambda: gave up %d record(s) of %s (%s..%s) after %d retries: %v\n",
		len(f.Records), f.ShardID, f.StartSequenceNumber, f.EndSequenceNumber, f.RetryAttempts, f.Condition)
	return nil
}

func (t *totals) done(want int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.orders+len(t.givenUp) >= want
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lambda:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		streamName  = flag.String("stream", "", "consume this existing stream until interrupted (default: create one and produce orders)")
		records     = flag.Int("records", 2000, "orders to produce into the new stream")
		shards      = flag.Int("shards", 2, "shards of the new stream")
		badEvery    = flag.Int("bad-every", 500, "every n-th record produced is not JSON (0: none)")
		batchSize   = flag.Int("batch-size", 100, "BatchSize")
		parallel    = flag.Int("parallelization-factor", 4, "ParallelizationFactor")
		retries     = flag.Int("max-retry-attempts", 2, "MaximumRetryAttempts (-1: until success)")
		batchWindow = flag.Duration("batch-window", 0, "MaximumBatchingWindow")
		timeout     = flag.Duration("timeout", 3*time.Minute, "give up after this long (when producing)")
		logLevel    = flag.String("log", "warn", "log level of the worker")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	kc, dc, err := clients(ctx)
	if err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("-log: %w", err)
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}).Level(lvl).With().Timestamp().Logger()

	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	stream, app, produce := *streamName, "shardwise-lambda-app", *streamName == ""
	if produce {
		stream, app = "shardwise-lambda-"+suffix, "shardwise-lambda-app-"+suffix
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
		if err := createStream(ctx, kc, stream, *shards); err != nil {
			return err
		}
		if err := produceOrders(ctx, kc, stream, *records, *badEvery); err != nil {
			return err
		}
		fmt.Printf("lambda: wrote %d records to %s\n", *records, stream)
	}

	t := &totals{cents: map[string]int{}, changed: make(chan struct{}, 1)}
	factory, err := lambdaevents.NewWithResponse(t.handle, batch.Config{
		BatchSize:             *batchSize,
		BatchWindow:           *batchWindow,
		ParallelizationFactor: *parallel,
		BisectOnError:         true,
		MaxRetryAttempts:      retries,
		OnFailure:             t.onFailure,
	}, lambdaevents.Config{})
	if err != nil {
		return err
	}
	s, err := scheduler.New(scheduler.Config{
		ApplicationName:        app,
		StreamName:             stream,
		InitialPosition:        consumer.InitialPositionTrimHorizon,
		KinesisClient:          kc,
		DynamoDBClient:         dc,
		Logger:                 log,
		IdleTimeBetweenReads:   250 * time.Millisecond,
		LeaseDiscoveryInterval: time.Second,
	}, factory)
	if err != nil {
		return err
	}
	runCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	errc := make(chan error, 1)
	go func() { errc <- s.Run(runCtx) }()

	start := time.Now()
	var runErr error
wait:
	for !produce || !t.done(*records) {
		select {
		case <-t.changed:
		case err := <-errc:
			return err // Run returned before we stopped it
		case <-ctx.Done():
			if produce {
				runErr = fmt.Errorf("gave up after %v: %w", time.Since(start).Round(time.Millisecond), context.Cause(ctx))
			}
			break wait
		}
	}
	stopWorker()
	runErr = errors.Join(runErr, <-errc)

	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Printf("lambda: summary orders=%d given_up=%d customers=%d elapsed=%s\n",
		t.orders, len(t.givenUp), len(t.cents), time.Since(start).Round(time.Millisecond))
	if produce && runErr == nil {
		wantBad := 0
		if *badEvery > 0 {
			wantBad = *records / *badEvery
		}
		if t.orders != *records-wantBad || len(t.givenUp) != wantBad {
			return fmt.Errorf("handled %d orders and gave up %d records, want %d and %d", t.orders, len(t.givenUp), *records-wantBad, wantBad)
		}
	}
	return runErr
}

func clients(ctx context.Context) (*kinesis.Client, *dynamodb.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	return kinesis.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg), nil
}

// createStream creates a stream and waits until it is active.
func createStream(ctx context.Context, kc *kinesis.Client, name string, shards int) error {
	_, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))})
	if err != nil {
		return fmt.Errorf("creating stream %s: %w", name, err)
	}
	w := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	return w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute)
}

// produceOrders writes n records, every badEvery-th of them not JSON.
func produceOrders(ctx context.Context, kc *kinesis.Client, stream string, n, badEvery int) error {
	customers := []string{"ada", "grace", "alan", "barbara", "edsger", "margaret", "ken", "dennis"}
	for sent := 0; sent < n; {
		m := min(250, n-sent)
		entries := make([]types.PutRecordsRequestEntry, m)
		for i := range entries {
			id := sent + i
			c := customers[id%len(customers)]
			data, _ := json.Marshal(order{ID: id, Customer: c, Cents: 100 + id%900})
			if badEvery > 0 && id%badEvery == badEvery-1 {
				data = []byte("not json: order " + strconv.Itoa(id))
			}
			entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(c), Data: data}
		}
		// Failed entries are retried in their original order; a customer's
		// orders may then land out of order, which this example tolerates.
		for len(entries) > 0 {
			out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
			if err != nil {
				return err
			}
			var retry []types.PutRecordsRequestEntry
			for i, r := range out.Records {
				if r.ErrorCode != nil {
					retry = append(retry, entries[i])
				}
			}
			entries = retry
		}
		sent += m
	}
	return nil
}
