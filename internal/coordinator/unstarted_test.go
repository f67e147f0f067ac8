package coordinator

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

type fixedSession struct{ id string }

func (s fixedSession) ID() string   { return s.id }
func (s fixedSession) Fence() error { return nil }

// TestNoMoveOfALeaseItsOwnerHasNotStarted: the leader assigns leases, and
// the owner starts their consumers at its next discovery and reports them
// at its next heartbeat. Until then a graceful hand-off of such a lease
// could not complete (no consumer of the owner would finish it), so the
// shard would pause for the hand-off timeout. The planner must see those
// leases as not movable; once the owner's heartbeat lists them, balancing
// moves them.
func TestNoMoveOfALeaseItsOwnerHasNotStarted(t *testing.T) {
	ctx := context.Background()
	st := leases.NewMemoryStores()
	keys := []string{"shard-a", "shard-b", "shard-c", "shard-d"}
	for _, k := range keys {
		if _, err := st.Leases.Create(ctx, leases.Lease{Key: k, Checkpoint: consumer.TrimHorizon}); err != nil {
			t.Fatal(err)
		}
		l, err := st.Leases.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Leases.Take(ctx, l, "w1"); err != nil {
			t.Fatal(err)
		}
	}
	w1, err := st.Workers.Register(ctx, leases.WorkerRecord{ID: "w1", SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Workers.Register(ctx, leases.WorkerRecord{ID: "w2", SessionID: "s2"}); err != nil {
		t.Fatal(err)
	}
	c, err := NewCoordinator(CoordinatorConfig{
		WorkerID: "w2", Session: fixedSession{"s2"},
		Leases: st.Leases, Workers: st.Workers, Coordinator: st.Coordinator,
		FailoverTime: 10 * time.Second, ScanInterval: time.Second, AssignmentInterval: 5 * time.Second,
		HandoffTimeout: 10 * time.Second, BalanceEvery: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	moved := func() []string {
		t.Helper()
		all, err := st.Leases.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range all {
			if l.Owner != "w1" || l.CheckpointOwner != "" {
				out = append(out, l.Key)
			}
		}
		slices.Sort(out)
		return out
	}
	heartbeat := func(running ...string) {
		t.Helper()
		w1.LeaseThroughput = map[string]float64{}
		for _, k := range running {
			w1.LeaseThroughput[k] = 0
		}
		if w1, err = st.Workers.Heartbeat(ctx, w1); err != nil {
			t.Fatal(err)
		}
	}

	// w1 was given four leases and runs none yet; w2 holds nothing.
	c.tick(ctx, true)
	if !c.IsLeader() {
		t.Fatal("the coordinator did not become leader of an empty coordinator table")
	}
	if m := moved(); len(m) != 0 {
		t.Fatalf("leader moved %v, which w1 has not started yet", m)
	}
	// w1 runs two of them: only those two may move.
	heartbeat("shard-a", "shard-b")
	c.tick(ctx, true)
	m := moved()
	if len(m) == 0 || slices.ContainsFunc(m, func(k string) bool { return k != "shard-a" && k != "shard-b" }) {
		t.Fatalf("leader moved %v; want some of the started leases shard-a and shard-b, and only those", m)
	}
}
