package scenario_test

import (
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/internal/scenario"
	"github.com/shardwise/shardwise/scheduler"
)

// quietCluster is a latency cluster whose workers poll a caught-up shard
// once a second (so an hour of fake time stays cheap) and report CPU from
// load, a figure of their own (a LoadSampler, as a worker in a cgroup
// with a CPU limit would measure).
func quietCluster(t *testing.T, shards int, load func(id string) float64) *scenario.Cluster {
	t.Helper()
	var mu sync.Mutex
	var seed uint64
	c, err := scenario.New(scenario.Options{
		Shards:       shards,
		FailoverTime: failover,
		BatchDelay:   batchTime,
		Logger:       zerolog.New(zerolog.NewTestWriter(t)).Level(testLogLevel()),
		Tweak: func(cfg *scheduler.Config) {
			mu.Lock()
			seed++
			l := newLink(seed, 3*time.Millisecond, 12*time.Millisecond, 2*failover)
			mu.Unlock()
			l.wrap(cfg)
			cfg.IdleTimeBetweenReads = time.Second
			id := cfg.WorkerID
			cfg.LoadSampler = func() float64 { return load(id) }
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.StopAll)
	return c
}

// movesIn counts the owner changes seen by polling every second for d.
func movesIn(c *scenario.Cluster, d time.Duration) int {
	prev := c.Owners()
	moves := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(time.Second)
		cur := c.Owners()
		for k, o := range cur {
			if prev[k] != o {
				moves++
			}
		}
		prev = cur
	}
	return moves
}

// noisyCPU models a worker's CPU: a baseline, a share per lease held, and
// sampling noise of ±noise points, from a seeded generator.
type noisyCPU struct {
	mu       sync.Mutex
	rng      *rand.Rand
	c        *scenario.Cluster
	base     float64
	perLease float64
	noise    float64
}

func (n *noisyCPU) sample(id string) float64 {
	held := 0
	if n.c != nil {
		held = n.c.Counts()[id]
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.base + n.perLease*float64(held) + (2*n.rng.Float64()-1)*n.noise
}

// churnCase runs four workers on 24 shards for a simulated hour after
// they settled and returns the moves in that hour.
func churnCase(t *testing.T, cpu *noisyCPU, traffic bool) int {
	c := quietCluster(t, 24, cpu.sample)
	cpu.mu.Lock()
	cpu.c = c
	cpu.mu.Unlock()
	if traffic {
		produceSlowly(t, c)
	}
	ids := []string{"w1", "w2", "w3", "w4"}
	for _, id := range ids {
		if _, err := c.Start(id); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 6*failover, "even spread", func() bool { return spreadWithin(c, 6, 6, ids...) })
	time.Sleep(2 * failover)
	return movesIn(c, time.Hour)
}

// produceSlowly writes 24 records a second until the test ends.
func produceSlowly(t *testing.T, c *scenario.Cluster) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				if err := c.Produce(24, 240); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// TestNoChurnOnAnIdleStream: an idle stream, CPU readings of a few
// percent that differ by worker and jump with sampling noise (Java KCL
// issue 1814 moves leases back and forth there). Below the load floor
// only lease counts matter, and they are even: no move in an hour.
func TestNoChurnOnAnIdleStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cpu := &noisyCPU{rng: rand.New(rand.NewPCG(1, 2)), base: 3, perLease: 0.1, noise: 2}
		if n := churnCase(t, cpu, false); n != 0 {
			t.Errorf("%d moves in an hour on an idle stream; want 0", n)
		}
	})
}

// TestBoundedMovesUnderSteadyLoad: even traffic and CPU that follows what
// each worker holds (around 50%, ±3 points of noise): load balancing is
// on, and the dampening rule keeps moves to at most two an hour.
func TestBoundedMovesUnderSteadyLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cpu := &noisyCPU{rng: rand.New(rand.NewPCG(3, 4)), base: 20, perLease: 5, noise: 3}
		if n := churnCase(t, cpu, true); n > 2 {
			t.Errorf("%d moves in an hour under steady even load; want at most 2", n)
		}
	})
}
