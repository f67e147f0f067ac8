package checkpointer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/shardwise/shardwise/consumer"
)

// A loss is sticky: once a fence or a write proved the lease lost, every
// later checkpoint, prepared checkpoint and child-shard record fails with
// that error without a write, even when the fence would pass again (the
// session rejoined) and the stored lease still names this worker at its
// counter.
func TestLossIsStickyWithoutWrites(t *testing.T) {
	ctx := context.Background()
	st, _, _ := setup(t)
	l := stored(t, st)
	var fenced atomic.Bool
	fenceErr := errors.New("past the fencing deadline")
	cp, err := New(Config{Store: st, LeaseKey: l.Key, Owner: "w1", Counter: l.Counter, Last: l.Checkpoint,
		Fence: func() error {
			if fenced.Load() {
				return fenceErr
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	cp.Delivered(seq("10", 0))
	fenced.Store(true)
	if err := cp.CheckpointAt(ctx, seq("5", 0)); !errors.Is(err, fenceErr) {
		t.Fatalf("fenced checkpoint: %v", err)
	}
	// The session rejoined: the fence passes again, but this checkpointer
	// stays lost.
	fenced.Store(false)
	writes := st.writes.Load()
	for what, call := range map[string]func() error{
		"Checkpoint":        func() error { return cp.Checkpoint(ctx) },
		"CheckpointAt":      func() error { return cp.CheckpointAt(ctx, seq("7", 0)) },
		"PrepareCheckpoint": func() error { return cp.PrepareCheckpoint(ctx, seq("7", 0), nil) },
		"RecordChildShards": func() error { return cp.RecordChildShards(ctx, []string{"shard-2"}) },
	} {
		if err := call(); !errors.Is(err, fenceErr) {
			t.Errorf("%s after the loss: %v, want the fencing error again", what, err)
		}
	}
	if got := stored(t, st); st.writes.Load() != writes || got.Checkpoint != consumer.TrimHorizon || got.PendingCheckpoint.SequenceNumber != "" || len(got.ChildShardIDs) != 0 {
		t.Errorf("after the loss: %d checkpoint writes reached the store, lease %+v; want none and the lease unchanged", st.writes.Load()-writes, got)
	}
}
