package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	sc "github.com/shardwise/shardwise/internal/scenario"
	"github.com/shardwise/shardwise/scheduler"
)

// The balancing figures of the coordination scenario (issue 17): how soon
// a joining worker works and holds its share, how soon a fresh fleet is
// spread, and how many moves an hour an idle or a steady stream sees.

// assignmentInterval is the scheduler's default LeaseAssignmentInterval at
// the bench's failover time (FailoverTime/2).
func assignmentInterval(failover time.Duration) time.Duration { return failover / 2 }

// evenCounts reports whether every id holds between lo and hi leases and
// none is unowned.
func evenCounts(c *sc.Cluster, lo, hi int, ids ...string) bool {
	counts := c.Counts()
	if counts[""] > 0 {
		return false
	}
	for _, id := range ids {
		if counts[id] < lo || counts[id] > hi {
			return false
		}
	}
	return true
}

// measureJoin adds a fourth worker to three holding 24 leases under
// traffic: the time to its first lease and to an even spread (6 each).
// With identicalCPU every worker reports the same CPU figure (workers on
// one host reading the host's CPU through a LoadSampler); otherwise none
// (the default on a host without cgroup limits).
func measureJoin(ctx context.Context, out *report, failover time.Duration, identicalCPU bool) error {
	prefix := "join"
	if identicalCPU {
		prefix = "join_identical_cpu"
	}
	ids := []string{"w1", "w2", "w3"}
	c, err := newCluster(24, failover)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(ctx)
	prod := c.ProduceEvery(pctx, 20*time.Millisecond, 24, 240)
	defer func() { cancel(); <-prod; c.StopAll() }()
	cpu := -1.0
	if identicalCPU {
		cpu = 40
	}
	for _, id := range ids {
		w, err := c.Start(id)
		if err != nil {
			return err
		}
		w.SetCPU(cpu)
	}
	if err := waitOrFail(6*failover, "8 leases each", func() bool { return evenCounts(c, 8, 8, ids...) }); err != nil {
		return err
	}
	if err := settle(ctx, c, failover); err != nil {
		return err
	}
	joined := time.Now()
	w, err := c.Start("w4")
	if err != nil {
		return err
	}
	w.SetCPU(cpu)
	if err := waitOrFail(6*failover, "w4 holding a lease", func() bool { return c.Counts()["w4"] > 0 }); err != nil {
		return err
	}
	first := time.Since(joined)
	if err := waitOrFail(6*failover, "6 leases each", func() bool { return evenCounts(c, 6, 6, "w1", "w2", "w3", "w4") }); err != nil {
		return err
	}
	even := time.Since(joined)
	out.kv(prefix+"_first_lease_s", first.Seconds())
	out.kv(prefix+"_even_spread_s", even.Seconds())
	out.kv(prefix+"_within_2_intervals", first <= 2*assignmentInterval(failover) && even <= 2*assignmentInterval(failover))
	return nil
}

func measureJoinNoCPU(ctx context.Context, _ options, out *report, failover time.Duration) error {
	out.kv("lease_assignment_interval_s", assignmentInterval(failover).Seconds())
	return measureJoin(ctx, out, failover, false)
}

func measureJoinIdenticalCPU(ctx context.Context, _ options, out *report, failover time.Duration) error {
	return measureJoin(ctx, out, failover, true)
}

// measureStartup starts four workers together on 64 shards and measures,
// from the first one's start, the time until they hold 16 leases each.
func measureStartup(ctx context.Context, _ options, out *report, failover time.Duration) error {
	ids := []string{"w1", "w2", "w3", "w4"}
	c, err := newCluster(64, failover)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(ctx)
	prod := c.ProduceEvery(pctx, 20*time.Millisecond, 64, 640)
	defer func() { cancel(); <-prod; c.StopAll() }()
	began := time.Now()
	for _, id := range ids {
		if _, err := c.Start(id); err != nil {
			return err
		}
	}
	if err := waitOrFail(6*failover, "16 leases each", func() bool { return evenCounts(c, 16, 16, ids...) }); err != nil {
		return err
	}
	took := time.Since(began)
	out.kv("startup_even_spread_s", took.Seconds())
	out.kv("startup_within_2_intervals", took <= 2*assignmentInterval(failover))
	return nil
}

