package balancer

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

var updatePlans = flag.Bool("update-plans", false, "rewrite testdata/plans.golden from the current planner")

// TestPlanDecisionsUnchanged pins the planner's decisions. The invariant,
// minimal-move and convergence checks say whether a plan is admissible;
// many different plans are, and they differ in which lease moves where
// and how fast a fleet settles. This test records, for generated fleets of
// every kind (count, throughput, CPU and mixed fleets; caps, orphans,
// dead owners, pins, finished leases, fresh workers; variance balancing on
// and off; random figures, and figures from a few values so that ties and
// exact thresholds are common), the plan for the raw figures and the whole run of plans to a
// fixed point with measured figures, and fails on any difference. A
// change to the planner that changes decisions must say so: rewrite the
// file with -update-plans and review the diff.
//
// The file is amd64's: other architectures may fuse a multiply and an add
// into one rounding (the Go spec allows it), which can turn a float tie
// the other way, so the comparison runs on amd64 only.
func TestPlanDecisionsUnchanged(t *testing.T) {
	if runtime.GOARCH != "amd64" && !*updatePlans {
		t.Skipf("testdata/plans.golden is amd64's; GOARCH is %s", runtime.GOARCH)
	}
	var out bytes.Buffer
	// Fleets 0-159 draw every byte; fleets 160-319 draw from a few values,
	// so that figures tie, sit exactly on the load floors, thresholds and
	// caps, or are zero, where the planner's comparisons decide.
	// Fleets 320-479 sit near the 10% CPU floor (figures of 2 to 15%,
	// some workers far above a MaxCPU of 40), where the floor guard and
	// its projections decide.
	edge := []byte{0, 1, 2, 4, 20, 40, 80, 100, 180, 200}
	floor := []byte{4, 8, 14, 16, 18, 20, 22, 24, 30, 180}
	for i := range 480 {
		rng := rand.New(rand.NewPCG(uint64(i), 2026))
		b := make([]byte, 16+rng.IntN(240))
		for j := range b {
			switch {
			case i < 160:
				b[j] = byte(rng.Uint32())
			case i < 320:
				b[j] = edge[rng.IntN(len(edge))]
			default:
				b[j] = floor[rng.IntN(len(floor))]
			}
		}
		b[1] = byte(i % 4)
		b[2] = byte(i % 3)
		raw, w := decodeScenario(b)
		fmt.Fprintf(&out, "# fleet %d: %d workers, %d leases, mode %s\n", i, len(raw.workers), len(raw.leases), planFactsOf(w.measure(raw)).mode)
		for _, m := range Plan(raw.leases, raw.workers, raw.cfg) {
			fmt.Fprintf(&out, "raw %s\n", m)
		}
		sc := w.measure(raw)
		sc.cfg.BalanceVariance = true
		for round := range loadRoundsBound(raw) {
			moves := Plan(sc.leases, sc.workers, sc.cfg)
			if len(moves) == 0 {
				break
			}
			for _, m := range moves {
				fmt.Fprintf(&out, "run %d %s\n", round, m)
			}
			sc = w.measure(applyMoves(sc, moves))
		}
	}
	path := filepath.Join("testdata", "plans.golden")
	if *updatePlans {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-plans to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		got, exp := bytes.Split(out.Bytes(), []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := 0; i < len(got) || i < len(exp); i++ {
			var g, e []byte
			if i < len(got) {
				g = got[i]
			}
			if i < len(exp) {
				e = exp[i]
			}
			if !bytes.Equal(g, e) {
				t.Fatalf("the planner's decisions changed (testdata/plans.golden line %d):\n got: %s\nwant: %s\nIf the change is meant, rewrite the file with -update-plans and review the diff.", i+1, g, e)
			}
		}
	}
}
