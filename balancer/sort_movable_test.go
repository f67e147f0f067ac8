package balancer

import (
	"math"
	"slices"
	"testing"
)

// sortMovable puts a donor's movable leases largest first whatever order
// they arrive in, ties in lease order: balancing walks them in that order
// and shedding pops the smallest off the end.
func TestSortMovableIsLargestFirstFromAnyOrder(t *testing.T) {
	units := []float64{3, 1, 2, 2, 5}
	for _, in := range [][]int32{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {1, 4, 0, 3, 2}, {3, 2, 1, 0, 4}} {
		p := &planner{mode: modeThroughput}
		for _, u := range units {
			p.leases = append(p.leases, pLease{units: u})
		}
		w := &pWorker{movable: slices.Clone(in)}
		p.sortMovable(w)
		if want := []int32{4, 0, 2, 3, 1}; !slices.Equal(w.movable, want) {
			t.Errorf("sortMovable(%v) = %v, want %v (units %v: largest first, ties in lease order)", in, w.movable, want, units)
		}
	}
}

// A MaxCPU the planner cannot use (zero, negative, NaN, +Inf) is read as
// 100, so in CPU mode every worker has a finite ceiling (byHeadroom relies
// on it: all ceilings infinite, or none).
func TestLiveWorkersReadUnusableMaxCPUAs100(t *testing.T) {
	for _, m := range []float64{0, -5, math.NaN(), math.Inf(1)} {
		ws := liveWorkers([]WorkerLoad{{ID: "w", CPU: 10, MaxCPU: m}})
		if len(ws) != 1 || ws[0].maxLoad != 100 {
			t.Errorf("MaxCPU %v: ceiling %v, want 100", m, ws[0].maxLoad)
		}
	}
	if ws := liveWorkers([]WorkerLoad{{ID: "w", CPU: 10, MaxCPU: 70}}); ws[0].maxLoad != 70 {
		t.Errorf("MaxCPU 70: ceiling %v", ws[0].maxLoad)
	}
}
