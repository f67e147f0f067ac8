package balancer

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/shardwise/shardwise/consumer"
)

// ---------------------------------------------------------------------------
// Input helpers

// planInput is one input to Plan.
type planInput struct {
	leases  []LeaseInfo
	workers []WorkerLoad
	cfg     PlanConfig
}

func (sc planInput) clone() planInput {
	return planInput{leases: slices.Clone(sc.leases), workers: slices.Clone(sc.workers), cfg: sc.cfg}
}

func leaseKey(prefix string, i int) string { return fmt.Sprintf("%s-%04d", prefix, i) }

// ownedLeases returns n leases named prefix-0000... owned by owner, each with the
// given throughput.
func ownedLeases(prefix, owner string, n int, tp float64) []LeaseInfo {
	out := make([]LeaseInfo, n)
	for i := range out {
		out[i] = LeaseInfo{Key: leaseKey(prefix, i), Owner: owner, ThroughputKBps: tp}
	}
	return out
}

func joinLeases(parts ...[]LeaseInfo) []LeaseInfo { return slices.Concat(parts...) }

// unmeasuredWorkers returns workers with no CPU figure.
func unmeasuredWorkers(ids ...string) []WorkerLoad {
	out := make([]WorkerLoad, len(ids))
	for i, id := range ids {
		out[i] = WorkerLoad{ID: id, CPU: -1}
	}
	return out
}

func workerAt(id string, c float64) WorkerLoad { return WorkerLoad{ID: id, CPU: c} }

// applyMoves returns the input after the moves were written and every hand-off
// completed.
func applyMoves(sc planInput, moves []Move) planInput {
	out := sc.clone()
	to := make(map[string]string, len(moves))
	for _, m := range moves {
		to[m.Key] = m.To
	}
	done := make(map[string]bool, len(moves))
	for i := range out.leases {
		l := &out.leases[i]
		if t, ok := to[l.Key]; ok && !done[l.Key] {
			l.Owner = t
			done[l.Key] = true
		}
	}
	return out
}

// leaseCounts returns the unfinished leases held by each live worker.
func leaseCounts(sc planInput) map[string]int {
	f := planFactsOf(sc)
	return f.before
}

func leaseCountList(sc planInput) []int {
	f := planFactsOf(sc)
	out := make([]int, 0, len(f.ids))
	for _, id := range f.ids {
		out = append(out, f.before[id])
	}
	return out
}

// ---------------------------------------------------------------------------
// The invariant checker
//
// planFacts is the test's own reading of a planInput, derived from Plan's
// documented contract rather than from its code.
type planFacts struct {
	ids    []string        // live workers, first occurrence, sorted
	live   map[string]bool // live worker ids
	lease  map[string]LeaseInfo
	keys   []string // first occurrences, sorted
	max    int
	before map[string]int // unfinished leases (pinned included) per live worker
	mode   string         // "count", "throughput" or "cpu"
	// load is each live worker's load before the plan, where the test can
	// know it without the planner's estimates: every worker measured in
	// CPU mode, or throughput mode. Nil otherwise.
	load map[string]float64
	// units is the throughput each live worker holds before the plan
	// (unknown leases weigh the mean).
	units map[string]float64
	// floorGuard: the fleet has CPU figures, so balancing stops short of
	// moves that would carry its mean CPU across the load floor.
	floorGuard bool
}

func planFactsOf(sc planInput) planFacts {
	f := planFacts{live: map[string]bool{}, lease: map[string]LeaseInfo{}, before: map[string]int{}}
	f.max = max(sc.cfg.MaxLeasesForWorker, 0)
	cpuOf := map[string]float64{}
	for _, w := range sc.workers {
		if w.ID == "" || f.live[w.ID] {
			continue
		}
		f.live[w.ID] = true
		f.ids = append(f.ids, w.ID)
		c := w.CPU
		if !(c >= 0) || math.IsInf(c, 0) {
			c = -1
		}
		cpuOf[w.ID] = c
		f.before[w.ID] = 0
	}
	sort.Strings(f.ids)
	// Identical readings from two or more workers are no signal.
	var known []float64
	for _, id := range f.ids {
		if cpuOf[id] >= 0 {
			known = append(known, cpuOf[id])
		}
	}
	if len(known) >= 2 && slices.Min(known) == slices.Max(known) {
		for _, id := range f.ids {
			cpuOf[id] = -1
		}
	}
	for _, l := range sc.leases {
		if _, dup := f.lease[l.Key]; dup {
			continue
		}
		f.lease[l.Key] = l
		f.keys = append(f.keys, l.Key)
	}
	sort.Strings(f.keys)

	var knownSum float64
	var knownN int
	for _, k := range f.keys {
		l := f.lease[k]
		if !l.Finished && l.ThroughputKBps > 0 && !math.IsInf(l.ThroughputKBps, 0) {
			knownSum += l.ThroughputKBps
			knownN++
		}
	}
	unknown := 1.0
	if knownN > 0 {
		unknown = knownSum / float64(knownN)
	}
	units := map[string]float64{}
	for _, k := range f.keys {
		l := f.lease[k]
		if l.Finished || !f.live[l.Owner] {
			continue
		}
		f.before[l.Owner]++
		u := l.ThroughputKBps
		if !(u > 0) || math.IsInf(u, 0) {
			u = unknown
		}
		units[l.Owner] += u
	}
	f.units = units
	anyCPU, allCPU, overOpr := false, true, false
	var cpuSum, cpuAll float64
	cpuN := 0
	for _, w := range sc.workers {
		if c := cpuOf[w.ID]; c >= 0 && w.ID != "" {
			mx := w.MaxCPU
			if !(mx > 0) {
				mx = 100
			}
			overOpr = overOpr || c > mx
		}
	}
	for _, id := range f.ids {
		if cpuOf[id] >= 0 {
			anyCPU = true
			cpuAll += cpuOf[id]
			cpuN++
			if units[id] > 0 {
				cpuSum += cpuOf[id]
			}
		} else {
			allCPU = false
		}
	}
	f.floorGuard = anyCPU && cpuSum > 0 && !overOpr
	switch {
	case anyCPU && cpuSum > 0 && (cpuAll/float64(cpuN) >= cpuLoadFloor || overOpr):
		f.mode = "cpu"
		if allCPU {
			f.load = cpuOf
		}
	case anyCPU && cpuSum > 0:
		f.mode = "count" // below the load floor
	case (anyCPU || knownN > 0) && knownSum/float64(len(f.ids)) >= throughputLoadFloor:
		f.mode = "throughput"
		f.load = units
	default:
		f.mode = "count"
	}
	return f
}

func (f planFacts) placeableOrphan(l LeaseInfo) bool {
	return !l.Finished && !l.HandoffPending && !f.live[l.Owner]
}

func (f planFacts) movable(l LeaseInfo) bool {
	return !l.Finished && !l.HandoffPending && f.live[l.Owner]
}

