package balancer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// loadRoundsBound is the bound the fuzz test holds load mode to: from any
// fleet, planning with BalanceVariance on every run, applying the moves and
// re-measuring CPU from the loadWorld model reaches a plan with no moves within
// this many runs. Most fleets settle within 5 (98% of 200,000 sampled
// inputs) and none of those needed more than 20; the bound grows with the
// leases because a donor whose CPU is mostly baseline keeps giving a lease
// per run while it stays above the line (see TestPlanConvergence). Count
// mode must settle in one run.
func loadRoundsBound(sc planInput) int {
	n := 0
	for _, l := range sc.leases {
		if !l.Finished {
			n++
		}
	}
	return 10 + n
}

// byteReader hands out fuzz bytes, then zeros once they run out, so every
// input decodes to some planInput.
type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) next() byte {
	if r.i >= len(r.b) {
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

// decodeScenario turns fuzz bytes into a fleet: up to 8 live workers (all,
// some or none of them reporting CPU), up to 63 leases that are held,
// unowned, owned by a dead worker, finished or mid-hand-off, with all, some
// or no throughput figures, and a config. It returns the planInput with raw
// CPU figures straight from the bytes (possibly inconsistent with what the
// workers hold, or NaN), and the loadWorld whose measurements drive the
// convergence check.
func decodeScenario(data []byte) (raw planInput, w *loadWorld) {
	r := &byteReader{b: data}
	nW := int(r.next() % 9)
	fleet := r.next() % 4 // 0: none measured, 1 and 3: all, 2: mixed
	tpKind := r.next() % 3
	w = &loadWorld{base: map[string]float64{}, cost: map[string]float64{}}
	for i := range nW {
		id := fmt.Sprintf("w%d", i)
		measured := fleet == 1 || fleet == 3 || (fleet == 2 && r.next()&1 == 1)
		wl := WorkerLoad{ID: id, CPU: -1}
		if measured {
			w.base[id] = float64(r.next() % 40)
			w.cost[id] = 0.25 + float64(r.next()%16)/4
			switch b := r.next(); {
			case b == 255:
				wl.CPU = math.NaN()
			case b >= 200:
				wl.CPU = -1 // capture failed
			default:
				wl.CPU = float64(b) / 2
			}
		}
		if b := r.next(); b%4 == 0 {
			wl.MaxCPU = 40 + float64(b%60)
		}
		raw.workers = append(raw.workers, wl)
	}
	nL := int(r.next() % 64)
	for j := range nL {
		l := LeaseInfo{Key: fmt.Sprintf("k%03d", j)}
		switch o := int(r.next()) % (nW + 2); {
		case o < nW:
			l.Owner = fmt.Sprintf("w%d", o)
		case o == nW+1:
			l.Owner = "dead"
		}
		switch r.next() % 16 {
		case 0:
			l.Finished = true
		case 1:
			l.HandoffPending = true
		}
		switch tpKind {
		case 1:
			l.ThroughputKBps = 1 + float64(r.next()%50)
		case 2:
			l.ThroughputKBps = float64(r.next() % 50)
		}
		raw.leases = append(raw.leases, l)
	}
	if m := int(r.next() % 8); m <= 5 {
		raw.cfg.MaxLeasesForWorker = m
	}
	raw.cfg.ThresholdPercent = float64(r.next() % 40)
	raw.cfg.DampeningPercent = float64(r.next() % 101)
	raw.cfg.BalanceVariance = r.next()&1 == 1
	return raw, w
}

// fuzzSeeds is the seed corpus: a few hand-made fleets, and long random
// inputs (fixed seeds) whose tails decode to many leases.
func fuzzSeeds() [][]byte {
	seeds := [][]byte{
		{},
		{3, 0, 0, 12},
		{4, 1, 1, 10, 2, 180, 1, 20, 3, 90, 1, 30, 1, 60, 1, 40},
		{5, 2, 2, 1, 10, 2, 100, 0, 0, 30, 1, 7, 1, 0, 3, 20, 9, 1},
		{8, 3, 1, 30, 4, 200, 5, 20, 8, 255, 0, 60, 0, 2, 0, 9, 1, 1},
	}
	for i := range 24 {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		b := make([]byte, 64+rng.IntN(200))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		b[1] = byte(i % 4) // every kind of fleet
		b[2] = byte(i % 3) // every kind of throughput figures
		seeds = append(seeds, b)
	}
	return seeds
}

func FuzzPlan(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, w := decodeScenario(data)
		// Raw figures: only the per-plan invariants apply.
		checkPlan(t, raw)

		// Figures measured from the loadWorld: the plan must also converge.
		// The same bound in count mode: measured loads that start below
		// the load floor may rise above it once counts are even (on
		// workers that cost more per lease), and the other way round.
		convergePlans(t, raw, w, loadRoundsBound(raw))
	})
}

// TestFuzzSeedsDecode makes sure the seed corpus covers every mode, so the
// fuzz test exercises them all from its first run.
func TestFuzzSeedsDecode(t *testing.T) {
	modes := map[string]int{}
	for _, s := range fuzzSeeds() {
		raw, w := decodeScenario(s)
		modes[planFactsOf(w.measure(raw)).mode]++
	}
	for _, m := range []string{"count", "cpu", "throughput"} {
		if modes[m] < 3 {
			t.Errorf("only %d seeds decode to %s mode (got %v)", modes[m], m, modes)
		}
	}
}
