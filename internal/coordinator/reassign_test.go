package coordinator

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/balancer"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/session"
	"github.com/shardwise/shardwise/leases"
)

// listCounter counts the lease table reads and fails the next ones while
// failNext is positive.
type listCounter struct {
	leases.Store
	lists    atomic.Int64
	failNext atomic.Int64
}

func (s *listCounter) List(ctx context.Context) ([]leases.Lease, error) {
	s.lists.Add(1)
	if s.failNext.Add(-1) >= 0 {
		return nil, errors.New("reassign test: lease table read failed")
	}
	return s.Store.List(ctx)
}

// TestDeadWorkersLeasesMoveAtTheNextScan: a worker's death is a change
// that forces an assignment run at the first scan that sees it, so its
// leases move about one failover time after its last heartbeat, not at the
// leader's next periodic run. The periodic run is set far away here
// (AssignmentInterval ten failover times) so that only the death can
// prompt the run: the leases must move within FailoverTime plus two scans
// (the leader first saw the last heartbeat up to a scan after it was
// written, and notices the death at the next scan), even when the run of
// the scan that sees the death fails (its lease table read fails: the
// change still forces the next scan's run). Between changes the leader
// reads no lease table; the run that moves the leases reports them
// (stats, OnAssign), and the dead worker's record is removed two failover
// times after its death once it owns nothing.
func TestDeadWorkersLeasesMoveAtTheNextScan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			failover  = 10 * time.Second
			heartbeat = failover / 2
			scan      = failover / 10
		)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st := leases.NewMemoryStores()
		lc := &listCounter{Store: st.Leases}
		var assigned atomic.Int64
		held := map[string][]string{
			"leader": {"shard-0", "shard-1"},
			"live":   {"shard-2", "shard-3"},
			"doomed": {"shard-4", "shard-5"},
		}
		sessions := map[string]*session.Session{}
		for id, keys := range held {
			for _, k := range keys {
				if _, err := st.Leases.Create(ctx, leases.Lease{Key: k, Owner: id, Checkpoint: consumer.TrimHorizon}); err != nil {
					t.Fatal(err)
				}
			}
			s, err := session.StartSession(ctx, session.SessionConfig{
				Store: st.Workers, WorkerID: id, FailoverTime: failover, HeartbeatInterval: heartbeat, FenceMargin: failover / 5,
				Load: func(r *leases.WorkerRecord) {
					r.LeaseThroughput = map[string]float64{}
					for _, k := range keys {
						r.LeaseThroughput[k] = 1
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			sessions[id] = s
		}
		defer func() {
			for _, s := range sessions {
				_ = s.Close(context.Background())
			}
		}()
		c, err := NewCoordinator(CoordinatorConfig{
			WorkerID: "leader", Session: sessions["leader"],
			Leases: lc, Workers: st.Workers, Coordinator: st.Coordinator,
			FailoverTime: failover, ScanInterval: scan, AssignmentInterval: 10 * failover,
			HandoffTimeout: failover, BalanceEvery: 3,
			OnAssign: func(_ []balancer.Move, applied int) { assigned.Add(int64(applied)) },
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); c.Run(ctx) }()
		defer func() { cancel(); <-done }()

		owner := func(key string) string {
			l, err := st.Leases.Get(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			return l.Owner
		}
		// Past the first assignment runs (every worker seen alive).
		time.Sleep(2 * failover)
		if s := c.Stats(); !s.IsLeader || s.Workers != 3 {
			t.Fatalf("leader %v sees %d live workers, want 3", s.IsLeader, s.Workers)
		}
		// Steady state: no lease table read between changes.
		reads := lc.lists.Load()
		time.Sleep(failover / 2)
		if n := lc.lists.Load() - reads; n != 0 {
			t.Fatalf("the leader read the lease table %d times in %v with nothing changed", n, failover/2)
		}
		sessions["doomed"].Abandon()
		stopped := time.Now()
		limit := failover + 3*scan // one scan more: the first run fails
		// The run of the scan that sees the death (the first lease table
		// read from now on) fails.
		lc.failNext.Store(1)
		for owner("shard-4") == "doomed" || owner("shard-5") == "doomed" {
			if time.Since(stopped) > limit+failover {
				break
			}
			time.Sleep(scan / 10)
		}
		took := time.Since(stopped)
		t.Logf("the dead worker's leases moved %v after its last heartbeat loop stopped (failover %v, scan %v)", took, failover, scan)
		if took > limit {
			t.Fatalf("the dead worker's leases moved %v after it stopped heartbeating, want at most FailoverTime + 3 scans = %v (its death did not force an assignment run, or a failed run was not retried at the next scan)", took, limit)
		}
		if s := c.Stats(); s.ExpiredLeases != 2 || s.Reassignments < 2 || s.Workers != 2 {
			t.Fatalf("stats after the move: %+v, want 2 expired leases, at least 2 reassignments, 2 live workers", s)
		}
		if assigned.Load() < 2 {
			t.Fatalf("OnAssign was told of %d moves, want at least 2", assigned.Load())
		}
		// Two failover times after its death, owning nothing, the dead
		// worker's record is removed at a run (a live worker joining
		// prompts one), not before.
		join := func(id string) {
			if _, err := st.Workers.Register(ctx, leases.WorkerRecord{ID: id, SessionID: "j"}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * scan)
		}
		join("joiner-1")
		if _, err := st.Workers.Get(ctx, "doomed"); err != nil {
			t.Fatalf("the dead worker's record was removed about one failover time after its death, want two: %v", err)
		}
		time.Sleep(2 * failover)
		join("joiner-2")
		if _, err := st.Workers.Get(ctx, "doomed"); !errors.Is(err, leases.ErrNotFound) {
			t.Fatalf("the dead worker's record is still there: %v", err)
		}
		for _, k := range held["doomed"] {
			// Any live worker may hold it by now: joiners get their share.
			if o := owner(k); o == "doomed" || o == "" {
				t.Fatalf("lease %s owned by %q after its owner died", k, o)
			}
		}
	})
}
