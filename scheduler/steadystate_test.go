package scheduler

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestSteadyStateWritesOneHeartbeatPerWorker is the cost claim of the
// design (one DynamoDB write per worker per heartbeat, none per lease at
// steady state): with every lease assigned and running and no records
// flowing, over many heartbeat intervals the lease table takes no write,
// the coordinator table none (leadership rides on the leader's heartbeat),
// and the worker table exactly one write per heartbeat of each worker. A
// per-lease renewal, or any other write per lease per heartbeat or
// discovery round, shows up as lease-table writes.
func TestSteadyStateWritesOneHeartbeatPerWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			failover  = 10 * time.Second
			heartbeat = failover / 2 // the default
			intervals = 12
			shards    = 6
		)
		h := newHarness(t, shards)
		workers := []string{"w1", "w2", "w3"}
		scheds := map[string]*Scheduler{}
		for _, id := range workers {
			cfg := h.config(id)
			cfg.FailoverTime = failover
			cfg.HeartbeatInterval = heartbeat
			cfg.LoadSampler = func() float64 { return -1 } // no CPU figures: the leader balances counts
			h.start(cfg, nopFactory())
			scheds[id] = h.sched
		}
		owners := func() map[string]string {
			all, err := h.store.List(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]string{}
			for _, l := range all {
				out[l.Key] = l.Owner
			}
			return out
		}
		// Steady state: every lease running on its owner, two per worker.
		waitFor(t, 10*failover, "every lease running on its owner", func() bool {
			n := 0
			for _, s := range scheds {
				st := s.Stats()
				for _, l := range st.Leases {
					if l.State == "processing" {
						n++
					}
				}
			}
			counts := map[string]int{}
			for _, o := range owners() {
				counts[o]++
			}
			return n == shards && counts["w1"] == 2 && counts["w2"] == 2 && counts["w3"] == 2
		})
		// Let the leader see every lease started and settle.
		time.Sleep(2 * failover)

		type leaseWrites interface{ TotalWrites() int }
		type writes interface{ Writes() int64 }
		ls, ok1 := h.store.(leaseWrites)
		ws, ok2 := h.workers.(writes)
		cs, ok3 := h.coord.(writes)
		if !ok1 || !ok2 || !ok3 {
			t.Fatal("the memory stores no longer count their writes")
		}
		beats := func() map[string]int64 {
			out := map[string]int64{}
			for _, id := range workers {
				r, err := h.workers.Get(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				out[id] = r.Heartbeat
			}
			return out
		}
		// Count over a window that starts and ends with every goroutine
		// idle, so a heartbeat due at either edge is counted once.
		synctest.Wait()
		leases0, workers0, coord0, beats0, owners0 := ls.TotalWrites(), ws.Writes(), cs.Writes(), beats(), owners()
		time.Sleep(intervals * heartbeat)
		synctest.Wait()
		leases1, workers1, coord1, beats1, owners1 := ls.TotalWrites(), ws.Writes(), cs.Writes(), beats(), owners()

		if d := leases1 - leases0; d != 0 {
			t.Errorf("the lease table took %d writes over %d heartbeat intervals at steady state (%d leases), want 0",
				d, intervals, shards)
		}
		if d := coord1 - coord0; d != 0 {
			t.Errorf("the coordinator table took %d writes at steady state, want 0", d)
		}
		var total int64
		for _, id := range workers {
			n := beats1[id] - beats0[id]
			total += n
			if n != intervals {
				t.Errorf("%s heartbeated %d times in %d heartbeat intervals", id, n, intervals)
			}
		}
		if d := workers1 - workers0; d != total {
			t.Errorf("the worker table took %d writes for %d heartbeats, want one write per heartbeat", d, total)
		}
		for k, o := range owners0 {
			if owners1[k] != o {
				t.Errorf("lease %s moved from %s to %s at steady state", k, o, owners1[k])
			}
		}
		t.Logf("over %v: lease table %d writes, coordinator %d, worker table %d for %d workers",
			intervals*heartbeat, leases1-leases0, coord1-coord0, workers1-workers0, len(workers))
	})
}
