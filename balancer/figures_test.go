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

// A quiet fleet (mean CPU under the 10% floor) is planned by counts,
// except when a worker is above its MaxCPU: then CPU balancing runs, the
// overloaded worker sheds, and differences of less than a point (the
// noise floor) still move nothing: w2, 0.8 above the mean, keeps its
// leases although it is above the 10% threshold line.
func TestPlanQuietFleetWithAnOverloadedWorker(t *testing.T) {
	// Mean 5.25, line max(5.25*1.1, 5.25+1) = 6.25. w3 and w4 cost 0.01
	// a KB/s, so a 100 KB/s lease would take either to about 5.2: a move
	// from w2 would be feasible, were w2 a donor.
	leases := joinLeases(ownedLeases("a", "w1", 2, 100), ownedLeases("b", "w2", 2, 100), ownedLeases("c", "w3", 4, 100), ownedLeases("d", "w4", 4, 100))
	workers := []WorkerLoad{{ID: "w1", CPU: 7, MaxCPU: 5}, workerAt("w2", 5.8), workerAt("w3", 4), workerAt("w4", 4.2)}
	moves := checkPlan(t, planInput{leases: leases, workers: workers, cfg: PlanConfig{BalanceVariance: true, DampeningPercent: 100}})
	shed := false
	for _, m := range moves {
		switch m.From {
		case "w1":
			shed = true
		case "w2":
			t.Errorf("move %v: w2 is within the noise floor of the line", m)
		}
	}
	if !shed {
		t.Errorf("plan\n%s\nwant w1, above its MaxCPU, to shed a lease", fmtMoves(moves))
	}
}

// Over the lease cap, the fullest worker sheds first: with room for only
// two leases (on w3), both come from w2 (6 leases, cap 3), not w1 (5).
func TestPlanOverCapFullestShedsFirst(t *testing.T) {
	leases := joinLeases(ownedLeases("a", "w1", 5, 0), ownedLeases("b", "w2", 6, 0), ownedLeases("c", "w3", 1, 0), ownedLeases("d", "w4", 3, 0))
	moves := checkPlan(t, planInput{leases: leases, workers: unmeasuredWorkers("w1", "w2", "w3", "w4"), cfg: PlanConfig{MaxLeasesForWorker: 3}})
	if len(moves) != 2 {
		t.Fatalf("plan\n%s\nwant two moves (w3 has room for two)", fmtMoves(moves))
	}
	for _, m := range moves {
		if m.From != "w2" || m.Reason != ReasonOverMax {
			t.Errorf("move %v, want the fullest worker w2 to shed over the cap", m)
		}
	}
}

// A worker over the cap sheds only its movable leases; pinned ones (hand-
// offs under way) keep it over the cap until they complete.
func TestPlanOverCapShedsOnlyMovableLeases(t *testing.T) {
	leases := ownedLeases("a", "w1", 2, 0)
	for i := range 3 {
		leases = append(leases, LeaseInfo{Key: leaseKey("p", i), Owner: "w1", HandoffPending: true})
	}
	moves := checkPlan(t, planInput{leases: leases, workers: unmeasuredWorkers("w1", "w2", "w3"), cfg: PlanConfig{MaxLeasesForWorker: 2}})
	if len(moves) != 2 {
		t.Errorf("plan\n%s\nwant the two movable leases moved", fmtMoves(moves))
	}
}

// A worker above its MaxCPU sheds even when the move takes the fleet's
// mean CPU across the 10% floor; the same fleet without a MaxCPU keeps
// its side of the floor (the floor guard: a move that crosses it would be
// undone by the next run's count balancing).
func TestPlanOverMaxCPUShedsAcrossTheFloor(t *testing.T) {
	leases := joinLeases(ownedLeases("a", "w1", 2, 100), ownedLeases("b", "w2", 2, 100), ownedLeases("c", "w3", 2, 100), ownedLeases("d", "w4", 2, 100))
	cfg := PlanConfig{BalanceVariance: true, DampeningPercent: 100}
	for _, maxCPU := range []float64{40, 0} {
		// Mean 10.325; moving 100 KB/s from w1 (0.205 a KB/s) to an idle
		// worker (about 0.005) projects a mean of about 5.3.
		workers := []WorkerLoad{{ID: "w1", CPU: 41, MaxCPU: maxCPU}, workerAt("w2", 0.1), workerAt("w3", 0.1), workerAt("w4", 0.1)}
		moves := checkPlan(t, planInput{leases: leases, workers: workers, cfg: cfg})
		shed := len(moves) > 0 && moves[0].From == "w1"
		if want := maxCPU > 0; shed != want {
			t.Errorf("MaxCPU %v: plan\n%s\nwant w1 to shed: %v", maxCPU, fmtMoves(moves), want)
		}
	}
}

// The floor guard projects each move on top of the moves before it in the
// run: from a mean of 11.25, each 100 KB/s lease moved from w1 (3 points)
// to an idle worker (1.25 points) lowers the mean by 0.4375, so the third
// would cross the floor, and only two are made although the dampened
// budget allows six.
func TestPlanFloorGuardCountsEarlierMovesOfTheRun(t *testing.T) {
	leases := joinLeases(ownedLeases("a", "w1", 10, 100), ownedLeases("b", "w2", 4, 100), ownedLeases("c", "w3", 4, 100), ownedLeases("d", "w4", 4, 100))
	workers := []WorkerLoad{workerAt("w1", 30), workerAt("w2", 5), workerAt("w3", 5.01), workerAt("w4", 5.02)}
	moves := checkPlan(t, planInput{leases: leases, workers: workers, cfg: PlanConfig{BalanceVariance: true, DampeningPercent: 100}})
	if len(moves) != 2 {
		t.Errorf("plan\n%s\nwant two moves from w1, the third crossing the floor", fmtMoves(moves))
	}
}

// A fresh worker gets its share from the workers that can give: one whose
// leases are all pinned (hand-offs under way), however much it holds, is
// passed over, not the end of the search.
func TestPlanFreshWorkerPassesOverPinnedHolders(t *testing.T) {
	leases := ownedLeases("b", "w2", 4, 100)
	for i := range 6 {
		leases = append(leases, LeaseInfo{Key: leaseKey("p", i), Owner: "w1", ThroughputKBps: 100, HandoffPending: true})
	}
	moves := checkPlan(t, planInput{leases: leases, workers: unmeasuredWorkers("w1", "w2", "w3"), cfg: PlanConfig{DampeningPercent: 100}})
	got := 0
	for _, m := range moves {
		if m.To == "w3" && m.From == "w2" {
			got++
		}
	}
	if got == 0 {
		t.Errorf("plan\n%s\nwant the fresh w3 to get leases from w2 (w1's are all pinned)", fmtMoves(moves))
	}
}
