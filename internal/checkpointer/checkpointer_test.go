package checkpointer

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// countingStore counts checkpoint writes that reach the store.
type countingStore struct {
	leases.Store
	writes atomic.Int64
}

func (s *countingStore) Checkpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber) (int64, error) {
	s.writes.Add(1)
	return s.Store.Checkpoint(ctx, key, owner, counter, pos)
}

func seq(s string, sub int64) consumer.ExtendedSequenceNumber {
	return consumer.ExtendedSequenceNumber{SequenceNumber: s, SubSequenceNumber: sub}
}

// setup creates a lease owned by "w1" and a Checkpointer for it.
func setup(t *testing.T) (*countingStore, *Checkpointer, *atomic.Int32) {
	t.Helper()
	ctx := context.Background()
	st := &countingStore{Store: leases.NewMemoryStores().Leases}
	if _, err := st.Create(ctx, leases.Lease{Key: "shard-1", Checkpoint: consumer.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	l, err := st.Get(ctx, "shard-1")
	if err != nil {
		t.Fatal(err)
	}
	l, err = st.Take(ctx, l, "w1")
	if err != nil {
		t.Fatal(err)
	}
	var lost atomic.Int32
	cp, err := New(Config{Store: st, LeaseKey: l.Key, Owner: "w1", Counter: l.Counter, Last: l.Checkpoint,
		OnLeaseLost: func(error) { lost.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	return st, cp, &lost
}

func stored(t *testing.T, st leases.Store) leases.Lease {
	t.Helper()
	l, err := st.Get(context.Background(), "shard-1")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCheckpointRules(t *testing.T) {
	ctx := context.Background()
	st, cp, _ := setup(t)

	// Nothing delivered: Checkpoint() has nothing to record and writes nothing.
	if err := cp.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if st.writes.Load() != 0 {
		t.Fatal("Checkpoint with nothing delivered wrote to the store")
	}
	// Beyond the largest delivered.
	cp.Delivered(seq("1000", 0))
	err := cp.CheckpointAt(ctx, seq("1001", 0))
	if !errors.Is(err, consumer.ErrInvalidCheckpoint) {
		t.Fatalf("checkpoint beyond delivered: %v", err)
	}
	// Numeric comparison, not lexical: "999" is below "1000".
	if err := cp.CheckpointAt(ctx, seq("999", 0)); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, st).Checkpoint; got != seq("999", 0) {
		t.Fatalf("stored checkpoint %v", got)
	}
	// Below the last checkpoint.
	if err := cp.CheckpointAt(ctx, seq("998", 7)); !errors.Is(err, consumer.ErrInvalidCheckpoint) {
		t.Fatalf("checkpoint below last: %v", err)
	}
	// Equal to the last: success without a write.
	w := st.writes.Load()
	if err := cp.CheckpointAt(ctx, seq("999", 0)); err != nil || st.writes.Load() != w {
		t.Fatalf("repeat checkpoint: err %v, writes %d -> %d", err, w, st.writes.Load())
	}
	// Malformed and sentinel requests.
	for _, bad := range []consumer.ExtendedSequenceNumber{seq("12a", 0), seq("", 0), seq("1000", -1), consumer.TrimHorizon, consumer.Latest, consumer.ShardEnd} {
		if err := cp.CheckpointAt(ctx, bad); !errors.Is(err, consumer.ErrInvalidCheckpoint) {
			t.Errorf("CheckpointAt(%v) = %v, want invalid checkpoint", bad, err)
		}
	}
	var ce *consumer.CheckpointError
	if err := cp.CheckpointAt(ctx, consumer.ShardEnd); !errors.As(err, &ce) || ce.Requested != consumer.ShardEnd {
		t.Fatalf("SHARD_END before end: %v", err)
	}
	// Checkpoint() records everything delivered.
	if err := cp.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, st).Checkpoint; got != seq("1000", 0) {
		t.Fatalf("stored checkpoint %v", got)
	}
	// Sub-sequence numbers order inside one aggregate.
	cp.Delivered(seq("2000", 5))
	if err := cp.CheckpointAt(ctx, seq("2000", 3)); err != nil {
		t.Fatal(err)
	}
	if err := cp.CheckpointAt(ctx, seq("2000", 2)); !errors.Is(err, consumer.ErrInvalidCheckpoint) {
		t.Fatalf("sub-sequence going back: %v", err)
	}
	rec := consumer.Record{SequenceNumber: "2000", SubSequenceNumber: 5}
	if err := cp.CheckpointRecord(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	l := stored(t, st)
	if l.Checkpoint != seq("2000", 5) || l.Counter != cp.Counter() {
		t.Fatalf("stored %v counter %d, checkpointer counter %d", l.Checkpoint, l.Counter, cp.Counter())
	}
	// After the shard ended, Checkpoint() records SHARD_END.
	cp.ShardEnded()
	if got := cp.LargestDelivered(); got != consumer.ShardEnd {
		t.Fatalf("LargestDelivered after end = %v", got)
	}
	if err := cp.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, st).Checkpoint; got != consumer.ShardEnd {
		t.Fatalf("stored %v, want SHARD_END", got)
	}
	cp.Close()
	if err := cp.Checkpoint(ctx); !errors.Is(err, consumer.ErrShutdown) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestCheckpointCounterAdvances(t *testing.T) {
	ctx := context.Background()
	st, cp, _ := setup(t)
	before := cp.Counter()
	cp.Delivered(seq("5", 0))
	if err := cp.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if cp.Counter() != before+1 || stored(t, st).Counter != before+1 {
		t.Fatalf("counter %d -> %d (stored %d)", before, cp.Counter(), stored(t, st).Counter)
	}
}

func TestCheckpointFencedByOwnership(t *testing.T) {
	ctx := context.Background()
	st, cp, lost := setup(t)
	cp.Delivered(seq("10", 0))
	if err := cp.CheckpointAt(ctx, seq("5", 0)); err != nil {
		t.Fatal(err)
	}
	// Another worker takes the lease.
	l := stored(t, st)
	if _, err := st.Take(ctx, l, "w2"); err != nil {
		t.Fatal(err)
	}
	err := cp.CheckpointAt(ctx, seq("10", 0))
	if !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatalf("stale owner's checkpoint: %v, want ErrLeaseLost", err)
	}
	if got := stored(t, st).Checkpoint; got != seq("5", 0) {
		t.Fatalf("stale owner moved the checkpoint to %v", got)
	}
	if err := cp.Checkpoint(ctx); !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatalf("second call after loss: %v", err)
	}
	if lost.Load() != 1 {
		t.Fatalf("OnLeaseLost called %d times, want 1", lost.Load())
	}
	if cp.Lost() == nil {
		t.Fatal("Lost() is nil after the lease was lost")
	}
}

func TestCheckpointFenceStopsWrites(t *testing.T) {
	ctx := context.Background()
	st := leases.NewMemoryStores().Leases
	if _, err := st.Create(ctx, leases.Lease{Key: "s", Owner: "", Checkpoint: consumer.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	l, _ := st.Get(ctx, "s")
	l, _ = st.Take(ctx, l, "w1")
	fenced := errors.New("past the fencing deadline")
	cp, err := New(Config{Store: st, LeaseKey: "s", Owner: "w1", Counter: l.Counter, Last: l.Checkpoint,
		Fence: func() error { return fenced }})
	if err != nil {
		t.Fatal(err)
	}
	cp.Delivered(seq("1", 0))
	if err := cp.Checkpoint(ctx); !errors.Is(err, fenced) {
		t.Fatalf("fenced checkpoint: %v", err)
	}
	if got, _ := st.Get(ctx, "s"); got.Checkpoint != consumer.TrimHorizon {
		t.Fatalf("a fenced worker wrote checkpoint %v", got.Checkpoint)
	}
}

func TestCheckpointConcurrentCallsSerialize(t *testing.T) {
	ctx := context.Background()
	st, cp, _ := setup(t)
	cp.Delivered(seq("100", 0))
	var wg sync.WaitGroup
	for i := 1; i <= 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := cp.CheckpointAt(ctx, seq(strconv.Itoa(i), 0))
			// A lower position than one already written is refused; any
			// other failure is a bug (e.g. a counter race).
			if err != nil && !errors.Is(err, consumer.ErrInvalidCheckpoint) {
				t.Errorf("CheckpointAt(%d): %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if err := cp.CheckpointAt(ctx, seq("100", 0)); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, st).Checkpoint; got != seq("100", 0) {
		t.Fatalf("final checkpoint %v", got)
	}
}

func TestPrepareCheckpointKeepsCheckpoint(t *testing.T) {
	ctx := context.Background()
	st, cp, _ := setup(t)
	cp.Delivered(seq("50", 0))
	if err := cp.PrepareCheckpoint(ctx, seq("40", 0), []byte("state")); err != nil {
		t.Fatal(err)
	}
	l := stored(t, st)
	if l.Checkpoint != consumer.TrimHorizon || l.PendingCheckpoint != seq("40", 0) || string(l.PendingCheckpointState) != "state" {
		t.Fatalf("after prepare: %+v", l)
	}
	if err := cp.CheckpointAt(ctx, seq("40", 0)); err != nil {
		t.Fatal(err)
	}
	if l := stored(t, st); !l.PendingCheckpoint.IsZero() || l.PendingCheckpointState != nil {
		t.Fatalf("pending checkpoint not cleared: %+v", l)
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{{}, {Store: leases.NewMemoryStores().Leases}, {Store: leases.NewMemoryStores().Leases, LeaseKey: "k"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted an incomplete config", cfg)
		}
	}
}

func TestRewindKeepsCheckpointOffUnhandledRecords(t *testing.T) {
	ctx := context.Background()
	st, cp, _ := setup(t)
	cp.Delivered(seq("10", 0))
	if err := cp.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// A batch up to 20 is delivered but not handled.
	cp.Delivered(seq("20", 0))
	cp.Rewind(seq("10", 0))
	w := st.writes.Load()
	if err := cp.Checkpoint(ctx); err != nil || st.writes.Load() != w {
		t.Fatalf("Checkpoint after a rewind to the last checkpoint: err %v, writes %d -> %d", err, w, st.writes.Load())
	}
	if err := cp.CheckpointAt(ctx, seq("15", 0)); !errors.Is(err, consumer.ErrInvalidCheckpoint) {
		t.Fatalf("checkpoint inside the unhandled batch: %v", err)
	}
	if got := stored(t, st).Checkpoint; got != seq("10", 0) {
		t.Fatalf("stored %v", got)
	}
}
