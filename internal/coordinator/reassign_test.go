package coordinator

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/session"
	"github.com/shardwise/shardwise/leases"
)

// TestDeadWorkersLeasesMoveAtTheNextScan: a worker's death is a change
// that forces an assignment run at the first scan that sees it, so its
// leases move about one failover time after its last heartbeat, not at the
// leader's next periodic run. The periodic run is set far away here
// (AssignmentInterval ten failover times) so that only the death can
// prompt the run: the leases must move within FailoverTime plus two scans
// (the leader first saw the last heartbeat up to a scan after it was
// written, and notices the death at the next scan).
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
			Leases: st.Leases, Workers: st.Workers, Coordinator: st.Coordinator,
			FailoverTime: failover, ScanInterval: scan, AssignmentInterval: 10 * failover,
			HandoffTimeout: failover, BalanceEvery: 3,
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
		sessions["doomed"].Abandon()
		stopped := time.Now()
		limit := failover + 2*scan
		for owner("shard-4") == "doomed" || owner("shard-5") == "doomed" {
			if time.Since(stopped) > limit+failover {
				break
			}
			time.Sleep(scan / 10)
		}
		took := time.Since(stopped)
		t.Logf("the dead worker's leases moved %v after its last heartbeat loop stopped (failover %v, scan %v)", took, failover, scan)
		if took > limit {
			t.Fatalf("the dead worker's leases moved %v after it stopped heartbeating, want at most FailoverTime + 2 scans = %v (its death did not force an assignment run)", took, limit)
		}
		for _, k := range held["doomed"] {
			if o := owner(k); o != "leader" && o != "live" {
				t.Fatalf("lease %s owned by %q after its owner died", k, o)
			}
		}
	})
}
