// Command localstack runs a Shardwise consumer against LocalStack, as a team
// does before it deploys to AWS: one aws.Config pointing at LocalStack's
// edge endpoint carries Kinesis, DynamoDB (the lease tables) and CloudWatch
// (the metrics publisher), with LocalStack's dummy credentials and region.
//
// It creates the stream if it is missing, writes -records records tagged
// with this run's id, consumes the stream with one worker configured as in
// the README's quickstart (plus a CloudWatch publisher), and exits once
// every record of this run has been processed and checkpointed:
//
//	docker run --rm -p 4566:4566 localstack/localstack
//	go run ./examples/localstack -endpoint http://localhost.localstack.cloud:4566
//
// The endpoint defaults to $AWS_ENDPOINT_URL, else LocalStack's
// http://localhost.localstack.cloud:4566. As everywhere in the AWS SDK,
// AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL_CLOUDWATCH, when set, win over it for their service.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awscloudwatch "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/metrics/cloudwatch"
	"github.com/shardwise/shardwise/scheduler"
)

// options are the command's flags.
type options struct {
	Endpoint string
	Region   string
	Stream   string
	App      string
	Shards   int
	Records  int
}

// result is what one run produced and consumed.
type result struct {
	Produced  int
	Processed int               // distinct records of this run processed
	LastSeq   map[string]string // per shard, the sequence number of this run's last record
	Elapsed   time.Duration
	MetricsOK bool // the CloudWatch publisher closed without dropping metrics
}

func main() {
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		endpoint = "http://localhost.localstack.cloud:4566"
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	var o options
	flag.StringVar(&o.Endpoint, "endpoint", endpoint, "LocalStack's edge endpoint (default: $AWS_ENDPOINT_URL, else LocalStack's)")
	flag.StringVar(&o.Region, "region", region, "region (default: $AWS_REGION, else LocalStack's us-east-1)")
	flag.StringVar(&o.Stream, "stream", "shardwise-localstack", "stream, created if missing")
	flag.StringVar(&o.App, "app", "shardwise-localstack-app", "application name (the lease table)")
	flag.IntVar(&o.Shards, "shards", 2, "shards of the stream if it is created")
	flag.IntVar(&o.Records, "records", 500, "records to write and consume")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	res, err := run(ctx, o, log)
	fmt.Printf("localstack: endpoint=%s stream=%s produced=%d processed=%d shards_checkpointed=%d metrics_published=%t elapsed=%s\n",
		o.Endpoint, o.Stream, res.Produced, res.Processed, len(res.LastSeq), res.MetricsOK, res.Elapsed.Round(time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, "localstack:", err)
		os.Exit(1)
	}
}

// localStackConfig is the one aws.Config every client is built from:
// LocalStack serves Kinesis, DynamoDB and CloudWatch on one endpoint,
// accepts any credentials (by convention "test"/"test", which it maps to
// account 000000000000) and keeps resources per region.
func localStackConfig(ctx context.Context, endpoint, region string) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithBaseEndpoint(endpoint), // e.g. http://localhost.localstack.cloud:4566
		config.WithRegion(region),         // e.g. us-east-1
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
	)
}

