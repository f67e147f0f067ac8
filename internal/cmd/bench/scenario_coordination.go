package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	sc "github.com/shardwise/shardwise/internal/scenario"
)

func init() {
	register("coordination", "failover, leader takeover, rolling-restart pauses, DynamoDB writes per lease-hour, rebalancing, a joining worker's first lease and share, start-up spread, moves per simulated hour (in-memory fakes, real time, FailoverTime 10s)", runCoordination)
}

// The Java KCL renews every lease every FailoverTime/3 - 25ms: 3,600 /
// 3.308 s = 1,088 writes per lease-hour at the default failover time.
const kclWritesPerLeaseHour = 3600.0 / 3.308

func runCoordination(ctx context.Context, opts options, out *report) error {
	const failover = 10 * time.Second
	out.kv("failover_time_s", failover.Seconds())
	steps := []func(context.Context, options, *report, time.Duration) error{
		measureFailover, measureLeaderTakeover, measureRollingRestart, measureSteadyWrites, measureRebalance,
		// scenario_balance.go
		measureJoinNoCPU, measureJoinIdenticalCPU, measureStartup, measureMovesPerHour,
	}
	for _, step := range steps {
		if err := step(ctx, opts, out, failover); err != nil {
			return err
		}
	}
	return nil
}

func newCluster(shards int, failover time.Duration) (*sc.Cluster, error) {
	return sc.New(sc.Options{Shards: shards, FailoverTime: failover})
}

func startAll(c *sc.Cluster, ids ...string) (map[string]*sc.Worker, error) {
	ws := map[string]*sc.Worker{}
	for _, id := range ids {
		w, err := c.Start(id)
		if err != nil {
			return nil, err
		}
		ws[id] = w
	}
	return ws, nil
}

func allAssigned(c *sc.Cluster, ids ...string) func() bool {
	return func() bool {
		counts := c.Counts()
		total := 0
		for _, id := range ids {
			if counts[id] == 0 {
				return false
			}
			total += counts[id]
		}
		return total == len(c.Owners())
	}
}

// fleet is a cluster whose workers hold every lease, under steady traffic
// (unless every is 0).
type fleet struct {
	c        *sc.Cluster
	ws       map[string]*sc.Worker
	stopOnce sync.Once
	stopErr  error
	stop     func() error
}

