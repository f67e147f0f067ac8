package leases_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shardwise/shardwise/internal/storesuite"
	"github.com/shardwise/shardwise/leases"
)

// The tests below hold details of the memory stores that the shared
// store suite leaves open (each killed a survivor of make mutants-auto):
// a call on an ended context fails and writes nothing, every write counts
// once (the scenario tests and benchmarks read the counts as DynamoDB
// write units), List is sorted, and a fenced call without its owner is
// refused.

func TestMemoryWorkerStoreCountsWritesAndHonoursContext(t *testing.T) {
	ctx := t.Context()
	s := leases.NewMemoryWorkerStore()
	type writes interface{ Writes() int64 }
	count := func() int64 { return leases.WorkerStore(s).(writes).Writes() }

	b, err := s.Register(ctx, leases.WorkerRecord{ID: "b", SessionID: "sb"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Register(ctx, leases.WorkerRecord{ID: "a", SessionID: "sa"})
	if err != nil {
		t.Fatal(err)
	}
	if a, err = s.Heartbeat(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Heartbeat(ctx, leases.WorkerRecord{ID: "a", SessionID: "sa", Heartbeat: 99}); !errors.Is(err, leases.ErrConditionFailed) {
		t.Fatalf("stale heartbeat: %v, want ErrConditionFailed", err)
	}
	if got := count(); got != 4 {
		t.Fatalf("after 2 registrations and 2 heartbeats (one refused) Writes() = %d, want 4", got)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "a" || list[1].ID != "b" {
		t.Fatalf("List = %v, want a then b", list)
	}

	ended, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Register(ended, leases.WorkerRecord{ID: "c", SessionID: "sc"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Register on an ended context: %v", err)
	}
	if _, err := s.Heartbeat(ended, a); !errors.Is(err, context.Canceled) {
		t.Errorf("Heartbeat on an ended context: %v", err)
	}
	if err := s.Deregister(ended, "a", "sa"); !errors.Is(err, context.Canceled) {
		t.Errorf("Deregister on an ended context: %v", err)
	}
	if err := s.Remove(ended, b); !errors.Is(err, context.Canceled) {
		t.Errorf("Remove on an ended context: %v", err)
	}
	if got := count(); got != 4 {
		t.Fatalf("calls on an ended context wrote: Writes() = %d, want 4", got)
	}
	if list, _ := s.List(ctx); len(list) != 2 {
		t.Fatalf("calls on an ended context changed the table: %v", list)
	}

	if err := s.Deregister(ctx, "a", "sa"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != 6 {
		t.Fatalf("after a deregistration and a removal Writes() = %d, want 6", got)
	}
}

func TestMemoryCoordinatorStoreCountsWritesAndHonoursContext(t *testing.T) {
	ctx := t.Context()
	s := leases.NewMemoryCoordinatorStore()
	type writes interface{ Writes() int64 }
	rec, err := s.ClaimLeader(ctx, 0, "w1", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimLeader(ctx, 0, "w2", "s2"); !errors.Is(err, leases.ErrConditionFailed) {
		t.Fatalf("second claim at the same epoch: %v", err)
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.GetLeader(ended); !errors.Is(err, context.Canceled) {
		t.Errorf("GetLeader on an ended context: %v", err)
	}
	if _, err := s.ClaimLeader(ended, rec.Epoch, "w2", "s2"); !errors.Is(err, context.Canceled) {
		t.Errorf("ClaimLeader on an ended context: %v", err)
	}
	if err := s.ReleaseLeader(ended, rec); !errors.Is(err, context.Canceled) {
		t.Errorf("ReleaseLeader on an ended context: %v", err)
	}
	if err := s.ReleaseLeader(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got := leases.CoordinatorStore(s).(writes).Writes(); got != 3 {
		t.Fatalf("after 2 claims (one refused) and a release Writes() = %d, want 3", got)
	}
}

func TestMemoryStoreCompleteHandoffChecksItsArguments(t *testing.T) {
	ctx := t.Context()
	m := leases.NewMemoryStore()
	l := storesuite.MustCreate(t, m, storesuite.SampleLease("shardId-000000000001"))
	l = storesuite.MustTake(t, m, l, "worker-a")
	l, err := m.StartHandoff(ctx, l, "worker-b")
	if err != nil {
		t.Fatal(err)
	}
	// An invalid argument, refused before the (conditional) write: it
	// is not a condition failure and costs no write.
	if _, err := m.CompleteHandoff(ctx, l.Key, ""); err == nil || errors.Is(err, leases.ErrConditionFailed) {
		t.Fatalf("CompleteHandoff without the old owner: %v, want an invalid-argument error", err)
	}
	if n := m.Writes()["CompleteHandoff"]; n != 0 {
		t.Fatalf("CompleteHandoff without the old owner counted %d writes, want 0", n)
	}
	// An injected failure (a DynamoDB error) fails the call and writes
	// nothing.
	boom := errors.New("injected")
	m.InjectError("CompleteHandoff", boom, 1)
	if _, err := m.CompleteHandoff(ctx, l.Key, "worker-a"); !errors.Is(err, boom) {
		t.Fatalf("CompleteHandoff with an injected failure: %v, want it", err)
	}
	got, err := m.Get(ctx, l.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got.CheckpointOwner != "worker-a" {
		t.Fatalf("a refused CompleteHandoff changed the lease: checkpoint owner %q, want worker-a", got.CheckpointOwner)
	}
}
