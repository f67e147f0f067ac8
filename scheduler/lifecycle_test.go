package scheduler

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
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

// failingChildCreates fails Create of the keys in fail (the children of a
// split) while on, counting the attempts.
type failingChildCreates struct {
	leases.Store
	on       atomic.Bool
	left     atomic.Int32 // failures left; negative: fail while on
	attempts atomic.Int32
	parent   string
}

func (s *failingChildCreates) Create(ctx context.Context, l leases.Lease) (bool, error) {
	if s.on.Load() && len(l.ParentShardIDs) > 0 && l.ParentShardIDs[0] == s.parent {
		s.attempts.Add(1)
		if s.left.Load() != 0 {
			s.left.Add(-1)
			return false, errors.New("lifecycle test: child lease write failed")
		}
	}
	return s.Store.Create(ctx, l)
}

// TestChildLeaseWriteFailuresAtShardEnd: at a shard end the child leases
// are written again after each failure, on the same consumer (the parent
// is not released and started over), and the parent then ends normally;
// a worker stopped while those writes keep failing releases the parent
// without calling ShardEnded and stops in time. Survivors of make
// mutants-auto.
func TestChildLeaseWriteFailuresAtShardEnd(t *testing.T) {
	parent := "shardId-000000000000"
	split := func(t *testing.T, failures int32) (*harness, *journal, *failingChildCreates, func() error) {
		h := newHarness(t, 1)
		h.put(0, 20, 4)
		j := &journal{}
		cfg := h.config("w1")
		cfg.ShardSyncInterval = time.Hour // only the shard end writes the children
		st := &failingChildCreates{Store: h.store, parent: parent}
		st.left.Store(failures)
		st.on.Store(true)
		cfg.Stores.Leases = st
		stop := h.start(cfg, factoryOf(j, "w1", nil))
		waitFor(t, 10*time.Second, "the first 20 records", func() bool { return j.count() >= 20 })
		if err := h.fake.UpdateShardCount(h.stream, 2); err != nil {
			t.Fatal(err)
		}
		h.put(20, 20, 4)
		return h, j, st, stop
	}
	inits := func(j *journal) int {
		_, evs := j.snapshot()
		n := 0
		for _, e := range evs {
			if strings.HasPrefix(e, parent+":init:") {
				n++
			}
		}
		return n
	}

	t.Run("retried", func(t *testing.T) {
		_, j, st, stop := split(t, 3)
		waitFor(t, 10*time.Second, "the parent's ShardEnded and all 40 records", func() bool {
			return j.hasEvent(parent+":shard-ended") && j.count() >= 40
		})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if n := st.attempts.Load(); n < 4 {
			t.Fatalf("%d child lease writes, want the 3 failures and then successes", n)
		}
		if n := inits(j); n != 1 {
			t.Fatalf("the parent was initialized %d times, want once (a failed child write must be retried, not end the consumer)", n)
		}
	})

	t.Run("children unlisted, stopped", func(t *testing.T) {
		// As kinesalite: GetRecords names no children, so the consumer
		// asks ListShards, which keeps failing; the worker stops.
		h := newHarness(t, 1, kinesistest.Config{OmitChildShards: true, IgnoreShardFilter: true})
		h.put(0, 20, 4)
		j := &journal{}
		cfg := h.config("w1")
		cfg.ShardSyncInterval = time.Hour
		stop := h.start(cfg, factoryOf(j, "w1", nil))
		waitFor(t, 10*time.Second, "the first 20 records", func() bool { return j.count() >= 20 })
		lists := h.fake.Calls("ListShards")
		h.fake.InjectError("ListShards", "", errors.New("lifecycle test: ListShards failed"), -1)
		if err := h.fake.UpdateShardCount(h.stream, 2); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the shard end asking ListShards", func() bool { return h.fake.Calls("ListShards") >= lists+2 })
		if err := stop(); err != nil {
			t.Fatalf("stopping while ListShards fails: %v", err)
		}
		if j.hasEvent(parent + ":shard-ended") {
			t.Fatal("ShardEnded was called although the children were never listed")
		}
		l, err := h.store.Get(context.Background(), parent)
		if err != nil {
			t.Fatal(err)
		}
		if l.IsFinished() || l.Owner == "w1" {
			t.Fatalf("parent lease after the stop: owner %q finished %v, want released and not finished", l.Owner, l.IsFinished())
		}
	})

	t.Run("stopped", func(t *testing.T) {
		h, j, st, stop := split(t, -1)
		waitFor(t, 10*time.Second, "child lease writes failing", func() bool { return st.attempts.Load() >= 2 })
		if err := stop(); err != nil {
			t.Fatalf("stopping while the child writes fail: %v", err)
		}
		if j.hasEvent(parent + ":shard-ended") {
			t.Fatal("ShardEnded was called although the child leases were never written")
		}
		l, err := h.store.Get(context.Background(), parent)
		if err != nil {
			t.Fatal(err)
		}
		if l.IsFinished() || l.Owner == "w1" {
			t.Fatalf("parent lease after the stop: owner %q finished %v, want released and not finished", l.Owner, l.IsFinished())
		}
	})
}