// planViolations returns every broken invariant of moves as a plan for sc.
func planViolations(sc planInput, moves []Move) []string {
	f := planFactsOf(sc)
	var v []string
	bad := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }

	if len(f.live) == 0 && len(moves) > 0 {
		bad("%d moves with no live worker", len(moves))
	}
	seen := map[string]bool{}
	gained, lost := map[string]bool{}, map[string]bool{}
	after := maps.Clone(f.before)
	overMax := map[string]int{}
	for _, m := range moves {
		l, ok := f.lease[m.Key]
		switch {
		case !ok:
			bad("move of unknown lease: %v", m)
			continue
		case seen[m.Key]:
			bad("lease moved twice: %v", m)
			continue
		}
		seen[m.Key] = true
		if l.Finished {
			bad("finished lease moved: %v", m)
		}
		if l.HandoffPending {
			bad("lease with a pending hand-off moved: %v", m)
		}
		if m.From != l.Owner {
			bad("From %q is not the lease's owner %q: %v", m.From, l.Owner, m)
		}
		if !f.live[m.To] {
			bad("To is not a live worker: %v", m)
		}
		if m.To == m.From {
			bad("move to its own owner: %v", m)
		}
		fromLive := f.live[m.From]
		if m.Graceful != fromLive {
			bad("Graceful = %v but From alive = %v: %v", m.Graceful, fromLive, m)
		}
		switch {
		case m.From == "":
			if m.Reason != ReasonUnassigned {
				bad("unowned lease moved for %q: %v", m.Reason, m)
			}
		case !fromLive:
			if m.Reason != ReasonOwnerDead {
				bad("dead owner's lease moved for %q: %v", m.Reason, m)
			}
		default:
			// Stickiness: a lease on a live worker moves only for a
			// balancing reason the mode and config allow.
			switch m.Reason {
			case ReasonOverMax:
				overMax[m.From]++
			case ReasonRebalanceCount:
				if f.mode != "count" {
					bad("count rebalance in %s mode: %v", f.mode, m)
				}
			case ReasonRebalanceLoad:
				if f.before[m.To] == 0 && f.mode != "count" {
					// Filling a fresh worker: on any run, by throughput
					// (by count in CPU mode).
					if f.mode == "cpu" {
						break
					}
					if !(f.units[m.From] > f.units[m.To]) {
						bad("fill of a fresh worker from one holding %v KB/s to one holding %v: %v", f.units[m.From], f.units[m.To], m)
					}
					break
				}
				if f.mode == "count" || !sc.cfg.BalanceVariance {
					bad("load rebalance in %s mode, BalanceVariance=%v: %v", f.mode, sc.cfg.BalanceVariance, m)
				}
				if f.load != nil && !(f.load[m.From] > f.load[m.To]) {
					bad("load rebalance from a worker at %v to one at %v: %v", f.load[m.From], f.load[m.To], m)
				}
			default:
				bad("live owner's lease moved for %q: %v", m.Reason, m)
			}
			after[m.From]--
			lost[m.From] = true
		}
		if f.live[m.To] {
			after[m.To]++
			gained[m.To] = true
		}
	}

	for w := range gained {
		if lost[w] {
			bad("worker %s both gives and receives leases", w)
		}
		if f.max > 0 && after[w] > f.max {
			bad("worker %s given leases up to %d, above max %d", w, after[w], f.max)
		}
	}
	for w, n := range overMax {
		if f.max == 0 || f.before[w]-n < f.max {
			bad("worker %s shed %d leases as over-max from %d with max %d", w, n, f.before[w], f.max)
		}
	}

	// Nothing lost: every placeable orphan is placed unless no worker has
	// room for it.
	unplaced := 0
	for _, k := range f.keys {
		if l := f.lease[k]; f.placeableOrphan(l) && !seen[k] {
			unplaced++
		}
	}
	if unplaced > 0 && len(f.live) > 0 {
		if f.max == 0 {
			bad("%d orphans left unassigned with unlimited capacity", unplaced)
		}
		for _, id := range f.ids {
			if after[id] < f.max {
				bad("%d orphans left unassigned while %s holds %d < max %d", unplaced, id, after[id], f.max)
			}
		}
	}

	// With CPU figures, count balancing may stop short at the load floor
	// (keepsFloorSide), so its fairness is only checked without them.
	if f.mode == "count" && len(f.live) > 0 && !f.floorGuard {
		v = append(v, countFairness(f, after, seen, len(moves))...)
	}
	return v
}

// countFairness checks count mode's result: no single move could still
// narrow the spread, the spread is at most one when nothing constrains it,
// and the number of moves is the minimum when nothing is pinned or capped.
func countFairness(f planFacts, after map[string]int, moved map[string]bool, nMoves int) []string {
	var v []string
	canGive := map[string]bool{}
	pinned := 0
	for _, k := range f.keys {
		l := f.lease[k]
		if f.movable(l) && !moved[k] {
			canGive[l.Owner] = true
		}
		if !l.Finished && l.HandoffPending && f.live[l.Owner] {
			pinned++
		}
	}
	for _, a := range f.ids {
		if !canGive[a] {
			continue
		}
		for _, b := range f.ids {
			if after[a] >= after[b]+2 && (f.max == 0 || after[b] < f.max) {
				v = append(v, fmt.Sprintf("count mode: %s holds %d and %s holds %d with room", a, after[a], b, after[b]))
			}
		}
	}
	total := 0
	for _, id := range f.ids {
		total += after[id]
	}
	if pinned == 0 && (f.max == 0 || total <= f.max*len(f.ids)) {
		lo, hi := math.MaxInt, math.MinInt
		for _, id := range f.ids {
			lo, hi = min(lo, after[id]), max(hi, after[id])
		}
		if hi-lo > 1 {
			v = append(v, fmt.Sprintf("count mode: spread %d..%d after the plan", lo, hi))
		}
	}
	if pinned == 0 && f.max == 0 {
		if want := minCountMoves(f); nMoves != want {
			v = append(v, fmt.Sprintf("count mode: %d moves, the minimum is %d", nMoves, want))
		}
	}
	return v
}

// minCountMoves is the least number of moves that places every orphan and
// leaves a spread of at most one, with no cap and nothing pinned: every
// orphan moves once, and the q+1 slots go to the workers holding most.
func minCountMoves(f planFacts) int {
	orphans, total := 0, 0
	hs := make([]int, 0, len(f.ids))
	for _, id := range f.ids {
		hs = append(hs, f.before[id])
		total += f.before[id]
	}
	for _, k := range f.keys {
		if f.placeableOrphan(f.lease[k]) {
			orphans++
		}
	}
	total += orphans
	sort.Sort(sort.Reverse(sort.IntSlice(hs)))
	q, r := total/len(hs), total%len(hs)
	n := orphans
	for i, h := range hs {
		t := q
		if i < r {
			t = q + 1
		}
		n += max(0, h-t)
	}
	return n
}

// checkPlan runs Plan on sc and fails t on any broken invariant. It also
// checks that Plan does not modify its input and that shuffling the input
// does not change the result.
func checkPlan(t testing.TB, sc planInput) []Move {
	t.Helper()
	orig := sc.clone()
	moves := Plan(sc.leases, sc.workers, sc.cfg)
	if fmt.Sprint(orig) != fmt.Sprint(sc) { // not DeepEqual: NaN != NaN
		t.Fatalf("Plan modified its input")
	}
	for _, msg := range planViolations(sc, moves) {
		t.Errorf("invariant: %s", msg)
	}
	shuffled := sc.clone()
	rng := rand.New(rand.NewPCG(uint64(len(sc.leases)), uint64(len(sc.workers))))
	rng.Shuffle(len(shuffled.leases), func(i, j int) {
		shuffled.leases[i], shuffled.leases[j] = shuffled.leases[j], shuffled.leases[i]
	})
	rng.Shuffle(len(shuffled.workers), func(i, j int) {
		shuffled.workers[i], shuffled.workers[j] = shuffled.workers[j], shuffled.workers[i]
	})
	// Only with unique keys and ids is the result independent of input
	// order (otherwise the first occurrence wins).
	if again := Plan(shuffled.leases, shuffled.workers, shuffled.cfg); uniqueInputs(sc) && !slices.Equal(again, moves) {
		t.Errorf("shuffled input gave a different plan:\n%s\nvs\n%s", fmtMoves(moves), fmtMoves(again))
	}
	if t.Failed() {
		t.Logf("plan:\n%s", fmtMoves(moves))
		t.FailNow()
	}
	return moves
}

// uniqueInputs reports whether keys and ids are unique.
func uniqueInputs(sc planInput) bool {
	ids := map[string]bool{}
	for _, w := range sc.workers {
		if ids[w.ID] {
			return false
		}
		ids[w.ID] = true
	}
	keys := map[string]bool{}
	for _, l := range sc.leases {
		if keys[l.Key] {
			return false
		}
		keys[l.Key] = true
	}
	return true
}

