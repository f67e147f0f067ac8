package checkpoint

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shardwise/shardwise/consumer"
)

// The tests below hold the Fake's lifecycle calls and the reason texts of
// Check (each killed a survivor of make mutants-auto).

func TestCheckNamesTheShardEndReason(t *testing.T) {
	// SHARD_END sorts above every sequence number, so the bound on what
	// was delivered refuses it too; the reason must still say why.
	err := Check(consumer.ShardEnd, sq("5"), sq("10"))
	var ce *consumer.CheckpointError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "SHARD_END before the shard has ended") {
		t.Fatalf("Check(SHARD_END) before the end = %v, want the reason to say the shard has not ended", err)
	}
}

func TestFakeShardEndedAndRewind(t *testing.T) {
	ctx := context.Background()
	f := newFake(t, FakeConfig{})
	f.Delivered(sq("20"))
	f.Rewind(sq("10")) // the batch up to 20 was given up on
	if got := f.LargestDelivered(); got != sq("10") {
		t.Fatalf("LargestDelivered after Rewind(10) = %v, want 10", got)
	}
	f.Rewind(sq("15")) // never raises it
	if got := f.LargestDelivered(); got != sq("10") {
		t.Fatalf("LargestDelivered after Rewind(15) = %v, want 10", got)
	}
	if err := f.CheckpointAt(ctx, sq("15")); !errors.Is(err, consumer.ErrInvalidCheckpoint) {
		t.Fatalf("checkpoint beyond the rewound position: %v", err)
	}
	if err := f.CheckpointAt(ctx, consumer.ShardEnd); !errors.Is(err, consumer.ErrInvalidCheckpoint) {
		t.Fatalf("SHARD_END before ShardEnded: %v", err)
	}
	f.ShardEnded()
	if got := f.LargestDelivered(); got != consumer.ShardEnd {
		t.Fatalf("LargestDelivered after ShardEnded = %v, want SHARD_END", got)
	}
	if err := f.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.LastCheckpoint(); got != consumer.ShardEnd {
		t.Fatalf("Checkpoint after ShardEnded wrote %v, want SHARD_END", got)
	}
}

func TestFakeInjectErrorIgnoresNothingToInject(t *testing.T) {
	ctx := context.Background()
	f := newFake(t, FakeConfig{})
	f.Delivered(sq("10"))
	boom := errors.New("shardwise: boom")
	f.InjectError(nil, 3)
	f.InjectError(boom, 0)
	f.InjectError(boom, 1)
	// Only the last injection counts: the next write fails with it.
	if err := f.CheckpointAt(ctx, sq("5")); !errors.Is(err, boom) {
		t.Fatalf("first write after a nil, a zero-times and a real injection: %v, want the real one", err)
	}
	if err := f.CheckpointAt(ctx, sq("5")); err != nil {
		t.Fatalf("second write: %v", err)
	}
}

func TestFakeCheckpointRecordAndPrepare(t *testing.T) {
	ctx := context.Background()
	f := newFake(t, FakeConfig{})
	f.Delivered(sq("10"))
	if err := f.CheckpointRecord(ctx, nil); !errors.Is(err, consumer.ErrInvalidCheckpoint) {
		t.Fatalf("CheckpointRecord(nil) = %v, want an invalid checkpoint", err)
	}
	if got := f.Checkpoints(); len(got) != 0 {
		t.Fatalf("CheckpointRecord(nil) wrote %v", got)
	}
	if err := f.PrepareCheckpoint(ctx, sq("11"), []byte("s")); !errors.Is(err, consumer.ErrInvalidCheckpoint) {
		t.Fatalf("PrepareCheckpoint beyond what was delivered = %v, want an invalid checkpoint", err)
	}
	if pos, _ := f.Pending(); !pos.IsZero() {
		t.Fatalf("a refused PrepareCheckpoint left pending %v", pos)
	}
	if err := f.PrepareCheckpoint(ctx, sq("7"), []byte("state")); err != nil {
		t.Fatal(err)
	}
	if pos, st := f.Pending(); pos != sq("7") || string(st) != "state" {
		t.Fatalf("Pending = %v %q, want 7 \"state\"", pos, st)
	}
	if err := f.PrepareCheckpoint(ctx, sq("8"), nil); err != nil {
		t.Fatal(err)
	}
	if pos, st := f.Pending(); pos != sq("8") || st != nil {
		t.Fatalf("Pending = %v %q, want 8 and no state", pos, st)
	}
	f.Close()
	if err := f.PrepareCheckpoint(ctx, sq("9"), nil); !errors.Is(err, consumer.ErrShutdown) {
		t.Fatalf("PrepareCheckpoint after Close = %v, want ErrShutdown", err)
	}
}
