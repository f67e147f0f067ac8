package coordinator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// TestFinishedParentKeptUntilChildrenPastTrimHorizon holds the leader to
// the Java KCL's rule for deleting a SHARD_END lease, so a Java fleet
// rolled back to finds the table as it would have left it: every child
// has a lease checkpointed past TRIM_HORIZON / AT_TIMESTAMP, and the
// lease's own parents are gone. Owned children are not enough.
func TestFinishedParentKeptUntilChildrenPastTrimHorizon(t *testing.T) {
	ctx := context.Background()
	st := leases.NewMemoryStores()
	mk := func(l leases.Lease) leases.Lease {
		t.Helper()
		if _, err := st.Leases.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
		got, err := st.Leases.Get(ctx, l.Key)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	mk(leases.Lease{Key: "grand", Checkpoint: consumer.ShardEnd, ChildShardIDs: []string{"parent"}})
	mk(leases.Lease{Key: "parent", Checkpoint: consumer.ShardEnd, ParentShardIDs: []string{"grand"}, ChildShardIDs: []string{"c1", "c2"}})
	c1 := mk(leases.Lease{Key: "c1", Checkpoint: consumer.TrimHorizon, ParentShardIDs: []string{"parent"}})
	c2 := mk(leases.Lease{Key: "c2", Checkpoint: consumer.AtTimestamp, ParentShardIDs: []string{"parent"}})
	// grand's only child is parent, which is itself finished.
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
	exists := func(key string) bool {
		t.Helper()
		_, err := st.Leases.Get(ctx, key)
		if errors.Is(err, leases.ErrNotFound) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		return true
	}
	checkpoint := func(l leases.Lease) {
		t.Helper()
		cur, err := st.Leases.Get(ctx, l.Key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Leases.Checkpoint(ctx, l.Key, cur.Owner, cur.Counter, consumer.ExtendedSequenceNumber{SequenceNumber: "49000000000000000000000000000000000000000000000000000001"}); err != nil {
			t.Fatal(err)
		}
	}

	// The run assigns c1 and c2 to w1: both owned, neither past its start.
	c.tick(ctx, true)
	if !c.IsLeader() {
		t.Fatal("not leader")
	}
	if cl, _ := st.Leases.Get(ctx, "c1"); cl.Owner != "w1" {
		t.Fatalf("c1 not assigned: %+v", cl)
	}
	c.tick(ctx, true)
	if exists("grand") {
		// grand's child (parent) is finished, past any start, and grand
		// has no parent: it may go. Its deletion is the baseline that
		// shows the leader's clean-up runs at all.
		t.Fatal("grand, whose only child is finished, was kept")
	}
	if !exists("parent") {
		t.Fatal("parent deleted while both children are owned but still at TRIM_HORIZON / AT_TIMESTAMP")
	}
	checkpoint(c1)
	c.tick(ctx, true)
	if !exists("parent") {
		t.Fatal("parent deleted while c2 is still at AT_TIMESTAMP")
	}
	checkpoint(c2)
	c.tick(ctx, true)
	if exists("parent") {
		t.Fatal("parent kept after every child checkpointed past its start")
	}
}

// TestParentKeptWhileItsOwnParentRemains: the Java KCL deletes top-down,
// a finished lease only once its own parents are gone.
func TestParentKeptWhileItsOwnParentRemains(t *testing.T) {
	by := map[string]leases.Lease{
		"grand":  {Key: "grand", Checkpoint: consumer.ShardEnd, ChildShardIDs: []string{"parent"}},
		"parent": {Key: "parent", Checkpoint: consumer.ShardEnd, ParentShardIDs: []string{"grand"}, ChildShardIDs: []string{"child"}},
		"child":  {Key: "child", Checkpoint: consumer.ExtendedSequenceNumber{SequenceNumber: "5"}, ParentShardIDs: []string{"parent"}},
	}
	if parentMayGo("parent", by["parent"], by) {
		t.Fatal("parent may go while grand's lease remains")
	}
	delete(by, "grand")
	if !parentMayGo("parent", by["parent"], by) {
		t.Fatal("parent kept after grand is gone and its child is past its start")
	}
	delete(by, "child")
	if parentMayGo("parent", by["parent"], by) {
		t.Fatal("parent may go while a child has no lease")
	}
}

// legacyCoordinator is a coordinator store that also holds a leader item
// of an earlier Shardwise version (see legacy.go).
type legacyCoordinator struct {
	leases.CoordinatorStore
	leader, session string // the legacy item's leader; "" once deleted
	present         bool
	calls           int
}

func (l *legacyCoordinator) RemoveLegacyLeader(ctx context.Context, held func(ctx context.Context, leader, session string) (bool, error)) (bool, error) {
	l.calls++
	if !l.present {
		return false, nil
	}
	alive, err := held(ctx, l.leader, l.session)
	if err != nil || alive {
		return true, err
	}
	l.present = false
	return false, nil
}

// TestLegacyLeaderItemRemovedOnceItsLeaderIsGone: the leader deletes the
// leader item an earlier version left under the Java KCL's key only once
// the worker session it names is gone, and then stops looking.
func TestLegacyLeaderItemRemovedOnceItsLeaderIsGone(t *testing.T) {
	ctx := context.Background()
	st := leases.NewMemoryStores()
	for _, w := range []leases.WorkerRecord{{ID: "w1", SessionID: "s1"}, {ID: "old", SessionID: "old-s"}} {
		if _, err := st.Workers.Register(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	lc := &legacyCoordinator{CoordinatorStore: st.Coordinator, leader: "old", session: "old-s", present: true}
	c, err := NewCoordinator(CoordinatorConfig{
		WorkerID: "w1", Session: fixedSession{"s1"},
		Leases: st.Leases, Workers: st.Workers, Coordinator: lc,
		FailoverTime: 10 * time.Second, ScanInterval: time.Second, AssignmentInterval: 5 * time.Second,
		HandoffTimeout: 10 * time.Second, BalanceEvery: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.tick(ctx, true)
	if !c.IsLeader() || !lc.present || lc.calls != 1 {
		t.Fatalf("with its old leader registered: present %v after %d calls (leader %v)", lc.present, lc.calls, c.IsLeader())
	}
	if err := st.Workers.Deregister(ctx, "old", "old-s"); err != nil {
		t.Fatal(err)
	}
	c.tick(ctx, true)
	if lc.present {
		t.Fatal("legacy leader item kept after its leader deregistered")
	}
	c.tick(ctx, true)
	if lc.calls != 2 {
		t.Fatalf("looked %d times; want no look after it was settled", lc.calls)
	}
}