func startFleet(ctx context.Context, shards int, failover, every time.Duration, ids ...string) (*fleet, error) {
	c, err := newCluster(shards, failover)
	if err != nil {
		return nil, err
	}
	f := &fleet{c: c, stop: func() error { return nil }}
	if every > 0 {
		pctx, cancel := context.WithCancel(ctx)
		prod := c.ProduceEvery(pctx, every, shards, 10*shards)
		f.stop = func() error { cancel(); return <-prod }
	}
	if f.ws, err = startAll(c, ids...); err == nil {
		err = waitOrFail(6*failover, "all leases assigned", allAssigned(c, ids...))
	}
	if err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// stopProducing stops the traffic (once) and reports the producer's error.
func (f *fleet) stopProducing() error {
	f.stopOnce.Do(func() { f.stopErr = f.stop() })
	return f.stopErr
}

func (f *fleet) close() {
	_ = f.stopProducing()
	f.c.StopAll()
}

func waitOrFail(timeout time.Duration, what string, cond func() bool) error {
	if !sc.WaitFor(timeout, cond) {
		return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
	}
	return nil
}

// measureFailover crashes a worker that is not the leader and measures the
// time until the last of its shards is processed by another worker.
func measureFailover(ctx context.Context, _ options, out *report, failover time.Duration) error {
	f, err := startFleet(ctx, 12, failover, 20*time.Millisecond, "w1", "w2", "w3")
	if err != nil {
		return err
	}
	defer f.close()
	c, ws := f.c, f.ws
	victim := ws["w1"]
	if c.Leader() == "w1" {
		victim = ws["w2"]
	}
	var held []string
	for k, o := range c.Owners() {
		if o == victim.ID {
			held = append(held, k)
		}
	}
	crashed := time.Now()
	if err := c.Crash(victim); err != nil {
		return err
	}
	var worst time.Duration
	err = waitOrFail(5*failover, "the crashed worker's shards processed elsewhere", func() bool {
		first := c.FirstProcessedAfter(crashed, victim.ID)
		worst = 0
		for _, k := range held {
			if first[k].IsZero() {
				return false
			}
			worst = max(worst, first[k].Sub(crashed))
		}
		return true
	})
	if err != nil {
		return err
	}
	out.kv("failover_s", worst.Seconds())
	out.kv("failover_ratio", worst.Seconds()/failover.Seconds())
	out.kv("failover_shards_moved", len(held))
	return nil
}

// measureLeaderTakeover crashes the leader and measures the time until
// another worker has claimed leadership, and until the dead leader's
// shards are processed elsewhere.
func measureLeaderTakeover(ctx context.Context, _ options, out *report, failover time.Duration) error {
	f, err := startFleet(ctx, 8, failover, 20*time.Millisecond, "w1", "w2", "w3")
	if err != nil {
		return err
	}
	defer f.close()
	c, ws := f.c, f.ws
	old := c.Leader()
	crashed := time.Now()
	if err := c.Crash(ws[old]); err != nil {
		return err
	}
	if err := waitOrFail(5*failover, "a new leader", func() bool { l := c.Leader(); return l != "" && l != old }); err != nil {
		return err
	}
	took := time.Since(crashed)
	out.kv("leader_takeover_s", took.Seconds())
	out.kv("leader_takeover_ratio", took.Seconds()/failover.Seconds())
	return nil
}

// measureRollingRestart restarts every worker in turn under traffic and
// measures, for every shard that changed hands, the pause between the old
// owner's last batch and the new owner's first.
func measureRollingRestart(ctx context.Context, _ options, out *report, failover time.Duration) error {
	ids := []string{"w1", "w2", "w3"}
	f, err := startFleet(ctx, 12, failover, 10*time.Millisecond, ids...)
	if err != nil {
		return err
	}
	defer f.close()
	c, ws := f.c, f.ws
	began := time.Now()
	for _, id := range ids {
		if err := c.Stop(ws[id]); err != nil {
			return err
		}
		if ws[id], err = c.Start(id); err != nil {
			return err
		}
		if err := waitOrFail(6*failover, "the restarted worker holding leases", allAssigned(c, ids...)); err != nil {
			return err
		}
	}
	if err := f.stopProducing(); err != nil {
		return err
	}
	if err := waitOrFail(4*failover, "every record processed", func() bool { return int64(c.Journal.Distinct()) >= c.Produced() }); err != nil {
		return err
	}
	pauses := c.Pauses(began)
	if len(pauses) == 0 {
		return fmt.Errorf("no shard changed hands during the rolling restart")
	}
	sort.Slice(pauses, func(i, j int) bool { return pauses[i] < pauses[j] })
	r := c.Check()
	out.kv("handoff_count", len(pauses))
	out.kv("handoff_pause_ms_p50", float64(pauses[len(pauses)/2].Microseconds())/1000)
	out.kv("handoff_pause_ms_max", float64(pauses[len(pauses)-1].Microseconds())/1000)
	out.kv("handoff_duplicates", r.Duplicates)
	out.kv("rolling_restart_records", r.Produced)
	out.kv("rolling_restart_lost", r.Lost)
	out.kv("rolling_restart_order_violations", len(r.OrderViolations))
	out.kv("rolling_restart_overlaps", len(r.Overlaps))
	return nil
}

// measureSteadyWrites counts every write to the three tables while 4
// workers hold 64 leases with no traffic (so no checkpoints), and scales
// it to writes per lease-hour.
func measureSteadyWrites(ctx context.Context, opts options, out *report, failover time.Duration) error {
	f, err := startFleet(ctx, 64, failover, 0, "w1", "w2", "w3", "w4")
	if err != nil {
		return err
	}
	defer f.close()
	c := f.c
	// Let the start-up moves settle, then measure.
	if err := settle(ctx, c, failover); err != nil {
		return err
	}
	window := 60 * time.Second
	if opts.quick {
		window = 20 * time.Second
	}
	before := c.DynamoWrites()
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(window):
	}
	writes := c.DynamoWrites() - before
	perLeaseHour := float64(writes) / time.Since(t0).Hours() / 64
	out.kv("steady_window_s", window.Seconds())
	out.kv("steady_writes", writes)
	out.kv("ddb_writes_per_lease_hour", perLeaseHour)
	out.kv("ddb_writes_ratio_vs_per_lease_renewal", perLeaseHour/kclWritesPerLeaseHour)
	return nil
}

// settle waits until the lease owners have not changed for one assignment
// interval and a half.
func settle(ctx context.Context, c *sc.Cluster, failover time.Duration) error {
	quiet := failover * 3 / 4
	last := fmt.Sprint(c.Owners())
	since := time.Now()
	deadline := time.Now().Add(10 * failover)
	for time.Since(since) < quiet {
		if time.Now().After(deadline) {
			return fmt.Errorf("lease owners still changing after %v", 10*failover)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if cur := fmt.Sprint(c.Owners()); cur != last {
			last, since = cur, time.Now()
		}
	}
	return nil
}

// measureRebalance adds a fourth worker to three holding 12 leases under
// traffic and reports the moves and the time until the owners stop
// changing.
func measureRebalance(ctx context.Context, _ options, out *report, failover time.Duration) error {
	f, err := startFleet(ctx, 12, failover, 20*time.Millisecond, "w1", "w2", "w3")
	if err != nil {
		return err
	}
	defer f.close()
	c := f.c
	if err := settle(ctx, c, failover); err != nil {
		return err
	}
	before := c.Owners()
	joined := time.Now()
	if _, err := c.Start("w4"); err != nil {
		return err
	}
	// Converged: w4 holds leases and the owners have not changed for two
	// assignment runs (2 x FailoverTime/2).
	lastChange := joined
	last := fmt.Sprint(before)
	moves := 0
	prev := before
	deadline := joined.Add(12 * failover)
	for {
		if time.Now().After(deadline) {
			return fmt.Errorf("rebalance did not converge within %v", 12*failover)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		cur := c.Owners()
		if s := fmt.Sprint(cur); s != last {
			for k, o := range cur {
				if prev[k] != o {
					moves++
				}
			}
			prev, last, lastChange = cur, s, time.Now()
		}
		if c.Counts()["w4"] > 0 && time.Since(lastChange) > failover {
			break
		}
	}
	out.kv("rebalance_moves", moves)
	out.kv("rebalance_converged_s", lastChange.Sub(joined).Seconds())
	out.kv("rebalance_counts", fmt.Sprint(c.Counts()))
	return nil
}
