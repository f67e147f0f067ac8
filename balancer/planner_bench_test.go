package balancer

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchFleet builds 10,000 leases over 100 live workers the way a leader
// finds them after churn: 95 old workers holding uneven shares, 5 that just
// joined with nothing, 400 leases of a dead worker and 100 unowned ones
// (new shards). measured adds CPU figures consistent with the throughput
// each worker holds; balanced starts from an even spread with nothing to do.
func benchFleet(measured, balanced bool) planInput {
	const nLeases, nWorkers = 10_000, 100
	var sc planInput
	ids := make([]string, nWorkers)
	for i := range ids {
		ids[i] = fmt.Sprintf("worker-%03d", i)
	}
	for i := range nLeases {
		l := LeaseInfo{Key: fmt.Sprintf("shardId-%012d", i), ThroughputKBps: float64(1 + (i*7919)%200)}
		switch {
		case balanced:
			l.Owner = ids[i%nWorkers]
		case i < 400:
			l.Owner = "worker-dead"
		case i < 500:
		default:
			// Skewed: worker k of the first 95 gets a share growing with k.
			l.Owner = ids[(i*i/97)%95]
		}
		sc.leases = append(sc.leases, l)
	}
	world := &loadWorld{base: map[string]float64{}, cost: map[string]float64{}}
	for i, id := range ids {
		if measured {
			world.base[id], world.cost[id] = float64(3+i%5), 0.004
		}
		sc.workers = append(sc.workers, WorkerLoad{ID: id, CPU: -1})
	}
	sc = world.measure(sc)
	sc.cfg = PlanConfig{BalanceVariance: true}
	if !measured {
		// Count mode needs no throughput figures at all.
		for i := range sc.leases {
			sc.leases[i].ThroughputKBps = 0
		}
	}
	if balanced {
		// Settle the fleet first, so that this is the leader's common
		// case: a fleet at its fixed point.
		for range 50 {
			moves := Plan(sc.leases, sc.workers, sc.cfg)
			if len(moves) == 0 {
				break
			}
			sc = world.measure(applyMoves(sc, moves))
		}
	}
	return sc
}

func BenchmarkPlan10kLeases100Workers(b *testing.B) {
	for _, bc := range []struct {
		name               string
		measured, balanced bool
		shuffled           bool
	}{
		{name: "count", measured: false},
		{name: "load", measured: true},
		{name: "count-steady", balanced: true},
		{name: "load-steady", measured: true, balanced: true},
		// A DynamoDB Scan returns leases in hash order: Plan sorts them.
		{name: "load-unsorted", measured: true, shuffled: true},
	} {
		sc := benchFleet(bc.measured, bc.balanced)
		if bc.shuffled {
			rng := rand.New(rand.NewPCG(1, 1))
			rng.Shuffle(len(sc.leases), func(i, j int) { sc.leases[i], sc.leases[j] = sc.leases[j], sc.leases[i] })
		}
		moves := Plan(sc.leases, sc.workers, sc.cfg)
		if v := planViolations(sc, moves); len(v) > 0 {
			b.Fatalf("%s: %v", bc.name, v[0])
		}
		if bc.balanced && len(moves) != 0 {
			b.Fatalf("%s: %d moves from a balanced fleet", bc.name, len(moves))
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Plan(sc.leases, sc.workers, sc.cfg)
			}
			b.ReportMetric(float64(len(moves)), "moves")
		})
	}
}
