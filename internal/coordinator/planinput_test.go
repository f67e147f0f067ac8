package coordinator

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/leases"
)

// newPlanFleet is a fleet for one leader run: leases (owner "" for none)
// and the workers' records as given.
func newPlanFleet(t *testing.T, owners map[string]string, workers ...leases.WorkerRecord) *electFleet {
	t.Helper()
	f := newElectFleet(t)
	for key, owner := range owners {
		f.lease(key, owner)
	}
	for _, w := range workers {
		f.registerRecord(w)
	}
	return f
}

// A lease whose key the worker does not consume (Accept refuses it:
// another stream's, a malformed key) is never assigned; the ones it
// accepts are.
func TestLeaderAssignsOnlyAcceptedLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newPlanFleet(t, map[string]string{"mine-0": "", "mine-1": "", "theirs-0": "", "theirs-1": ""},
			leases.WorkerRecord{ID: "w1", LeaseThroughput: map[string]float64{}},
			leases.WorkerRecord{ID: "w2", LeaseThroughput: map[string]float64{}})
		c := f.coordinatorWith("w1", func(c *CoordinatorConfig) {
			c.Accept = func(key string) bool { return strings.HasPrefix(key, "mine-") }
		})
		f.beat("w1", "w2")
		c.tick(f.ctx, false)
		got := f.owners()
		t.Logf("owners after the run: %v", got)
		for key, owner := range got {
			if accepted := strings.HasPrefix(key, "mine-"); accepted != (owner != "") {
				t.Errorf("lease %s has owner %q after the run; want an owner exactly for the accepted leases", key, owner)
			}
		}
	})
}

// The leases of a draining worker are left to it (it hands them on
// itself): the leader neither takes them nor starts hand-offs of them,
// although the draining worker is not among the workers it plans for.
func TestLeaderLeavesADrainingWorkersLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		owners := map[string]string{}
		running := map[string]float64{}
		for i := range 4 {
			k := fmt.Sprintf("shard-%d", i)
			owners[k], running[k] = "w1", 1
		}
		f := newPlanFleet(t, owners,
			leases.WorkerRecord{ID: "w1", LeaseThroughput: running, Draining: true},
			leases.WorkerRecord{ID: "w2", LeaseThroughput: map[string]float64{}})
		c := f.coordinator("w2")
		f.beat("w1", "w2")
		c.tick(f.ctx, false)
		got := f.owners()
		t.Logf("owners after the run: %v", got)
		for key, owner := range got {
			if owner != "w1" {
				t.Errorf("lease %s of the draining worker is now %q; the leader must leave it to w1", key, owner)
			}
		}
	})
}

// A CPU figure from a heartbeat older than three quarters of the failover
// time (one was missed) predates the last moves and is not acted on: the
// same 90%-against-10% fleet that a fresh figure rebalances is left alone
// while the busy worker's figure is stale.
func TestLeaderIgnoresStaleCPUFigures(t *testing.T) {
	const failover = electFailover
	for _, tc := range []struct {
		age   time.Duration // of w1's figure at the run
		stale bool
	}{
		{0, false},
		{failover / 2, false},     // one heartbeat interval
		{failover * 3 / 4, false}, // the bound itself
		{failover * 8 / 10, true}, // a heartbeat missed
	} {
		stale := tc.stale
		t.Run(fmt.Sprintf("age=%v", tc.age), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				owners := map[string]string{}
				run := map[string]map[string]float64{"w1": {}, "w2": {}}
				for i := range 8 {
					k := fmt.Sprintf("shard-%d", i)
					w := []string{"w1", "w2"}[i%2]
					owners[k], run[w][k] = w, 100
				}
				f := newPlanFleet(t, owners,
					leases.WorkerRecord{ID: "w1", LeaseThroughput: run["w1"], Stats: map[string][]float64{kclschema.MetricCPU: {90}}},
					leases.WorkerRecord{ID: "w2", LeaseThroughput: run["w2"], Stats: map[string][]float64{kclschema.MetricCPU: {10}}})
				// Variance is balanced on every second run: the first
				// (where this worker becomes leader and sees both fresh
				// heartbeats) does not, the second does.
				c := f.coordinatorWith("w2", func(c *CoordinatorConfig) { c.BalanceEvery = 2 })
				f.beat("w1", "w2")
				c.tick(f.ctx, false)
				if got := c.Stats().AssignmentRuns; got != 1 {
					t.Fatalf("%d assignment runs after the first tick, want 1", got)
				}
				// Then w1's figure ages (w1 is alive throughout): the
				// run comes tc.age after w1's last heartbeat, at 0.8 of
				// the failover time after the first run.
				// The leader's scans observe heartbeats as they change;
				// this one sees w1's last.
				time.Sleep(failover*8/10 - tc.age)
				f.beat("w1")
				ws, err := f.st.Workers.List(f.ctx)
				if err != nil {
					t.Fatal(err)
				}
				c.obs.observeAll(time.Now(), ws)
				time.Sleep(tc.age)
				f.beat("w2")
				c.tick(f.ctx, false)
				got := f.owners()
				n := 0
				for _, o := range got {
					if strings.HasSuffix(o, "w2") {
						n++
					}
				}
				t.Logf("stale=%v: owners after the run %v", stale, got)
				if moved := n != 4; moved == stale {
					t.Errorf("stale=%v: %d leases on w2 after the run; want a move exactly when w1's 90%% figure is fresh", stale, n)
				}
			})
		})
	}
}
