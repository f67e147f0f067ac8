// Command demo produces records into a Kinesis stream and consumes them
// with several Shardwise workers, printing progress, then a summary line.
//
// It builds its clients as a service does (config.LoadDefaultConfig). It
// runs against local emulators (`make demo` starts them and sets the AWS
// SDK's AWS_ENDPOINT_URL_KINESIS and AWS_ENDPOINT_URL_DYNAMODB to them) or,
// with -aws, against the account of the default AWS configuration; without
// -aws it refuses to run unless both endpoints are set, so it never creates
// a stream in an account by accident.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/scheduler"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		records  = flag.Int("records", 4000, "records to produce")
		shards   = flag.Int("shards", 4, "shards of the demo stream")
		workers  = flag.Int("workers", 3, "workers consuming the stream")
		keys     = flag.Int("keys", 200, "distinct partition keys")
		useAWS   = flag.Bool("aws", false, "use the default AWS configuration instead of local emulators")
		timeout  = flag.Duration("timeout", 3*time.Minute, "give up after this long")
		logLevel = flag.String("log", "warn", "log level of the workers (debug, info, warn, error)")
		joinAt   = flag.Duration("join-after", 0, "start one more worker this long after producing begins (0: none), to watch it get leases by graceful hand-off")
		delay    = flag.Duration("batch-delay", 0, "time each processor spends per batch, so a lag builds up and shows (0: none)")
		rate     = flag.Int("rate", 0, "records per second to produce (0: as fast as the stream takes them)")
		fanOut   = flag.Bool("fanout", false, "read with enhanced fan-out (SubscribeToShard) instead of polling; the workers register a stream consumer named after the application")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	kc, dc, err := clients(ctx, *useAWS, *fanOut)
	if err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("-log: %w", err)
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}).Level(lvl).With().Timestamp().Logger()

	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	stream := "shardwise-demo-" + suffix
	app := "shardwise-demo-app-" + suffix
	start := time.Now()
	fmt.Printf("demo: creating stream %s with %d shards\n", stream, *shards)
	if err := createStream(ctx, kc, stream, *shards); err != nil {
		return err
	}

	tally := newTally()
	var wg sync.WaitGroup
	runCtx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	errs := make(chan error, *workers+1)
	var scheds []*scheduler.Scheduler
	startWorker := func(n int) error {
		s, err := scheduler.New(scheduler.Config{
			ApplicationName:      app,
			StreamName:           stream,
			InitialPosition:      consumer.InitialPositionTrimHorizon,
			KinesisClient:        kc,
			DynamoDBClient:       dc,
			WorkerID:             fmt.Sprintf("demo-worker-%d", n),
			Logger:               log,
			IdleTimeBetweenReads: 250 * time.Millisecond,
			FanOut:               *fanOut,
			// The demo's workers share one process, so they would all report
			// the same CPU figure: balance on throughput and lease counts.
			LoadSampler: func() float64 { return -1 },
		}, consumer.ProcessorFactoryFunc(func(shardID string) consumer.Processor {
			return &countingProcessor{tally: tally, worker: n, delay: *delay}
		}))
		if err != nil {
			return err
		}
		scheds = append(scheds, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(runCtx); err != nil {
				errs <- fmt.Errorf("worker %s: %w", s.WorkerID(), err)
			}
		}()
		return nil
	}
	fmt.Printf("demo: application %s (lease table of the same name)\n", app)
	for i := 0; i < *workers; i++ {
		if err := startWorker(i + 1); err != nil {
			return err
		}
	}
	// Produce once the leases are spread (each worker holds one, when
	// there are shards enough), so the demo shows the workers sharing the
	// stream rather than whichever worker the leader saw first.
	spreadStart := time.Now()
	if spreadLeases(ctx, scheds, min(*workers, *shards), 30*time.Second) {
		fmt.Printf("demo: leases spread over the workers after %.1fs\n", time.Since(spreadStart).Seconds())
	} else {
		fmt.Println("demo: leases not yet spread over the workers after 30s; producing anyway")
	}

	produced := atomic.Int64{}
	prodErr := make(chan error, 1)
	go func() { prodErr <- produce(ctx, kc, stream, *records, *keys, *rate, &produced) }()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var join <-chan time.Time // nil (never ready) without -join-after
	if *joinAt > 0 {
		t := time.NewTimer(*joinAt)
		defer t.Stop()
		join = t.C
	}
	var runErr error
