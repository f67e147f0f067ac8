package checkpoint

import (
	"context"
	"errors"
	"testing"

	"github.com/shardwise/shardwise/consumer"
)

// Lost reports what proved the lease lost: nil before, the error after
// LoseLease or a write that hit an injected lease-lost error.
func TestFakeLostReportsTheLoss(t *testing.T) {
	ctx := context.Background()
	f := newFake(t, FakeConfig{})
	if err := f.Lost(); err != nil {
		t.Fatalf("Lost before any loss: %v", err)
	}
	f.LoseLease()
	if err := f.Lost(); !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatalf("Lost after LoseLease: %v", err)
	}
	g := newFake(t, FakeConfig{})
	g.Delivered(sq("10"))
	g.InjectError(consumer.ErrLeaseLost, 1)
	if err := g.Checkpoint(ctx); !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatal(err)
	}
	if err := g.Lost(); !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatalf("Lost after a write hit a lease-lost error: %v", err)
	}
}

// Requests that move nothing write nothing: Checkpoint with nothing
// delivered beyond the last checkpoint (nothing at all, or only records
// at or before it), and CheckpointAt the last checkpoint itself. They
// return nil, record no checkpoint and leave an injected error for the
// next real write.
func TestFakeNoOpsWriteNothing(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("injected")
	f := newFake(t, FakeConfig{Checkpoint: sq("10")})
	f.InjectError(boom, 1)
	if err := f.Checkpoint(ctx); err != nil {
		t.Fatalf("Checkpoint with nothing delivered: %v", err)
	}
	f.Delivered(sq("7"))
	if err := f.Checkpoint(ctx); err != nil {
		t.Fatalf("Checkpoint with only records before the checkpoint delivered: %v", err)
	}
	f.Delivered(sq("10"))
	if err := f.Checkpoint(ctx); err != nil {
		t.Fatalf("Checkpoint with the checkpoint's own record delivered: %v", err)
	}
	if err := f.CheckpointAt(ctx, sq("10")); err != nil {
		t.Fatalf("CheckpointAt the last checkpoint: %v", err)
	}
	if got := f.Checkpoints(); len(got) != 0 {
		t.Fatalf("no-op requests recorded checkpoints %v", got)
	}
	f.Delivered(sq("12"))
	if err := f.Checkpoint(ctx); !errors.Is(err, boom) {
		t.Fatalf("the first real write: %v, want the injected error kept for it", err)
	}
}

// PrepareCheckpoint follows the checkpoint rules (nothing beyond what was
// delivered, nothing before the last checkpoint), a failed write prepares
// nothing, and an empty state is kept as none.
func TestFakePrepareCheckpointRules(t *testing.T) {
	ctx := context.Background()
	f := newFake(t, FakeConfig{Checkpoint: sq("10")})
	f.Delivered(sq("20"))
	for _, pos := range []consumer.ExtendedSequenceNumber{sq("21"), sq("9")} {
		var ce *consumer.CheckpointError
		if err := f.PrepareCheckpoint(ctx, pos, []byte("s")); !errors.As(err, &ce) {
			t.Errorf("PrepareCheckpoint(%v) with 10 checkpointed and 20 delivered: %v, want a CheckpointError", pos, err)
		}
	}
	boom := errors.New("injected")
	f.InjectError(boom, 1)
	if err := f.PrepareCheckpoint(ctx, sq("15"), []byte("s")); !errors.Is(err, boom) {
		t.Errorf("PrepareCheckpoint whose write fails: %v, want the injected error", err)
	}
	if p, st := f.Pending(); !p.IsZero() || st != nil {
		t.Fatalf("refused or failed prepares left a pending checkpoint %v %q", p, st)
	}
	if err := f.PrepareCheckpoint(ctx, sq("15"), []byte{}); err != nil {
		t.Fatal(err)
	}
	if p, st := f.Pending(); p != sq("15") || st != nil {
		t.Fatalf("pending %v state %#v, want 15 and no state", p, st)
	}
}
