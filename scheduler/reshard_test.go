package scheduler_test

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/internal/scenario"
)

func newSlowCluster(t *testing.T, shards int, batchDelay time.Duration) *scenario.Cluster {
	t.Helper()
	c, err := scenario.New(scenario.Options{
		FanOut:       fanOut(t),
		Shards:       shards,
		FailoverTime: failover,
		BatchDelay:   batchDelay,
		Logger:       zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.StopAll)
	checkMode(t, c.Fake)
	return c
}

// leaseTableSettles waits until the lease table holds exactly the open
// shards' leases: finished parents were cleaned up.
func leaseTableSettles(t *testing.T, c *scenario.Cluster) {
	t.Helper()
	open, err := c.OpenShards()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 6*failover, "finished leases cleaned up", func() bool { return c.LeaseCount() == open })
}

func scenarioSplitStormUnderLoadKeepsEveryKeyInOrder(t *testing.T) {
	c := newCluster(t, 4)
	stop := produce(t, c)
	for _, id := range []string{"w1", "w2", "w3"} {
		start(t, c, id)
	}
	waitFor(t, 3*failover, "records flowing", func() bool { return c.Journal.Distinct() > 100 })
	// afterwards waits until records written after a reshard were
	// processed, i.e. the children are running.
	afterwards := func(what string) {
		mark := c.Produced() + 200
		waitFor(t, 6*failover, what, func() bool { return int64(c.Journal.Distinct()) >= mark })
	}
	for _, n := range []int{8, 16} {
		if err := c.Fake.UpdateShardCount(c.Stream, n); err != nil {
			t.Fatal(err)
		}
		afterwards("records flowing after resharding")
	}
	// Merge two pairs of adjacent open shards back.
	open := openAdjacentPairs(t, c, 2)
	for _, p := range open {
		if err := c.Fake.MergeShards(c.Stream, p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	afterwards("records flowing after merging")
	stop()
	r := drain(t, c, true)
	if r.Duplicates != 0 {
		t.Logf("%d redeliveries (allowed after hand-offs forced by timeouts)", r.Duplicates)
	}
	leaseTableSettles(t, c)
}

// openAdjacentPairs finds n disjoint pairs of open shards whose hash
// ranges touch.
func openAdjacentPairs(t *testing.T, c *scenario.Cluster, n int) [][2]string {
	t.Helper()
	pairs, err := c.AdjacentOpenPairs(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) < n {
		t.Fatalf("found %d adjacent open pairs, want %d", len(pairs), n)
	}
	return pairs
}

func scenarioSplitOfAChildBeforeItsParentFinished(t *testing.T) {
	// A slow processor keeps the parent busy while its child is split
	// again: the grandchildren must wait for both generations.
	c := newSlowCluster(t, 1, 20*time.Millisecond)
	if err := c.Produce(300, 30); err != nil {
		t.Fatal(err)
	}
	start(t, c, "w1")
	start(t, c, "w2")
	if err := c.Fake.UpdateShardCount(c.Stream, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Produce(200, 30); err != nil {
		t.Fatal(err)
	}
	if err := c.Fake.UpdateShardCount(c.Stream, 4); err != nil {
		t.Fatal(err)
	}
	if err := c.Produce(200, 30); err != nil {
		t.Fatal(err)
	}
	drain(t, c, true)
	starts, err := c.ChildStarts()
	if err != nil {
		t.Fatal(err)
	}
	if len(starts) < 6 {
		t.Fatalf("%d children started, want 6 (2 + 4)", len(starts))
	}
	for _, s := range starts {
		if s.Delay < 0 {
			t.Fatalf("child %s initialized %v before its parent ended", s.Child, -s.Delay)
		}
	}
	leaseTableSettles(t, c)
}

func scenarioMergeOfParentsOnDifferentWorkers(t *testing.T) {
	c := newCluster(t, 2)
	if err := c.Produce(200, 20); err != nil {
		t.Fatal(err)
	}
	start(t, c, "w1")
	start(t, c, "w2")
	waitFor(t, 3*failover, "one shard each", evenSpread(c, 2, 1))
	if err := c.Fake.MergeShards(c.Stream, "shardId-000000000000", "shardId-000000000001"); err != nil {
		t.Fatal(err)
	}
	if err := c.Produce(200, 20); err != nil {
		t.Fatal(err)
	}
	drain(t, c, true)
	starts, err := c.ChildStarts()
	if err != nil {
		t.Fatal(err)
	}
	if len(starts) != 1 || starts[0].Delay < 0 {
		t.Fatalf("merged child start: %+v", starts)
	}
	t.Logf("merged child started %v after its last parent ended (same worker: %v)", starts[0].Delay, starts[0].SameWorker)
	leaseTableSettles(t, c)
}

func scenarioWorkerDiesHoldingAParent(t *testing.T) {
	c := newSlowCluster(t, 2, 10*time.Millisecond)
	if err := c.Produce(400, 40); err != nil {
		t.Fatal(err)
	}
	w1 := start(t, c, "w1")
	start(t, c, "w2")
	waitFor(t, 3*failover, "one shard each", evenSpread(c, 2, 1))
	if err := c.Fake.UpdateShardCount(c.Stream, 4); err != nil {
		t.Fatal(err)
	}
	if err := c.Produce(400, 40); err != nil {
		t.Fatal(err)
	}
	// Kill w1 while it is still working through its parent.
	if err := c.Crash(w1); err != nil {
		t.Fatal(err)
	}
	drain(t, c, true)
	starts, err := c.ChildStarts()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range starts {
		if s.Delay < 0 {
			t.Fatalf("child %s initialized before its parent ended", s.Child)
		}
	}
	leaseTableSettles(t, c)
}

func TestSplitStormUnderLoadKeepsEveryKeyInOrder(t *testing.T) {
	inBothModes(t, scenarioSplitStormUnderLoadKeepsEveryKeyInOrder)
}
func TestSplitOfAChildBeforeItsParentFinished(t *testing.T) {
	inBothModes(t, scenarioSplitOfAChildBeforeItsParentFinished)
}
func TestMergeOfParentsOnDifferentWorkers(t *testing.T) {
	inBothModes(t, scenarioMergeOfParentsOnDifferentWorkers)
}
func TestWorkerDiesHoldingAParent(t *testing.T) { inBothModes(t, scenarioWorkerDiesHoldingAParent) }
