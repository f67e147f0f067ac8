package balancer

import (
	"fmt"
	"testing"
)

// TestPlanLoadModeShedsTheSmallestFirst: in load mode a donor whose
// dampened budget fits none of its leases sheds its smallest lease,
// whatever the order of its leases in the input (the donor's movable
// leases are sorted largest first, ties by input order, and shedding takes
// from the small end).
func TestPlanLoadModeShedsTheSmallestFirst(t *testing.T) {
	// Many leases, their throughputs scrambled in input order.
	var ls []LeaseInfo
	for i := range 60 {
		ls = append(ls, LeaseInfo{Key: fmt.Sprintf("w1-%02d", i), Owner: "w1", ThroughputKBps: float64(10 + (i*37)%60)})
	}
	ls = append(ls, LeaseInfo{Key: "w2-0", Owner: "w2", ThroughputKBps: 10}, LeaseInfo{Key: "w3-0", Owner: "w3", ThroughputKBps: 10})
	smallest := ls[0]
	for _, l := range ls[:60] {
		if l.ThroughputKBps < smallest.ThroughputKBps {
			smallest = l
		}
	}
	sc := planInput{
		leases:  ls,
		workers: []WorkerLoad{workerAt("w1", 90), workerAt("w2", 30), workerAt("w3", 30)},
		cfg:     PlanConfig{BalanceVariance: true, DampeningPercent: 1},
	}
	moves := checkPlan(t, sc)
	if len(moves) != 1 || moves[0].Key != smallest.Key || moves[0].From != "w1" {
		t.Fatalf("plan:\n%s\nwant one move of the smallest lease %s (%v KB/s) from w1", fmtMoves(moves), smallest.Key, smallest.ThroughputKBps)
	}
}
