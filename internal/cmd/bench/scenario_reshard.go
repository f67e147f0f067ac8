package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	sc "github.com/shardwise/shardwise/internal/scenario"
)

func init() {
	register("reshard", "split 4 -> 16 -> 64 and merge two pairs under load with 3 workers (in-memory fakes, real time): lost records, per-key order, child start delays, lease cleanup", runReshard)
}

func runReshard(ctx context.Context, opts options, out *report) error {
	const failover = 10 * time.Second
	c, err := sc.New(sc.Options{Shards: 4, FailoverTime: failover})
	if err != nil {
		return err
	}
	defer c.StopAll()
	for _, id := range []string{"w1", "w2", "w3"} {
		if _, err := c.Start(id); err != nil {
			return err
		}
	}
	pctx, stopProd := context.WithCancel(ctx)
	defer stopProd()
	prod := c.ProduceEvery(pctx, 10*time.Millisecond, 25, 500)
	flowing := func(what string) error {
		mark := c.Produced() + 500
		return waitOrFail(6*failover, what, func() bool { return int64(c.Journal.Distinct()) >= mark })
	}
	if err := flowing("records flowing"); err != nil {
		return err
	}
	// 4 -> 8 -> 16 by uniform scaling, then 16 -> 64 by splitting every
	// open shard twice (SplitShard at the middle of its range).
	for _, n := range []int{8, 16} {
		if err := c.Fake.UpdateShardCount(c.Stream, n); err != nil {
			return err
		}
		if err := flowing(fmt.Sprintf("records flowing after scaling to %d", n)); err != nil {
			return err
		}
	}
	for round := 0; round < 2; round++ {
		if err := c.SplitAllOpen(); err != nil {
			return err
		}
		if err := flowing("records flowing after splitting every shard"); err != nil {
			return err
		}
	}
	// Merge two pairs held by different workers where possible, so the
	// merged child waits for a parent on another worker.
	if err := waitOrFail(6*failover, "children spread over the workers", func() bool {
		pairs, err := c.AdjacentOpenPairsOnDifferentWorkers(2)
		return err == nil && len(pairs) == 2
	}); err != nil {
		return err
	}
	pairs, err := c.AdjacentOpenPairsOnDifferentWorkers(2)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if err := c.Fake.MergeShards(c.Stream, p[0], p[1]); err != nil {
			return err
		}
	}
	if err := flowing("records flowing after merging"); err != nil {
		return err
	}
	stopProd()
	if err := <-prod; err != nil {
		return err
	}
	if err := waitOrFail(6*failover, "every record processed", func() bool { return int64(c.Journal.Distinct()) >= c.Produced() }); err != nil {
		return err
	}
	r := c.Check()
	live, err := c.OpenShards()
	if err != nil {
		return err
	}
	// Cleanup runs on the leader's assignment runs (every FailoverTime/2).
	_ = sc.WaitFor(3*failover, func() bool { return c.LeaseCount() == live })
	starts, err := c.ChildStarts()
	if err != nil {
		return err
	}
	var same, cross []time.Duration
	for _, s := range starts {
		if s.SameWorker {
			same = append(same, s.Delay)
		} else {
			cross = append(cross, s.Delay)
		}
	}
	out.kv("records_produced", r.Produced)
	out.kv("records_lost", r.Lost)
	out.kv("order_violations", len(r.OrderViolations))
	out.kv("redeliveries", r.Duplicates)
	out.kv("overlapping_processing", len(r.Overlaps))
	out.kv("checkpoints_backwards", len(r.CheckpointsBack))
	out.kv("children_started", len(starts))
	printDelays(out, "child_start_after_parent_end_ms_same_worker", same)
	printDelays(out, "child_start_after_parent_end_ms_cross_worker", cross)
	out.kv("live_shards", live)
	out.kv("leases_left_after_cleanup", c.LeaseCount())
	return nil
}

func printDelays(out *report, prefix string, ds []time.Duration) {
	out.kv(prefix+"_count", len(ds))
	if len(ds) == 0 {
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	out.kv(prefix+"_p50", ms(ds[len(ds)/2]))
	out.kv(prefix+"_max", ms(ds[len(ds)-1]))
}