// measureMovesPerHour runs four workers on 24 shards for an hour of fake
// time (testing/synctest: the real schedulers, leader and in-memory
// stores, with the clock advanced whenever every goroutine waits) and
// counts the lease moves once they settled. Idle: no traffic, CPU figures
// of a few percent that differ by worker and jump with sampling noise (the
// Java KCL's issue 1814). Steady: even traffic, CPU around 50% following
// what each worker holds, ±3 points of noise. The hour runs in a child
// process of this command, since synctest needs a *testing.T.
func measureMovesPerHour(ctx context.Context, _ options, out *report, _ time.Duration) error {
	for _, kind := range []string{"idle", "steady"} {
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = append(os.Environ(), simulateEnv+"="+kind)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("simulated hour (%s): %v\n%s%s", kind, err, stdout.String(), stderr.String())
		}
		var moves int
		found := false
		for line := range strings.Lines(stdout.String()) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "moves_in_hour="); ok {
				n, err := strconv.Atoi(v)
				moves, found = n, err == nil
			}
		}
		if !found {
			return fmt.Errorf("simulated hour (%s) printed no figure:\n%s%s", kind, stdout.String(), stderr.String())
		}
		out.kv("moves_per_hour_"+kind, moves)
	}
	return nil
}

// simulateEnv, when set in this command's environment, makes it run one
// simulated hour (its value says which) instead of a scenario.
const simulateEnv = "SHARDWISE_BENCH_SIMULATED_HOUR"

func init() {
	kind := os.Getenv(simulateEnv)
	if kind == "" {
		return
	}
	// testing.Main exits the process with the test's result.
	testing.Main(func(string, string) (bool, error) { return true, nil },
		[]testing.InternalTest{{Name: "SimulatedHour", F: func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { simulateHour(t, kind) })
		}}}, nil, nil)
}

func simulateHour(t *testing.T, kind string) {
	const failover = 10 * time.Second
	rng := rand.New(rand.NewPCG(1, 2))
	base, perLease, noise := 3.0, 0.1, 2.0
	if kind == "steady" {
		rng = rand.New(rand.NewPCG(3, 4))
		base, perLease, noise = 20, 5, 3
	}
	var mu sync.Mutex
	var c *sc.Cluster
	load := func(id string) float64 {
		mu.Lock()
		cl := c
		mu.Unlock()
		held := 0
		if cl != nil {
			held = cl.Counts()[id]
		}
		mu.Lock()
		defer mu.Unlock()
		return base + perLease*float64(held) + (2*rng.Float64()-1)*noise
	}
	cl, err := sc.New(sc.Options{Shards: 24, FailoverTime: failover, Tweak: func(cfg *scheduler.Config) {
		cfg.IdleTimeBetweenReads = time.Second // an hour of polling stays cheap
		id := cfg.WorkerID
		cfg.LoadSampler = func() float64 { return load(id) }
	}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	c = cl
	mu.Unlock()
	defer c.StopAll()
	if kind == "steady" {
		pctx, cancel := context.WithCancel(context.Background())
		prod := c.ProduceEvery(pctx, time.Second, 24, 240)
		defer func() { cancel(); <-prod }()
	}
	ids := []string{"w1", "w2", "w3", "w4"}
	for _, id := range ids {
		if _, err := c.Start(id); err != nil {
			t.Fatal(err)
		}
	}
	if !sc.WaitFor(6*failover, func() bool { return evenCounts(c, 6, 6, ids...) }) {
		t.Fatalf("no even spread: %v", c.Counts())
	}
	time.Sleep(2 * failover)
	prev := c.Owners()
	moves := 0
	for end := time.Now().Add(time.Hour); time.Now().Before(end); {
		time.Sleep(time.Second)
		cur := c.Owners()
		for k, o := range cur {
			if prev[k] != o {
				moves++
			}
		}
		prev = cur
	}
	fmt.Printf("moves_in_hour=%d\n", moves)
}
