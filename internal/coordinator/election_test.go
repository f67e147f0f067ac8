package coordinator

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/leases"
)

// ctlSession is a session whose fencing the test switches.
type ctlSession struct {
	id     string
	fenced atomic.Bool
}

func (s *ctlSession) ID() string { return s.id }
func (s *ctlSession) Fence() error {
	if s.fenced.Load() {
		return errors.New("election test: fenced")
	}
	return nil
}

// TestElection drives the election step by step (tick, as Run's loop
// does, under a fake clock): a free item is claimed; a fenced leader steps
// down and leads again once alive; an item naming this worker id with an
// earlier session is claimed anew; a watcher never claims while the
// leader's heartbeat moves, claims one failover time after it stopped,
// and at once when the leader's record is gone or belongs to a new
// session; Release frees the item so the next scan claims it. Survivors
// of make mutants-auto.
func TestElection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const failover = 10 * time.Second
		ctx := context.Background()
		st := leases.NewMemoryStores()
		newCoord := func(id string, s *ctlSession) *Coordinator {
			c, err := NewCoordinator(CoordinatorConfig{
				WorkerID: id, Session: s, Leases: st.Leases, Workers: st.Workers, Coordinator: st.Coordinator,
				FailoverTime: failover, ScanInterval: time.Second, AssignmentInterval: failover / 2,
				HandoffTimeout: failover, BalanceEvery: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		leader := func() leases.LeaderRecord {
			r, err := st.Coordinator.GetLeader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		register := func(id, session string) leases.WorkerRecord {
			r, err := st.Workers.Register(ctx, leases.WorkerRecord{ID: id, SessionID: session})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}

		// An item naming w1 with an earlier session: w1's new session
		// claims it (a new epoch), it does not just take it as its own.
		if _, err := st.Coordinator.ClaimLeader(ctx, 0, "w1", "old"); err != nil {
			t.Fatal(err)
		}
		before := leader()
		s1 := &ctlSession{id: "s1"}
		w1rec := register("w1", "s1")
		c1 := newCoord("w1", s1)
		c1.tick(ctx, false)
		if r := leader(); !c1.IsLeader() || r.SessionID != "s1" || r.Epoch <= before.Epoch {
			t.Fatalf("w1's new session: leader %v, item %+v (was %+v), want a claim by s1", c1.IsLeader(), r, before)
		}

		// Fenced, w1 steps down; alive again, the item still names its
		// session and it leads again without a claim.
		s1.fenced.Store(true)
		c1.tick(ctx, false)
		if c1.IsLeader() {
			t.Fatal("a fenced worker still leads")
		}
		s1.fenced.Store(false)
		epoch := leader().Epoch
		c1.tick(ctx, false)
		if !c1.IsLeader() || leader().Epoch != epoch {
			t.Fatalf("w1 alive again: leader %v, epoch %d (was %d), want leading under the same item", c1.IsLeader(), leader().Epoch, epoch)
		}

		// w2 watches w1. While w1's heartbeat moves, w2 never claims.
		register("w2", "s2")
		c2 := newCoord("w2", &ctlSession{id: "s2"})
		for range 3 * int(failover/time.Second) {
			c2.tick(ctx, false)
			if c2.IsLeader() || leader().Leader != "w1" {
				t.Fatalf("w2 claimed from a live leader: item %+v", leader())
			}
			time.Sleep(time.Second)
			var err error
			if w1rec, err = st.Workers.Heartbeat(ctx, w1rec); err != nil {
				t.Fatal(err)
			}
		}
		// w1's heartbeat stops: w2 claims one failover time after it first
		// saw the last one, not before.
		c2.tick(ctx, false)
		stopped := time.Now()
		for !c2.IsLeader() {
			if time.Since(stopped) > 2*failover {
				t.Fatalf("w2 never claimed from a dead leader: item %+v", leader())
			}
			time.Sleep(time.Second)
			c2.tick(ctx, false)
		}
		// Scans are a second apart in fake time, from the one that saw the
		// last heartbeat: the claim comes at the scan the failover time
		// after it, exactly.
		if took := time.Since(stopped); took != failover {
			t.Fatalf("w2 claimed %v after it saw w1's last heartbeat, want at the failover time %v", took, failover)
		}

		// w2 leads; w1 (alive, its session intact) sees another leader.
		c1.tick(ctx, false)
		if c1.IsLeader() {
			t.Fatal("w1 still leads after w2 claimed")
		}

		// w2's record is re-registered by a new session (w2 restarted and
		// does not lead): w1 claims at once.
		register("w2", "s2-new")
		c1.tick(ctx, false)
		if !c1.IsLeader() || leader().Leader != "w1" {
			t.Fatalf("leader restarted as a new session: w1 leader %v, item %+v, want w1 claiming at once", c1.IsLeader(), leader())
		}

		// w1 releases leadership: the item is free and w2 (a new
		// coordinator of its new session) claims at its next scan.
		c1.Release(ctx)
		if c1.IsLeader() || leader().Leader != "" {
			t.Fatalf("after Release: w1 leader %v, item %+v, want a free item", c1.IsLeader(), leader())
		}
		c1.Release(ctx) // not leading: nothing to release
		if leader().Leader != "" {
			t.Fatalf("a second Release changed the item: %+v", leader())
		}
		c2b := newCoord("w2", &ctlSession{id: "s2-new"})
		c2b.tick(ctx, false)
		if !c2b.IsLeader() {
			t.Fatalf("w2 did not claim the released item: %+v", leader())
		}

		// w2's record disappears (it deregistered): w1 claims at once.
		if err := st.Workers.Deregister(ctx, "w2", "s2-new"); err != nil {
			t.Fatal(err)
		}
		c1.tick(ctx, false)
		if !c1.IsLeader() {
			t.Fatalf("leader deregistered: w1 did not claim at once: %+v", leader())
		}
	})
}
