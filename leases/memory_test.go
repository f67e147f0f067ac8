package leases

import (
	"errors"
	"maps"
	"testing"

	"github.com/shardwise/shardwise/consumer"
)

func TestMemoryStore(t *testing.T) {
	runStoreSuite(t, func(t *testing.T) Store { return NewMemoryStore() })
}

func TestMemoryStoreInjectError(t *testing.T) {
	ctx := t.Context()
	m := NewMemoryStore()
	l := mustTake(t, m, mustCreate(t, m, sampleLease("shardId-000000000001")), "worker-a")
	boom := errors.New("injected throttle")

	m.InjectError(OpCheckpoint, boom, 2)
	for i := range 2 {
		if _, err := m.Checkpoint(ctx, l.Key, "worker-a", l.Counter, seq(1)); !errors.Is(err, boom) {
			t.Fatalf("call %d: %v, want the injected error", i, err)
		}
	}
	wantUnchanged(t, m, l)
	c, err := m.Checkpoint(ctx, l.Key, "worker-a", l.Counter, seq(1))
	if err != nil {
		t.Fatalf("third call, after the fault ran out: %v", err)
	}

	// A fault on one operation leaves the others alone.
	m.InjectError(OpGet, boom, -1)
	if _, err := m.Take(ctx, mustList(t, m)[0], "worker-b"); err != nil {
		t.Fatalf("Take while Get fails: %v", err)
	}
	for range 3 {
		if _, err := m.Get(ctx, l.Key); !errors.Is(err, boom) {
			t.Fatalf("Get with a permanent fault: %v", err)
		}
	}
	m.InjectError(OpGet, nil, 0)
	if got := mustGet(t, m, l.Key); got.Owner != "worker-b" || got.Counter != c+1 {
		t.Fatalf("after clearing the fault: %+v", got)
	}

	defer func() {
		if recover() == nil {
			t.Fatal("InjectError with an unknown operation did not panic")
		}
	}()
	m.InjectError("Chekpoint", boom, 1)
}

func mustList(t *testing.T, s Store) []Lease {
	t.Helper()
	ls, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return ls
}

func TestMemoryStoreCountsWrites(t *testing.T) {
	ctx := t.Context()
	m := NewMemoryStore()
	l := mustCreate(t, m, sampleLease("shardId-000000000001"))
	if created, _ := m.Create(ctx, sampleLease("shardId-000000000001")); created {
		t.Fatal("second Create created")
	}
	l = mustTake(t, m, l, "worker-a")
	if _, err := m.Take(ctx, sampleLease("shardId-000000000001"), "worker-b"); !errors.Is(err, ErrConditionFailed) {
		t.Fatalf("stale Take: %v", err)
	}
	c, err := m.Checkpoint(ctx, l.Key, "worker-a", l.Counter, seq(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Checkpoint(ctx, l.Key, "worker-a", c, consumer.ExtendedSequenceNumber{SequenceNumber: "bad"}); err == nil {
		t.Fatal("invalid checkpoint accepted")
	}
	m.InjectError(OpDelete, errors.New("injected"), 1)
	if err := m.Delete(ctx, l.Key, c); err == nil {
		t.Fatal("injected Delete error not returned")
	}
	if err := m.Delete(ctx, l.Key, c); err != nil {
		t.Fatal(err)
	}

	// Refused conditional writes cost a write on DynamoDB and count;
	// invalid arguments and injected errors never reach it and do not.
	want := map[string]int{OpCreate: 2, OpTake: 2, OpCheckpoint: 1, OpDelete: 1}
	if got := m.Writes(); !maps.Equal(got, want) {
		t.Fatalf("Writes() = %v, want %v", got, want)
	}
	if got := m.TotalWrites(); got != 6 {
		t.Fatalf("TotalWrites() = %d, want 6", got)
	}
	if got := m.Reads()[OpGet]; got != 1 {
		t.Fatalf("Reads()[Get] = %d, want 1 (mustCreate reads back)", got)
	}
	m.ResetCounts()
	if got := m.TotalWrites(); got != 0 {
		t.Fatalf("TotalWrites() after ResetCounts = %d", got)
	}
}
