package coordinator

import (
	"context"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// TestUnstartedLeasesMoveDirectlyStartedOnesGracefully: the leader gives
// every lease to the only worker; a second worker registers before the
// first one's heartbeat lists any of them (the start-up race of issue 17).
// The leader knows which leases the owner has not started (their counter
// is still the one its own assignment wrote) and moves those at once
// without a hand-off, since nothing runs them; a lease the owner has
// started (its discovery bumped the counter) moves only through a
// graceful hand-off, even before the owner's heartbeat lists it.
func TestUnstartedLeasesMoveDirectlyStartedOnesGracefully(t *testing.T) {
	for _, started := range [][]string{nil, {"shard-c", "shard-d"}} {
		ctx := context.Background()
		st := leases.NewMemoryStores()
		keys := []string{"shard-a", "shard-b", "shard-c", "shard-d"}
		for _, k := range keys {
			if _, err := st.Leases.Create(ctx, leases.Lease{Key: k, Checkpoint: consumer.TrimHorizon}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.Workers.Register(ctx, leases.WorkerRecord{ID: "w1", SessionID: "s1"}); err != nil {
			t.Fatal(err)
		}
		c, err := NewCoordinator(CoordinatorConfig{
			WorkerID: "w1", Session: fixedSession{"s1"},
			Leases: st.Leases, Workers: st.Workers, Coordinator: st.Coordinator,
			FailoverTime: 10 * time.Second, ScanInterval: time.Second, AssignmentInterval: 5 * time.Second,
			HandoffTimeout: 10 * time.Second, BalanceEvery: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		c.tick(ctx, true)
		for _, k := range started {
			l, err := st.Leases.Get(ctx, k)
			if err != nil || l.Owner != "w1" {
				t.Fatalf("%s after the first assignment: %+v %v", k, l, err)
			}
			if _, err := st.Leases.Take(ctx, l, "w1"); err != nil { // w1's discovery starts it
				t.Fatal(err)
			}
		}
		if _, err := st.Workers.Register(ctx, leases.WorkerRecord{ID: "w2", SessionID: "s2"}); err != nil {
			t.Fatal(err)
		}
		c.tick(ctx, false) // a new worker: the leader plans at once
		all, err := st.Leases.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		isStarted := map[string]bool{}
		for _, k := range started {
			isStarted[k] = true
		}
		toW2 := 0
		for _, l := range all {
			if l.Owner != "w2" {
				continue
			}
			toW2++
			switch {
			case isStarted[l.Key] && l.CheckpointOwner != "w1":
				t.Errorf("started lease %s moved without a hand-off: %+v", l.Key, l)
			case !isStarted[l.Key] && l.CheckpointOwner != "":
				t.Errorf("unstarted lease %s moved through a hand-off nobody can finish: %+v", l.Key, l)
			}
		}
		if toW2 != 2 {
			t.Errorf("started %v: w2 was given %d leases at once, want 2", started, toW2)
		}
	}
}
