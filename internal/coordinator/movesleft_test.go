package coordinator

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// lostHandoffs refuses the first fails StartHandoff calls with
// ErrConditionFailed, as a checkpoint bumping the lease's counter between
// the leader's read and its write does under traffic.
type lostHandoffs struct {
	leases.Store
	fails atomic.Int32
}

func (s *lostHandoffs) StartHandoff(ctx context.Context, l leases.Lease, to string) (leases.Lease, error) {
	if s.fails.Add(-1) >= 0 {
		return leases.Lease{}, fmt.Errorf("shardwise: injected lost compare-and-set: %w", leases.ErrConditionFailed)
	}
	return s.Store.StartHandoff(ctx, l, to)
}

// A run whose graceful moves all lost their compare-and-set (every retry
// of each) plans again at the next scan, not an AssignmentInterval later:
// a worker joining a busy fleet gets its share within a scan or two of
// the lost run.
func TestLostMovesAreRetriedAtTheNextScan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			failover = 10 * time.Second
			scan     = time.Second
			interval = failover / 2
		)
		ctx := context.Background()
		st := leases.NewMemoryStores()
		store := &lostHandoffs{Store: st.Leases}
		for i := range 4 {
			key := fmt.Sprintf("shard-%d", i)
			if _, err := st.Leases.Create(ctx, leases.Lease{Key: key, Checkpoint: consumer.TrimHorizon}); err != nil {
				t.Fatal(err)
			}
			l, err := st.Leases.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Leases.Take(ctx, l, "w1"); err != nil {
				t.Fatal(err)
			}
		}
		// w1 runs all four (its heartbeat lists them), so moves to w2
		// are graceful hand-offs.
		running := map[string]map[string]float64{"w1": {"shard-0": 1, "shard-1": 1, "shard-2": 1, "shard-3": 1}, "w2": {}}
		recs := map[string]leases.WorkerRecord{}
		for _, id := range []string{"w1", "w2"} {
			r, err := st.Workers.Register(ctx, leases.WorkerRecord{ID: id, SessionID: id + "-s", LeaseThroughput: running[id]})
			if err != nil {
				t.Fatal(err)
			}
			recs[id] = r
		}
		c, err := NewCoordinator(CoordinatorConfig{
			WorkerID: "w1", Session: fixedSession{"w1-s"},
			Leases: store, Workers: st.Workers, Coordinator: st.Coordinator,
			FailoverTime: failover, ScanInterval: scan, AssignmentInterval: interval,
			HandoffTimeout: failover, BalanceEvery: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		beat := func() {
			for _, id := range []string{"w1", "w2"} {
				if recs[id], err = st.Workers.Heartbeat(ctx, recs[id]); err != nil {
					t.Fatal(err)
				}
			}
		}
		// The first run (both workers seen at once) plans two graceful
		// moves to w2, and every one of them loses, all retries included.
		store.fails.Store(1000)
		beat()
		c.tick(ctx, false)
		if store.fails.Load() == 1000 {
			t.Fatal("the run planned no graceful move to the idle worker")
		}
		if s := c.Stats(); s.Reassignments != 0 {
			t.Fatalf("stats %+v: a move was written although every StartHandoff failed", s)
		}
		store.fails.Store(0)
		lost := time.Now()
		var took time.Duration
		for took < 2*interval {
			time.Sleep(scan)
			beat()
			c.tick(ctx, false)
			took = time.Since(lost)
			all, err := st.Leases.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			moving := 0
			for _, l := range all {
				if l.Owner == "w2" {
					moving++
				}
			}
			if moving > 0 {
				break
			}
		}
		t.Logf("moves lost at %v planned again and written %v later (scan %v, assignment interval %v)", lost, took, scan, interval)
		if took > 2*scan {
			t.Fatalf("the lost moves were written %v after the run that lost them, want within two scans (%v): they waited for the periodic run", took, 2*scan)
		}
	})
}
