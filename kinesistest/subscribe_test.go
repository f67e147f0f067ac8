package kinesistest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/internal/awsapi"
)

// registerConsumer registers name on stream and returns its ARN.
func registerConsumer(t *testing.T, f *Fake, stream, name string) string {
	t.Helper()
	out, err := f.RegisterStreamConsumer(context.Background(), &kinesis.RegisterStreamConsumerInput{
		StreamARN: aws.String(f.arn(stream)), ConsumerName: aws.String(name)})
	if err != nil {
		t.Fatalf("RegisterStreamConsumer: %v", err)
	}
	if out.Consumer.ConsumerStatus != types.ConsumerStatusCreating {
		t.Fatalf("status after registering = %s, want CREATING", out.Consumer.ConsumerStatus)
	}
	return aws.ToString(out.Consumer.ConsumerARN)
}

func subscribe(f *Fake, arn, shard string, pos types.StartingPosition) (*kinesis.SubscribeToShardEventStream, error) {
	out, err := f.SubscribeToShard(context.Background(), &kinesis.SubscribeToShardInput{
		ConsumerARN: aws.String(arn), ShardId: aws.String(shard), StartingPosition: &pos})
	if err != nil {
		return nil, err
	}
	return out.GetStream(), nil
}

// next reads one event, failing the test when the stream ends.
func next(t *testing.T, es *kinesis.SubscribeToShardEventStream) *types.SubscribeToShardEvent {
	t.Helper()
	ev, ok := <-es.Events()
	if !ok {
		t.Fatalf("stream ended: %v", es.Err())
	}
	return &ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent).Value
}

func TestConsumerRegistration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := mustNew(t, Config{})
		mustCreate(t, f, "s", 1)
		ctx := context.Background()
		arn := registerConsumer(t, f, "s", "app")
		_, err := f.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(f.arn("s")), ConsumerName: aws.String("app")})
		if !awsapi.IsResourceInUse(err) {
			t.Fatalf("registering twice: %v, want ResourceInUseException", err)
		}
		d, err := f.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: aws.String(f.arn("s")), ConsumerName: aws.String("app")})
		if err != nil || d.ConsumerDescription.ConsumerStatus != types.ConsumerStatusActive || *d.ConsumerDescription.ConsumerARN != arn {
			t.Fatalf("DescribeStreamConsumer = %+v, %v; want %s ACTIVE", d, err, arn)
		}
		// The per-stream registration rate (the refused call above counts),
		// then the 20-consumer limit.
		for i := 1; i < 4; i++ {
			registerConsumer(t, f, "s", fmt.Sprint("c", i))
		}
		_, err = f.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(f.arn("s")), ConsumerName: aws.String("c4")})
		if !awsapi.IsThrottle(err) {
			t.Fatalf("6th registration in a second: %v, want LimitExceededException", err)
		}
		for i := 4; i < 20; i++ {
			time.Sleep(time.Second)
			registerConsumer(t, f, "s", fmt.Sprint("c", i))
		}
		time.Sleep(time.Second)
		_, err = f.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(f.arn("s")), ConsumerName: aws.String("c20")})
		if !awsapi.IsThrottle(err) {
			t.Fatalf("21st consumer: %v, want LimitExceededException", err)
		}
		l, err := f.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: aws.String(f.arn("s"))})
		if err != nil || len(l.Consumers) != 20 || *l.Consumers[0].ConsumerName != "app" {
			t.Fatalf("ListStreamConsumers = %d consumers, %v", len(l.Consumers), err)
		}
		if _, err := f.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
		_, err = f.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn)})
		if !awsapi.IsNotFound(err) {
			t.Fatalf("describing a deregistered consumer: %v, want ResourceNotFoundException", err)
		}
	})
}

func TestSubscribeToShardDeliversAndRenews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := mustNew(t, Config{SubscriptionLifetime: time.Minute})
		mustCreate(t, f, "s", 1)
		arn := registerConsumer(t, f, "s", "app")
		f.PutRecord("s", "k", []byte("r0"))
		es, err := subscribe(f, arn, id(0), types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		ev := next(t, es)
		if len(ev.Records) != 1 || string(ev.Records[0].Data) != "r0" {
			t.Fatalf("first event: %+v", ev.Records)
		}
		// A second subscription while this one is open, and a second call
		// within a second, are refused.
		if _, err := subscribe(f, arn, id(0), types.StartingPosition{Type: types.ShardIteratorTypeLatest}); !awsapi.IsThrottle(err) {
			t.Fatalf("second call within a second: %v, want LimitExceededException", err)
		}
		time.Sleep(time.Second)
		if _, err := subscribe(f, arn, id(0), types.StartingPosition{Type: types.ShardIteratorTypeLatest}); !awsapi.IsResourceInUse(err) {
			t.Fatalf("second subscription within 5s: %v, want ResourceInUseException", err)
		}
		// Records are pushed as they are written.
		f.PutRecord("s", "k", []byte("r1"))
		ev = next(t, es)
		if len(ev.Records) != 1 || string(ev.Records[0].Data) != "r1" {
			t.Fatalf("pushed event: %+v", ev.Records)
		}
		cont := *ev.ContinuationSequenceNumber
		// Keep-alives, then the end of the lifetime.
		n := 0
		for range es.Events() {
			n++
		}
		if es.Err() != nil || n < 5 {
			t.Fatalf("after the lifetime: %d keep-alives, err %v", n, es.Err())
		}
		es.Close()
		synctest.Wait()
		// Renewed at the continuation: the next record, no duplicate.
		f.PutRecord("s", "k", []byte("r2"))
		es, err = subscribe(f, arn, id(0), types.StartingPosition{Type: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(cont)})
		if err != nil {
			t.Fatal(err)
		}
		ev = next(t, es)
		if len(ev.Records) != 1 || string(ev.Records[0].Data) != "r2" {
			t.Fatalf("renewed at the continuation: %+v", ev.Records)
		}
		es.Close()
	})
}

func TestSubscribeToShardEndsWithChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := mustNew(t, Config{})
		mustCreate(t, f, "s", 1)
		arn := registerConsumer(t, f, "s", "app")
		f.PutRecord("s", "k", []byte("r0"))
		es, err := subscribe(f, arn, id(0), types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		defer es.Close()
		next(t, es)
		if err := f.UpdateShardCount("s", 2); err != nil {
			t.Fatal(err)
		}
		ev := next(t, es)
		if ev.ContinuationSequenceNumber != nil || len(ev.ChildShards) != 2 {
			t.Fatalf("last event: continuation %v, %d children; want none and 2", ev.ContinuationSequenceNumber, len(ev.ChildShards))
		}
		if _, ok := <-es.Events(); ok || es.Err() != nil {
			t.Fatalf("after the shard's end: open=%v err=%v", ok, es.Err())
		}
	})
}

func TestSubscriptionFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := mustNew(t, Config{})
		mustCreate(t, f, "s", 1)
		arn := registerConsumer(t, f, "s", "app")
		f.InjectError(opSubscribeToShard, id(0), &types.ResourceInUseException{Message: aws.String("injected")}, 1)
		if _, err := subscribe(f, arn, id(0), types.StartingPosition{Type: types.ShardIteratorTypeLatest}); !awsapi.IsResourceInUse(err) {
			t.Fatalf("injected: %v", err)
		}
		es, err := subscribe(f, arn, id(0), types.StartingPosition{Type: types.ShardIteratorTypeLatest})
		if err != nil {
			t.Fatal(err)
		}
		next(t, es)
		// Silence: no keep-alive for the silenced time.
		if n := f.SilenceSubscriptions(id(0), time.Minute); n != 1 {
			t.Fatalf("silenced %d", n)
		}
		start := time.Now()
		next(t, es)
		if took := time.Since(start); took < time.Minute {
			t.Fatalf("next event after %v of silence, want at least a minute", took)
		}
		// A reset breaks the stream with an error.
		reset := errors.New("connection reset by peer")
		if n := f.EndSubscriptions(id(0), reset); n != 1 {
			t.Fatalf("ended %d", n)
		}
		for range es.Events() {
		}
		if err := es.Err(); err == nil || !errors.Is(err, reset) {
			t.Fatalf("after a reset: %v, want it to wrap %v", err, reset)
		}
		es.Close()
		synctest.Wait()
		if f.EndSubscriptions("", nil) != 0 {
			t.Fatal("a closed subscription is still open")
		}
	})
}

// After 5 seconds a new subscription takes over the shard, and the open
// one ends with a ResourceInUseException event.
func TestSubscriptionTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := mustNew(t, Config{})
		mustCreate(t, f, "s", 1)
		arn := registerConsumer(t, f, "s", "app")
		old, err := subscribe(f, arn, id(0), types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		next(t, old)
		time.Sleep(5 * time.Second)
		es, err := subscribe(f, arn, id(0), types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatalf("taking over after 5s: %v", err)
		}
		defer es.Close()
		for range old.Events() {
		}
		if err := old.Err(); !awsapi.IsResourceInUse(err) {
			t.Fatalf("the old subscription ended with %v, want ResourceInUseException", err)
		}
		f.PutRecord("s", "k", []byte("r"))
		for ev := next(t, es); len(ev.Records) == 0; ev = next(t, es) {
		}
	})
}

// A subscription at a trimmed position reads from the oldest record kept,
// as an iterator does.
func TestSubscribeAtTrimmedPosition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := mustNew(t, Config{})
		mustCreate(t, f, "s", 1)
		arn := registerConsumer(t, f, "s", "app")
		_, seq0, _ := f.PutRecord("s", "k", []byte("old"))
		time.Sleep(time.Second)
		f.PutRecord("s", "k", []byte("kept"))
		if err := f.trim("s", time.Now()); err != nil {
			t.Fatal(err)
		}
		es, err := subscribe(f, arn, id(0), types.StartingPosition{Type: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(seq0)})
		if err != nil {
			t.Fatal(err)
		}
		defer es.Close()
		if ev := next(t, es); len(ev.Records) != 1 || string(ev.Records[0].Data) != "kept" {
			t.Fatalf("at a trimmed position: %+v, want the oldest record kept", ev.Records)
		}
	})
}