func fmtMoves(moves []Move) string {
	if len(moves) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, m := range moves {
		fmt.Fprintf(&b, "  %v\n", m)
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Convergence
//
// loadWorld is the truth the planner estimates: each worker's CPU is its
// baseline plus its own, hidden, cost per KB/s times the throughput it
// holds. A lease with no throughput figure costs what the planner assumes
// (the mean of the known figures, or 1 when there are none); with any other
// figure no planner could be right about it. Workers not in cost report no
// CPU figure.
type loadWorld struct {
	base, cost map[string]float64
}

func (w loadWorld) measure(sc planInput) planInput {
	out := sc.clone()
	var known float64
	var nKnown int
	for _, l := range sc.leases {
		if !l.Finished && l.ThroughputKBps > 0 && !math.IsInf(l.ThroughputKBps, 0) {
			known += l.ThroughputKBps
			nKnown++
		}
	}
	unknown := 1.0
	if nKnown > 0 {
		unknown = known / float64(nKnown)
	}
	held := map[string]float64{}
	for _, l := range sc.leases {
		if l.Finished {
			continue
		}
		u := l.ThroughputKBps
		if !(u > 0) || math.IsInf(u, 0) {
			u = unknown
		}
		held[l.Owner] += u
	}
	for i := range out.workers {
		id := out.workers[i].ID
		if c, ok := w.cost[id]; ok {
			// Independent measurements never coincide exactly; figures
			// that do are a shared reading, which the planner ignores
			// (identicalCPU). A worker's own tiny offset keeps this
			// world's quantized figures apart.
			out.workers[i].CPU = w.base[id] + c*held[id] + 1e-6*float64(i+1)
		} else {
			out.workers[i].CPU = -1
		}
	}
	return out
}

// convergePlans plans, applies and re-measures until a plan has no moves, with
// BalanceVariance on every run (the worst case: the leader acts on every
// run as if the figures had caught up). It fails t unless that takes at most
// maxRounds plans with moves, checks every plan's invariants, and checks
// that the fixed point stays one. It returns the number of plans that moved
// something and the final planInput.
func convergePlans(t testing.TB, sc planInput, w *loadWorld, maxRounds int) (int, planInput) {
	t.Helper()
	sc = sc.clone()
	sc.cfg.BalanceVariance = true
	if w != nil {
		sc = w.measure(sc)
	}
	for round := 0; ; round++ {
		moves := checkPlan(t, sc)
		if len(moves) == 0 {
			for range 2 {
				if again := Plan(sc.leases, sc.workers, sc.cfg); len(again) != 0 {
					t.Fatalf("fixed point after %d rounds did not hold:\n%s", round, fmtMoves(again))
				}
			}
			return round, sc
		}
		if round == maxRounds {
			t.Fatalf("no fixed point after %d rounds; still moving:\n%s", maxRounds, fmtMoves(moves))
		}
		sc = applyMoves(sc, moves)
		if w != nil {
			sc = w.measure(sc)
		}
	}
}

// ---------------------------------------------------------------------------
// Table tests

type planCase struct {
	name string
	sc   planInput
	// want is the exact plan expected (nil: no moves).
	want []Move
	// after, if set, is the expected count of leases per live worker
	// (sorted by id) once the plan is applied.
	after []int
	// skipWant: the case checks something other than the exact plan.
	skipWant bool
	check    func(t *testing.T, sc planInput, moves []Move)
}

func runCases(t *testing.T, cases []planCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			moves := checkPlan(t, tc.sc)
			if !tc.skipWant && !slices.Equal(moves, tc.want) {
				t.Errorf("plan:\n%s\nwant:\n%s", fmtMoves(moves), fmtMoves(tc.want))
			}
			if tc.after != nil {
				if got := leaseCountList(applyMoves(tc.sc, moves)); !slices.Equal(got, tc.after) {
					t.Errorf("leases per worker after the plan = %v, want %v", got, tc.after)
				}
			}
			if tc.check != nil {
				tc.check(t, tc.sc, moves)
			}
		})
	}
}

func wantMove(k, from, to string, reason Reason) Move {
	graceful := reason != ReasonUnassigned && reason != ReasonOwnerDead
	return Move{Key: k, From: from, To: to, Graceful: graceful, Reason: reason}
}

func TestPlanEmptyInputs(t *testing.T) {
	runCases(t, []planCase{
		{name: "nothing"},
		{name: "leases without workers", sc: planInput{leases: ownedLeases("s", "", 5, 0)}},
		{name: "leases of dead workers without workers", sc: planInput{leases: ownedLeases("s", "gone", 5, 3)}},
		{name: "workers without leases", sc: planInput{workers: unmeasuredWorkers("w1", "w2")}, after: []int{0, 0}},
		{name: "only finished leases", sc: planInput{
			leases:  []LeaseInfo{{Key: "a", Finished: true}, {Key: "b", Owner: "gone", Finished: true}},
			workers: unmeasuredWorkers("w1"),
		}, after: []int{0}},
		{name: "workers with empty ids only", sc: planInput{leases: ownedLeases("s", "", 3, 0), workers: unmeasuredWorkers("", "")}},
	})
}

func TestPlanAllUnowned(t *testing.T) {
	want := make([]Move, 0, 10)
	for i := range 10 {
		want = append(want, wantMove(leaseKey("s", i), "", fmt.Sprintf("w%d", i%3+1), ReasonUnassigned))
	}
	runCases(t, []planCase{
		{
			name:  "count mode: round robin by id",
			sc:    planInput{leases: ownedLeases("s", "", 10, 0), workers: unmeasuredWorkers("w1", "w2", "w3")},
			want:  want,
			after: []int{4, 3, 3},
		},
		{
			// First start of a measured fleet: nobody holds anything, so
			// CPU says nothing about what a lease costs; the leases are
			// spread by throughput, biggest first.
			name: "cpu figures but nothing held: spread by throughput",
			sc: planInput{
				leases: []LeaseInfo{
					{Key: "a", ThroughputKBps: 100}, {Key: "b", ThroughputKBps: 60},
					{Key: "c", ThroughputKBps: 50}, {Key: "d", ThroughputKBps: 40},
					{Key: "e", ThroughputKBps: 10},
				},
				workers: []WorkerLoad{workerAt("w1", 3), workerAt("w2", 8)},
			},
			// a(100)->w1; b(60)->w2; c(50)->w2 (60 < 100); d(40)->w1 (100 < 110); e(10)->w2 (110 < 140).
			want: []Move{
				wantMove("a", "", "w1", ReasonUnassigned), wantMove("b", "", "w2", ReasonUnassigned),
				wantMove("c", "", "w2", ReasonUnassigned), wantMove("d", "", "w1", ReasonUnassigned),
				wantMove("e", "", "w2", ReasonUnassigned),
			},
		},
		{
			name: "single worker takes everything",
			sc:   planInput{leases: ownedLeases("s", "", 4, 0), workers: unmeasuredWorkers("only")},
			want: []Move{
				wantMove(leaseKey("s", 0), "", "only", ReasonUnassigned), wantMove(leaseKey("s", 1), "", "only", ReasonUnassigned),
				wantMove(leaseKey("s", 2), "", "only", ReasonUnassigned), wantMove(leaseKey("s", 3), "", "only", ReasonUnassigned),
			},
		},
	})
}

func TestPlanDeadWorker(t *testing.T) {
	runCases(t, []planCase{
		{
			name: "dead worker's leases spread over the rest",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 3, 0), ownedLeases("b", "w2", 3, 0), ownedLeases("c", "w3", 3, 0), ownedLeases("d", "w4", 3, 0)),
				workers: unmeasuredWorkers("w1", "w2", "w3"),
			},
			want: []Move{
				wantMove(leaseKey("d", 0), "w4", "w1", ReasonOwnerDead),
				wantMove(leaseKey("d", 1), "w4", "w2", ReasonOwnerDead),
				wantMove(leaseKey("d", 2), "w4", "w3", ReasonOwnerDead),
			},
			after: []int{4, 4, 4},
		},
		{
			name: "dead worker's leases fill the emptiest first",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 5, 0), ownedLeases("b", "w2", 1, 0), ownedLeases("d", "dead", 4, 0)),
				workers: unmeasuredWorkers("w1", "w2"),
			},
			// w2 takes all four (1 -> 5); w1 never gives.
			want: []Move{
				wantMove(leaseKey("d", 0), "dead", "w2", ReasonOwnerDead),
				wantMove(leaseKey("d", 1), "dead", "w2", ReasonOwnerDead),
				wantMove(leaseKey("d", 2), "dead", "w2", ReasonOwnerDead),
				wantMove(leaseKey("d", 3), "dead", "w2", ReasonOwnerDead),
			},
			after: []int{5, 5},
		},
		{
			name: "dead and unowned together, then the count is evened out",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 6, 0), ownedLeases("d", "dead", 1, 0), ownedLeases("u", "", 1, 0)),
				workers: unmeasuredWorkers("w1", "w2", "w3"),
			},
			want: []Move{
				wantMove(leaseKey("d", 0), "dead", "w2", ReasonOwnerDead),
				wantMove(leaseKey("u", 0), "", "w3", ReasonUnassigned),
				wantMove(leaseKey("a", 5), "w1", "w2", ReasonRebalanceCount),
				wantMove(leaseKey("a", 4), "w1", "w3", ReasonRebalanceCount),
				wantMove(leaseKey("a", 3), "w1", "w2", ReasonRebalanceCount),
			},
			after: []int{3, 3, 2},
		},
		{
			name: "dead worker in load mode: most headroom first",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 4, 10), ownedLeases("b", "w2", 2, 10), ownedLeases("d", "dead", 2, 10)),
				workers: []WorkerLoad{workerAt("w1", 40), workerAt("w2", 20)},
			},
			// Both cost 1%/KBps; w2 at 20 takes one (30), then one more (40).
			want: []Move{
				wantMove(leaseKey("d", 0), "dead", "w2", ReasonOwnerDead),
				wantMove(leaseKey("d", 1), "dead", "w2", ReasonOwnerDead),
			},
		},
	})
}

