package checkpointer

import (
	"context"
	"errors"
	"testing"

	"github.com/shardwise/shardwise/consumer"
)

// TestCheckpointAfterLossWithNothingNew: once a write proved the lease
// lost, Checkpoint() reports the loss even when nothing new was
// delivered (it would otherwise be a no-op returning nil, and a processor
// checkpointing at ShutdownRequested would not learn that another worker
// owns the shard). A survivor of make mutants-auto.
func TestCheckpointAfterLossWithNothingNew(t *testing.T) {
	ctx := context.Background()
	st, cp, _ := setup(t)
	cp.Delivered(seq("10", 0))
	if err := cp.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// Everything delivered is checkpointed; another worker takes the
	// lease, and a prepared checkpoint finds out.
	if _, err := st.Take(ctx, stored(t, st), "w2"); err != nil {
		t.Fatal(err)
	}
	if err := cp.PrepareCheckpoint(ctx, seq("10", 0), nil); !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatalf("prepared checkpoint after the lease moved: %v, want ErrLeaseLost", err)
	}
	if err := cp.Checkpoint(ctx); !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatalf("Checkpoint() with nothing new after the loss: %v, want ErrLeaseLost", err)
	}
}

func TestCheckpointRecordNil(t *testing.T) {
	st, cp, _ := setup(t)
	cp.Delivered(seq("10", 0))
	if err := cp.CheckpointRecord(context.Background(), nil); !errors.Is(err, consumer.ErrInvalidCheckpoint) {
		t.Fatalf("CheckpointRecord(nil) = %v, want an invalid checkpoint", err)
	}
	if st.writes.Load() != 0 {
		t.Fatalf("CheckpointRecord(nil) wrote %d times", st.writes.Load())
	}
}