// stealAtChildList lets another worker take the lease just before its
// owner records the children, as a leader that moved it would.
type stealAtChildList struct {
	leases.Store
}

func (s *stealAtChildList) SetChildShards(ctx context.Context, key, owner string, counter int64, children []string) (int64, error) {
	if l, err := s.Store.Get(ctx, key); err == nil {
		_, _ = s.Store.Take(ctx, l, "w2")
	}
	return s.Store.SetChildShards(ctx, key, owner, counter, children)
}

// TestLeaseLostAtShardEndGetsLeaseLost: a worker that finds, when
// recording the children, that the parent's lease moved, gives its
// processor LeaseLost, not ShardEnded. A survivor of make mutants-auto.
func TestLeaseLostAtShardEndGetsLeaseLost(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 20, 4)
	j := &journal{}
	cfg := h.config("w1")
	cfg.Stores.Leases = &stealAtChildList{Store: h.store}
	h.start(cfg, factoryOf(j, "w1", nil))
	waitFor(t, 10*time.Second, "the first 20 records", func() bool { return j.count() >= 20 })
	if err := h.fake.UpdateShardCount(h.stream, 2); err != nil {
		t.Fatal(err)
	}
	parent := "shardId-000000000000"
	waitFor(t, 10*time.Second, "the parent's LeaseLost", func() bool { return j.hasEvent(parent + ":lease-lost") })
	if j.hasEvent(parent + ":shard-ended") {
		t.Fatal("ShardEnded was called on a lease found lost when recording the children")
	}
}

