package scenario_test

import (
	"os"
	"sync"

	"fmt"
	"sort"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/internal/scenario"
)

// assignEvery is the scheduler's default LeaseAssignmentInterval at the
// tests' failover time (FailoverTime/2).
const assignEvery = failover / 2

// signal is how the workers of a balancing test report load.
type signal struct {
	name string
	cpu  float64 // every worker's reading; -1: none; followsLoad: see followLoad
	// traffic: records flow (throughput figures exist), else the stream
	// is idle.
	traffic bool
}

var signals = []signal{
	{"no CPU, idle stream", -1, false},
	{"no CPU, traffic", -1, true},
	// Workers on one host without cgroup limits (or a LoadSampler that
	// reads the host) report the same figure whatever they hold.
	{"identical CPU, traffic", 40, true},
	{"identical CPU, idle stream", 40, false},
	// Workers with CPU figures of their own (cgroups with limits) that
	// follow what they hold: the leader balances on CPU.
	{"own CPU following load, traffic", followsLoad, true},
}

// followsLoad as a signal's cpu makes every worker report a CPU figure
// that follows the leases it holds (followLoad).
const followsLoad = -2

// followLoad sets, every 500ms until the test ends, each running
// worker's CPU to 10% plus 5 points per lease it holds plus a small
// offset of its own (no two workers report the same figure).
func followLoad(t *testing.T, c *scenario.Cluster, ws map[string]*scenario.Worker, mu *sync.Mutex) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			counts := c.Counts()
			mu.Lock()
			i := 0
			for id, w := range ws {
				i++
				w.SetCPU(10 + 5*float64(counts[id]) + 0.1*float64(len(id)+i))
			}
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

func startWorkers(t *testing.T, c *scenario.Cluster, cpu float64, ids ...string) map[string]*scenario.Worker {
	t.Helper()
	ws := map[string]*scenario.Worker{}
	for _, id := range ids {
		w, err := c.Start(id)
		if err != nil {
			t.Fatal(err)
		}
		w.SetCPU(cpu)
		ws[id] = w
	}
	return ws
}

// spreadWithin reports whether every id holds between lo and hi leases
// and nothing is unowned.
func spreadWithin(c *scenario.Cluster, lo, hi int, ids ...string) bool {
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

// awaitFor waits for cond, polling every 10ms (the fake clock), and
// returns how long it took, or fails the test after limit.
func awaitFor(t *testing.T, c *scenario.Cluster, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	if !scenario.WaitFor(limit, cond) {
		t.Fatalf("%s: not within %v; lease counts %v", what, limit, c.Counts())
	}
	return time.Since(start)
}

// joinCase: three workers hold 24 shards; a fourth joins. It must hold a
// lease after the next assignment run and its fair share (6) within two
// assignment intervals, whatever the load signal, and the moves to it are
// graceful (no shard runs on two workers at once, nothing lost).
func joinCase(t *testing.T, sig signal) {
	c := newLatencyCluster(t, 24)
	var stop func()
	if sig.traffic {
		stop = produce(t, c.Cluster)
	}
	ids := []string{"w1", "w2", "w3"}
	var mu sync.Mutex
	ws := startWorkers(t, c.Cluster, sig.cpu, ids...)
	if sig.cpu == followsLoad {
		followLoad(t, c.Cluster, ws, &mu)
	}
	waitFor(t, 6*failover, "every lease held", func() bool { return spreadWithin(c.Cluster, 8, 8, ids...) })
	time.Sleep(2 * failover) // steady state: every heartbeat lists every lease
	joined := time.Now()
	w4 := startWorkers(t, c.Cluster, sig.cpu, "w4")
	mu.Lock()
	ws["w4"] = w4["w4"]
	mu.Unlock()
	first := awaitFor(t, c.Cluster, 6*failover, "w4 holds a lease", func() bool { return c.Counts()["w4"] > 0 })
	awaitFor(t, c.Cluster, 6*failover, "even spread", func() bool { return spreadWithin(c.Cluster, 6, 6, "w1", "w2", "w3", "w4") })
	t.Logf("w4 joined: first lease after %v, 6/6/6/6 after %v", first, time.Since(joined))
	if first > assignEvery+failover/10 {
		t.Errorf("w4's first lease came %v after it joined; want at most one assignment interval (%v) plus a scan", first, assignEvery)
	}
	if d := time.Since(joined); d > 2*assignEvery {
		t.Errorf("w4 had its fair share %v after it joined; want at most two assignment intervals (%v)", d, 2*assignEvery)
	}
	checkQuiet(t, c.Cluster, 2*failover)
	if stop != nil {
		stop()
		waitFor(t, 6*failover, "every record delivered", func() bool { return int64(c.Journal.Distinct()) >= c.Produced() })
		ivs := func() []scenario.Interval { _, ivs := c.Journal.Snapshot(); return ivs }()
		if v := handoverViolations(ivs, c.Journal.Events()); len(v) > 0 {
			t.Errorf("%d times a shard ran on two workers at once; the first: %v", len(v), v[:min(len(v), 5)])
		}
		if r := c.Check(); !r.OK() {
			t.Errorf("invariants broken: %s", r)
		}
	}
}

// checkQuiet fails if a lease changes owner during d.
func checkQuiet(t *testing.T, c *scenario.Cluster, d time.Duration) {
	t.Helper()
	before := c.Owners()
	time.Sleep(d)
	after := c.Owners()
	var moved []string
	for k, o := range after {
		if before[k] != o {
			moved = append(moved, fmt.Sprintf("%s %s->%s", k, before[k], o))
		}
	}
	sort.Strings(moved)
	if len(moved) > 0 {
		t.Errorf("%d leases moved in a settled fleet within %v: %v", len(moved), d, moved)
	}
}

func TestJoiningWorkerGetsItsShareWithinTwoAssignmentIntervals(t *testing.T) {
	for _, sig := range signals {
		t.Run(sig.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { joinCase(t, sig) })
		})
	}
}

