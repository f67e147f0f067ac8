package backoff

import (
	"context"
	"testing"
	"time"
)

func TestBackoffGrowsAndCaps(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	wantMax := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i, w := range wantMax {
		w *= time.Millisecond
		d := b.Next()
		if d < w/2 || d > w {
			t.Fatalf("attempt %d: delay %v outside [%v, %v]", i, d, w/2, w)
		}
	}
	if b.Attempts() != len(wantMax) {
		t.Fatalf("Attempts = %d, want %d", b.Attempts(), len(wantMax))
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Fatalf("after Reset delay %v > base", d)
	}
}

func TestBackoffManyAttemptsNoOverflow(t *testing.T) {
	b := Backoff{Base: time.Millisecond, Max: time.Hour}
	for i := 0; i < 200; i++ {
		if d := b.Next(); d <= 0 || d > time.Hour {
			t.Fatalf("attempt %d: delay %v", i, d)
		}
	}
}

func TestSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep on a cancelled context reported a full wait")
	}
	if !Sleep(context.Background(), time.Microsecond) {
		t.Fatal("short Sleep did not complete")
	}
}
