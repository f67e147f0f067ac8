package scenario_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/internal/scenario"
	"github.com/shardwise/shardwise/scheduler"
)

const (
	failover = 10 * time.Second
	// fenceMargin is the scheduler's default, FailoverTime/5.
	fenceMargin = failover / 5
	// batchTime is how long the test processor takes per batch.
	batchTime = 5 * time.Millisecond
)

// latencyCluster is a cluster whose workers reach DynamoDB and Kinesis
// through links with realistic latency: 3 ms plus up to 12 ms, drawn from
// a generator seeded per worker. A cut-off worker's DynamoDB calls hang
// for two failover times (or until their context ends) and then fail.
type latencyCluster struct {
	*scenario.Cluster
	mu    sync.Mutex
	links map[string]*link
}

func newLatencyCluster(t *testing.T, shards int) *latencyCluster {
	t.Helper()
	lc := &latencyCluster{links: map[string]*link{}}
	var seed uint64
	c, err := scenario.New(scenario.Options{
		FanOut:       strings.Contains(t.Name(), "/fanout/"),
		Shards:       shards,
		FailoverTime: failover,
		BatchDelay:   batchTime,
		Logger:       zerolog.New(zerolog.NewTestWriter(t)).Level(testLogLevel()),
		Tweak: func(cfg *scheduler.Config) {
			lc.mu.Lock()
			defer lc.mu.Unlock()
			seed++
			l := newLink(seed, 3*time.Millisecond, 12*time.Millisecond, 2*failover)
			lc.links[cfg.WorkerID] = l
			l.wrap(cfg)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	lc.Cluster = c
	t.Cleanup(c.StopAll)
	return lc
}

func (lc *latencyCluster) link(id string) *link {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.links[id]
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !scenario.WaitFor(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// produce writes a few records every 20ms until stop is called or the
// test ends.
func produce(t *testing.T, c *scenario.Cluster) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := c.ProduceEvery(ctx, 20*time.Millisecond, 6, 60)
	var once sync.Once
	var err error
	stop = func() {
		once.Do(func() { cancel(); err = <-done })
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { once.Do(func() { cancel(); <-done }) })
	return stop
}

// handoverViolations checks the journal, shard by shard, for the property
// self-fencing exists for: a worker has stopped processing a shard before
// another worker starts it. Starting is the new owner's Initialize; after
// it, only the new owner may run ProcessRecords on the shard (until
// another Initialize), and no earlier owner's ProcessRecords call may
// still be running when it happens. Ties count against the old owner: it
// must have stopped strictly before.
func handoverViolations(ivs []scenario.Interval, evs []scenario.Event) []string {
	inits := map[string][]scenario.Event{}
	for _, e := range evs {
		if e.Kind == "init" {
			inits[e.Shard] = append(inits[e.Shard], e)
		}
	}
	for _, list := range inits {
		sort.SliceStable(list, func(i, j int) bool { return list[i].At.Before(list[j].At) })
	}
	var out []string
	for _, iv := range ivs {
		list := inits[iv.Shard]
		// The owner when the call started: the last Initialize at or
		// before it.
		i := sort.Search(len(list), func(i int) bool { return list[i].At.After(iv.Start) }) - 1
		switch {
		case i < 0:
			out = append(out, fmt.Sprintf("shard %s: %s processed at %v before any Initialize", iv.Shard, iv.Worker, iv.Start))
		case list[i].Worker != iv.Worker:
			out = append(out, fmt.Sprintf("shard %s: %s processed at %v, %v after %s started the shard",
				iv.Shard, iv.Worker, iv.Start.Format("15:04:05.000"), iv.Start.Sub(list[i].At), list[i].Worker))
		}
		// No other worker may start the shard while this call runs.
		for _, e := range list {
			if e.Worker != iv.Worker && !e.At.Before(iv.Start) && e.At.Before(iv.End) {
				out = append(out, fmt.Sprintf("shard %s: %s started it at %v while %s was still processing (%v-%v)",
					iv.Shard, e.Worker, e.At.Format("15:04:05.000"), iv.Worker, iv.Start.Format("15:04:05.000"), iv.End.Format("15:04:05.000")))
			}
		}
	}
	return out
}

// cutOffWorkerStopsBeforeItsShardsMove runs three workers with realistic
// AWS latency, cuts one (not the leader) off from DynamoDB while it can
// still read Kinesis, and checks that it stopped processing its shards by
// its fencing deadline, before the leader gave them to others and they
// started there. Without self-fencing the cut-off worker goes on
// processing (its checkpoints fail, so it offers the same batches again)
// while the new owners process the same shards.
func cutOffWorkerStopsBeforeItsShardsMove(t *testing.T, mode cutMode) {
	c := newLatencyCluster(t, 6)
	stop := produce(t, c.Cluster)
	ws := map[string]*scenario.Worker{}
	for _, id := range []string{"w1", "w2", "w3"} {
		w, err := c.Start(id)
		if err != nil {
			t.Fatal(err)
		}
		ws[id] = w
	}
	waitFor(t, 6*failover, "every worker holding leases and a leader", func() bool {
		counts := c.Counts()
		return c.Leader() != "" && counts[""] == 0 && counts["w1"] > 0 && counts["w2"] > 0 && counts["w3"] > 0
	})
	// Let every shard run on its owner for a while.
	time.Sleep(failover / 2)
	victim := ws["w1"]
	if c.Leader() == victim.ID {
		victim = ws["w2"]
	}
	var held []string
	for shard, owner := range c.Owners() {
		if owner == victim.ID {
			held = append(held, shard)
		}
	}
	sort.Strings(held)
	cut := time.Now()
	if mode == partitioned {
		victim.Partition(true)
	} else {
		c.link(victim.ID).cut.Store(int32(mode))
	}
	t.Logf("%s cut off from DynamoDB at %v holding %v", victim.ID, cut.Format("15:04:05.000"), held)
	waitFor(t, 6*failover, "the cut-off worker's shards processed by other workers", func() bool {
		got := c.FirstProcessedAfter(cut, victim.ID)
		for _, s := range held {
			if got[s].IsZero() {
				return false
			}
		}
		return true
	})
	for _, s := range held {
		t.Logf("shard %s taken over after %v", s, c.FirstProcessedAfter(cut, victim.ID)[s].Sub(cut))
	}
	// Both would now run the shards if the cut-off worker had not fenced.
	time.Sleep(failover)
	healed := time.Now()
	victim.Partition(false)
	c.link(victim.ID).cut.Store(int32(connected))
	stop()
	waitFor(t, 6*failover, "every record delivered", func() bool { return int64(c.Journal.Distinct()) >= c.Produced() })

	ivs := func() []scenario.Interval { _, ivs := c.Journal.Snapshot(); return ivs }()
	// The fencing deadline: the last successful heartbeat was sent before
	// the cut, so no batch may start after cut + FailoverTime - margin.
	deadline := cut.Add(failover - fenceMargin)
	var late []string
	for _, iv := range ivs {
		if iv.Worker == victim.ID && iv.Start.After(deadline) && iv.Start.Before(healed) {
			late = append(late, fmt.Sprintf("shard %s at %v", iv.Shard, iv.Start.Sub(cut)))
		}
	}
	if len(late) > 0 {
		t.Errorf("%s processed %d batches past its fencing deadline (%v after the cut), e.g. %v", victim.ID, len(late), failover-fenceMargin, late[:min(len(late), 5)])
	}
	if v := handoverViolations(ivs, c.Journal.Events()); len(v) > 0 {
		t.Errorf("%d times a shard ran on two workers at once; the first: %v", len(v), v[:min(len(v), 5)])
	}
	r := c.Check()
	t.Log(r.String())
	if !r.OK() {
		t.Errorf("invariants broken: %s", r)
	}
}

// partitioned cuts a worker off with the scenario's own partition: every
// store call fails at once.
const partitioned cutMode = -1

func TestCutOffWorkerStopsBeforeItsShardsMove(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode cutMode
	}{
		{"DynamoDB calls fail", partitioned},
		{"DynamoDB calls stall past the fencing window", cutAll},
		// The heartbeat in flight outlasts the fencing deadline while the
		// processors, their checkpoints failing fast, keep offering
		// batches: only the deadline check before each batch stops them
		// in time.
		{"heartbeat stalls, other calls fail", cutHeartbeats},
	} {
		// In both retrieval modes: newLatencyCluster reads the mode from
		// the subtest's name.
		for _, mode := range []string{"polling", "fanout"} {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { cutOffWorkerStopsBeforeItsShardsMove(t, tc.mode) })
			})
		}
	}
}