func run(ctx context.Context, o options, log zerolog.Logger) (result, error) {
	start := time.Now()
	res := result{LastSeq: map[string]string{}}
	awsCfg, err := localStackConfig(ctx, o.Endpoint, o.Region)
	if err != nil {
		return res, err
	}
	kc := kinesis.NewFromConfig(awsCfg)
	if err := ensureStream(ctx, kc, o.Stream, o.Shards); err != nil {
		return res, err
	}

	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	if res.LastSeq, err = produce(ctx, kc, o.Stream, runID, o.Records); err != nil {
		return res, fmt.Errorf("writing records: %w", err)
	}
	res.Produced = o.Records

	pub, err := cloudwatch.New(cloudwatch.Config{
		Client:    awscloudwatch.NewFromConfig(awsCfg),
		Namespace: o.App,
		Logger:    log,
	})
	if err != nil {
		return res, err
	}
	runCtx, done := context.WithCancel(ctx)
	defer done()
	seen := &tally{runID: runID, want: o.Records, done: done, seen: map[int]bool{}}
	s, err := scheduler.New(scheduler.Config{
		ApplicationName: o.App,
		StreamName:      o.Stream,
		InitialPosition: consumer.InitialPositionTrimHorizon,
		AWSConfig:       &awsCfg,
		Logger:          log,
		Metrics:         pub,
	}, consumer.ProcessorFactoryFunc(func(shardID string) consumer.Processor { return &processor{seen: seen} }))
	if err == nil {
		// Run returns once every record of this run has been processed
		// (done is called) and the worker has shut down, checkpointing.
		err = s.Run(runCtx)
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pubErr := pub.Close(closeCtx)
	res.MetricsOK = pubErr == nil
	res.Processed = seen.count()
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, err
	}
	if res.Processed < o.Records {
		return res, fmt.Errorf("processed %d of %d records: %w", res.Processed, o.Records, context.Cause(ctx))
	}
	return res, pubErr
}

// ensureStream creates the stream unless it exists, and waits until it is
// ACTIVE: on LocalStack a new stream stays CREATING for KINESIS_LATENCY
// (500 ms by default), as reshards stay UPDATING.
func ensureStream(ctx context.Context, kc *kinesis.Client, name string, shards int) error {
	_, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("creating stream %s: %w", name, err)
	}
	w := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	return w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute)
}

// produce writes n records "<runID> <i>" and returns, per shard, the
// sequence number of the last one.
func produce(ctx context.Context, kc *kinesis.Client, stream, runID string, n int) (map[string]string, error) {
	last := map[string]string{}
	for sent := 0; sent < n; {
		var entries []types.PutRecordsRequestEntry
		for i := sent; i < min(n, sent+250); i++ {
			entries = append(entries, types.PutRecordsRequestEntry{
				PartitionKey: aws.String("key-" + strconv.Itoa(i%64)),
				Data:         []byte(runID + " " + strconv.Itoa(i)),
			})
		}
		// Entries are retried one call at a time, in order, so the last
		// sequence number of each shard is the last one returned for it.
		for len(entries) > 0 {
			out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
			if err != nil {
				return nil, err
			}
			var retry []types.PutRecordsRequestEntry
			for i, r := range out.Records {
				if r.ErrorCode != nil {
					retry = append(retry, entries[i])
					continue
				}
				last[aws.ToString(r.ShardId)] = aws.ToString(r.SequenceNumber)
				sent++
			}
			entries = retry
		}
	}
	return last, nil
}

// tally counts the distinct records of this run processed, and calls done
// once it has seen all of them.
type tally struct {
	runID string
	want  int
	done  context.CancelFunc

	mu   sync.Mutex
	seen map[int]bool
}

func (t *tally) add(data []byte) {
	id, n, ok := strings.Cut(string(data), " ")
	i, err := strconv.Atoi(n)
	if !ok || err != nil || id != t.runID {
		return // a record of an earlier run
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen[i] = true
	if len(t.seen) == t.want {
		t.done()
	}
}

func (t *tally) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.seen)
}

// processor handles each batch and checkpoints it, as the quickstart's; it
// counts a record once its checkpoint is written, so the run ends only when
// every record is checkpointed.
type processor struct{ seen *tally }

func (p *processor) Initialize(context.Context, consumer.InitializationInput) error { return nil }

func (p *processor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	// (handle in.Records here)
	if err := in.Checkpointer.Checkpoint(ctx); err != nil {
		return err // the batch is offered again
	}
	for _, r := range in.Records {
		p.seen.add(r.Data)
	}
	return nil
}

func (p *processor) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (p *processor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *processor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}
