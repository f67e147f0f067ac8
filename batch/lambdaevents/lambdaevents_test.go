package lambdaevents_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shardwise/shardwise/batch"
	"github.com/shardwise/shardwise/batch/lambdaevents"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/consumertest"
)

const (
	shard     = "shardId-000000000003"
	streamARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"
)

func TestEventCarriesWhatLambdaSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		arrival := time.Date(2024, 5, 1, 12, 0, 0, 500_000_000, time.UTC)
		var got []events.KinesisEvent
		f, err := lambdaevents.New(func(ctx context.Context, e events.KinesisEvent) error {
			got = append(got, e)
			return nil
		}, batch.Config{BatchSize: 10}, lambdaevents.Config{EventSourceARN: streamARN, InvokeIdentityARN: "arn:aws:iam::123456789012:role/r"})
		if err != nil {
			t.Fatal(err)
		}
		cp, err := drive(f, shard, records(0, 3, arrival))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || len(got[0].Records) != 3 {
			t.Fatalf("events %+v", got)
		}
		r := got[0].Records[1]
		k := r.Kinesis
		if r.AwsRegion != "eu-west-1" || r.EventID != shard+":"+seq(1) || r.EventName != "aws:kinesis:record" ||
			r.EventSource != "aws:kinesis" || r.EventSourceArn != streamARN || r.EventVersion != "1.0" ||
			r.InvokeIdentityArn != "arn:aws:iam::123456789012:role/r" {
			t.Errorf("record envelope %+v", r)
		}
		if !k.ApproximateArrivalTimestamp.Equal(arrival) || string(k.Data) != "payload-1" || k.EncryptionType != "NONE" ||
			k.PartitionKey != "key-1" || k.SequenceNumber != seq(1) || k.KinesisSchemaVersion != "1.0" {
			t.Errorf("kinesis record %+v", k)
		}
		if !cp.LastCheckpoint().IsShardEnd() {
			t.Fatalf("checkpoint %v", cp.LastCheckpoint())
		}
	})
}

func TestBatchItemFailuresResumeAtTheFailedSequenceNumber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls [][]string
		f, err := lambdaevents.NewWithResponse(func(ctx context.Context, e events.KinesisEvent) (events.KinesisEventResponse, error) {
			var seqs []string
			for _, r := range e.Records {
				seqs = append(seqs, r.Kinesis.SequenceNumber)
			}
			calls = append(calls, seqs)
			if len(calls) == 1 {
				return events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{{ItemIdentifier: seq(4)}, {ItemIdentifier: seq(2)}}}, nil
			}
			return events.KinesisEventResponse{}, nil
		}, batch.Config{RetryBackoff: time.Millisecond, RetryMaxBackoff: time.Millisecond}, lambdaevents.Config{})
		if err != nil {
			t.Fatal(err)
		}
		cp, err := drive(f, shard, records(0, 6, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != 2 || !slices.Equal(calls[1], []string{seq(2), seq(3), seq(4), seq(5)}) {
			t.Fatalf("calls %v, want the batch then records 2..5", calls)
		}
		if !cp.LastCheckpoint().IsShardEnd() {
			t.Fatalf("checkpoint %v", cp.LastCheckpoint())
		}
	})
}

func TestAggregatedSubRecordsFailFromTheirFirstSubRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Three sub-records of one KPL aggregate share a sequence number;
		// reporting it as failed retries all three.
		recs := records(0, 2, time.Now())
		for i := range 3 {
			recs = append(recs, consumer.Record{SequenceNumber: seq(5), SubSequenceNumber: int64(i), Aggregated: true,
				PartitionKey: "agg", Data: []byte("sub-" + strconv.Itoa(i))})
		}
		var calls [][]string
		f, err := lambdaevents.NewWithResponse(func(ctx context.Context, e events.KinesisEvent) (events.KinesisEventResponse, error) {
			var data []string
			for _, r := range e.Records {
				data = append(data, string(r.Kinesis.Data))
			}
			calls = append(calls, data)
			if len(calls) == 1 {
				return events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{{ItemIdentifier: seq(5)}}}, nil
			}
			return events.KinesisEventResponse{}, nil
		}, batch.Config{RetryBackoff: time.Millisecond, RetryMaxBackoff: time.Millisecond}, lambdaevents.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := drive(f, shard, recs); err != nil {
			t.Fatal(err)
		}
		if len(calls) != 2 || !slices.Equal(calls[1], []string{"sub-0", "sub-1", "sub-2"}) {
			t.Fatalf("calls %v", calls)
		}
	})
}

