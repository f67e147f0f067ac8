package leases_test

import (
	"errors"
	"maps"
	"testing"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/storesuite"
	"github.com/shardwise/shardwise/leases"
)

func TestMemoryStore(t *testing.T) {
	storesuite.Leases(t, func(t *testing.T) leases.Store { return leases.NewMemoryStore() })
}

func TestMemoryStoreInjectError(t *testing.T) {
	ctx := t.Context()
	m := leases.NewMemoryStore()
	l := storesuite.MustTake(t, m, storesuite.MustCreate(t, m, storesuite.SampleLease("shardId-000000000001")), "worker-a")
	boom := errors.New("injected throttle")

	m.InjectError("Checkpoint", boom, 2)
	for i := range 2 {
		if _, err := m.Checkpoint(ctx, l.Key, "worker-a", l.Counter, storesuite.Seq(1)); !errors.Is(err, boom) {
			t.Fatalf("call %d: %v, want the injected error", i, err)
		}
	}
	storesuite.WantUnchanged(t, m, l)
	c, err := m.Checkpoint(ctx, l.Key, "worker-a", l.Counter, storesuite.Seq(1))
	if err != nil {
		t.Fatalf("third call, after the fault ran out: %v", err)
	}

	// A fault on one operation leaves the others alone.
	m.InjectError("Get", boom, -1)
	if _, err := m.Take(ctx, storesuite.MustList(t, m)[0], "worker-b"); err != nil {
		t.Fatalf("Take while Get fails: %v", err)
	}
	for range 3 {
		if _, err := m.Get(ctx, l.Key); !errors.Is(err, boom) {
			t.Fatalf("Get with a permanent fault: %v", err)
		}
	}
	m.InjectError("Get", nil, 0)
	if got := storesuite.MustGet(t, m, l.Key); got.Owner != "worker-b" || got.Counter != c+1 {
		t.Fatalf("after clearing the fault: %+v", got)
	}

	defer func() {
		if recover() == nil {
			t.Fatal("InjectError with an unknown operation did not panic")
		}
	}()
	m.InjectError("Chekpoint", boom, 1)
}

func TestMemoryStoreCountsWrites(t *testing.T) {
	ctx := t.Context()
	m := leases.NewMemoryStore()
	l := storesuite.MustCreate(t, m, storesuite.SampleLease("shardId-000000000001"))
	if created, _ := m.Create(ctx, storesuite.SampleLease("shardId-000000000001")); created {
		t.Fatal("second Create created")
	}
	l = storesuite.MustTake(t, m, l, "worker-a")
	if _, err := m.Take(ctx, storesuite.SampleLease("shardId-000000000001"), "worker-b"); !errors.Is(err, leases.ErrConditionFailed) {
		t.Fatalf("stale Take: %v", err)
	}
	c, err := m.Checkpoint(ctx, l.Key, "worker-a", l.Counter, storesuite.Seq(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Checkpoint(ctx, l.Key, "worker-a", c, consumer.ExtendedSequenceNumber{SequenceNumber: "bad"}); err == nil {
		t.Fatal("invalid checkpoint accepted")
	}
	m.InjectError("Delete", errors.New("injected"), 1)
	if err := m.Delete(ctx, l.Key, c); err == nil {
		t.Fatal("injected Delete error not returned")
	}
	if err := m.Delete(ctx, l.Key, c); err != nil {
		t.Fatal(err)
	}

	// Refused conditional writes cost a write on DynamoDB and count;
	// invalid arguments and injected errors never reach it and do not.
	want := map[string]int{"Create": 2, "Take": 2, "Checkpoint": 1, "Delete": 1}
	if got := m.Writes(); !maps.Equal(got, want) {
		t.Fatalf("Writes() = %v, want %v", got, want)
	}
	if got := m.TotalWrites(); got != 6 {
		t.Fatalf("TotalWrites() = %d, want 6", got)
	}
	if got := m.Reads()["Get"]; got != 1 {
		t.Fatalf("Reads()[Get] = %d, want 1 (mustCreate reads back)", got)
	}
	m.ResetCounts()
	if got := m.TotalWrites(); got != 0 {
		t.Fatalf("TotalWrites() after ResetCounts = %d", got)
	}
}