func TestPlanWorkerJoins(t *testing.T) {
	three := joinLeases(ownedLeases("a", "w1", 4, 0), ownedLeases("b", "w2", 4, 0), ownedLeases("c", "w3", 4, 0))
	allGraceful := func(t *testing.T, _ planInput, moves []Move) {
		for _, m := range moves {
			if !m.Graceful || m.To != "w4" {
				t.Errorf("want graceful moves to w4, got %v", m)
			}
		}
	}
	runCases(t, []planCase{
		{
			name: "count mode: 3 -> 4 workers, 12 leases, exactly 3 graceful moves",
			sc:   planInput{leases: three, workers: unmeasuredWorkers("w1", "w2", "w3", "w4")},
			want: []Move{
				wantMove(leaseKey("a", 3), "w1", "w4", ReasonRebalanceCount),
				wantMove(leaseKey("b", 3), "w2", "w4", ReasonRebalanceCount),
				wantMove(leaseKey("c", 3), "w3", "w4", ReasonRebalanceCount),
			},
			after: []int{3, 3, 3, 3},
			check: allGraceful,
		},
		{
			name: "count mode balances without BalanceVariance too",
			sc: planInput{leases: three, workers: unmeasuredWorkers("w1", "w2", "w3", "w4"),
				cfg: PlanConfig{BalanceVariance: false}},
			skipWant: true, after: []int{3, 3, 3, 3}, check: allGraceful,
		},
		{
			// The new worker holds nothing: it is filled to its share of
			// the throughput (30 KB/s of 120) at once, one lease from each,
			// whatever its CPU figure.
			name: "cpu mode: 3 -> 4 workers sheds one lease each",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 4, 10), ownedLeases("b", "w2", 4, 10), ownedLeases("c", "w3", 4, 10)),
				workers: []WorkerLoad{workerAt("w1", 60), workerAt("w2", 60), workerAt("w3", 60), workerAt("w4", 5)},
				cfg:     PlanConfig{BalanceVariance: true},
			},
			want: []Move{
				wantMove(leaseKey("a", 0), "w1", "w4", ReasonRebalanceLoad),
				wantMove(leaseKey("b", 0), "w2", "w4", ReasonRebalanceLoad),
				wantMove(leaseKey("c", 0), "w3", "w4", ReasonRebalanceLoad),
			},
			after: []int{3, 3, 3, 3},
			check: allGraceful,
		},
		{
			// A fresh worker is filled on every run, not only on
			// BalanceVariance runs, and whatever its CPU figure says.
			name: "cpu mode without BalanceVariance: the new worker is filled",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 4, 10), ownedLeases("b", "w2", 4, 10), ownedLeases("c", "w3", 4, 10)),
				workers: []WorkerLoad{workerAt("w1", 60), workerAt("w2", 61), workerAt("w3", 59), workerAt("w4", 70)},
			},
			skipWant: true, after: []int{3, 3, 3, 3}, check: allGraceful,
		},
		{
			name: "throughput mode: 3 -> 4 workers",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 4, 100), ownedLeases("b", "w2", 4, 100), ownedLeases("c", "w3", 4, 100)),
				workers: unmeasuredWorkers("w1", "w2", "w3", "w4"),
			},
			want: []Move{
				wantMove(leaseKey("a", 0), "w1", "w4", ReasonRebalanceLoad),
				wantMove(leaseKey("b", 0), "w2", "w4", ReasonRebalanceLoad),
				wantMove(leaseKey("c", 0), "w3", "w4", ReasonRebalanceLoad),
			},
			after: []int{3, 3, 3, 3},
		},
		{
			// Below the load floor (100 KB/s per worker) only counts
			// matter.
			name: "quiet throughput mode: 3 -> 4 workers by count",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 4, 10), ownedLeases("b", "w2", 4, 10), ownedLeases("c", "w3", 4, 10)),
				workers: unmeasuredWorkers("w1", "w2", "w3", "w4"),
			},
			want: []Move{
				wantMove(leaseKey("a", 3), "w1", "w4", ReasonRebalanceCount),
				wantMove(leaseKey("b", 3), "w2", "w4", ReasonRebalanceCount),
				wantMove(leaseKey("c", 3), "w3", "w4", ReasonRebalanceCount),
			},
			after: []int{3, 3, 3, 3},
		},
		{
			name: "count mode: 1 -> 5 workers with 10 leases moves 8",
			sc: planInput{
				leases:  ownedLeases("a", "w1", 10, 0),
				workers: unmeasuredWorkers("w1", "w2", "w3", "w4", "w5"),
			},
			skipWant: true, after: []int{2, 2, 2, 2, 2},
			check: func(t *testing.T, _ planInput, moves []Move) {
				if len(moves) != 8 {
					t.Errorf("%d moves, want 8", len(moves))
				}
			},
		},
	})
}

func TestPlanMaxLeasesForWorker(t *testing.T) {
	runCases(t, []planCase{
		{
			name: "unowned beyond capacity stay unassigned",
			sc: planInput{leases: ownedLeases("s", "", 10, 0), workers: unmeasuredWorkers("w1", "w2", "w3"),
				cfg: PlanConfig{MaxLeasesForWorker: 3}},
			skipWant: true, after: []int{3, 3, 3},
			check: func(t *testing.T, _ planInput, moves []Move) {
				if len(moves) != 9 {
					t.Errorf("%d moves, want 9", len(moves))
				}
			},
		},
		{
			name: "a dead worker's leases with capacity short",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 2, 0), ownedLeases("b", "w2", 3, 0), ownedLeases("d", "dead", 4, 0)),
				workers: unmeasuredWorkers("w1", "w2"),
				cfg:     PlanConfig{MaxLeasesForWorker: 3},
			},
			want:  []Move{wantMove(leaseKey("d", 0), "dead", "w1", ReasonOwnerDead)},
			after: []int{3, 3},
		},
		{
			name: "over max sheds to room, then counts even out",
			sc: planInput{leases: ownedLeases("a", "w1", 6, 0), workers: unmeasuredWorkers("w1", "w2"),
				cfg: PlanConfig{MaxLeasesForWorker: 4}},
			want: []Move{
				wantMove(leaseKey("a", 5), "w1", "w2", ReasonOverMax),
				wantMove(leaseKey("a", 4), "w1", "w2", ReasonOverMax),
				wantMove(leaseKey("a", 3), "w1", "w2", ReasonRebalanceCount),
			},
			after: []int{3, 3},
		},
		{
			name: "over max with no room anywhere keeps its leases",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 6, 0), ownedLeases("b", "w2", 2, 0)),
				workers: unmeasuredWorkers("w1", "w2"),
				cfg:     PlanConfig{MaxLeasesForWorker: 2},
			},
			after: []int{6, 2},
		},
		{
			name: "over max in load mode sheds without BalanceVariance, smallest first",
			sc: planInput{
				leases: joinLeases(
					[]LeaseInfo{{Key: "big", Owner: "w1", ThroughputKBps: 50}, {Key: "mid", Owner: "w1", ThroughputKBps: 20},
						{Key: "small", Owner: "w1", ThroughputKBps: 5}},
					ownedLeases("b", "w2", 1, 10)),
				workers: []WorkerLoad{workerAt("w1", 75), workerAt("w2", 10)},
				cfg:     PlanConfig{MaxLeasesForWorker: 2},
			},
			want:  []Move{wantMove("small", "w1", "w2", ReasonOverMax)},
			after: []int{2, 2},
		},
		{
			// w1 is over max and overloaded; only w3 has room. w3 fills to
			// the cap with over-max moves; balancing then finds no room.
			name: "load mode with capacity short",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 9, 10), ownedLeases("b", "w2", 3, 10)),
				workers: []WorkerLoad{workerAt("w1", 90), workerAt("w2", 30), workerAt("w3", 0)},
				cfg:     PlanConfig{MaxLeasesForWorker: 3, BalanceVariance: true},
			},
			want: []Move{
				wantMove(leaseKey("a", 8), "w1", "w3", ReasonOverMax),
				wantMove(leaseKey("a", 7), "w1", "w3", ReasonOverMax),
				wantMove(leaseKey("a", 6), "w1", "w3", ReasonOverMax),
			},
			after: []int{6, 3, 3},
		},
		{
			name: "orphans take the room before over-max leases do",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 5, 0), ownedLeases("u", "", 2, 0)),
				workers: unmeasuredWorkers("w1", "w2"),
				cfg:     PlanConfig{MaxLeasesForWorker: 3},
			},
			want: []Move{
				wantMove(leaseKey("u", 0), "", "w2", ReasonUnassigned),
				wantMove(leaseKey("u", 1), "", "w2", ReasonUnassigned),
				wantMove(leaseKey("a", 4), "w1", "w2", ReasonOverMax),
			},
			after: []int{4, 3},
		},
		{
			name: "negative max means unlimited",
			sc: planInput{leases: ownedLeases("s", "", 4, 0), workers: unmeasuredWorkers("w1"),
				cfg: PlanConfig{MaxLeasesForWorker: -1}},
			skipWant: true, after: []int{4},
		},
	})
}

