package coordinator

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/session"
	"github.com/shardwise/shardwise/leases"
)

// skewedClocks is the worker table as the leader reads it when some
// workers' clocks are wrong: each record's LastUpdate (written by the
// worker, on its own clock) is off by that worker's skew.
type skewedClocks struct {
	leases.WorkerStore
	mu   sync.Mutex // guards skew
	skew map[string]time.Duration
}

func (s *skewedClocks) set(id string, d time.Duration) {
	s.mu.Lock()
	s.skew[id] = d
	s.mu.Unlock()
}

// of is the skew of worker id's clock.
func (s *skewedClocks) of(id string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skew[id]
}

func (s *skewedClocks) skewed(r leases.WorkerRecord) leases.WorkerRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.LastUpdate = r.LastUpdate.Add(s.skew[r.ID])
	return r
}

func (s *skewedClocks) List(ctx context.Context) ([]leases.WorkerRecord, error) {
	rs, err := s.WorkerStore.List(ctx)
	for i := range rs {
		rs[i] = s.skewed(rs[i])
	}
	return rs, err
}

func (s *skewedClocks) Get(ctx context.Context, id string) (leases.WorkerRecord, error) {
	r, err := s.WorkerStore.Get(ctx, id)
	return s.skewed(r), err
}

// TestLivenessIgnoresWorkersWallClocks: the leader judges a worker by its
// own observation of the worker's heartbeat counter, never by the
// LastUpdate timestamp the worker wrote. A worker whose clock runs minutes
// behind keeps its leases while it heartbeats; a worker whose clock jumped
// minutes ahead loses them one failover time after it stops heartbeating.
func TestLivenessIgnoresWorkersWallClocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			failover  = 10 * time.Second
			heartbeat = failover / 2
			scan      = failover / 10
		)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st := leases.NewMemoryStores()
		view := &skewedClocks{WorkerStore: st.Workers, skew: map[string]time.Duration{
			"slow": -5 * time.Minute, // its clock runs five minutes behind
		}}
		held := map[string][]string{
			"leader": {"shard-0", "shard-1"},
			"slow":   {"shard-2", "shard-3"},
			"jumper": {"shard-4", "shard-5"},
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
				// Each worker runs the leases it holds (so the leader
				// sees them started and leaves them be).
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
			Leases: st.Leases, Workers: view, Coordinator: st.Coordinator,
			FailoverTime: failover, ScanInterval: scan, AssignmentInterval: failover / 2,
			HandoffTimeout: failover, BalanceEvery: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); c.Run(ctx) }()
		defer func() { cancel(); <-done }()

		owners := func() map[string]string {
			all, err := st.Leases.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]string{}
			for _, l := range all {
				out[l.Key] = l.Owner
			}
			return out
		}
		// Every worker heartbeats; the one that runs five minutes behind
		// and the one that is about to jump ahead keep their leases for
		// many failover times.
		for i := range 6 {
			time.Sleep(failover / 2)
			for id, keys := range held {
				for _, k := range keys {
					if o := owners()[k]; o != id {
						t.Fatalf("after %v: lease %s moved from %s (heartbeating, LastUpdate read %v off) to %q",
							time.Duration(i+1)*failover/2, k, id, view.of(id), o)
					}
				}
			}
			if st := c.Stats(); !st.IsLeader || st.Workers != 3 {
				t.Fatalf("after %v: leader %v sees %d live workers, want 3", time.Duration(i+1)*failover/2, st.IsLeader, st.Workers)
			}
		}

		// The jumper's clock jumps ten minutes ahead, then the worker stops
		// heartbeating (its process hangs). The timestamp it left says it
		// was alive minutes from now; the counter says it stopped.
		view.set("jumper", 10*time.Minute)
		time.Sleep(heartbeat)
		sessions["jumper"].Abandon()
		stopped := time.Now()
		for i := 0; ; i++ {
			o := owners()
			if o["shard-4"] != "jumper" && o["shard-5"] != "jumper" {
				break
			}
			if i >= 40 {
				t.Fatalf("%v after the jumper stopped heartbeating it still holds its leases: %v (live workers seen: %d)",
					time.Since(stopped), o, c.Stats().Workers)
			}
			time.Sleep(scan)
		}
		took := time.Since(stopped)
		// The last heartbeat was sent at most one interval before the
		// stop; the leader waits a full failover time from when it saw it
		// (a scan later at most), and its death forces an assignment run
		// at the next scan (TestDeadWorkersLeasesMoveAtTheNextScan).
		if took < failover-heartbeat || took > failover+2*scan {
			t.Fatalf("the jumper's leases moved %v after it stopped heartbeating, want about the failover time %v", took, failover)
		}
		for k, o := range owners() {
			if o != "leader" && o != "slow" {
				t.Fatalf("lease %s owned by %q after the jumper died", k, o)
			}
		}
		if st := c.Stats(); st.Workers != 2 {
			t.Fatalf("leader sees %d live workers after the jumper died, want 2", st.Workers)
		}
	})
}
