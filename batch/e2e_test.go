package batch_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/batch"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/scheduler"
)

// TestEmulatorHandlerFailsOneInAThousand runs a batch handler through the
// scheduler on kinesis-local and dynalite: the handler fails every batch
// that holds one of the poison records (one in a thousand). Bisection
// isolates them, their retries run out, and the destination gets them;
// every other record is handled exactly once, in key order, and nothing
// is lost.
func TestEmulatorHandlerFailsOneInAThousand(t *testing.T) {
	env := emulator.Require(t)
	kc, dc := emulator.KinesisClient(env.Kinesis), emulator.DynamoDBClient(env.DynamoDB)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e10, 36)
	stream, app := "handler-e2e-"+suffix, "handler-e2e-app-"+suffix
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	w := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 500*time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(stream)}, time.Minute); err != nil {
		t.Fatal(err)
	}

	const total, nKeys = 5000, 100
	poison := func(c int) bool { return c%1000 == 999 }
	last := map[string]consumer.ExtendedSequenceNumber{} // per shard
	for sent := 0; sent < total; sent += 500 {
		entries := make([]types.PutRecordsRequestEntry, 500)
		for i := range entries {
			c := sent + i
			k := "key-" + strconv.Itoa(c%nKeys)
			entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(k), Data: []byte(k + ":" + strconv.Itoa(c))}
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				// A retry would reorder the key; the test needs them in order.
				t.Fatalf("entry %d failed: %s", sent+i, aws.ToString(r.ErrorMessage))
			}
			last[aws.ToString(r.ShardId)] = consumer.ExtendedSequenceNumber{SequenceNumber: aws.ToString(r.SequenceNumber)}
		}
	}

	tr := newTracker()
	h := func(ctx context.Context, b batch.Batch) error {
		for _, r := range b.Records {
			if _, c := parsePayload(r.Data); poison(c) {
				return fmt.Errorf("poison record %d", c)
			}
		}
		tr.handle(b.Records)
		return nil
	}
	f, err := batch.New(h, batch.Config{BatchSize: 100, ParallelizationFactor: 4, BisectOnError: true, MaxRetryAttempts: new(2), OnFailure: tr.dest, RetryBackoff: 20 * time.Millisecond, RetryMaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := scheduler.New(scheduler.Config{
		ApplicationName:        app,
		StreamName:             stream,
		InitialPosition:        consumer.InitialPositionTrimHorizon,
		KinesisClient:          kc,
		DynamoDBClient:         dc,
		WorkerID:               "handler-e2e",
		Logger:                 zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
		IdleTimeBetweenReads:   100 * time.Millisecond,
		FailoverTime:           3 * time.Second,
		LeaseDiscoveryInterval: 500 * time.Millisecond,
		ShutdownTimeout:        20 * time.Second,
	}, f)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- s.Run(runCtx) }()

	// Wait until every record was handled or given up, or Run failed, or
	// the deadline passed.
	waitCtx, stopWait := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case err := <-errc:
			errc <- err // for the check below
			stopWait()
		case <-waitCtx.Done():
		}
	}()
	ok := tr.waitAllUntil(waitCtx.Done(), total)
	stopWait()
	<-watched
	if !ok {
		select {
		case err := <-errc:
			t.Fatalf("Run returned early: %v", err)
		default:
			t.Fatalf("not every record was handled or given up before the deadline")
		}
	}
	stop()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	tr.check(t, total, poison)

	// Shutdown checkpointed each shard's last record in DynamoDB.
	st, err := ddbstore.NewDynamoStore(ddbstore.DynamoConfig{Client: dc, TableName: app, BillingMode: "PAY_PER_REQUEST", TableWaitTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("%d leases, want 2", len(all))
	}
	for _, l := range all {
		if l.Checkpoint != last[l.Key] {
			t.Errorf("lease %s checkpoint %v, want its last record %v", l.Key, l.Checkpoint, last[l.Key])
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("deadline passed")
	}
}
