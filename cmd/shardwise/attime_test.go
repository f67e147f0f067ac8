package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/internal/kpl"
	"github.com/shardwise/shardwise/leases"
)

// TestSetCheckpointAtTimestamp puts records on kinesis-local in two bursts
// with a known time between them (the last record of the first burst a
// KPL aggregate of three) and moves a lease to that time: the checkpoint
// lands after the whole aggregate, so the consumer resumes at the second
// burst.
func TestSetCheckpointAtTimestamp(t *testing.T) {
	env := emulator.Require(t)
	f := newFixture(t, "attime")
	ctx := context.Background()
	kc := emulator.KinesisClient(env.Kinesis)
	stream := uniqueName("attime")
	if err := emulator.CreateStream(ctx, kc, stream, 1); err != nil {
		t.Fatal(err)
	}
	put := func(data []byte) string {
		out, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("k"), Data: data})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.SequenceNumber)
	}
	put([]byte("one"))
	put([]byte("two"))
	agg := put(kpl.Aggregate([]kpl.UserRecord{{PartitionKey: "a", Data: []byte("x")}, {PartitionKey: "b", Data: []byte("y")}, {PartitionKey: "c", Data: []byte("z")}}))
	// The time: just after the aggregate arrived, by the emulator's
	// clock (this host's); wait until the clock has passed it.
	shard := "shardId-000000000000"
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: "AT_SEQUENCE_NUMBER", StartingSequenceNumber: aws.String(agg)})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(recs.Records) == 0 {
		t.Fatalf("reading back the aggregate: %v", err)
	}
	at := aws.ToTime(recs.Records[0].ApproximateArrivalTimestamp).Add(time.Millisecond)
	for deadline := time.Now().Add(10 * time.Second); !time.Now().After(at.Add(time.Millisecond)); {
		if time.Now().After(deadline) {
			t.Fatal("clock did not pass the aggregate's arrival")
		}
		time.Sleep(time.Millisecond)
	}
	put([]byte("four"))
	put([]byte("five"))

	if _, err := f.leases.Create(ctx, leases.Lease{Key: shard, Checkpoint: consumer.Latest}); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := cli(t, "set-checkpoint", "-table", f.app, "-shard", shard, "-to", "AT_TIMESTAMP="+at.Format(time.RFC3339Nano), "-stream", stream, "-write")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	want := consumer.ExtendedSequenceNumber{SequenceNumber: agg, SubSequenceNumber: 2}
	if l, _ := f.leases.Get(ctx, shard); l.Checkpoint != want {
		t.Errorf("checkpoint %v, want %v\n%s", l.Checkpoint, want, out)
	}
	if !strings.Contains(out, "after record "+want.String()) {
		t.Errorf("output:\n%s", out)
	}

	// A time before every record: TRIM_HORIZON.
	out, stderr, code = cli(t, "set-checkpoint", "-table", f.app, "-shard", shard, "-to", "AT_TIMESTAMP=2020-01-01T00:00:00Z", "-stream", stream)
	if code != 0 || !strings.Contains(out, "-> TRIM_HORIZON") || !strings.Contains(out, "no record in the shard arrived before it") {
		t.Errorf("early time: exit %d: %s\n%s", code, stderr, out)
	}
	// A bad time and a missing stream are usage errors.
	if _, stderr, code = cli(t, "set-checkpoint", "-table", f.app, "-shard", shard, "-to", "AT_TIMESTAMP=yesterday", "-stream", stream); code != exitUsage {
		t.Errorf("bad time: exit %d: %s", code, stderr)
	}
	if _, stderr, code = cli(t, "set-checkpoint", "-table", f.app, "-shard", shard, "-to", "AT_TIMESTAMP=2020-01-01T00:00:00Z"); code != exitUsage || !strings.Contains(stderr, "needs -stream") {
		t.Errorf("no stream: exit %d: %s", code, stderr)
	}
}
