package balancer

import (
	"fmt"
	"testing"
)

// The load-floor guard projects the fleet's mean CPU after a move from
// each side's CPU per KB/s: the donor's share of the lease leaves, the
// receiver's arrives. A move whose projection crosses the floor is not
// made; one whose projection stays on the run's side is.
func TestFloorGuardProjectsBothSidesOfAMove(t *testing.T) {
	leasesOf := func(owner string, n int) []LeaseInfo {
		var ls []LeaseInfo
		for i := range n {
			ls = append(ls, LeaseInfo{Key: fmt.Sprintf("%s-%d", owner, i), Owner: owner, ThroughputKBps: 100})
		}
		return ls
	}
	for _, tc := range []struct {
		name     string
		cpu1     float64 // w1, the donor; w2 the receiver, two leases each
		cpu2     float64
		wantMove bool
	}{
		// Mean 11: moving 100 KB/s from w1 (0.1 %/KB/s) to w2 (clamped
		// 0.01375) projects a mean of 6.7, across the floor of 10.
		{"crossing the floor", 20, 2, false},
		// Mean 14: the same move projects 13, still above the floor.
		{"staying above the floor", 20, 8, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := planInput{
				leases:  append(leasesOf("w1", 2), leasesOf("w2", 2)...),
				workers: []WorkerLoad{workerAt("w1", tc.cpu1), workerAt("w2", tc.cpu2)},
				cfg:     PlanConfig{BalanceVariance: true, DampeningPercent: 100},
			}
			moves := checkPlan(t, sc)
			moved := len(moves) > 0
			if moved != tc.wantMove {
				t.Fatalf("plan:\n%s\nwant a move: %v", fmtMoves(moves), tc.wantMove)
			}
			for _, m := range moves {
				if m.From != "w1" || m.To != "w2" {
					t.Errorf("move %+v, want w1 -> w2", m)
				}
			}
		})
	}
}
