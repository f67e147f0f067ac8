package checkpointer

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// TestRecordChildShards: the children are written under the same
// ownership fence as a checkpoint; a write that finds the lease moved
// proves it lost (every later call fails with it, OnLeaseLost once), and
// nothing is written after Close. Survivors of make mutants-auto.
func TestRecordChildShards(t *testing.T) {
	ctx := context.Background()
	st, cp, lost := setup(t)
	if err := cp.RecordChildShards(ctx, []string{"shard-2", "shard-3"}); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, st).ChildShardIDs; !slices.Equal(got, []string{"shard-2", "shard-3"}) {
		t.Fatalf("children recorded %v", got)
	}
	// The counter moved: a checkpoint after it still succeeds.
	cp.Delivered(seq("5", 0))
	if err := cp.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint after recording the children: %v", err)
	}
	if _, err := st.Take(ctx, stored(t, st), "w2"); err != nil {
		t.Fatal(err)
	}
	if err := cp.RecordChildShards(ctx, []string{"shard-4"}); !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatalf("children after the lease moved: %v, want ErrLeaseLost", err)
	}
	if err := cp.RecordChildShards(ctx, []string{"shard-4"}); !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatalf("children again after the loss: %v, want ErrLeaseLost", err)
	}
	if lost.Load() != 1 {
		t.Fatalf("OnLeaseLost called %d times, want 1", lost.Load())
	}
	if got := stored(t, st).ChildShardIDs; !slices.Equal(got, []string{"shard-2", "shard-3"}) {
		t.Fatalf("a lost owner changed the children to %v", got)
	}

	_, cp2, _ := setup(t)
	cp2.Close()
	if err := cp2.RecordChildShards(ctx, []string{"x"}); !errors.Is(err, consumer.ErrShutdown) {
		t.Fatalf("children after Close: %v, want ErrShutdown", err)
	}
}

// TestPrepareCheckpointFenced: a fenced worker's prepared checkpoint
// fails with the fence's error and writes nothing.
func TestPrepareCheckpointFenced(t *testing.T) {
	ctx := context.Background()
	st := leases.NewMemoryStores().Leases
	if _, err := st.Create(ctx, leases.Lease{Key: "s", Checkpoint: consumer.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	l, _ := st.Get(ctx, "s")
	l, _ = st.Take(ctx, l, "w1")
	fenced := errors.New("past the fencing deadline")
	var lost atomic.Int32
	cp, err := New(Config{Store: st, LeaseKey: "s", Owner: "w1", Counter: l.Counter, Last: l.Checkpoint,
		Fence: func() error { return fenced }, OnLeaseLost: func(error) { lost.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	cp.Delivered(seq("1", 0))
	if err := cp.PrepareCheckpoint(ctx, seq("1", 0), []byte("s")); !errors.Is(err, fenced) {
		t.Fatalf("fenced prepared checkpoint: %v", err)
	}
	if got, _ := st.Get(ctx, "s"); !got.PendingCheckpoint.IsZero() {
		t.Fatalf("a fenced worker prepared checkpoint %v", got.PendingCheckpoint)
	}
	// The fence proves the lease lost: OnLeaseLost once, every later call
	// fails with it.
	if lost.Load() != 1 || !errors.Is(cp.Lost(), fenced) {
		t.Fatalf("after a fenced write: OnLeaseLost called %d times, Lost() = %v; want once and the fence's error", lost.Load(), cp.Lost())
	}
	if err := cp.Checkpoint(ctx); !errors.Is(err, fenced) {
		t.Fatalf("checkpoint after the fence: %v", err)
	}
}

// TestRecordChildShardsFenced: a fenced worker records no children.
func TestRecordChildShardsFenced(t *testing.T) {
	ctx := context.Background()
	st := leases.NewMemoryStores().Leases
	if _, err := st.Create(ctx, leases.Lease{Key: "s", Checkpoint: consumer.TrimHorizon}); err != nil {
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
	if err := cp.RecordChildShards(ctx, []string{"c1"}); !errors.Is(err, fenced) {
		t.Fatalf("fenced RecordChildShards: %v", err)
	}
	if got, _ := st.Get(ctx, "s"); len(got.ChildShardIDs) != 0 {
		t.Fatalf("a fenced worker recorded children %v", got.ChildShardIDs)
	}
}
