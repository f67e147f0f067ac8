package scheduler

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// TestShardEndedIsTheProcessorsLastCall: after ShardEnded (and its
// SHARD_END checkpoint) the processor of the finished shard gets no other
// call, not even ShutdownRequested when the worker stops, and the lease
// stays finished. A survivor of make mutants-auto.
func TestShardEndedIsTheProcessorsLastCall(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 50, 5)
	j := &journal{}
	stop := h.start(h.config("w1"), factoryOf(j, "w1", nil))
	waitFor(t, 10*time.Second, "the first 50 records", func() bool { return j.count() >= 50 })
	if err := h.fake.UpdateShardCount(h.stream, 2); err != nil {
		t.Fatal(err)
	}
	h.put(50, 50, 5)
	parent := "shardId-000000000000"
	waitFor(t, 10*time.Second, "all 100 records and the parent's ShardEnded", func() bool {
		return j.count() >= 100 && j.hasEvent(parent+":shard-ended")
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_, evs := j.snapshot()
	ended := false
	for _, e := range evs {
		switch {
		case e == parent+":shard-ended":
			ended = true
		case ended && strings.HasPrefix(e, parent+":"):
			t.Errorf("the finished parent's processor got %q after ShardEnded", strings.TrimPrefix(e, parent+":"))
		}
	}
	if l, err := h.store.Get(context.Background(), parent); err == nil && !l.IsFinished() {
		t.Errorf("the parent lease is no longer finished: checkpoint %v", l.Checkpoint)
	}
}

// TestNilProcessorReleasesTheLease: a factory that returns nil for a
// shard gets no call on that shard; the consumer ends at once and the
// lease is released (no owner) so another worker, or a later start, can
// take it (here the same worker again, asking the factory anew), and the
// worker goes on.
func TestNilProcessorReleasesTheLease(t *testing.T) {
	h := newHarness(t, 2)
	h.put(0, 40, 4)
	j := &journal{}
	nilFor := "shardId-000000000001"
	inner := factoryOf(j, "w1", nil)
	var asked atomic.Int32
	h.start(h.config("w1"), consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		if shard == nilFor {
			asked.Add(1)
			return nil
		}
		return inner.NewProcessor(shard)
	}))
	waitFor(t, 10*time.Second, "the other shard's records", func() bool {
		ds, _ := j.snapshot()
		for _, d := range ds {
			if d.shard == "shardId-000000000000" {
				return true
			}
		}
		return false
	})
	waitFor(t, 10*time.Second, "the nil-processor shard's lease released", func() bool {
		l, err := h.store.Get(context.Background(), nilFor)
		return err == nil && l.Owner == ""
	})
	// The consumer ended: the lease comes back and the factory is asked
	// again.
	waitFor(t, 10*time.Second, "the factory asked again for "+nilFor, func() bool { return asked.Load() >= 2 })
	ds, evs := j.snapshot()
	for _, d := range ds {
		if d.shard == nilFor {
			t.Fatalf("a record of %s was delivered with no processor", nilFor)
		}
	}
	for _, e := range evs {
		if strings.HasPrefix(e, nilFor+":") {
			t.Fatalf("event %q on the shard whose factory returned nil", e)
		}
	}
}

// TestNoBatchAfterTheLeaseIsLost: a batch already fetched when the lease
// is lost is not handed to the processor: the processor is inside its
// batch (ignoring its context), the next batch waits in the queue, and
// another worker takes the lease; once the processor returns, it gets
// LeaseLost and no further ProcessRecords. A survivor of make
// mutants-auto.
func TestNoBatchAfterTheLeaseIsLost(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 10, 2)
	j := &journal{}
	block, blocked := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	cfg := h.config("w1")
	keys := &keysCounter{Store: h.store}
	cfg.Stores.Leases = keys
	stop := h.start(cfg, factoryOf(j, "w1", func(p *testProcessor) {
		p.block, p.blocked = block, blocked
		p.checkpoint = false // batch 1 succeeds: the loop goes on to the queued batch
		p.fail = func(int) error { calls.Add(1); return nil }
	}))
	defer stop()
	select {
	case <-blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the processor never got a batch")
	}
	shard := "shardId-000000000000"
	h.put(10, 10, 2)
	waitFor(t, 10*time.Second, "the next batch fetched and queued", func() bool {
		for _, ls := range h.sched.Stats().Leases {
			if ls.ShardID == shard && ls.PendingRecords > 0 {
				return true
			}
		}
		return false
	})
	l, err := h.store.Get(context.Background(), shard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Take(context.Background(), l, "w2"); err != nil {
		t.Fatal(err)
	}
	// Discovery reads this worker's leases in its loop, one read at a
	// time: once a third read starts after the Take, a whole read that
	// saw the lease gone has been acted on (the consumer told to stop).
	from := keys.n.Load()
	waitFor(t, 10*time.Second, "discovery after the Take", func() bool { return keys.n.Load() >= from+3 })
	close(block)
	waitFor(t, 10*time.Second, "LeaseLost", func() bool { return j.hasEvent(shard + ":lease-lost") })
	if n := calls.Load(); n != 1 {
		t.Fatalf("ProcessRecords was called %d times, want 1: a queued batch was handed out after the lease was lost", n)
	}
}

// keysCounter counts ListKeysByOwner calls (discovery's reads).
type keysCounter struct {
	leases.Store
	n atomic.Int64
}

func (k *keysCounter) ListKeysByOwner(ctx context.Context, owner string) ([]string, error) {
	k.n.Add(1)
	return k.Store.ListKeysByOwner(ctx, owner)
}
