package scheduler

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardwise/shardwise/consumer"
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

// Over the real wire (HTTP/2, event-stream framing) with Shardwise's
// decoder, a stalled processor stops the reading of the event streams
// within the worker's byte budget: an event is read only once the budget
// has room for its whole message, so what was read and not processed never
// exceeds MaxTotalPendingBytes (the SDK's reader would hold one decoded
// event per subscription ahead of it, outside the budget). Once the
// processor goes on, records flow, decoded by our decoder.
func TestFanOutWireReadsWithinTheByteBudget(t *testing.T) {
	const recordSize, budget, shards = 1 << 20, 4 << 20, 4
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
		MaxTotalPendingBytes: budget,
		MaxPendingBytes:      budget / shards,
		ShutdownTimeout:      5 * time.Second,
	}, consumer.ProcessorFactoryFunc(func(string) consumer.Processor {
		return &gateProcessor{release: release, records: &records}
	}))
	if err != nil {
		t.Fatal(err)
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
		if s.bytesSem.TryAcquire(recordSize) {
			s.bytesSem.Release(recordSize)
			return false
		}
		return true
	})
	// Give the readers every chance to run ahead (there is no condition
	// to await for something that must not happen).
	time.Sleep(500 * time.Millisecond)
	// Every event read was admitted by the budget: at most budget /
	// message length of them (a message is a little over its record).
	if n := s.decoder.Stats().Events; n > budget/recordSize {
		t.Fatalf("%d events of %d KB read with a %d KB budget and a stalled processor", n, recordSize>>10, budget>>10)
	}
	close(release)
	waitFor(t, time.Minute, "records processed", func() bool { return records.Load() >= 4*shards })
	if st := s.Stats(); st.DecodedResponses == 0 {
		t.Fatal("fan-out events were not decoded by Shardwise's decoder")
	}
}
