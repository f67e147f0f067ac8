package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardwise/shardwise/internal/eventstream"
	"github.com/shardwise/shardwise/internal/fastdecode"
)

var subscribeDecoders = []struct {
	name string
	opt  func(*kinesis.Options)
}{
	{"sdk", fastdecode.SDKSubscribeToShardOption},
	{"fast", fastdecode.SubscribeToShardOption},
}

func eventMsg(payload string) []byte {
	return eventstream.AppendMessage(nil, []eventstream.Header{
		eventstream.StringHeader(":event-type", "SubscribeToShardEvent"),
		eventstream.StringHeader(":content-type", "application/json"),
		eventstream.StringHeader(":message-type", "event"),
	}, []byte(payload))
}

// TestEdgeInjectsInitialResponse: a backend that leaves the
// initial-response out (as kinesis-local does) and one that sends it both
// reach the SDK's client through the edge as a stream with exactly one.
func TestEdgeInjectsInitialResponse(t *testing.T) {
	events := append(eventMsg(`{"Records":[{"Data":"AAEC","PartitionKey":"k","SequenceNumber":"1"}],"ContinuationSequenceNumber":"1","MillisBehindLatest":0}`),
		eventMsg(`{"Records":[],"ContinuationSequenceNumber":"2","MillisBehindLatest":5}`)...)
	for _, withOwn := range []bool{false, true} {
		body := events
		if withOwn {
			body = append(bytes.Clone(initialResponse), events...)
		}
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		}))
		t.Cleanup(backend.Close)
		e := startTestEdge(t, Env{Kinesis: backend.URL, DynamoDB: backend.URL})
		kc := kinesis.NewFromConfig(AWSConfig(), func(o *kinesis.Options) {
			o.BaseEndpoint = aws.String(e.URL())
			o.HTTPClient = testClient(t)
		})
		for _, dec := range subscribeDecoders {
			out, err := kc.SubscribeToShard(context.Background(), &kinesis.SubscribeToShardInput{
				ConsumerARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:1"), ShardId: aws.String("shardId-000000000000"),
				StartingPosition: &ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeTrimHorizon},
			}, dec.opt)
			if err != nil {
				t.Fatalf("own initial-response %v, %s: %v", withOwn, dec.name, err)
			}
			var got []string
			for ev := range out.GetStream().Events() {
				v := ev.(*ktypes.SubscribeToShardEventStreamMemberSubscribeToShardEvent).Value
				got = append(got, fmt.Sprintf("%s/%d/%d", aws.ToString(v.ContinuationSequenceNumber), len(v.Records), aws.ToInt64(v.MillisBehindLatest)))
			}
			if err := out.GetStream().Err(); err != nil || fmt.Sprint(got) != "[1/1/0 2/0/5]" {
				t.Fatalf("own initial-response %v, %s: events %v, err %v", withOwn, dec.name, got, err)
			}
		}
	}
}

// TestSubscribeToShardOnKinesisLocal reads records pushed by kinesis-local
// over SubscribeToShard, through the edge, with the SDK's decoder and
// with ours.
func TestSubscribeToShardOnKinesisLocal(t *testing.T) {
	env := Require(t)
	e := startTestEdge(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := KinesisClient(e.URL())
	stream := "fanout-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	if err := CreateStream(ctx, kc, stream, 1); err != nil {
		t.Fatal(err)
	}
	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	streamARN := sum.StreamDescriptionSummary.StreamARN
	// A consumer per decoder: kinesis-local keeps a subscription open
	// after its client leaves, and answers the consumer's next one on the
	// shard with a ResourceInUseException event.
	register := func(name string) *string {
		reg, err := kc.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		arn := reg.Consumer.ConsumerARN
		for status := reg.Consumer.ConsumerStatus; status != ktypes.ConsumerStatusActive; {
			select {
			case <-ctx.Done():
				t.Fatalf("consumer still %s", status)
			case <-time.After(100 * time.Millisecond):
			}
			d, err := kc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: arn})
			if err != nil {
				t.Fatal(err)
			}
			status = d.ConsumerDescription.ConsumerStatus
		}
		return arn
	}
	arns := map[string]*string{}
	for _, dec := range subscribeDecoders {
		arns[dec.name] = register("app-" + dec.name)
	}
	var want [][]byte
	for i := range 10 {
		data := []byte{0, byte(i), 0xff, '"', '\n'}
		want = append(want, data)
		if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("k"), Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	for _, dec := range subscribeDecoders {
		t.Run(dec.name, func(t *testing.T) {
			var out *kinesis.SubscribeToShardOutput
			// One call a second per consumer and shard, and the previous
			// subscription may still be open: retry those, bounded.
			for attempt := 0; ; attempt++ {
				out, err = kc.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
					ConsumerARN: arns[dec.name], ShardId: shards.Shards[0].ShardId,
					StartingPosition: &ktypes.StartingPosition{Type: ktypes.ShardIteratorTypeTrimHorizon},
				}, dec.opt)
				var api smithy.APIError
				if err == nil || attempt == 20 || !errors.As(err, &api) || (api.ErrorCode() != "LimitExceededException" && api.ErrorCode() != "ResourceInUseException") {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				case <-time.After(500 * time.Millisecond):
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			defer out.GetStream().Close()
			var got []ktypes.Record
			for ev := range out.GetStream().Events() {
				v, ok := ev.(*ktypes.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
				if !ok {
					t.Fatalf("event %T", ev)
				}
				got = append(got, v.Value.Records...)
				if v.Value.ContinuationSequenceNumber == nil {
					t.Fatal("an event of an open shard without ContinuationSequenceNumber")
				}
				if len(got) >= len(want) {
					break
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d records, want %d (stream error %v)", len(got), len(want), out.GetStream().Err())
			}
			for i := range want {
				if !bytes.Equal(got[i].Data, want[i]) || got[i].ApproximateArrivalTimestamp == nil || aws.ToString(got[i].PartitionKey) != "k" {
					t.Fatalf("record %d: %q", i, got[i].Data)
				}
			}
		})
	}
}
