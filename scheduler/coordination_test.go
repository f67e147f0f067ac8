package scheduler_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/internal/scenario"
	"github.com/shardwise/shardwise/kinesistest"
)

// The multi-worker scenarios run at the default failover time, in
// simulated time (testing/synctest): every wait is a condition polled with
// a deadline, and the clock only moves when every goroutine is blocked.
const failover = 10 * time.Second

// inBothModes runs a scenario twice, as the subtests "polling" and
// "fanout" (each in its own synctest bubble); the clusters it makes read
// the retrieval mode from the subtest's name.
func inBothModes(t *testing.T, scenario func(t *testing.T)) {
	for _, mode := range []string{"polling", "fanout"} {
		t.Run(mode, func(t *testing.T) { synctest.Test(t, scenario) })
	}
}

// fanOut reports whether t is (inside) the "fanout" subtest of
// inBothModes.
func fanOut(t *testing.T) bool { return strings.Contains(t.Name(), "/fanout") }

// checkMode fails t if the fake did not serve the retrieval mode t runs
// in (and only it).
func checkMode(t *testing.T, fake *kinesistest.Fake) {
	t.Cleanup(func() {
		subs, polls := fake.Calls("SubscribeToShard"), fake.Calls("GetRecords")
		if fanOut(t) && (subs == 0 || polls > 0) || !fanOut(t) && subs > 0 {
			t.Errorf("retrieval mode: %d SubscribeToShard and %d GetRecords calls in mode fanout=%v", subs, polls, fanOut(t))
		}
	})
}

