package consumertest_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/shardwise/shardwise/checkpoint"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/consumertest"
)

// totals sums the amount in each record's data per partition key and
// checkpoints after every batch. Its methods are called one at a time, so
// it needs no lock.
type totals struct {
	sum map[string]int
}

func (t *totals) Initialize(ctx context.Context, in consumer.InitializationInput) error {
	fmt.Println("initialize", in.ShardID, "at", in.Checkpoint)
	return nil
}

func (t *totals) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	for _, r := range in.Records {
		n, err := strconv.Atoi(string(r.Data))
		if err != nil {
			continue // a malformed record is skipped, not retried forever
		}
		t.sum[r.PartitionKey] += n
	}
	return in.Checkpointer.Checkpoint(ctx)
}

func (t *totals) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (t *totals) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx) // SHARD_END
}

func (t *totals) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func rec(seq, key, data string) consumer.Record {
	return consumer.Record{SequenceNumber: seq, PartitionKey: key, Data: []byte(data)}
}

// Test a Processor through its whole lifecycle: two batches of a shard
// that then ends.
func Example() {
	p := &totals{sum: map[string]int{}}
	factory := consumer.ProcessorFactoryFunc(func(string) consumer.Processor { return p })

	res, err := consumertest.Run(context.Background(), factory, consumertest.Config{
		Batches: []consumertest.Batch{
			{Records: []consumer.Record{rec("100", "alice", "3"), rec("101", "bob", "4")}},
			{Records: []consumer.Record{rec("102", "alice", "5"), rec("103", "bob", "oops")}},
		},
		End: consumertest.EndShardEnded,
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("totals:", p.sum)
	fmt.Println("checkpoints:", res.Checkpoints)
	// Output:
	// initialize shardId-000000000000 at TRIM_HORIZON
	// totals: map[alice:8 bob:4]
	// checkpoints: [101 103 SHARD_END]
}

// lines writes each record to a sink and checkpoints every batch. When the
// checkpoint fails it returns the error: the scheduler then offers the
// same batch again, so the records are written twice (at-least-once) but
// never lost. A sink that must not see duplicates keys its writes by
// sequence number.
type lines struct {
	sink []string
}

func (l *lines) Initialize(context.Context, consumer.InitializationInput) error { return nil }

func (l *lines) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	for _, r := range in.Records {
		l.sink = append(l.sink, string(r.Data))
	}
	if err := in.Checkpointer.Checkpoint(ctx); err != nil {
		return fmt.Errorf("checkpoint after %d records: %w", len(in.Records), err)
	}
	return nil
}

func (l *lines) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (l *lines) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func (l *lines) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

// Checkpoint every batch, and handle a failed checkpoint by returning its
// error from ProcessRecords: the batch is replayed, and the next attempt
// checkpoints it.
func Example_failedCheckpoint() {
	cp, err := checkpoint.NewFake(checkpoint.FakeConfig{Checkpoint: consumer.TrimHorizon})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The lease table refuses the first write (throttling, say).
	cp.InjectError(errors.New("shardwise: lease table throttled"), 1)

	l := &lines{}
	res, err := consumertest.Run(context.Background(), consumer.ProcessorFactoryFunc(func(string) consumer.Processor { return l }),
		consumertest.Config{
			Checkpointer: cp,
			Batches: []consumertest.Batch{
				{Records: []consumer.Record{rec("1", "k", "a"), rec("2", "k", "b")}},
				{Records: []consumer.Record{rec("3", "k", "c")}},
			},
		})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("sink:", l.sink)
	fmt.Println("replayed after:", res.Errors)
	fmt.Println("checkpoints:", res.Checkpoints)
	// Output:
	// sink: [a b a b c]
	// replayed after: [checkpoint after 2 records: shardwise: lease table throttled]
	// checkpoints: [2 3]
}