// startupCase: four workers start together on 64 shards, the last three
// 20ms after the leader's first assignment (the worst moment: every lease
// is assigned, none started). The fleet is spread 16/16/16/16 within two
// assignment intervals of the first worker's start.
func startupCase(t *testing.T, sig signal) {
	c := newLatencyCluster(t, 64)
	if sig.traffic {
		produce(t, c.Cluster)
	}
	began := time.Now()
	startWorkers(t, c.Cluster, sig.cpu, "w1")
	waitFor(t, 6*failover, "the first assignment", func() bool { return c.Counts()["w1"] > 0 })
	time.Sleep(20 * time.Millisecond)
	startWorkers(t, c.Cluster, sig.cpu, "w2", "w3", "w4")
	awaitFor(t, c.Cluster, 6*failover, "even spread", func() bool { return spreadWithin(c.Cluster, 16, 16, "w1", "w2", "w3", "w4") })
	t.Logf("16/16/16/16 %v after the first worker started", time.Since(began))
	if d := time.Since(began); d > 2*assignEvery {
		t.Errorf("even spread %v after the first worker started; want at most two assignment intervals (%v)", d, 2*assignEvery)
	}
	checkQuiet(t, c.Cluster, 2*failover)
}

func TestFreshFleetSpreadsWithinTwoAssignmentIntervals(t *testing.T) {
	for _, sig := range signals {
		if sig.cpu == followsLoad {
			continue // covered by the join test
		}
		t.Run(sig.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { startupCase(t, sig) })
		})
	}
}

// restartCase: a worker crashes, its leases go to the others, and it
// comes back under the same id with nothing: it gets its share again.
func restartCase(t *testing.T, sig signal) {
	c := newLatencyCluster(t, 24)
	if sig.traffic {
		produce(t, c.Cluster)
	}
	ids := []string{"w1", "w2", "w3", "w4"}
	ws := startWorkers(t, c.Cluster, sig.cpu, ids...)
	waitFor(t, 6*failover, "even spread", func() bool { return spreadWithin(c.Cluster, 6, 6, ids...) })
	victim := "w2"
	if c.Leader() == victim {
		victim = "w3"
	}
	if err := c.Crash(ws[victim]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 6*failover, "the crashed worker's leases moved", func() bool { return c.Counts()[victim] == 0 && c.Counts()[""] == 0 })
	time.Sleep(failover)
	back := time.Now()
	startWorkers(t, c.Cluster, sig.cpu, victim)
	awaitFor(t, c.Cluster, 6*failover, "even spread again", func() bool { return spreadWithin(c.Cluster, 6, 6, ids...) })
	if d := time.Since(back); d > 2*assignEvery {
		t.Errorf("the restarted worker had its share %v after it came back; want at most %v", d, 2*assignEvery)
	}
}

func TestRestartedWorkerGetsItsShareBack(t *testing.T) {
	for _, sig := range signals {
		if sig.cpu == followsLoad {
			continue // covered by the join test
		}
		t.Run(sig.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { restartCase(t, sig) })
		})
	}
}

// deadCase: a worker dies; its six leases are spread over the three
// survivors (two each), not given to one.
func deadCase(t *testing.T, sig signal) {
	c := newLatencyCluster(t, 24)
	if sig.traffic {
		produce(t, c.Cluster)
	}
	ids := []string{"w1", "w2", "w3", "w4"}
	ws := startWorkers(t, c.Cluster, sig.cpu, ids...)
	waitFor(t, 6*failover, "even spread", func() bool { return spreadWithin(c.Cluster, 6, 6, ids...) })
	time.Sleep(2 * failover)
	victim := "w4"
	if c.Leader() == victim {
		victim = "w3"
	}
	if err := c.Crash(ws[victim]); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for _, id := range ids {
		if id != victim {
			rest = append(rest, id)
		}
	}
	waitFor(t, 6*failover, "the dead worker's leases reassigned", func() bool { return c.Counts()[victim] == 0 && c.Counts()[""] == 0 })
	if counts := c.Counts(); !spreadWithin(c.Cluster, 8, 8, rest...) {
		t.Errorf("the dead worker's leases were not spread evenly over the survivors: %v", counts)
	}
}

func TestDeadWorkersLeasesSpreadOverSurvivors(t *testing.T) {
	for _, sig := range signals {
		if sig.cpu == followsLoad {
			continue // covered by the join test
		}
		t.Run(sig.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { deadCase(t, sig) })
		})
	}
}

// testLogLevel is warn, or what SCENARIO_LOG names (e.g. info) when a
// failing test needs the workers' logs.
func testLogLevel() zerolog.Level {
	if l, err := zerolog.ParseLevel(os.Getenv("SCENARIO_LOG")); err == nil && l != zerolog.NoLevel {
		return l
	}
	return zerolog.WarnLevel
}