func TestPlanFinishedAndPendingLeases(t *testing.T) {
	runCases(t, []planCase{
		{
			name: "finished leases are never assigned",
			sc: planInput{
				leases: []LeaseInfo{
					{Key: "done-unowned", Finished: true},
					{Key: "done-dead", Owner: "dead", Finished: true},
					{Key: "live", Owner: "dead"},
				},
				workers: unmeasuredWorkers("w1"),
			},
			want: []Move{wantMove("live", "dead", "w1", ReasonOwnerDead)},
		},
		{
			name: "finished leases do not count towards a worker",
			sc: planInput{
				leases: joinLeases(
					[]LeaseInfo{{Key: "f1", Owner: "w1", Finished: true}, {Key: "f2", Owner: "w1", Finished: true},
						{Key: "f3", Owner: "w1", Finished: true}},
					ownedLeases("u", "", 2, 0)),
				workers: unmeasuredWorkers("w1", "w2"),
			},
			want: []Move{wantMove(leaseKey("u", 0), "", "w1", ReasonUnassigned), wantMove(leaseKey("u", 1), "", "w2", ReasonUnassigned)},
		},
		{
			name: "pending hand-offs are never moved, not even off a dead owner",
			sc: planInput{
				leases: []LeaseInfo{
					{Key: "p-dead", Owner: "dead", HandoffPending: true},
					{Key: "p-unowned", HandoffPending: true},
					{Key: "p1", Owner: "w1", HandoffPending: true},
					{Key: "p2", Owner: "w1", HandoffPending: true},
					{Key: "p3", Owner: "w1", HandoffPending: true},
					{Key: "p4", Owner: "w1", HandoffPending: true},
				},
				workers: unmeasuredWorkers("w1", "w2"),
			},
			after: []int{4, 0},
		},
		{
			name: "pending hand-offs count towards the new owner",
			sc: planInput{
				leases: joinLeases(
					[]LeaseInfo{{Key: "p1", Owner: "w1", HandoffPending: true}, {Key: "p2", Owner: "w1", HandoffPending: true}},
					ownedLeases("u", "", 2, 0)),
				workers: unmeasuredWorkers("w1", "w2"),
			},
			want: []Move{wantMove(leaseKey("u", 0), "", "w2", ReasonUnassigned), wantMove(leaseKey("u", 1), "", "w2", ReasonUnassigned)},
		},
		{
			name: "an overloaded worker keeps its pending and finished leases",
			sc: planInput{
				leases: joinLeases(
					[]LeaseInfo{{Key: "p", Owner: "w1", HandoffPending: true, ThroughputKBps: 10},
						{Key: "f", Owner: "w1", Finished: true, ThroughputKBps: 10},
						{Key: "m", Owner: "w1", ThroughputKBps: 10}},
					ownedLeases("b", "w2", 1, 10)),
				workers: []WorkerLoad{workerAt("w1", 90), workerAt("w2", 10)},
				cfg:     PlanConfig{BalanceVariance: true},
			},
			// w1 holds p and m (20 KB/s at 90%, so 45 points each); m is
			// more than the budget of 24 but it is the smallest movable
			// lease, and w2 ends at 20, far below w1.
			want: []Move{wantMove("m", "w1", "w2", ReasonRebalanceLoad)},
		},
	})
}

func TestPlanLoadMode(t *testing.T) {
	ninety := planInput{
		leases:  joinLeases(ownedLeases("a", "w1", 9, 10), ownedLeases("b", "w2", 3, 10), ownedLeases("c", "w3", 3, 10)),
		workers: []WorkerLoad{workerAt("w1", 90), workerAt("w2", 30), workerAt("w3", 30)},
		cfg:     PlanConfig{BalanceVariance: true},
	}
	loaded := func(c1, c2, c3 float64) planInput {
		sc := ninety.clone()
		sc.leases = joinLeases(ownedLeases("a", "w1", 10, 10), ownedLeases("b", "w2", 10, 10), ownedLeases("c", "w3", 10, 10))
		sc.workers = []WorkerLoad{workerAt("w1", c1), workerAt("w2", c2), workerAt("w3", c3)}
		return sc
	}
	runCases(t, []planCase{
		{
			// Average 50, excess 40, dampened budget 24 = two 10 KB/s
			// leases (1% per KB/s), one to each of the least loaded.
			name: "overloaded worker sheds the dampened amount",
			sc:   ninety,
			want: []Move{
				wantMove(leaseKey("a", 0), "w1", "w2", ReasonRebalanceLoad),
				wantMove(leaseKey("a", 1), "w1", "w3", ReasonRebalanceLoad),
			},
		},
		{
			name: "dampening 100 sheds the whole excess",
			sc: func() planInput {
				sc := ninety.clone()
				sc.cfg.DampeningPercent = 100
				return sc
			}(),
			skipWant: true, after: []int{5, 5, 5},
		},
		{
			name: "dampening above 100 acts as 100",
			sc: func() planInput {
				sc := ninety.clone()
				sc.cfg.DampeningPercent = 250
				return sc
			}(),
			skipWant: true, after: []int{5, 5, 5},
		},
		{
			name: "dampening 10 sheds one lease",
			sc: func() planInput {
				sc := ninety.clone()
				sc.cfg.DampeningPercent = 10
				return sc
			}(),
			// Budget 4 fits no lease: the smallest (of equals, the last by
			// key) goes.
			want: []Move{wantMove(leaseKey("a", 8), "w1", "w2", ReasonRebalanceLoad)},
		},
		{name: "within threshold: no move", sc: loaded(54, 50, 46)},
		{name: "just past the threshold: moves", sc: loaded(57, 50, 43),
			want: []Move{wantMove(leaseKey("a", 9), "w1", "w3", ReasonRebalanceLoad)}},
		{
			name: "a wider threshold holds the same fleet still",
			sc: func() planInput {
				sc := loaded(57, 50, 43)
				sc.cfg.ThresholdPercent = 20
				return sc
			}(),
		},
		{name: "idle fleet: noise below a point is ignored", sc: loaded(3, 2, 1)},
		{name: "all equal: no move", sc: loaded(40, 40, 40)},
		{name: "all idle: no move", sc: loaded(0, 0, 0)},
		{
			// Budget 24: the 30 does not fit, the 20 does; after it only
			// 4 is left, which nothing fits. One move rather than 15+5.
			name: "prefers the lease that best fits the excess",
			sc: planInput{
				leases: []LeaseInfo{
					{Key: "l30", Owner: "w1", ThroughputKBps: 30}, {Key: "l20", Owner: "w1", ThroughputKBps: 20},
					{Key: "l15", Owner: "w1", ThroughputKBps: 15}, {Key: "l10", Owner: "w1", ThroughputKBps: 10},
					{Key: "l05", Owner: "w1", ThroughputKBps: 5},
					{Key: "x", Owner: "w2", ThroughputKBps: 20}, {Key: "y", Owner: "w3", ThroughputKBps: 20},
				},
				workers: []WorkerLoad{workerAt("w1", 80), workerAt("w2", 20), workerAt("w3", 20)},
				cfg:     PlanConfig{BalanceVariance: true},
			},
			want: []Move{wantMove("l20", "w1", "w2", ReasonRebalanceLoad)},
		},
		{
			// Each lease is 30 points, more than the budget of 24; moving
			// one still takes the pair's maximum from 90 to 60.
			name: "a worker whose leases are all big still sheds one",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 3, 30), ownedLeases("b", "w2", 1, 30), ownedLeases("c", "w3", 1, 30)),
				workers: []WorkerLoad{workerAt("w1", 90), workerAt("w2", 30), workerAt("w3", 30)},
				cfg:     PlanConfig{BalanceVariance: true},
			},
			want: []Move{wantMove(leaseKey("a", 2), "w1", "w2", ReasonRebalanceLoad)},
		},
		{
			// Moving its only lease would leave w1 with no throughput to
			// judge its cost by; see the convergence tests.
			name: "a worker's last lease stays",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 1, 10), ownedLeases("b", "w2", 5, 10)),
				workers: []WorkerLoad{workerAt("w1", 90), workerAt("w2", 10)},
				cfg:     PlanConfig{BalanceVariance: true},
			},
		},
		{
			name: "a single big lease is not moved to swap roles",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 1, 60), ownedLeases("b", "w2", 1, 30)),
				workers: []WorkerLoad{workerAt("w1", 60), workerAt("w2", 30)},
				cfg:     PlanConfig{BalanceVariance: true},
			},
		},
		{
			// w1 is within the threshold (average 64.7, line 71.1) but
			// above its own limit of 60, so it sheds 5 KB/s to w2.
			name: "above MaxCPU sheds even within the threshold",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 14, 5), ownedLeases("b", "w2", 31, 2), ownedLeases("c", "w3", 31, 2)),
				workers: []WorkerLoad{{ID: "w1", CPU: 70, MaxCPU: 60}, workerAt("w2", 62), workerAt("w3", 62)},
				cfg:     PlanConfig{BalanceVariance: true},
			},
			want: []Move{wantMove(leaseKey("a", 0), "w1", "w2", ReasonRebalanceLoad)},
		},
		{
			name: "the same fleet without the limit holds still",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 14, 5), ownedLeases("b", "w2", 31, 2), ownedLeases("c", "w3", 31, 2)),
				workers: []WorkerLoad{workerAt("w1", 70), workerAt("w2", 62), workerAt("w3", 62)},
				cfg:     PlanConfig{BalanceVariance: true},
			},
		},
		{
			// w2 has most headroom by load but a limit of 35: taking a 10
			// point lease would put it over, so nothing moves to it.
			name: "a receiver is not pushed past its MaxCPU",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 9, 10), ownedLeases("b", "w2", 3, 10)),
				workers: []WorkerLoad{workerAt("w1", 90), {ID: "w2", CPU: 30, MaxCPU: 35}},
				cfg:     PlanConfig{BalanceVariance: true},
			},
		},
		{
			// Identical CPU figures are no signal (one host): throughput
			// decides, and it is equal too.
			name: "load balancing leaves count alone when figures are equal",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 8, 50), ownedLeases("b", "w2", 2, 200)),
				workers: []WorkerLoad{workerAt("w1", 40), workerAt("w2", 40)},
				cfg:     PlanConfig{BalanceVariance: true},
			},
		},
		{
			name: "throughput mode: hot leases spread",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 3, 300), ownedLeases("b", "w2", 3, 100)),
				workers: unmeasuredWorkers("w1", "w2"),
				cfg:     PlanConfig{BalanceVariance: true},
			},
			want: []Move{wantMove(leaseKey("a", 2), "w1", "w2", ReasonRebalanceLoad)},
		},
	})
}

