package scheduler

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
)

// stopAwareProcessor holds its first batch until the shard is asked to
// stop, then finishes it normally; it counts every ProcessRecords call.
type stopAwareProcessor struct {
	*testProcessor
	calls   *atomic.Int32
	inFirst chan<- struct{}
}

func (p *stopAwareProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	if p.calls.Add(1) == 1 {
		close(p.inFirst)
		select {
		case <-in.Stopping:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return p.testProcessor.ProcessRecords(ctx, in)
}

// A worker asked to stop a shard (shutdown here; a graceful hand-off takes
// the same path) finishes the batch in hand, then calls ShutdownRequested:
// it does not first work through the batches already fetched behind it.
// With a slow processor those can take longer than GracefulHandoffTimeout,
// and the hand-off is then forced instead of graceful.
func TestStopFinishesOnlyTheBatchInHand(t *testing.T) {
	bothModes(t, func(t *testing.T) {
		h := newHarness(t, 1)
		h.put(0, 4, 4)
		cfg := h.config("w1")
		cfg.MaxRecords = 4
		var calls atomic.Int32
		inFirst := make(chan struct{})
		j := &journal{}
		stop := h.start(cfg, consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
			return &stopAwareProcessor{testProcessor: &testProcessor{j: j, shard: shard, worker: "w1"}, calls: &calls, inFirst: inFirst}
		}))
		<-inFirst
		// More batches behind the one in hand: polling fetches them 4 at a
		// time (MaxRecords), fan-out gets one event per put.
		for i := 1; i < 10; i++ {
			h.put(4*i, 4, 4)
		}
		waitFor(t, 10*time.Second, "batches fetched behind the one in hand", func() bool {
			ls := h.sched.Stats().Leases
			return len(ls) == 1 && ls[0].PendingRecords >= 8
		})
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("ProcessRecords called %d times; after the stop request only the batch in hand may be finished", n)
		}
		if !j.hasEvent("shardId-000000000000:shutdown-requested") {
			t.Error("ShutdownRequested was not called")
		}
	})
}
