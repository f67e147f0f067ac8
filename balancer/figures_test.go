package balancer

import (
	"math"
	"testing"
)

// Figures that say nothing about which worker is busier are read as
// unknown: an infinite CPU figure, and one CPU figure shared by both
// workers of a two-worker fleet (a host's reading). Each fleet then plans
// exactly as with no CPU figures at all (here: by throughput, the first
// worker's 600 KB/s against the second's 200).
func TestPlanUnusableCPUFiguresAsUnknown(t *testing.T) {
	leases := joinLeases(ownedLeases("a", "w1", 6, 100), ownedLeases("b", "w2", 2, 100))
	cfg := PlanConfig{BalanceVariance: true, DampeningPercent: 100}
	want := fmtMoves(checkPlan(t, planInput{leases: leases, workers: unmeasuredWorkers("w1", "w2"), cfg: cfg}))
	if want == fmtMoves(nil) {
		t.Fatal("the fleet without CPU figures plans no move; the cases below would prove nothing")
	}
	for name, ws := range map[string][]WorkerLoad{
		"infinite CPU":            {workerAt("w1", math.Inf(1)), workerAt("w2", -1)},
		"the same CPU on both":    {workerAt("w1", 60), workerAt("w2", 60)},
		"the same CPU, w2 capped": {{ID: "w1", CPU: 60}, {ID: "w2", CPU: 60, MaxCPU: 95}},
	} {
		if got := fmtMoves(checkPlan(t, planInput{leases: leases, workers: ws, cfg: cfg})); got != want {
			t.Errorf("%s: plan\n%s\nwant the plan without CPU figures\n%s", name, got, want)
		}
	}
}

// Repeated lease keys far apart in a long list: the first occurrence wins
// (a sort of more than a handful of leases must keep their input order).
func TestPlanRepeatedKeyFarApartFirstWins(t *testing.T) {
	var leases []LeaseInfo
	for i := range 60 {
		leases = append(leases, LeaseInfo{Key: leaseKey("x", i), Owner: "w1"})
	}
	leases = append(leases[:5], append([]LeaseInfo{{Key: "k", Owner: "dead"}}, leases[5:]...)...)
	leases = append(leases, LeaseInfo{Key: "k", Owner: "w1"})
	moved := false
	for _, m := range checkPlan(t, planInput{leases: leases, workers: unmeasuredWorkers("w1", "w2")}) {
		if m.Key == "k" {
			moved = true
			if m.From != "dead" {
				t.Errorf("move %v: the lease's first occurrence (owner dead) must win", m)
			}
		}
	}
	if !moved {
		t.Error("no move of k: its first occurrence, a dead worker's lease, must be taken over")
	}
}

// Count balancing stops taking from a worker once it has no movable lease
// left, however full its pinned leases (hand-offs under way) keep it.
func TestPlanCountsStopAtPinnedLeases(t *testing.T) {
	leases := []LeaseInfo{{Key: "m", Owner: "w1"}}
	for i := range 5 {
		leases = append(leases, LeaseInfo{Key: leaseKey("p", i), Owner: "w1", HandoffPending: true})
	}
	moves := checkPlan(t, planInput{leases: leases, workers: unmeasuredWorkers("w1", "w2")})
	if len(moves) != 1 || moves[0].Key != "m" || moves[0].To != "w2" {
		t.Errorf("plan\n%s\nwant the one movable lease moved to w2", fmtMoves(moves))
	}
}
