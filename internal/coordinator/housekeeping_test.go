package coordinator

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// TestLeaderCompletesHandoffsAndDeletesFinishedParents: the leader
// completes a graceful hand-off its live old owner did not finish within
// HandoffTimeout (not before), one whose old owner died as soon as it is
// dead, and deletes a finished parent once every child has an owner (not
// while a child has none). Survivors of make mutants-auto.
func TestLeaderCompletesHandoffsAndDeletesFinishedParents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			failover = 10 * time.Second
			handoff  = 3 * failover
		)
		ctx := context.Background()
		st := leases.NewMemoryStores()
		mustCreate := func(l leases.Lease) {
			if _, err := st.Leases.Create(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		get := func(key string) (leases.Lease, error) { return st.Leases.Get(ctx, key) }
		// Hand-offs from w1 (alive) and w3 (about to die) to w2.
		for key, from := range map[string]string{"alive-old": "w1", "dead-old": "w3"} {
			mustCreate(leases.Lease{Key: key, Checkpoint: consumer.TrimHorizon})
			l, _ := get(key)
			l, err := st.Leases.Take(ctx, l, from)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Leases.StartHandoff(ctx, l, "w2"); err != nil {
				t.Fatal(err)
			}
		}
		// A finished parent whose children have both checkpointed past
		// their start (the Java KCL's rule for deleting it), and one with
		// a child nobody owns yet.
		past := consumer.ExtendedSequenceNumber{SequenceNumber: "49590338271490256608559692538361571095921575989136588898"}
		mustCreate(leases.Lease{Key: "parent-ready", Owner: "w2", Checkpoint: consumer.ShardEnd, ChildShardIDs: []string{"c1", "c2"}})
		mustCreate(leases.Lease{Key: "c1", Owner: "w2", Checkpoint: past, ParentShardIDs: []string{"parent-ready"}})
		mustCreate(leases.Lease{Key: "c2", Owner: "w1", Checkpoint: past, ParentShardIDs: []string{"parent-ready"}})
		mustCreate(leases.Lease{Key: "parent-waiting", Owner: "w2", Checkpoint: consumer.ShardEnd, ChildShardIDs: []string{"c3"}})
		mustCreate(leases.Lease{Key: "c3", Checkpoint: consumer.TrimHorizon, ParentShardIDs: []string{"parent-waiting"}})
		// A finished lease whose children were never recorded: kept (shard
		// sync must not lease its closed shard again from the start).
		mustCreate(leases.Lease{Key: "finished-no-children", Owner: "w2", Checkpoint: consumer.ShardEnd})

		recs := map[string]leases.WorkerRecord{}
		for _, id := range []string{"w1", "w2", "w3"} {
			r, err := st.Workers.Register(ctx, leases.WorkerRecord{ID: id, SessionID: id + "-s",
				LeaseThroughput: map[string]float64{}})
			if err != nil {
				t.Fatal(err)
			}
			recs[id] = r
		}
		c, err := NewCoordinator(CoordinatorConfig{
			WorkerID: "w2", Session: fixedSession{"w2-s"},
			Leases: st.Leases, Workers: st.Workers, Coordinator: st.Coordinator,
			FailoverTime: failover, ScanInterval: time.Second, AssignmentInterval: failover / 2,
			HandoffTimeout: handoff, BalanceEvery: 1000,
		})
		if err != nil {
			t.Fatal(err)
		}
		// The first run deletes the parent whose children checkpointed
		// past their start, and not the other: its child gets an owner in
		// this run's moves, but only its first checkpoint lets a later run
		// delete the parent.
		c.tick(ctx, false)
		if _, err := get("parent-ready"); !errors.Is(err, leases.ErrNotFound) {
			t.Errorf("the finished parent whose children checkpointed past their start is still there: %v", err)
		}
		if _, err := get("parent-waiting"); err != nil {
			t.Errorf("the finished parent with a child nobody owned was deleted: %v", err)
		}
		start := time.Now()
		completed := map[string]time.Duration{}
		for time.Since(start) < handoff+5*time.Second {
			// w1 and w2 heartbeat; w3 has stopped.
			for _, id := range []string{"w1", "w2"} {
				if recs[id], err = st.Workers.Heartbeat(ctx, recs[id]); err != nil {
					t.Fatal(err)
				}
			}
			c.tick(ctx, false)
			for _, key := range []string{"alive-old", "dead-old"} {
				if l, err := get(key); err == nil && !l.HandoffPending() {
					if _, ok := completed[key]; !ok {
						completed[key] = time.Since(start)
					}
				}
			}
			time.Sleep(time.Second)
		}
		t.Logf("hand-offs completed by the leader after %v (failover %v, hand-off timeout %v)", completed, failover, handoff)
		if d, ok := completed["alive-old"]; !ok || d < handoff || d > handoff+2*time.Second {
			t.Errorf("the hand-off from a live old owner completed after %v (done %v), want at the hand-off timeout %v", d, ok, handoff)
		}
		if d, ok := completed["dead-old"]; !ok || d > failover+2*time.Second {
			t.Errorf("the hand-off from a dead old owner completed after %v (done %v), want once it is dead (%v)", d, ok, failover)
		}
		// Its child has an owner now but no checkpoint past TRIM_HORIZON:
		// the parent stays (a Java fleet rolled back to would re-read it
		// otherwise) until the child's first checkpoint.
		if _, err := get("parent-waiting"); err != nil {
			t.Errorf("the finished parent was deleted before its child checkpointed past its start: %v", err)
		}
		c3, err := get("c3")
		if err != nil || c3.Owner == "" {
			t.Fatalf("c3 has no owner after the runs: %+v, %v", c3, err)
		}
		if _, err := st.Leases.Checkpoint(ctx, c3.Key, c3.Owner, c3.Counter, past); err != nil {
			t.Fatal(err)
		}
		c.tick(ctx, true)
		if _, err := get("parent-waiting"); !errors.Is(err, leases.ErrNotFound) {
			t.Errorf("the finished parent is still there after its child checkpointed: %v", err)
		}
		if _, err := get("finished-no-children"); err != nil {
			t.Errorf("a finished lease with no recorded children was deleted: %v", err)
		}
	})
}
