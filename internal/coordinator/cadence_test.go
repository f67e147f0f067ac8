package coordinator

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

// Load variance is balanced on every BalanceEvery-th assignment run only
// (the Java KCL's varianceBalancingFrequency): two workers with equal
// lease counts but CPU 90% against 10% see no move in runs 1 and 2, and
// one in run 3.
func TestVarianceBalancingRunsEveryNthAssignment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			failover = 10 * time.Second
			interval = failover / 2
		)
		ctx := context.Background()
		st := leases.NewMemoryStores()
		running := map[string]map[string]float64{"w1": {}, "w2": {}}
		for i := range 8 {
			key := fmt.Sprintf("shard-%d", i)
			owner := "w1"
			if i%2 == 1 {
				owner = "w2"
			}
			if _, err := st.Leases.Create(ctx, leases.Lease{Key: key, Checkpoint: consumer.TrimHorizon}); err != nil {
				t.Fatal(err)
			}
			l, err := st.Leases.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Leases.Take(ctx, l, owner); err != nil {
				t.Fatal(err)
			}
			running[owner][key] = 100
		}
		cpu := map[string]float64{"w1": 90, "w2": 10}
		recs := map[string]leases.WorkerRecord{}
		for _, id := range []string{"w1", "w2"} {
			r, err := st.Workers.Register(ctx, leases.WorkerRecord{
				ID: id, SessionID: id + "-s", LeaseThroughput: running[id],
				Stats: map[string][]float64{kclschema.MetricCPU: {cpu[id]}},
			})
			if err != nil {
				t.Fatal(err)
			}
			recs[id] = r
		}
		c, err := NewCoordinator(CoordinatorConfig{
			WorkerID: "w1", Session: fixedSession{"w1-s"},
			Leases: st.Leases, Workers: st.Workers, Coordinator: st.Coordinator,
			FailoverTime: failover, ScanInterval: time.Second, AssignmentInterval: interval,
			HandoffTimeout: failover, BalanceEvery: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		owned := func() map[string]int {
			all, err := st.Leases.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := map[string]int{}
			for _, l := range all {
				n[l.Owner]++
			}
			return n
		}
		for run := 1; run <= 3; run++ {
			for _, id := range []string{"w1", "w2"} {
				if recs[id], err = st.Workers.Heartbeat(ctx, recs[id]); err != nil {
					t.Fatal(err)
				}
			}
			before := c.Stats().AssignmentRuns
			c.tick(ctx, false)
			if got := c.Stats().AssignmentRuns; got != before+1 {
				t.Fatalf("run %d: assignment runs %d -> %d, want one run per tick", run, before, got)
			}
			n := owned()
			t.Logf("run %d: leases per owner %v", run, n)
			if moved := n["w2"] != 4; moved != (run == 3) {
				t.Fatalf("run %d: leases per owner %v; want the 90%%-CPU worker to give a lease on run 3 only (BalanceEvery 3)", run, n)
			}
			time.Sleep(interval)
		}
	})
}
