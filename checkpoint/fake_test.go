package checkpoint

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/shardwise/shardwise/consumer"
)

func sq(s string) consumer.ExtendedSequenceNumber {
	return consumer.ExtendedSequenceNumber{SequenceNumber: s}
}

func newFake(t *testing.T, cfg FakeConfig) *Fake {
	t.Helper()
	f, err := NewFake(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCheckReasons(t *testing.T) {
	tests := []struct {
		req, last, largest consumer.ExtendedSequenceNumber
		ok                 bool
	}{
		{sq("5"), consumer.TrimHorizon, sq("10"), true},
		{sq("10"), sq("10"), sq("10"), true},
		{sq("11"), consumer.TrimHorizon, sq("10"), false},
		{sq("4"), sq("5"), sq("10"), false},
		{consumer.ShardEnd, sq("5"), sq("10"), false},
		{consumer.ShardEnd, sq("5"), consumer.ShardEnd, true},
		{consumer.Latest, consumer.TrimHorizon, sq("10"), false},
		{sq("x"), consumer.TrimHorizon, sq("10"), false},
	}
	for _, tc := range tests {
		err := Check(tc.req, tc.last, tc.largest)
		var ce *consumer.CheckpointError
		switch {
		case tc.ok && err != nil:
			t.Errorf("Check(%v, %v, %v) = %v, want nil", tc.req, tc.last, tc.largest, err)
		case !tc.ok && (!errors.As(err, &ce) || ce.Requested != tc.req || ce.Reason == ""):
			t.Errorf("Check(%v, %v, %v) = %v, want a *CheckpointError for the request", tc.req, tc.last, tc.largest, err)
		}
	}
}

func TestNewFakeValidates(t *testing.T) {
	for _, tc := range []struct {
		cfg   FakeConfig
		field string
	}{
		{FakeConfig{Checkpoint: sq("abc")}, "Checkpoint"},
		{FakeConfig{PendingCheckpoint: sq("-1")}, "PendingCheckpoint"},
		{FakeConfig{PendingCheckpointState: []byte("s")}, "PendingCheckpointState"},
	} {
		_, err := NewFake(tc.cfg)
		var ce *consumer.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("NewFake(%+v) = %v, want a ConfigError for %s", tc.cfg, err, tc.field)
		}
	}
	f := newFake(t, FakeConfig{})
	if got := f.LastCheckpoint(); got != consumer.TrimHorizon {
		t.Fatalf("default checkpoint %v", got)
	}
}

func TestFakeKeepsPendingUntilCheckpoint(t *testing.T) {
	ctx := context.Background()
	state := []byte("earlier owner")
	f := newFake(t, FakeConfig{Checkpoint: sq("10"), PendingCheckpoint: sq("15"), PendingCheckpointState: state})
	state[0] = 'X' // the fake keeps its own copy
	if pos, st := f.Pending(); pos != sq("15") || string(st) != "earlier owner" {
		t.Fatalf("Pending = %v %q", pos, st)
	}
	f.Delivered(sq("20"))
	if err := f.CheckpointAt(ctx, sq("12")); err != nil {
		t.Fatal(err)
	}
	if pos, st := f.Pending(); !pos.IsZero() || st != nil {
		t.Fatalf("Pending after a checkpoint = %v %q", pos, st)
	}
}

func TestFakeInjectError(t *testing.T) {
	ctx := context.Background()
	f := newFake(t, FakeConfig{})
	f.Delivered(sq("10"))
	boom := errors.New("shardwise: throttled")
	f.InjectError(boom, 2)
	for i := range 2 {
		if err := f.Checkpoint(ctx); !errors.Is(err, boom) {
			t.Fatalf("write %d: %v, want the injected error", i, err)
		}
	}
	if got := f.LastCheckpoint(); got != consumer.TrimHorizon {
		t.Fatalf("a failed write moved the checkpoint to %v", got)
	}
	if err := f.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.Checkpoints(); !slices.Equal(got, []consumer.ExtendedSequenceNumber{sq("10")}) {
		t.Fatalf("Checkpoints = %v", got)
	}
	// A request the rules refuse does not use up an injected error, nor
	// does a no-op.
	f.InjectError(boom, 1)
	if err := f.CheckpointAt(ctx, sq("11")); !errors.Is(err, consumer.ErrInvalidCheckpoint) {
		t.Fatal(err)
	}
	if err := f.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	f.Delivered(sq("11"))
	if err := f.Checkpoint(ctx); !errors.Is(err, boom) {
		t.Fatalf("injected error not kept for the next write: %v", err)
	}
}

func TestFakeLeaseLost(t *testing.T) {
	ctx := context.Background()
	f := newFake(t, FakeConfig{})
	f.Delivered(sq("10"))
	f.InjectError(consumer.ErrLeaseLost, 1)
	if err := f.CheckpointAt(ctx, sq("5")); !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatal(err)
	}
	// Once a write proved the lease lost, every call fails with it.
	if err := f.CheckpointAt(ctx, sq("5")); !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatalf("after loss: %v", err)
	}
	g := newFake(t, FakeConfig{})
	g.LoseLease()
	if err := g.Checkpoint(ctx); !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatalf("after LoseLease: %v", err)
	}
}

func TestFakeCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := newFake(t, FakeConfig{})
	f.Delivered(sq("10"))
	if err := f.Checkpoint(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("write with a canceled context: %v", err)
	}
	if len(f.Checkpoints()) != 0 {
		t.Fatal("a canceled write was recorded")
	}
}

func TestFakeConcurrent(t *testing.T) {
	ctx := context.Background()
	f := newFake(t, FakeConfig{})
	f.Delivered(sq("100"))
	var wg sync.WaitGroup
	for i := 1; i <= 100; i++ {
		wg.Go(func() {
			err := f.CheckpointAt(ctx, sq(strconv.Itoa(i)))
			if err != nil && !errors.Is(err, consumer.ErrInvalidCheckpoint) {
				t.Errorf("CheckpointAt(%d): %v", i, err)
			}
			_ = f.LastCheckpoint()
			_, _ = f.Pending()
		})
	}
	wg.Wait()
	got := f.Checkpoints()
	if !slices.IsSortedFunc(got, consumer.Compare) {
		t.Fatalf("checkpoints went back: %v", got)
	}
	if err := f.CheckpointAt(ctx, sq("100")); err != nil || f.LastCheckpoint() != sq("100") {
		t.Fatalf("final: %v, last %v", err, f.LastCheckpoint())
	}
}