func newCluster(t *testing.T, shards int) *scenario.Cluster {
	t.Helper()
	c, err := scenario.New(scenario.Options{
		FanOut:       fanOut(t),
		Shards:       shards,
		FailoverTime: failover,
		Logger:       zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.StopAll)
	checkMode(t, c.Fake)
	return c
}

func start(t *testing.T, c *scenario.Cluster, id string) *scenario.Worker {
	t.Helper()
	w, err := c.Start(id)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// produce writes a few records every 20ms until the test ends.
func produce(t *testing.T, c *scenario.Cluster) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := c.ProduceEvery(ctx, 20*time.Millisecond, 6, 60)
	var once sync.Once
	var err error
	stop = func() {
		once.Do(func() {
			cancel()
			err = <-done
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A failing test must stop the producer too (and before the bubble
	// ends): cleanups run in reverse order, after the cluster's StopAll.
	t.Cleanup(func() { once.Do(func() { cancel(); <-done }) })
	return stop
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !scenario.WaitFor(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

func evenSpread(c *scenario.Cluster, workers, per int) func() bool {
	return func() bool {
		counts := c.Counts()
		if len(counts) != workers || counts[""] != 0 {
			return false
		}
		for _, n := range counts {
			if n != per {
				return false
			}
		}
		return true
	}
}

// assignedTo reports whether every lease is owned by one of ids and each
// of them holds at least minEach: the shape a load-balanced fleet reaches
// once traffic flows (the planner then balances throughput, not counts).
func assignedTo(c *scenario.Cluster, minEach int, ids ...string) func() bool {
	return func() bool {
		counts := c.Counts()
		total := 0
		for _, id := range ids {
			if counts[id] < minEach {
				return false
			}
			total += counts[id]
		}
		return total == len(c.Owners())
	}
}

// drain waits until every produced record was delivered, then checks the
// invariants.
func drain(t *testing.T, c *scenario.Cluster, allowDuplicates bool) scenario.Report {
	t.Helper()
	waitFor(t, 6*failover, "every record delivered", func() bool { return int64(c.Journal.Distinct()) >= c.Produced() })
	r := c.Check()
	t.Log(r.String())
	if !r.OK() {
		t.Fatalf("invariants broken: %s", r)
	}
	if !allowDuplicates && r.Duplicates != 0 {
		t.Fatalf("%d records processed twice where only graceful hand-offs happened", r.Duplicates)
	}
	return r
}

func scenarioThreeWorkersReachEvenSpread(t *testing.T) {
	c := newCluster(t, 12)
	for _, id := range []string{"w1", "w2", "w3"} {
		start(t, c, id)
	}
	// Without load figures the planner balances lease counts.
	waitFor(t, 3*failover, "4 leases each", evenSpread(c, 3, 4))
	stop := produce(t, c)
	waitFor(t, 3*failover, "records flowing", func() bool { return c.Journal.Distinct() > 200 })
	stop()
	drain(t, c, false)
	if counts := c.Counts(); counts["w1"]+counts["w2"]+counts["w3"] != 12 {
		t.Fatalf("leases not all held by the three workers: %v", counts)
	}
}

func scenarioWorkerKilledWithoutWarning(t *testing.T) {
	c := newCluster(t, 12)
	stop := produce(t, c)
	ws := []*scenario.Worker{start(t, c, "w1"), start(t, c, "w2"), start(t, c, "w3")}
	// Traffic flows from the start, so the leader balances throughput.
	waitFor(t, 3*failover, "every worker holding leases", assignedTo(c, 2, "w1", "w2", "w3"))
	// Kill a worker that is not the leader.
	victim := ws[0]
	if c.Leader() == victim.ID {
		victim = ws[1]
	}
	var held []string
	for k, o := range c.Owners() {
		if o == victim.ID {
			held = append(held, k)
		}
	}
	killed := time.Now()
	if err := c.Crash(victim); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*failover, "the victim's shards processed elsewhere", func() bool {
		first := c.FirstProcessedAfter(killed, victim.ID)
		for _, k := range held {
			if first[k].IsZero() {
				return false
			}
		}
		return true
	})
	worst := time.Duration(0)
	for _, k := range held {
		worst = max(worst, c.FirstProcessedAfter(killed, victim.ID)[k].Sub(killed))
	}
	t.Logf("failover: worst shard resumed %v after the crash (failover time %v)", worst, failover)
	if worst < failover*8/10 {
		t.Fatalf("shards resumed %v after the crash: before the dead worker could have fenced itself", worst)
	}
	var alive []string
	for _, w := range ws {
		if w != victim {
			alive = append(alive, w.ID)
		}
	}
	waitFor(t, 3*failover, "every lease on a survivor", assignedTo(c, 1, alive...))
	stop()
	drain(t, c, true)
}

func scenarioWorkerJoinsAndTakesItsShareGracefully(t *testing.T) {
	c := newCluster(t, 12)
	for _, id := range []string{"w1", "w2", "w3"} {
		start(t, c, id)
	}
	waitFor(t, 3*failover, "even spread over 3", evenSpread(c, 3, 4))
	stop := produce(t, c)
	waitFor(t, 3*failover, "records flowing", func() bool { return c.Journal.Distinct() > 200 })
	// The newcomer gets its share by graceful hand-offs, under traffic:
	// nothing may be processed twice.
	start(t, c, "w4")
	waitFor(t, 6*failover, "w4 holding a share", assignedTo(c, 2, "w1", "w2", "w3", "w4"))
	stop()
	drain(t, c, false)
}

func scenarioRollingRestartLosesNothingAndPausesBriefly(t *testing.T) {
	c := newCluster(t, 12)
	stop := produce(t, c)
	ws := map[string]*scenario.Worker{}
	for _, id := range []string{"w1", "w2", "w3"} {
		ws[id] = start(t, c, id)
	}
	waitFor(t, 3*failover, "every worker holding leases", assignedTo(c, 2, "w1", "w2", "w3"))
	began := time.Now()
	for _, id := range []string{"w1", "w2", "w3"} {
		if err := c.Stop(ws[id]); err != nil {
			t.Fatal(err)
		}
		ws[id] = start(t, c, id)
		waitFor(t, 6*failover, "the restarted "+id+" holding leases again", assignedTo(c, 2, "w1", "w2", "w3"))
		// Records written after the restart are processed before the
		// next worker goes, so every hand-over shows in the journal.
		mark := c.Produced() + 100
		waitFor(t, 6*failover, "records flowing after restarting "+id, func() bool { return int64(c.Journal.Distinct()) >= mark })
	}
	stop()
	drain(t, c, false)
	pauses := c.Pauses(began)
	if len(pauses) == 0 {
		t.Fatal("no shard changed hands during the rolling restart")
	}
	worst := time.Duration(0)
	for _, p := range pauses {
		worst = max(worst, p)
	}
	t.Logf("rolling restart: %d hand-overs, worst pause %v", len(pauses), worst)
	// Handed-on leases restart without waiting for expiry.
	if worst >= failover {
		t.Fatalf("a shard paused %v during the rolling restart: it waited for expiry instead of being handed on", worst)
	}
}

func scenarioLeaderKilled(t *testing.T) {
	c := newCluster(t, 8)
	stop := produce(t, c)
	ws := map[string]*scenario.Worker{}
	for _, id := range []string{"w1", "w2", "w3"} {
		ws[id] = start(t, c, id)
	}
	waitFor(t, 3*failover, "a leader", func() bool { return c.Leader() != "" })
	waitFor(t, 3*failover, "all leases assigned", func() bool { return c.Counts()[""] == 0 && len(c.Counts()) == 3 })
	old := c.Leader()
	killed := time.Now()
	if err := c.Crash(ws[old]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*failover, "a new leader", func() bool { l := c.Leader(); return l != "" && l != old })
	t.Logf("leader takeover after %v", time.Since(killed))
	waitFor(t, 10*failover, "the old leader's leases reassigned", func() bool {
		for _, o := range c.Owners() {
			if o == old || o == "" {
				return false
			}
		}
		return true
	})
	stop()
	drain(t, c, true)
}

func scenarioPartitionedWorkerStopsBeforeItsLeasesMove(t *testing.T) {
	c := newCluster(t, 8)
	stop := produce(t, c)
	ws := map[string]*scenario.Worker{}
	for _, id := range []string{"w1", "w2"} {
		ws[id] = start(t, c, id)
	}
	waitFor(t, 3*failover, "both workers holding leases", assignedTo(c, 2, "w1", "w2"))
	victim := ws["w1"]
	if c.Leader() == "w1" {
		victim = ws["w2"]
	}
	victim.Partition(true)
	waitFor(t, 10*failover, "the partitioned worker's leases moved", func() bool {
		return c.Counts()[victim.ID] == 0 && c.Counts()[""] == 0
	})
	// Heal the partition: the worker comes back and gets a share again.
	victim.Partition(false)
	waitFor(t, 6*failover, "the healed worker holding leases again", assignedTo(c, 1, "w1", "w2"))
	stop()
	// The overlap check in drain proves the partitioned worker stopped
	// processing before another worker started on its shards.
	drain(t, c, true)
}

func scenarioOverloadedWorkerShedsLeases(t *testing.T) {
	c := newCluster(t, 12)
	stop := produce(t, c)
	ws := []*scenario.Worker{start(t, c, "w1"), start(t, c, "w2"), start(t, c, "w3")}
	// No CPU figures yet: the leader balances throughput first.
	waitFor(t, 3*failover, "every worker holding leases", assignedTo(c, 2, "w1", "w2", "w3"))
	ws[1].SetCPU(20)
	ws[2].SetCPU(20)
	before := c.Counts()["w1"]
	ws[0].SetCPU(95)
	waitFor(t, 6*failover, "w1 sheds leases", func() bool { return c.Counts()["w1"] < before })
	t.Logf("lease counts after overload: %v", c.Counts())
	stop()
	drain(t, c, false)
}

// The scenarios run in a synctest bubble: time is simulated, so they run
// at the default failover time in a fraction of a second of real time.
func TestThreeWorkersReachEvenSpread(t *testing.T) {
	synctest.Test(t, scenarioThreeWorkersReachEvenSpread)
}
func TestWorkerKilledWithoutWarning(t *testing.T) {
	inBothModes(t, scenarioWorkerKilledWithoutWarning)
}
func TestWorkerJoinsAndTakesItsShareGracefully(t *testing.T) {
	inBothModes(t, scenarioWorkerJoinsAndTakesItsShareGracefully)
}
func TestRollingRestartLosesNothingAndPausesBriefly(t *testing.T) {
	inBothModes(t, scenarioRollingRestartLosesNothingAndPausesBriefly)
}
func TestLeaderKilled(t *testing.T) { synctest.Test(t, scenarioLeaderKilled) }
func TestPartitionedWorkerStopsBeforeItsLeasesMove(t *testing.T) {
	synctest.Test(t, scenarioPartitionedWorkerStopsBeforeItsLeasesMove)
}
func TestOverloadedWorkerShedsLeases(t *testing.T) {
	synctest.Test(t, scenarioOverloadedWorkerShedsLeases)
}
