package leases_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shardwise/shardwise/internal/storesuite"
	"github.com/shardwise/shardwise/leases"
)

// An injected fault fails the call before it reaches the table: a Create
// creates nothing, a read returns the error; InjectError with times 0 or
// a nil error clears a fault, permanent ones included.
func TestMemoryStoreFaultsHaveNoEffect(t *testing.T) {
	ctx := t.Context()
	m := leases.NewMemoryStore()
	boom := errors.New("injected")

	m.InjectError("Create", boom, 1)
	if created, err := m.Create(ctx, storesuite.SampleLease("shardId-000000000001")); created || !errors.Is(err, boom) {
		t.Fatalf("faulted Create = %v, %v; want false and the injected error", created, err)
	}
	if _, err := m.Get(ctx, "shardId-000000000001"); !errors.Is(err, leases.ErrNotFound) {
		t.Fatalf("after a faulted Create, Get = %v; want not found", err)
	}
	l := storesuite.OwnedLease(t, m, "shardId-000000000001", "worker-a")

	m.InjectError("ListKeysByOwner", boom, 1)
	if keys, err := m.ListKeysByOwner(ctx, "worker-a"); keys != nil || !errors.Is(err, boom) {
		t.Fatalf("faulted ListKeysByOwner = %v, %v; want nil and the injected error", keys, err)
	}

	// times 0 clears a permanent fault; so does a nil error.
	for _, clear := range []struct {
		err   error
		times int
	}{{boom, 0}, {nil, 5}} {
		m.InjectError("Get", boom, -1)
		if _, err := m.Get(ctx, l.Key); !errors.Is(err, boom) {
			t.Fatalf("Get with a permanent fault: %v", err)
		}
		m.InjectError("Get", clear.err, clear.times)
		for range 3 {
			if _, err := m.Get(ctx, l.Key); err != nil {
				t.Fatalf("Get after InjectError(Get, %v, %d): %v; want the fault cleared", clear.err, clear.times, err)
			}
		}
	}
}

// Reads and writes are counted per operation, once per call that reached
// the table, and ResetCounts zeroes both.
func TestMemoryStoreCountsReadsPerCall(t *testing.T) {
	ctx := t.Context()
	m := leases.NewMemoryStore()
	l := storesuite.OwnedLease(t, m, "shardId-000000000001", "worker-a")
	l, err := m.StartHandoff(ctx, l, "worker-b")
	if err != nil {
		t.Fatal(err)
	}
	m.ResetCounts()
	for range 2 {
		if _, err := m.List(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := m.ListKeysByOwner(ctx, "worker-b"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.CompleteHandoff(ctx, l.Key, "worker-a"); err != nil {
		t.Fatal(err)
	}
	if r, w := m.Reads(), m.Writes(); r["List"] != 2 || r["ListKeysByOwner"] != 2 || w["CompleteHandoff"] != 1 {
		t.Fatalf("Reads %v Writes %v; want List 2, ListKeysByOwner 2, CompleteHandoff 1", r, w)
	}
	m.ResetCounts()
	if r, w := m.Reads(), m.Writes(); len(r) != 0 || len(w) != 0 {
		t.Fatalf("after ResetCounts: Reads %v Writes %v; want none", r, w)
	}
}

// The worker store's reads honour a cancelled context, as its writes do.
func TestMemoryWorkerStoreReadsHonourContext(t *testing.T) {
	ws := leases.NewMemoryWorkerStore()
	if _, err := ws.Register(t.Context(), leases.WorkerRecord{ID: "w1", SessionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if rs, err := ws.List(ctx); rs != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context = %v, %v", rs, err)
	}
	if _, err := ws.Get(ctx, "w1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: %v", err)
	}
}