// TestShardEndedWithoutCheckpointEndsOnce: a processor that never
// checkpoints SHARD_END is offered ShardEnded again after a backoff; when
// its lease is lost meanwhile it gets LeaseLost once, and when the worker
// stops meanwhile it gets no further call. Survivors of make
// mutants-auto.
func TestShardEndedWithoutCheckpointEndsOnce(t *testing.T) {
	parent := "shardId-000000000000"
	run := func(t *testing.T, end func(h *harness, j *journal, stop func() error)) *journal {
		h := newHarness(t, 1)
		h.put(0, 20, 4)
		j := &journal{}
		cfg := h.config("w1")
		cfg.ProcessorRetryBackoff = 5 * time.Second // ShardEnded is offered again only after long pauses
		cfg.ProcessorRetryMaxBackoff = 5 * time.Second
		stop := h.start(cfg, factoryOf(j, "w1", func(p *testProcessor) {
			p.endCheckpoint = func(int) bool { return false }
		}))
		waitFor(t, 10*time.Second, "the first 20 records", func() bool { return j.count() >= 20 })
		if err := h.fake.UpdateShardCount(h.stream, 2); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the parent's first ShardEnded", func() bool { return j.hasEvent(parent + ":shard-ended") })
		end(h, j, stop)
		return j
	}
	count := func(j *journal, ev string) int {
		_, evs := j.snapshot()
		n := 0
		for _, e := range evs {
			if e == parent+":"+ev {
				n++
			}
		}
		return n
	}

	t.Run("lease lost", func(t *testing.T) {
		j := run(t, func(h *harness, j *journal, stop func() error) {
			l, err := h.store.Get(context.Background(), parent)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.store.Take(context.Background(), l, "w2"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "LeaseLost", func() bool { return j.hasEvent(parent + ":lease-lost") })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
		if n := count(j, "lease-lost"); n != 1 {
			t.Fatalf("LeaseLost called %d times, want 1", n)
		}
	})
	t.Run("lease lost at the SHARD_END checkpoint", func(t *testing.T) {
		h := newHarness(t, 1)
		h.put(0, 20, 4)
		j := &journal{}
		cfg := h.config("w1")
		cfg.Stores.Leases = &stealAtShardEnd{Store: h.store}
		stop := h.start(cfg, factoryOf(j, "w1", nil))
		waitFor(t, 10*time.Second, "the first 20 records", func() bool { return j.count() >= 20 })
		if err := h.fake.UpdateShardCount(h.stream, 2); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "LeaseLost", func() bool { return j.hasEvent(parent + ":lease-lost") })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if n := count(j, "lease-lost"); n != 1 {
			t.Fatalf("LeaseLost called %d times, want 1", n)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		j := run(t, func(h *harness, j *journal, stop func() error) {
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
		if n := count(j, "shard-ended"); n != 1 {
			t.Fatalf("ShardEnded called %d times, want 1 (none after the worker began to stop)", n)
		}
		if n := count(j, "shutdown-requested") + count(j, "lease-lost"); n != 0 {
			t.Fatalf("%d ShutdownRequested or LeaseLost calls after ShardEnded; a stop before SHARD_END is checkpointed only releases the lease", n)
		}
	})
}

// stealAtShardEnd lets another worker take a lease just before its owner
// checkpoints SHARD_END on it.
type stealAtShardEnd struct {
	leases.Store
}

func (s *stealAtShardEnd) Checkpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber) (int64, error) {
	if pos.IsShardEnd() {
		if l, err := s.Store.Get(ctx, key); err == nil && l.Owner == owner {
			_, _ = s.Store.Take(ctx, l, "w2")
		}
	}
	return s.Store.Checkpoint(ctx, key, owner, counter, pos)
}

// failingInit fails its first failures Initialize calls (counted across
// processors in calls).
type failingInit struct {
	*testProcessor
	calls    *atomic.Int32
	failures int32
}

func (p *failingInit) Initialize(ctx context.Context, in consumer.InitializationInput) error {
	if p.calls.Add(1) <= p.failures {
		return errors.New("lifecycle test: Initialize failed")
	}
	return p.testProcessor.Initialize(ctx, in)
}

// TestInitializeRetriedOnTheSameProcessor: an Initialize that fails is
// called again on the same processor after a backoff (the consumer does
// not give the lease up), and processing then starts. A survivor of make
// mutants-auto.
func TestInitializeRetriedOnTheSameProcessor(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 10, 2)
	j := &journal{}
	var inits, made atomic.Int32
	inner := factoryOf(j, "w1", nil)
	stop := h.start(h.config("w1"), consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		made.Add(1)
		return &failingInit{testProcessor: inner.NewProcessor(shard).(*testProcessor), calls: &inits, failures: 2}
	}))
	waitFor(t, 10*time.Second, "the 10 records", func() bool { return j.count() >= 10 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := made.Load(); n != 1 {
		t.Fatalf("%d processors made, want 1 (Initialize retried on the same one)", n)
	}
	if n := inits.Load(); n != 3 {
		t.Fatalf("Initialize called %d times, want 3 (two failures, then success)", n)
	}
}