func TestPlanMixedFleet(t *testing.T) {
	runCases(t, []planCase{
		{
			// The fleet costs 1% per KB/s (100% over 100 KB/s among w1 and
			// w2), so w3 with 20 KB/s and no figure is estimated at 20 and
			// receives w1's shed lease.
			name: "a worker without a figure is estimated from its throughput",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 6, 10), ownedLeases("b", "w2", 4, 10), ownedLeases("c", "w3", 2, 10)),
				workers: []WorkerLoad{workerAt("w1", 60), workerAt("w2", 40), {ID: "w3", CPU: -1}},
				cfg:     PlanConfig{BalanceVariance: true},
			},
			want: []Move{wantMove(leaseKey("a", 0), "w1", "w3", ReasonRebalanceLoad)},
		},
		{
			name: "a new worker without a figure joins a measured fleet",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 4, 10), ownedLeases("b", "w2", 4, 10)),
				workers: []WorkerLoad{workerAt("w1", 40), workerAt("w2", 41), {ID: "w3", CPU: -1}},
				cfg:     PlanConfig{BalanceVariance: true},
			},
			want: []Move{
				wantMove(leaseKey("a", 0), "w1", "w3", ReasonRebalanceLoad),
				wantMove(leaseKey("b", 0), "w2", "w3", ReasonRebalanceLoad),
			},
			after: []int{3, 3, 2},
		},
		{
			name: "unknown figures written as NaN or Inf count as unknown",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 4, 0), ownedLeases("b", "w2", 0, 0)),
				workers: []WorkerLoad{{ID: "w1", CPU: math.NaN()}, {ID: "w2", CPU: math.Inf(1)}},
			},
			skipWant: true, after: []int{2, 2},
			check: func(t *testing.T, sc planInput, moves []Move) {
				if m := planFactsOf(sc).mode; m != "count" {
					t.Errorf("mode %s, want count", m)
				}
				for _, m := range moves {
					if m.Reason != ReasonRebalanceCount {
						t.Errorf("reason %s, want %s", m.Reason, ReasonRebalanceCount)
					}
				}
			},
		},
		{
			// Only unmeasured workers hold leases: the measured figure says
			// nothing about lease cost, so throughput decides.
			name: "measured workers hold nothing: throughput mode",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 4, 100), ownedLeases("u", "", 2, 100)),
				workers: []WorkerLoad{{ID: "w1", CPU: -1}, workerAt("w2", 50)},
			},
			// w2 held nothing: after the orphans it is filled to half.
			want: []Move{wantMove(leaseKey("u", 0), "", "w2", ReasonUnassigned), wantMove(leaseKey("u", 1), "", "w2", ReasonUnassigned),
				wantMove(leaseKey("a", 0), "w1", "w2", ReasonRebalanceLoad)},
		},
		{
			name: "cpu figures with no throughput anywhere: a lease is a unit",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 6, 0), ownedLeases("b", "w2", 2, 0)),
				workers: []WorkerLoad{workerAt("w1", 60), workerAt("w2", 20)},
				cfg:     PlanConfig{BalanceVariance: true},
			},
			// 10% per lease; average 40, budget 12: one lease.
			want: []Move{wantMove(leaseKey("a", 0), "w1", "w2", ReasonRebalanceLoad)},
		},
		{
			// A worker reporting 0% while holding leases would look free
			// and take every orphan; its cost is clamped to a tenth of
			// the fleet's.
			name: "a worker reporting 0% does not swallow every orphan",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 4, 10), ownedLeases("b", "w2", 4, 10), ownedLeases("u", "", 100, 10)),
				workers: []WorkerLoad{workerAt("w1", 0), workerAt("w2", 40)},
			},
			skipWant: true,
			check: func(t *testing.T, sc planInput, moves []Move) {
				if c := leaseCounts(applyMoves(sc, moves)); c["w2"] <= 4 {
					t.Errorf("w2 got no orphan: %v", c)
				}
			},
		},
	})
}

func TestPlanDuplicatesAndBadValues(t *testing.T) {
	runCases(t, []planCase{
		{
			name: "repeated worker ids: the first wins",
			sc: planInput{
				leases:  ownedLeases("u", "", 2, 0),
				workers: []WorkerLoad{{ID: "w1", CPU: -1}, {ID: "w1", CPU: 50}, {ID: ""}, {ID: "w2", CPU: -1}},
			},
			want: []Move{wantMove(leaseKey("u", 0), "", "w1", ReasonUnassigned), wantMove(leaseKey("u", 1), "", "w2", ReasonUnassigned)},
		},
		{
			name: "repeated lease keys: the first wins",
			sc: planInput{
				leases:  []LeaseInfo{{Key: "k", Owner: "dead"}, {Key: "k", Owner: "w1"}, {Key: "k", Finished: true}},
				workers: unmeasuredWorkers("w1"),
			},
			want: []Move{wantMove("k", "dead", "w1", ReasonOwnerDead)},
		},
		{
			name: "negative and infinite throughput count as unknown",
			sc: planInput{
				leases: []LeaseInfo{{Key: "a", ThroughputKBps: -5}, {Key: "b", ThroughputKBps: math.Inf(1)},
					{Key: "c", ThroughputKBps: math.NaN()}},
				workers: unmeasuredWorkers("w1", "w2"),
			},
			want: []Move{wantMove("a", "", "w1", ReasonUnassigned), wantMove("b", "", "w2", ReasonUnassigned), wantMove("c", "", "w1", ReasonUnassigned)},
		},
		{
			name: "out of range config falls back to defaults",
			sc: func() planInput {
				sc := planInput{
					leases:  joinLeases(ownedLeases("a", "w1", 9, 10), ownedLeases("b", "w2", 3, 10), ownedLeases("c", "w3", 3, 10)),
					workers: []WorkerLoad{workerAt("w1", 90), workerAt("w2", 30), workerAt("w3", 30)},
					cfg:     PlanConfig{BalanceVariance: true, ThresholdPercent: math.NaN(), DampeningPercent: -3},
				}
				return sc
			}(),
			want: []Move{
				wantMove(leaseKey("a", 0), "w1", "w2", ReasonRebalanceLoad),
				wantMove(leaseKey("a", 1), "w1", "w3", ReasonRebalanceLoad),
			},
		},
	})
}