func TestUnknownItemIdentifierFailsTheWholeBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var given [][]consumer.Record
		f, err := lambdaevents.NewWithResponse(func(ctx context.Context, e events.KinesisEvent) (events.KinesisEventResponse, error) {
			return events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{{ItemIdentifier: ""}}}, nil
		}, batch.Config{MaxRetryAttempts: new(0), OnFailure: func(ctx context.Context, fr batch.FailedRecords) error {
			mu.Lock()
			given = append(given, fr.Records)
			mu.Unlock()
			return nil
		}}, lambdaevents.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := drive(f, shard, records(0, 4, time.Now())); err != nil {
			t.Fatal(err)
		}
		if len(given) != 1 || len(given[0]) != 4 {
			t.Fatalf("given up %v, want the whole batch", given)
		}
	})
}

func TestTimeWindowStateRoundTrips(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var finals []events.KinesisTimeWindowEvent
		var seenState []map[string]string
		h := func(ctx context.Context, e events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error) {
			if e.IsFinalInvokeForWindow {
				finals = append(finals, e)
				return events.KinesisTimeWindowEventResponse{}, nil
			}
			seenState = append(seenState, e.State)
			state := map[string]string{}
			for k, v := range e.State {
				state[k] = v
			}
			for _, r := range e.Records {
				n, _ := strconv.Atoi(state[r.Kinesis.PartitionKey])
				state[r.Kinesis.PartitionKey] = strconv.Itoa(n + 1)
			}
			return events.KinesisTimeWindowEventResponse{TimeWindowEventResponseProperties: events.TimeWindowEventResponseProperties{State: state}}, nil
		}
		f, err := lambdaevents.NewTimeWindow(h, batch.Config{TumblingWindow: time.Minute}, lambdaevents.Config{EventSourceARN: streamARN})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := drive(f, shard, records(0, 4, start.Add(time.Second)), records(4, 3, start.Add(2*time.Second))); err != nil {
			t.Fatal(err)
		}
		if len(finals) != 1 {
			t.Fatalf("%d final calls", len(finals))
		}
		fe := finals[0]
		want := map[string]string{"key-0": "3", "key-1": "2", "key-2": "2"}
		if len(fe.State) != 3 || fe.State["key-0"] != want["key-0"] || fe.State["key-1"] != want["key-1"] || fe.State["key-2"] != want["key-2"] {
			t.Fatalf("final state %v, want %v", fe.State, want)
		}
		if !fe.Window.Start.Equal(start) || !fe.Window.End.Equal(start.Add(time.Minute)) || fe.ShardID != shard || fe.EventSourceARN != streamARN || len(fe.Records) != 0 {
			t.Fatalf("final event %+v", fe)
		}
		if len(seenState) < 1 || len(seenState[0]) != 0 {
			t.Fatalf("first call's state %v, want empty", seenState)
		}
	})
}

func TestConstructorsValidate(t *testing.T) {
	var ce *consumer.ConfigError
	if _, err := lambdaevents.New(nil, batch.Config{}, lambdaevents.Config{}); !errors.As(err, &ce) || ce.Field != "handler" {
		t.Errorf("nil handler: %v", err)
	}
	h := func(context.Context, events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error) {
		return events.KinesisTimeWindowEventResponse{}, nil
	}
	if _, err := lambdaevents.NewTimeWindow(h, batch.Config{TumblingWindow: 20 * time.Minute}, lambdaevents.Config{}); !errors.As(err, &ce) || ce.Field != "TumblingWindow" {
		t.Errorf("20 minute window: %v", err)
	}
	if _, err := lambdaevents.NewTimeWindow(h, batch.Config{}, lambdaevents.Config{}); !errors.As(err, &ce) || ce.Field != "TumblingWindow" || !errors.Is(err, consumer.ErrInvalidConfig) {
		t.Errorf("no window: %v", err)
	}
	if _, err := lambdaevents.NewWithResponse(func(context.Context, events.KinesisEvent) (events.KinesisEventResponse, error) {
		return events.KinesisEventResponse{}, nil
	}, batch.Config{ParallelizationFactor: 11}, lambdaevents.Config{}); !errors.As(err, &ce) || ce.Field != "ParallelizationFactor" {
		t.Errorf("parallelization 11: %v", err)
	}
}

// In a multi-stream application each batch names its own stream: the
// events carry that stream's ARN and region, not Config's.
func TestEventSourceARNPerStream(t *testing.T) {
	c := lambdaevents.Config{EventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/default"}
	other := "arn:aws:kinesis:eu-west-1:111122223333:stream/partner"
	var mu sync.Mutex
	var got []events.KinesisEvent
	f, err := lambdaevents.New(func(ctx context.Context, e events.KinesisEvent) error {
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
		return nil
	}, batch.Config{BatchSize: 10}, c)
	if err != nil {
		t.Fatal(err)
	}
	_, err = consumertest.Run(t.Context(), f, consumertest.Config{
		StreamARN: other,
		End:       consumertest.EndShardEnded,
		Batches:   []consumertest.Batch{{Records: []consumer.Record{{SequenceNumber: "1", PartitionKey: "k", Data: []byte("x")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Records[0].EventSourceArn != other || got[0].Records[0].AwsRegion != "eu-west-1" {
		t.Fatalf("events = %+v", got)
	}
}