loop:
	for {
		select {
		case <-join:
			join = nil
			fmt.Printf("demo: %5.1fs worker demo-worker-%d joins\n", time.Since(start).Seconds(), len(scheds)+1)
			if err := startWorker(len(scheds) + 1); err != nil {
				runErr = err
				break loop
			}
		case err := <-prodErr:
			if err != nil {
				runErr = fmt.Errorf("producing: %w", err)
				break loop
			}
			prodErr = nil
		case err := <-errs:
			runErr = err
			break loop
		case <-ctx.Done():
			runErr = fmt.Errorf("gave up after %v: %w", time.Since(start).Round(time.Millisecond), context.Cause(ctx))
			break loop
		case <-tick.C:
			u, _, per := tally.snapshot()
			fmt.Printf("demo: %5.1fs produced=%d consumed=%d per-worker=%v\n", time.Since(start).Seconds(), produced.Load(), u, per)
			if prodErr == nil && u >= int64(*records) {
				break loop
			}
		}
	}
	stopWorkers()
	wg.Wait()
	close(errs)
	for err := range errs {
		runErr = errors.Join(runErr, err)
	}
	unique, dup, per := tally.snapshot()
	fmt.Printf("demo: summary produced=%d consumed=%d duplicates=%d workers=%d shards=%d per_worker=%v elapsed=%s\n",
		produced.Load(), unique, dup, len(scheds), *shards, per, time.Since(start).Round(time.Millisecond))
	if runErr != nil {
		return runErr
	}
	if unique != produced.Load() {
		return fmt.Errorf("consumed %d distinct records of %d produced", unique, produced.Load())
	}
	return nil
}

// countingProcessor counts records and checkpoints after every batch,
// taking delay per batch first.
type countingProcessor struct {
	tally  *tally
	worker int
	delay  time.Duration
}

func (p *countingProcessor) Initialize(context.Context, consumer.InitializationInput) error {
	return nil
}

func (p *countingProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	if p.delay > 0 {
		select {
		case <-time.After(p.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for i := range in.Records {
		p.tally.add(in.Records[i].Position(), p.worker)
	}
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *countingProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (p *countingProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *countingProcessor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

// tally counts distinct records seen, repeats, and records per worker.
type tally struct {
	mu        sync.Mutex
	seen      map[consumer.ExtendedSequenceNumber]bool
	dup       int64
	perWorker map[int]int64
}

func newTally() *tally {
	return &tally{seen: map[consumer.ExtendedSequenceNumber]bool{}, perWorker: map[int]int64{}}
}

func (t *tally) add(pos consumer.ExtendedSequenceNumber, worker int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen[pos] {
		t.dup++
		return
	}
	t.seen[pos] = true
	t.perWorker[worker]++
}

func (t *tally) snapshot() (unique, dup int64, per map[int]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	per = make(map[int]int64, len(t.perWorker))
	for k, v := range t.perWorker {
		per[k] = v
	}
	return int64(len(t.seen)), t.dup, per
}

func clients(ctx context.Context, useAWS, fanOut bool) (*kinesis.Client, *dynamodb.Client, error) {
	if !useAWS && (os.Getenv("AWS_ENDPOINT_URL_KINESIS") == "" || os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "") {
		return nil, nil, errors.New("no local endpoints (AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_DYNAMODB): run `make demo`, which starts the emulators, or pass -aws")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	var kopts []func(*kinesis.Options)
	if fanOut && !useAWS {
		// kinesis-local never sends the event stream's initial-response,
		// which the AWS SDK requires: with fan-out, Kinesis goes through
		// the emulator harness's edge (AWS_ENDPOINT_URL), which injects it
		// (EMULATORS.md).
		edge := os.Getenv("AWS_ENDPOINT_URL")
		if edge == "" {
			return nil, nil, errors.New("-fanout against the emulators needs their edge (AWS_ENDPOINT_URL): run `make demo DEMOFLAGS=-fanout`")
		}
		kopts = append(kopts, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(edge) })
	}
	return kinesis.NewFromConfig(cfg, kopts...), dynamodb.NewFromConfig(cfg), nil
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

// spreadLeases waits until `holders` workers each run at least one lease,
// polling their Stats, for at most timeout. It reports whether they do.
func spreadLeases(ctx context.Context, scheds []*scheduler.Scheduler, holders int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		n := 0
		for _, s := range scheds {
			if len(s.Stats().Leases) > 0 {
				n++
			}
		}
		if n >= holders {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// produce writes n records with PutRecords in batches of up to 250, at
// most rate records per second if rate > 0.
func produce(ctx context.Context, kc *kinesis.Client, stream string, n, keys, rate int, produced *atomic.Int64) error {
	const batchSize = 250
	start := time.Now()
	for sent := 0; sent < n; {
		if rate > 0 {
			due := start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))
			select {
			case <-time.After(time.Until(due)):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		m := min(batchSize, n-sent)
		entries := make([]types.PutRecordsRequestEntry, m)
		for i := range entries {
			k := (sent + i) % keys
			entries[i] = types.PutRecordsRequestEntry{
				PartitionKey: aws.String("key-" + strconv.Itoa(k)),
				Data:         []byte(fmt.Sprintf(`{"key":%d,"n":%d}`, k, sent+i)),
			}
		}
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
			produced.Add(int64(len(entries) - len(retry)))
			entries = retry
		}
		sent += m
	}
	return nil
}
