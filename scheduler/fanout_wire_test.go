package scheduler

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/fastdecode"
	"github.com/shardwise/shardwise/internal/kinesisserver"
	"github.com/shardwise/shardwise/leases"
)

// gateProcessor blocks every batch until release is closed.
type gateProcessor struct {
	release <-chan struct{}
	records *atomic.Int64
}

func (p *gateProcessor) Initialize(context.Context, consumer.InitializationInput) error { return nil }

func (p *gateProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	select {
	case <-p.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.records.Add(int64(len(in.Records)))
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *gateProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (p *gateProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *gateProcessor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

// countingProtocol counts the SubscribeToShardEvents its protocol
// decodes, whichever decoder it is.
type countingProtocol struct {
	smithyhttp.ClientProtocol
	events *atomic.Int64
}

func (p *countingProtocol) DeserializeEventMessage(schema *smithy.Schema, reg *smithy.TypeRegistry, r io.Reader) (smithy.Deserializable, error) {
	v, err := p.ClientProtocol.DeserializeEventMessage(schema, reg, r)
	if _, ok := v.(*types.SubscribeToShardEvent); ok {
		p.events.Add(1)
	}
	return v, err
}

// Over the real wire (HTTP/2, event-stream framing), with either decoder,
// a stalled processor stops the reading of the event streams within the
// worker's byte budget: a message is read only once the budget has room
// for reading and decoding it, and a decoded event keeps its records'
// bytes in the budget until they are processed, so the events decoded
// and not processed never hold more than MaxTotalPendingBytes (the SDK's
// event stream would otherwise decode up to three events per
// subscription ahead of it: in its reader, its pipe and the subscriber's
// hands). Once the processor goes on, records flow. Two sizes: a message
// whose decoding takes the whole budget, and one that takes a quarter of
// it (what a decoded event keeps then matters).
func TestFanOutWireReadsWithinTheByteBudget(t *testing.T) {
	for _, dec := range []string{"fast", "sdk"} {
		for _, recordSize := range []int{1 << 20, 256 << 10} {
			t.Run(fmt.Sprintf("%s/%dKB", dec, recordSize>>10), func(t *testing.T) {
				testFanOutWireReadsWithinTheByteBudget(t, dec == "sdk", recordSize)
			})
		}
	}
}

func testFanOutWireReadsWithinTheByteBudget(t *testing.T, sdkDecoder bool, recordSize int) {
	const budget, shards = 4 << 20, 4
	srv, err := kinesisserver.Start(kinesisserver.Config{Shards: shards, RecordsPerCall: 1, RecordSize: recordSize, SubscribeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	kc := kinesis.New(kinesis.Options{Region: "us-east-1", Credentials: aws.AnonymousCredentials{},
		BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.H2CClient()})
	release := make(chan struct{})
	var records atomic.Int64
	s, err := New(Config{
		ApplicationName:      "wire-app",
		StreamName:           "bench",
		InitialPosition:      consumer.InitialPositionTrimHorizon,
		KinesisClient:        kc,
		Stores:               leases.NewMemoryStores(),
		WorkerID:             "w1",
		Logger:               testLogger(t),
		FanOut:               true,
		SDKDecoder:           sdkDecoder,
		MaxTotalPendingBytes: budget,
		MaxPendingBytes:      budget / shards,
		ShutdownTimeout:      5 * time.Second,
	}, consumer.ProcessorFactoryFunc(func(string) consumer.Processor {
		return &gateProcessor{release: release, records: &records}
	}))
	if err != nil {
		t.Fatal(err)
	}
	var decoded atomic.Int64
	subOpt := s.subOpt
	s.subOpt = func(g fastdecode.Gate) func(*kinesis.Options) {
		opt := subOpt(g)
		return func(o *kinesis.Options) {
			opt(o)
			o.Protocol = &countingProtocol{ClientProtocol: o.Protocol, events: &decoded}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// Every shard subscribed and the budget taken: the streams stop.
	waitFor(t, time.Minute, "every shard subscribed", func() bool { return srv.Stats().EventsSent >= shards })
	waitFor(t, time.Minute, "the budget taken", func() bool {
		if s.bytesSem.TryAcquire(int64(recordSize)) {
			s.bytesSem.Release(int64(recordSize))
			return false
		}
		return true
	})
	// Give the readers every chance to run ahead (there is no condition
	// to await for something that must not happen).
	time.Sleep(500 * time.Millisecond)
	// Every event decoded holds at least its record in the budget.
	if n := decoded.Load(); n > int64(budget/recordSize) {
		t.Fatalf("%d events of %d KB decoded with a %d KB budget and a stalled processor", n, recordSize>>10, budget>>10)
	}
	close(release)
	waitFor(t, time.Minute, "records processed", func() bool { return records.Load() >= int64(4*shards) })
	if st := s.Stats(); (st.DecodedResponses == 0) != sdkDecoder {
		t.Fatalf("%d fan-out events decoded by Shardwise's decoder (SDKDecoder %v)", st.DecodedResponses, sdkDecoder)
	}
}