// TestPlanOutputOrder pins the order of moves: orphans, then over-max, then
// balancing; within each, the order decisions were made.
func TestPlanOutputOrder(t *testing.T) {
	sc := planInput{
		leases:  joinLeases(ownedLeases("a", "w1", 7, 0), ownedLeases("d", "dead", 1, 0), ownedLeases("u", "", 1, 0)),
		workers: unmeasuredWorkers("w1", "w2", "w3"),
		cfg:     PlanConfig{MaxLeasesForWorker: 5},
	}
	moves := checkPlan(t, sc)
	rank := map[Reason]int{ReasonUnassigned: 0, ReasonOwnerDead: 0, ReasonOverMax: 1, ReasonRebalanceCount: 2}
	if !slices.IsSortedFunc(moves, func(a, b Move) int { return rank[a.Reason] - rank[b.Reason] }) {
		t.Errorf("moves out of order:\n%s", fmtMoves(moves))
	}
	seen := map[Reason]bool{}
	for _, m := range moves {
		seen[m.Reason] = true
	}
	for _, r := range []Reason{ReasonOwnerDead, ReasonUnassigned, ReasonOverMax, ReasonRebalanceCount} {
		if !seen[r] {
			t.Errorf("planInput meant to produce a %s move produced none:\n%s", r, fmtMoves(moves))
		}
	}
}

func TestPlanCountMinimalMovesRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		nw := 1 + rng.IntN(7)
		ids := make([]string, nw)
		for j := range ids {
			ids[j] = fmt.Sprintf("w%d", j)
		}
		var ls []LeaseInfo
		for j := range rng.IntN(40) {
			owner := ""
			switch r := rng.IntN(nw + 2); {
			case r < nw:
				owner = ids[r]
			case r == nw:
				owner = "dead"
			}
			ls = append(ls, LeaseInfo{Key: leaseKey("k", j), Owner: owner})
		}
		sc := planInput{leases: ls, workers: unmeasuredWorkers(ids...)}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			moves := checkPlan(t, sc) // includes the minimum-moves check
			if next := Plan(applyMoves(sc, moves).leases, sc.workers, sc.cfg); len(next) != 0 {
				t.Fatalf("count mode did not reach a fixed point in one plan:\n%s", fmtMoves(next))
			}
		})
	}
}

func TestPlanConvergence(t *testing.T) {
	uniform := func(ids ...string) *loadWorld {
		w := &loadWorld{base: map[string]float64{}, cost: map[string]float64{}}
		for _, id := range ids {
			w.cost[id] = 1
		}
		return w
	}
	cases := []struct {
		name      string
		sc        planInput
		world     *loadWorld
		maxRounds int
		check     func(t *testing.T, final planInput)
	}{
		{
			// 90/30/30 -> 70/40/40 -> 60/50/40 -> 50/50/50.
			name: "overloaded worker, 1% per KB/s everywhere",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 9, 10), ownedLeases("b", "w2", 3, 10), ownedLeases("c", "w3", 3, 10)),
				workers: []WorkerLoad{workerAt("w1", 0), workerAt("w2", 0), workerAt("w3", 0)},
			},
			world:     uniform("w1", "w2", "w3"),
			maxRounds: 3,
			check: func(t *testing.T, final planInput) {
				for _, w := range final.workers {
					if math.Abs(w.CPU-50) > 1e-3 {
						t.Errorf("%s ends at %v%%, want 50", w.ID, w.CPU)
					}
				}
			},
		},
		{
			name: "baselines make the planner overestimate lease cost",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 20, 4), ownedLeases("b", "w2", 2, 4), ownedLeases("c", "w3", 2, 4), ownedLeases("d", "w4", 0, 0)),
				workers: []WorkerLoad{workerAt("w1", 0), workerAt("w2", 0), workerAt("w3", 0), workerAt("w4", 0)},
			},
			world: &loadWorld{
				base: map[string]float64{"w1": 10, "w2": 15, "w3": 5, "w4": 20},
				cost: map[string]float64{"w1": 0.8, "w2": 0.8, "w3": 0.8, "w4": 0.8},
			},
			maxRounds: 8,
		},
		{
			name: "hosts of different speeds",
			sc: planInput{
				leases: joinLeases(ownedLeases("a", "w1", 30, 2), ownedLeases("b", "w2", 30, 2), ownedLeases("c", "w3", 0, 0),
					ownedLeases("d", "w4", 10, 1)),
				workers: []WorkerLoad{workerAt("w1", 0), workerAt("w2", 0), workerAt("w3", 0), workerAt("w4", 0)},
			},
			world: &loadWorld{
				base: map[string]float64{"w1": 5, "w2": 5, "w3": 5, "w4": 5},
				cost: map[string]float64{"w1": 1.5, "w2": 0.5, "w3": 1, "w4": 2},
			},
			maxRounds: 8,
		},
		{
			name: "skewed throughput in throughput mode",
			sc: planInput{
				leases: joinLeases(ownedLeases("a", "w1", 5, 100), ownedLeases("b", "w1", 20, 3), ownedLeases("c", "w2", 10, 7),
					ownedLeases("d", "w3", 1, 1)),
				workers: unmeasuredWorkers("w1", "w2", "w3", "w4"),
			},
			maxRounds: 8,
		},
		{
			// The empty host is three times slower per KB/s than the fleet
			// assumes. The first run gives it a lease (the guess), the
			// second cannot take that lease back: it is w1's last, and
			// judged empty again w1 would be given it once more.
			name: "a slow empty host keeps the lease it was given",
			sc: planInput{
				leases:  []LeaseInfo{{Key: "a", Owner: "w0", ThroughputKBps: 49}, {Key: "b", Owner: "w0", ThroughputKBps: 50}},
				workers: []WorkerLoad{workerAt("w0", 0), workerAt("w1", 0)},
			},
			world: &loadWorld{
				base: map[string]float64{"w0": 0, "w1": 3},
				cost: map[string]float64{"w0": 0.25, "w1": 0.75},
			},
			maxRounds: 1,
			check: func(t *testing.T, final planInput) {
				if c := leaseCounts(final); c["w0"] != 1 || c["w1"] != 1 {
					t.Errorf("leases per worker %v, want one each", c)
				}
			},
		},
		{
			// w1's CPU is mostly baseline: 60% idle plus 0.05% per KB/s.
			// The planner cannot tell baseline from lease cost in one
			// snapshot, so it keeps giving dampened steps of leases while
			// w1 stays above the line: many runs, each an improvement,
			// ending with w1 at its baseline and one lease.
			name: "a host whose CPU is baseline drains step by step",
			sc: planInput{
				leases:  joinLeases(ownedLeases("a", "w1", 50, 1), ownedLeases("b", "w2", 1, 1), ownedLeases("c", "w3", 1, 1)),
				workers: []WorkerLoad{workerAt("w1", 0), workerAt("w2", 0), workerAt("w3", 0)},
			},
			world: &loadWorld{
				base: map[string]float64{"w1": 60, "w2": 5, "w3": 5},
				cost: map[string]float64{"w1": 0.05, "w2": 0.05, "w3": 0.05},
			},
			maxRounds: 12,
			check: func(t *testing.T, final planInput) {
				if c := leaseCounts(final); c["w1"] != 1 {
					t.Errorf("w1 ends with %d leases, want 1 (all but its last)", c["w1"])
				}
			},
		},
		{
			name: "100 workers, one new, one dead, 1,000 leases",
			sc: func() planInput {
				var sc planInput
				for i := range 99 {
					id := fmt.Sprintf("w%03d", i)
					sc.leases = append(sc.leases, ownedLeases("s"+id, id, 10, float64(1+i%7))...)
					sc.workers = append(sc.workers, workerAt(id, 0))
				}
				sc.leases = append(sc.leases, ownedLeases("dead", "gone", 10, 3)...)
				sc.workers = append(sc.workers, workerAt("w999", 0))
				return sc
			}(),
			world: func() *loadWorld {
				w := &loadWorld{base: map[string]float64{}, cost: map[string]float64{}}
				for i := range 99 {
					id := fmt.Sprintf("w%03d", i)
					w.base[id], w.cost[id] = float64(i%5), 1+float64(i%3)/4
				}
				w.base["w999"], w.cost["w999"] = 2, 1
				return w
			}(),
			maxRounds: 10,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rounds, final := convergePlans(t, tc.sc, tc.world, tc.maxRounds)
			t.Logf("fixed point after %d rounds", rounds)
			if tc.check != nil {
				tc.check(t, final)
			}
		})
	}
}

func TestPlanConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg   PlanConfig
		field string // "" when valid
	}{
		{PlanConfig{}, ""},
		{PlanConfig{MaxLeasesForWorker: 10, ThresholdPercent: 15, DampeningPercent: 100, BalanceVariance: true}, ""},
		{PlanConfig{MaxLeasesForWorker: -1}, "MaxLeasesForWorker"},
		{PlanConfig{ThresholdPercent: -1}, "ThresholdPercent"},
		{PlanConfig{ThresholdPercent: math.NaN()}, "ThresholdPercent"},
		{PlanConfig{ThresholdPercent: math.Inf(1)}, "ThresholdPercent"},
		{PlanConfig{DampeningPercent: 101}, "DampeningPercent"},
		{PlanConfig{DampeningPercent: math.NaN()}, "DampeningPercent"},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.field == "") {
			t.Errorf("%+v: Validate() = %v, want an error on %q", tc.cfg, err, tc.field)
			continue
		}
		if err == nil {
			continue
		}
		var ce *consumer.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, consumer.ErrInvalidConfig) {
			t.Errorf("%+v: Validate() = %v, want a *consumer.ConfigError on %s", tc.cfg, err, tc.field)
		}
		if n := strings.Count(err.Error(), "shardwise: "); n != 1 {
			t.Errorf("%+v: %q has the prefix %d times", tc.cfg, err, n)
		}
	}
	err := PlanConfig{MaxLeasesForWorker: -1, DampeningPercent: 200}.Validate()
	if err == nil || !strings.Contains(err.Error(), "MaxLeasesForWorker") || !strings.Contains(err.Error(), "DampeningPercent") {
		t.Errorf("Validate should name every bad field, got %v", err)
	}
}

// TestViolationsCatchBrokenPlans proves the checker can fail: each broken
// plan must be reported.
func TestViolationsCatchBrokenPlans(t *testing.T) {
	sc := planInput{
		leases: joinLeases(ownedLeases("a", "w1", 4, 0), ownedLeases("b", "w2", 2, 0), ownedLeases("d", "dead", 1, 0),
			[]LeaseInfo{{Key: "fin", Owner: "dead", Finished: true}, {Key: "pend", Owner: "w1", HandoffPending: true}}),
		workers: unmeasuredWorkers("w1", "w2", "w3"),
		cfg:     PlanConfig{MaxLeasesForWorker: 3},
	}
	good := Plan(sc.leases, sc.workers, sc.cfg)
	if v := planViolations(sc, good); len(v) != 0 {
		t.Fatalf("valid plan reported: %v\n%s", v, fmtMoves(good))
	}
	broken := map[string][]Move{
		"orphan dropped":        slices.DeleteFunc(slices.Clone(good), func(m Move) bool { return m.Reason == ReasonOwnerDead }),
		"lease moved twice":     append(slices.Clone(good), good[0]),
		"unknown lease":         append(slices.Clone(good), Move{Key: "nope", To: "w3", Reason: ReasonUnassigned}),
		"finished lease moved":  append(slices.Clone(good), Move{Key: "fin", From: "dead", To: "w3", Reason: ReasonOwnerDead}),
		"pending lease moved":   append(slices.Clone(good), Move{Key: "pend", From: "w1", To: "w3", Graceful: true, Reason: ReasonOverMax}),
		"wrong From":            {{Key: leaseKey("d", 0), From: "", To: "w3", Reason: ReasonUnassigned}},
		"dead To":               {{Key: leaseKey("d", 0), From: "dead", To: "ghost", Reason: ReasonOwnerDead}},
		"not graceful":          append(slices.Clone(good), Move{Key: leaseKey("b", 0), From: "w2", To: "w3", Reason: ReasonRebalanceCount}),
		"wrong reason":          {{Key: leaseKey("d", 0), From: "dead", To: "w3", Reason: ReasonUnassigned}},
		"load move, count mode": append(slices.Clone(good), Move{Key: leaseKey("b", 0), From: "w2", To: "w3", Graceful: true, Reason: ReasonRebalanceLoad}),
		"max exceeded": {
			{Key: leaseKey("d", 0), From: "dead", To: "w2", Reason: ReasonOwnerDead},
			{Key: leaseKey("a", 3), From: "w1", To: "w2", Graceful: true, Reason: ReasonOverMax},
		},
		"gives and receives": append(slices.Clone(good), Move{Key: leaseKey("b", 1), From: "w2", To: "w3", Graceful: true, Reason: ReasonRebalanceCount}),
		"needless move":      {{Key: leaseKey("d", 0), From: "dead", To: "w3", Reason: ReasonOwnerDead}, {Key: leaseKey("a", 3), From: "w1", To: "w3", Graceful: true, Reason: ReasonRebalanceCount}, {Key: leaseKey("b", 1), From: "w2", To: "w3", Graceful: true, Reason: ReasonRebalanceCount}},
		"unfair":             {{Key: leaseKey("d", 0), From: "dead", To: "w2", Reason: ReasonOwnerDead}},
		"no move at all":     nil,
	}
	for name, moves := range broken {
		if v := planViolations(sc, moves); len(v) == 0 {
			t.Errorf("%s: not reported:\n%s", name, fmtMoves(moves))
		}
	}

	// Fairness and minimality, unconstrained.
	free := planInput{leases: joinLeases(ownedLeases("a", "w1", 4, 0), ownedLeases("b", "w2", 2, 0)), workers: unmeasuredWorkers("w1", "w2", "w3")}
	for name, moves := range map[string][]Move{
		"spread left at 2": {{Key: leaseKey("a", 3), From: "w1", To: "w3", Graceful: true, Reason: ReasonRebalanceCount}},
		"one move too many": {
			{Key: leaseKey("a", 3), From: "w1", To: "w3", Graceful: true, Reason: ReasonRebalanceCount},
			{Key: leaseKey("a", 2), From: "w1", To: "w3", Graceful: true, Reason: ReasonRebalanceCount},
			{Key: leaseKey("b", 1), From: "w2", To: "w1", Graceful: true, Reason: ReasonRebalanceCount},
		},
	} {
		if v := planViolations(free, moves); len(v) == 0 {
			t.Errorf("%s: not reported:\n%s", name, fmtMoves(moves))
		}
	}

	// Load moves: only with BalanceVariance, and never uphill.
	hot := planInput{
		leases:  joinLeases(ownedLeases("a", "w1", 4, 10), ownedLeases("b", "w2", 2, 10)),
		workers: []WorkerLoad{workerAt("w1", 80), workerAt("w2", 20)},
	}
	up := []Move{{Key: leaseKey("b", 0), From: "w2", To: "w1", Graceful: true, Reason: ReasonRebalanceLoad}}
	if v := planViolations(hot, up); len(v) == 0 {
		t.Errorf("load move without BalanceVariance not reported")
	}
	hot.cfg.BalanceVariance = true
	if v := planViolations(hot, up); len(v) == 0 {
		t.Errorf("uphill load move not reported")
	}
	if v := planViolations(hot, []Move{{Key: leaseKey("a", 0), From: "w1", To: "w2", Graceful: true, Reason: ReasonRebalanceCount}}); len(v) == 0 {
		t.Errorf("count move in cpu mode not reported")
	}
}

func TestMoveString(t *testing.T) {
	got := Move{Key: "k", From: "a", To: "b", Graceful: true, Reason: ReasonOverMax}.String()
	if want := `k: "a" -> "b" (over-max graceful)`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func ExamplePlan() {
	// Three workers hold four leases each; a fourth joins.
	var ls []LeaseInfo
	for i := range 12 {
		ls = append(ls, LeaseInfo{Key: fmt.Sprintf("shardId-%012d", i), Owner: fmt.Sprintf("worker-%d", i/4+1)})
	}
	workers := []WorkerLoad{
		{ID: "worker-1", CPU: -1}, {ID: "worker-2", CPU: -1}, {ID: "worker-3", CPU: -1}, {ID: "worker-4", CPU: -1},
	}
	for _, m := range Plan(ls, workers, PlanConfig{}) {
		fmt.Println(m)
	}
	// Output:
	// shardId-000000000003: "worker-1" -> "worker-4" (rebalance-count graceful)
	// shardId-000000000007: "worker-2" -> "worker-4" (rebalance-count graceful)
	// shardId-000000000011: "worker-3" -> "worker-4" (rebalance-count graceful)
}
