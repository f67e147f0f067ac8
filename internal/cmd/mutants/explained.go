package main

import "strings"

// explanation says why a generated mutant (-auto) that the tests let pass
// needs no test: it is equivalent (no behaviour differs), or it changes
// only a log line, a metric or a figure no safety property reads. A
// survivor is matched by file, function, operator and the text it
// replaces (line numbers move; the text is compared with its white space
// collapsed), so an entry goes stale, and the mutant shows as an
// unexplained survivor again, when that code changes.
type explanation struct {
	File, Func, Op, Old, New string
	// Near, when set, must occur in the site's source line or the two
	// lines before it (white space collapsed): it tells apart two sites
	// of one function with the same operator and text.
	Near string
	Why  string
}

func explanationOf(file string, s site) string {
	norm := func(x string) string { return strings.Join(strings.Fields(x), " ") }
	for _, e := range explainedSurvivors {
		if e.File == file && e.Func == s.Func && e.Op == s.Op && norm(e.Old) == norm(s.Old) && e.New == s.New && strings.Contains(s.LineText, e.Near) {
			return e.Why
		}
	}
	return ""
}

const (
	whyTimerHygiene = "equivalent: stopping a timer that is never read again only frees it earlier (timers are collected once unreferenced)"
	whyLogOnly      = "log only: the condition chooses whether (or which) log line is written; no state, call or result changes"
	whyMetricOnly   = "metric or figure only: no safety property or decision reads it"
	whyTieBreak     = "equivalent: a tie-break on unique worker ids never meets equal ids"
)

// explainedSurvivors lists the generated mutants that survive for a reason, found
// by the run of make mutants-auto (sampled sites, -max 30 -offset 0).
var explainedSurvivors = []explanation{
	// --- internal/session
	{File: "internal/session/session.go", Func: "Session.loop", Op: "negate", Old: "!=", New: "==", Near: "if fence != nil {",
		Why: whyTimerHygiene + " (the fence timer, on the way out of the loop or after the heartbeat timer won)"},
	{File: "internal/session/session.go", Func: "Session.loop", Op: "negate", Old: "!=", New: "==", Near: "s.reregister(ctx); err != nil",
		Why: whyLogOnly + " (the re-registration warning)"},
	{File: "internal/session/session.go", Func: "Session.loop", Op: "call", Old: "next.Reset(s.retryDelay())", New: "_ = 0", Near: "Keep trying to get alive again",
		Why: "equivalent: when the fencing timer fires the heartbeat timer is already armed at most a retry delay away (after a failure it was reset to the retry delay; after a success to the interval, which the config keeps below the fencing deadline), so re-arming it changes no retry"},
	{File: "internal/session/session.go", Func: "Session.beat", Op: "call", Old: "s.fenceIfLate()", New: "_ = 0", Near: "the call may have outlasted the deadline",
		Why: "kept for an instant no test can time: the call's own fencing timer (fence-waits-for-stalled-heartbeat) fences at the deadline and beat waits for it, so the check after the call only matters when the call returns between the deadline and that timer's goroutine running (see mutants.go)"},

	// --- leases (memory stores) and checkpoint (the fake checkpointer),
	// found by the unsampled run (-max 0).
	{File: "leases/memory.go", Func: "memoryStore.begin", Op: "boundary", Old: ">", New: ">=", Near: "if f.left > 0 {",
		Why: "equivalent: no stored fault has left == 0 (InjectError clears instead of storing times 0, and begin deletes a fault as it reaches 0), so > 0 and >= 0 agree on every stored fault"},
	{File: "leases/memory.go", Func: "memoryStore.fenced", Op: "return", Old: "return 0, leaseLost(op, key)", New: "_ = 0", Near: "s, ok := m.leases[key] if !ok {",
		Why: "equivalent: a missing lease reads as the zero lease, which no writer holds (the owner was checked non-empty, and the zero lease has no owner or checkpoint owner), so the next check returns the same lease-lost error"},
	{File: "leases/workers_memory.go", Func: "memoryWorkerStore.List", Op: "boundary", Old: "<", New: "<=", Near: "sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })",
		Why: "equivalent: the records are a map's values keyed by id, so no two ids are equal and the order is the same"},
	{File: "checkpoint/fake.go", Func: "Fake.Delivered", Op: "boundary", Old: ">", New: ">=",
		Why: "equivalent: when pos equals the largest delivered position, setting it again changes nothing"},
	{File: "checkpoint/fake.go", Func: "Fake.Rewind", Op: "boundary", Old: "<", New: "<=",
		Why: "equivalent: when pos equals the largest delivered position, setting it again changes nothing"},
	{File: "checkpoint/fake.go", Func: "Fake.InjectError", Op: "boundary", Old: "<=", New: "<", Near: "if err == nil || times <= 0 {",
		Why: "equivalent: with times 0 the loop that follows appends nothing"},
	{File: "checkpoint/fake.go", Func: "Fake.Checkpoint", Op: "boundary", Old: "<=", New: "<", Near: "if pos.IsZero() || consumer.Compare(pos, f.last) <= 0 {",
		Why: "equivalent: checkpointLocked returns nil without writing for a position equal to the last checkpoint as well (TestFakeNoOpsWriteNothing)"},

	{File: "internal/session/session.go", Func: "Session.loop", Op: "call", Old: "fence.Stop()", New: "_ = 0",
		Why: whyTimerHygiene + " (the fence timer, on the way out of the loop or after the heartbeat timer won)"},
	{File: "internal/session/session.go", Func: "Session.loop", Op: "return", Old: "return", New: "_ = 0", Near: "fence.Stop() } return",
		Why: "equivalent: with the context ended, the heartbeat that follows fails before any request is sent, and the loop returns on that error"},
	{File: "internal/session/session.go", Func: "Session.loop", Op: "negate", Old: "&&", New: "||", Near: "if err := s.reregister(ctx); err != nil && ctx.Err() == nil {",
		Why: whyLogOnly + " (the re-registration warning)"},
	{File: "internal/session/session.go", Func: "Session.loop", Op: "negate", Old: "==", New: "!=", Near: "if err := s.reregister(ctx); err != nil && ctx.Err() == nil {",
		Why: whyLogOnly + " (the re-registration warning)"},
	{File: "internal/session/session.go", Func: "Session.loop", Op: "return", Old: "return", New: "_ = 0", Near: "default: if ctx.Err() != nil {",
		Why: whyLogOnly + " (a warning for the failed heartbeat; the loop's select then returns on the ended context at once)"},

	// --- internal/checkpointer
	{File: "internal/checkpointer/checkpointer.go", Func: "Checkpointer.Delivered", Op: "boundary", Old: ">", New: ">=",
		Why: "equivalent: when pos equals the largest delivered position, setting it again changes nothing"},
	{File: "internal/checkpointer/checkpointer.go", Func: "Checkpointer.Rewind", Op: "boundary", Old: "<", New: "<=",
		Why: "equivalent: when pos equals the largest delivered position, setting it again changes nothing"},
	{File: "internal/checkpointer/checkpointer.go", Func: "Checkpointer.markLost", Op: "return", Old: "return", New: "_ = 0",
		Why: "unreachable: every caller runs under c.mu after check() or RecordChildShards found no loss recorded, so markLost never meets a recorded loss"},

	// --- internal/coordinator
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.tick", Op: "return", Old: "return", New: "_ = 0", Near: "if ctx.Err() != nil { return",
		Why: "equivalent: with the context ended every store call of elect fails at once with the context's error, which tick does not log"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.tick", Op: "negate", Old: "&&", New: "||", Near: "if err := c.lead(ctx, force); err != nil && ctx.Err() == nil {",
		Why: whyLogOnly},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.elect", Op: "return", Old: "return nil", New: "_ = 0", Near: "c.watch, c.watching = sighting{rec: w, since: now}, true",
		Why: "equivalent: a sighting just recorded has since = now, so the failover check that follows is false and elect returns nil anyway"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.applyMoves", Op: "negate", Old: "!", New: "", Near: "ctx.Err() == nil {",
		Why: whyLogOnly},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.expireHandoff", Op: "negate", Old: "==", New: "!=", Near: "!errors.Is(err, leases.ErrConditionFailed) && ctx.Err() == nil",
		Why: whyLogOnly},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.removeFinishedLeases", Op: "negate", Old: "!", New: "", Near: "if !errors.Is(err, leases.ErrConditionFailed) && ctx.Err() == nil {",
		Why: whyLogOnly},

	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.expireHandoff", Op: "negate", Old: "!", New: "", Near: "if !errors.Is(err, leases.ErrConditionFailed) && ctx.Err() == nil {",
		Why: whyLogOnly},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.housekeeping", Op: "call", Old: "m.Count(metricnames.MetricNumOfLeasesReassignment, int64(applied), metrics.LevelSummary)", New: "_ = 0",
		Why: whyMetricOnly + " (NumOfLeasesReassignment)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.housekeeping", Op: "boundary", Old: ">", New: ">=", Near: "if c.cfg.OnAssign != nil && len(moves) > 0 {",
		Why: "equivalent in effect: OnAssign told of no moves only wakes the scheduler's discovery once more"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.removeDeadWorkers", Op: "boundary", Old: "<", New: "<=", Near: "now.Sub(s.since) < 2*c.cfg.FailoverTime",
		Why: "tie only: the tidy-up of a dead worker's record at exactly two failover times (to the nanosecond of a scan) or one scan later"},

	// Found by the unsampled run (-max 0) of coordinator.go.
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.Release", Op: "negate", Old: "!=", New: "==", Near: "ReleaseLeader(ctx, c.rec); err != nil",
		Why: whyLogOnly + " (the release write is made either way; only whether the warning or the released line follows)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.Release", Op: "negate", Old: "&&", New: "||", Near: "ReleaseLeader(ctx, c.rec); err != nil",
		Why: whyLogOnly + " (the release write is made either way; only whether the warning or the released line follows)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.Release", Op: "negate", Old: "!", New: "", Near: "ReleaseLeader(ctx, c.rec); err != nil",
		Why: whyLogOnly + " (the release write is made either way; only whether the warning or the released line follows)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.Release", Op: "return", Old: "return", New: "_ = 0", Near: "releasing leadership failed",
		Why: whyLogOnly + " (after a failed release, the released line is written too)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.tick", Op: "negate", Old: "==", New: "!=", Near: "metrics.LevelDetailed) if err != nil { if ctx.Err() == nil {",
		Why: whyLogOnly + " (the election-check warning)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.tick", Op: "negate", Old: "!=", New: "==", Near: "if err := c.lead(ctx, force); err != nil && ctx.Err() == nil {",
		Why: whyLogOnly},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.tick", Op: "negate", Old: "==", New: "!=", Near: "if err := c.lead(ctx, force); err != nil && ctx.Err() == nil {",
		Why: whyLogOnly},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.elect", Op: "return", Old: "return nil", New: "_ = 0", Near: `c.becomeLeader(rec, *lostClaim, "claimed (response lost)")`,
		Why: "equivalent: becomeLeader has just set the leader flag, so the setLeader(true) and return nil that follow change nothing"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.claim", Op: "return", Old: "return nil", New: "_ = 0", Near: "if errors.Is(err, leases.ErrConditionFailed) {",
		Why: "log only in effect: a claim refused by its condition is then returned as an error (tick logs it) and remembered as possibly written, but the next read shows the item another worker claimed, and elect drops the memory unused"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.becomeLeader", Op: "negate", Old: "&&", New: "||", Near: "if c.watching && c.watch.rec.ID == prev.Leader {",
		Why: "equivalent: without a watch the entry added is the zero sighting under the empty id, which the first scan's observeAll drops (no worker has that id) before anything reads the observer; a watch of another worker than prev.Leader is a true sighting of that worker's heartbeat, which observeAll updates as it would have recorded it"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.setLeader", Op: "negate", Old: "!=", New: "==", Near: "if c.leader.Swap(v) != v && !v {",
		Why: whyLogOnly + " (the flag is swapped either way; only whether 'no longer leader' is written)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.setLeader", Op: "negate", Old: "&&", New: "||", Near: "if c.leader.Swap(v) != v && !v {",
		Why: whyLogOnly + " (the flag is swapped either way; only whether 'no longer leader' is written)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.setLeader", Op: "negate", Old: "!", New: "", Near: "if c.leader.Swap(v) != v && !v {",
		Why: whyLogOnly + " (the flag is swapped either way; only whether 'no longer leader' is written)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.assign", Op: "arith", Old: "++", New: "--", Near: "c.runs++",
		Why: "equivalent: Go's % keeps the sign of the dividend, so -n % k == 0 exactly when n % k == 0 and the BalanceEvery cadence is the same"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.assign", Op: "call", Old: "c.forgetAssigned(snap)", New: "_ = 0",
		Why: "memory only: each entry it drops is one startStateOf already reads as unknown (the lease is gone, has another owner or a hand-off, or its counter moved when the owner started it); without it the map keeps one entry per lease ever assigned directly"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.applyMoves", Op: "negate", Old: "!", New: "", Near: "!errors.Is(err, leases.ErrNotFound) && ctx.Err() == nil {",
		Why: whyLogOnly + " (which failed moves are warned about; the move is skipped either way)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.applyMoves", Op: "negate", Old: "&&", New: "||", Near: "!errors.Is(err, leases.ErrNotFound) && ctx.Err() == nil {",
		Why: whyLogOnly + " (which failed moves are warned about; the move is skipped either way)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.applyMoves", Op: "negate", Old: "==", New: "!=", Near: "!errors.Is(err, leases.ErrNotFound) && ctx.Err() == nil {",
		Why: whyLogOnly + " (which failed moves are warned about; the move is skipped either way)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.housekeeping", Op: "negate", Old: "!=", New: "==", Near: "if m := c.cfg.Metrics; m != nil {",
		Why: whyMetricOnly + " (Metrics is never nil here: tick reports to it unconditionally; the mutant only skips the leader's gauges)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.housekeeping", Op: "call", Old: "m.Value(metricnames.MetricTotalLeases, float64(len(snap.all)), metrics.UnitCount, metrics.LevelSummary)", New: "_ = 0",
		Why: whyMetricOnly + " (TotalLeases; its value is checked by the scheduler's TestMetricsAndStatsFromARunningWorker)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.housekeeping", Op: "call", Old: "m.Value(metricnames.MetricNumWorkers, float64(len(snap.alive)), metrics.UnitCount, metrics.LevelSummary)", New: "_ = 0",
		Why: whyMetricOnly + " (NumWorkers; its value is checked by the scheduler's TestMetricsAndStatsFromARunningWorker)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.housekeeping", Op: "call", Old: "m.Value(metricnames.MetricExpiredLeases, float64(expired), metrics.UnitCount, metrics.LevelSummary)", New: "_ = 0",
		Why: whyMetricOnly + " (ExpiredLeases)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.apply", Op: "negate", Old: "||", New: "&&", Near: `if l.Key == "" || l.Owner != m.From {`,
		Why: "unreachable guard: the planner plans only over the leases it is given, with From set to the owner it read, so every move names a lease of the snapshot and its owner; the write that follows is a compare-and-set on that same read anyway"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.apply", Op: "return", Old: `return fmt.Errorf("shardwise: move of %s from %q does not match the lease read: %w", m.Key, m.From, leases.ErrConditionFailed)`, New: "_ = 0",
		Why: "unreachable guard: the planner plans only over the leases it is given, with From set to the owner it read, so every move names a lease of the snapshot and its owner; the write that follows is a compare-and-set on that same read anyway"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.expireHandoff", Op: "boundary", Old: "<", New: "<=", Near: "if oldAlive && now.Sub(first) < c.cfg.HandoffTimeout {",
		Why: "tie only: a live old owner's hand-off is forced at the scan that finds it exactly HandoffTimeout old or at the next; the property (never before the timeout) holds for both, and TestLeaderCompletesHandoffsAndDeletesFinishedParents bounds it from both sides"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.expireHandoff", Op: "negate", Old: "&&", New: "||", Near: "if !errors.Is(err, leases.ErrConditionFailed) && ctx.Err() == nil {",
		Why: whyLogOnly},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.expireHandoff", Op: "call", Old: "delete(c.handoffs, l.Key)", New: "_ = 0",
		Why: "equivalent: the lease is no longer pending once forced, so the next run's expireHandoffs drops the entry; it costs at most that one run, which a pending entry forces at the next scan"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.expireHandoff", Op: "negate", Old: "!", New: "", Near: `reason := "timeout"`,
		Why: whyLogOnly + " (the reason the forced line gives)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.removeFinishedLeases", Op: "negate", Old: "!=", New: "==", Near: "c.cfg.Leases.Delete(ctx, key, l.Counter); err != nil",
		Why: whyLogOnly + " (the delete is made either way; only whether the deleted line or the warning follows)"},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.removeFinishedLeases", Op: "negate", Old: "&&", New: "||", Near: "if !errors.Is(err, leases.ErrConditionFailed) && ctx.Err() == nil {",
		Why: whyLogOnly},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.removeFinishedLeases", Op: "negate", Old: "==", New: "!=", Near: "if !errors.Is(err, leases.ErrConditionFailed) && ctx.Err() == nil {",
		Why: whyLogOnly},
	{File: "internal/coordinator/coordinator.go", Func: "Coordinator.removeDeadWorkers", Op: "call", Old: "delete(c.obs.seen, r.ID)", New: "_ = 0",
		Why: "equivalent: the record is gone from the worker table, so the next scan's observeAll drops the sighting before anything reads it again"},

	// --- balancer
	{File: "balancer/planner.go", Func: "PlanConfig.normalized", Op: "boundary", Old: ">", New: ">=",
		Why: "equivalent: a DampeningPercent of exactly 100 is clamped to 100"},
	{File: "balancer/planner.go", Func: "planner.balanceCounts", Op: "boundary", Old: "<", New: "<=",
		Why: whyTieBreak},
	{File: "balancer/planner.go", Func: "planner.balanceLoad", Op: "boundary", Old: ">", New: ">=", Near: "overOpr := func(w *pWorker) bool { return p.mode == modeCPU && w.load > w.maxLoad }",
		Why: "tie only: a worker whose projected CPU equals its MaxCPU to the last bit counts as over it; loads are products of measured floats"},
	{File: "balancer/planner.go", Func: "planner.balanceLoad", Op: "boundary", Old: "<", New: "<=", Near: "if !w.lost && w.load < avg && p.hasRoom(w) && !(w.load > upper || overOpr(w)) {",
		Why: "tie only: a worker whose load equals the fleet average to the last bit becomes a receiver, and every move to it is still refused unless it lowers the donor without lifting the receiver past the upper bound"},
	{File: "balancer/planner.go", Func: "byHeadroom", Op: "negate", Old: "&&", New: "||", Near: "if math.IsInf(a.maxLoad, 1) && math.IsInf(b.maxLoad, 1) {",
		Why: "equivalent: maxLoad is +Inf for every worker outside CPU mode and finite for every worker in it (a MaxCPU of +Inf is read as 100), so one worker's is infinite exactly when the other's is"},
	{File: "balancer/planner.go", Func: "planner.tryLoadMove", Op: "boundary", Old: "<", New: "<=", Near: "recv.settle(r, r.load < avg && p.hasRoom(r))",
		Why: "tie only: a receiver whose load equals the fleet average to the last bit stays a receiver; loads are sums of measured float throughputs"},

	{File: "balancer/planner.go", Func: "PlanConfig.normalized", Op: "boundary", Old: "<", New: "<=", Near: "if c.MaxLeasesForWorker < 0 {",
		Why: "equivalent: a MaxLeasesForWorker of 0 is set to 0"},
	{File: "balancer/planner.go", Func: "newPlanner", Op: "return", Old: "return nil", New: "_ = 0",
		Why: "equivalent: with no live worker every step finds no receiver and no donor, so the plan is empty either way"},
	{File: "balancer/planner.go", Func: "planner.keepsFloorSide", Op: "return", Old: "return true", New: "_ = 0",
		Why: "equivalent: without the guard cpuSum and cpuN are 0 and belowFloor false, and 0/0 compared with the floor is false, so the expression returns true as well"},
	{File: "balancer/planner.go", Func: "identicalCPU", Op: "boundary", Old: "<", New: "<=", Near: "if w.cpu < 0 {",
		Why: "equivalent: figures of exactly 0 left out of the comparison only matter for a fleet whose figures are all 0, which has no CPU per KB/s (kFleet 0) and is planned without CPU either way"},
	{File: "balancer/planner.go", Func: "keyOrder", Op: "arith", Old: "-", New: "+", Near: "return int(a - b)",
		Why: "repeated keys only: the order among leases with the same key (which a lease table, keyed by it, never returns) decides which occurrence wins; TestPlanDuplicatesAndBadValues and TestPlanRepeatedKeyFarApartFirstWins check the first does, but a sort may never compare the two occurrences in the order that differs"},

	{File: "balancer/planner.go", Func: "workerHeap.up", Op: "boundary", Old: ">", New: ">=", Near: "for i > 0 {",
		Why: "equivalent: at the root the parent index (0-1)/2 is 0 again, and a worker never sorts before itself, so the loop returns"},
	{File: "balancer/planner.go", Func: "planner.balanceCounts", Op: "call", Old: "recv.remove(d)", New: "_ = 0",
		Why: "equivalent in count balancing: a donor gives only while it is the fullest and the emptiest is two or more below it, so it is never the emptiest worker of a later step while a move is still due"},
	{File: "balancer/planner.go", Func: "planner.balanceCounts", Op: "call", Old: "donors.remove(r)", New: "_ = 0",
		Why: "equivalent in count balancing: a receiver takes only while it is the emptiest and the fullest is two or more above it, so it is never the fullest worker of a later step while a move is still due"},
	{File: "balancer/planner.go", Func: "planner.balanceCounts", Op: "boundary", Old: ">", New: ">=", Near: "return a.count > b.count",
		Why: "equivalent: the comparison runs only when the counts differ"},
	{File: "balancer/planner.go", Func: "planner.fillNewWorkers", Op: "boundary", Old: ">", New: ">=", Near: "return ha > hb",
		Why: "equivalent: the comparison runs only when the holdings differ"},
	{File: "balancer/planner.go", Func: "planner.fillNewWorkers", Op: "return", Old: "return", New: "_ = 0", Near: "if len(fresh) == 0 {",
		Why: "equivalent: with no fresh worker the loop that follows has nothing to fill"},

	// --- scheduler (shard consumer lifecycle)
	{File: "scheduler/shardconsumer.go", Func: "newShardConsumer", Op: "call", Old: `c.phase.Store("waiting-for-parents")`, New: "_ = 0",
		Why: whyMetricOnly + " (the state Stats shows before the consumer's goroutine sets its first phase)"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.lose", Op: "negate", Old: "==", New: "!=", Near: `if c.lostReason == "" {`,
		Why: whyLogOnly + " (which loss reason the end-of-consumer line names)"},
	{File: "scheduler/shardconsumer.go", Func: "newShardConsumer", Op: "return", Old: "return nil, err", New: "_ = 0",
		Why: "unreachable: checkpointer.New fails only on a nil store, an empty lease key or an empty owner, and the store, a key read from the table and the validated WorkerID are never so"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.run", Op: "call", Old: "wg.Wait()", New: "_ = 0",
		Why: "equivalent: the drain that follows pops until the queue is closed and empty, and the publisher closes the queue only as it returns (after its last push), so the drain already waits for it and gives back the budget of everything it pushed"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.processLoop", Op: "return", Old: "return nil", New: "_ = 0", Near: "c.cp.Rewind(prev)",
		Why: "equivalent: the stop context has ended when deliver gives up, so the loop goes on only to pop the batches fetched behind, each refused by deliver's first guard and rewound to the same position, and their budget is given back as the drain after the loop would"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.deliver", Op: "return", Old: "return false", New: "_ = 0", Near: "if !backoff.Sleep(c.stopCtx, delay) {",
		Why: "equivalent: the sleep fails only when the stop context has ended, and the loop's first guard then returns false"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.finish", Op: "negate", Old: "!=", New: "==", Near: `if owner != "" {`,
		Why: whyLogOnly + " (whether the lost line names the new owner)"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.finish", Op: "negate", Old: "!=", New: "==", Near: "return proc.ShutdownRequested(c.leaseCtx",
		Why: whyLogOnly + " (the warning for a failed ShutdownRequested; the lease goes on either way)"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.lossReason", Op: "return", Old: "return reason, newOwner", New: "_ = 0", Near: `if reason != "" {`,
		Why: whyLogOnly + " (lossReason only words the lost line: without the return it names the fence or the refused write instead of what discovery found)"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.release", Op: "return", Old: "return", New: "_ = 0", Near: "if errors.Is(err, leases.ErrConditionFailed) && c.handoffRequestedMeanwhile(ctx) { return",
		Why: whyLogOnly + " (a spurious release warning after the hand-off requested meanwhile was completed)"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.handoffRequestedMeanwhile", Op: "return", Old: "return false", New: "_ = 0",
		Why: "equivalent in state: the CompleteHandoff then made is conditioned on this worker being the hand-off's old owner, which the read just showed it is not, so it is refused (and after a failed read it completes a hand-off that is this worker's, which is what the read was to find out); only a refused write and a warning differ"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.requestHandoff", Op: "negate", Old: "!", New: "",
		Why: "equivalent in state, as with the hand-off flag's store removed: release then tries to hand the lease on itself, the compare-and-set fails (the leader already moved it) and handoffRequestedMeanwhile completes the hand-off the same way; only a read, a refused write and the hand-off time's start (taken then) differ"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.requestHandoff", Op: "call", Old: "c.handoff.Store(true)", New: "_ = 0",
		Why: "equivalent in state: release then tries to hand the lease on itself, the compare-and-set fails (the leader already moved it) and handoffRequestedMeanwhile completes the hand-off the same way; only one extra read and one refused write differ"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.run", Op: "return", Old: "return", New: "_ = 0", Near: `c.release("the processor factory returned nil")`,
		Why: "equivalent in outcome: after a nil processor released the lease the consumer no longer owns it, and discovery stops it within one discovery interval (TestNilProcessorReleasesTheLease); only a warning line and that interval differ"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.processLoop", Op: "call", Old: "c.s.releaseBytes(b.held)", New: "_ = 0", Near: "if b.shardEnd {",
		Why: "equivalent: the shard-end marker holds no bytes of the prefetch budget (held is 0)"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.deliver", Op: "negate", Old: "==", New: "!=", Near: "MetricProcessTaskSuccess, err == nil",
		Why: whyMetricOnly + " (the Success metric of ProcessRecords)"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.lossReason", Op: "call", Old: "c.mu.Unlock()", New: "_ = 0",
		Why: "equivalent: lossReason is the consumer's last use of its mutex (the consumer has ended and is dropped), so the mutex left locked is never waited on"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.lossReason", Op: "negate", Old: "!=", New: "==", Near: "case lost != nil:",
		Why: whyLogOnly + " (the reason named in the lease-lost line)"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.release", Op: "return", Old: "return", New: "_ = 0", Near: "c.completeHandoff(ctx) return",
		Why: "equivalent in state: after the hand-off was completed, the hand-on Take and the Release that follow are compare-and-sets on a lease this worker no longer owns, and both are refused"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.release", Op: "return", Old: "return", New: "_ = 0", Near: "case errors.Is(err, leases.ErrConditionFailed): if c.handoffRequestedMeanwhile(ctx) { return",
		Why: "equivalent in state: the hand-off is already completed, so the Release that follows is refused by its compare-and-set (the lease has the new owner and counter) and the second look finds no hand-off from this worker; only a refused write, a read and a warning line differ"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.handoffRequestedMeanwhile", Op: "negate", Old: "||", New: "&&",
		Why: "equivalent in state: the CompleteHandoff it then tries is conditioned on this worker being the checkpoint owner, and is refused"},
	{File: "scheduler/shardconsumer.go", Func: "shardConsumer.completeHandoff", Op: "return", Old: "return", New: "_ = 0", Near: "the leader completes it after its timeout",
		Why: whyLogOnly + " and a metric (the hand-off time of a completion that failed)"},
	{File: "scheduler/shardend.go", Func: "shardConsumer.unfinishedParents", Op: "negate", Old: "==", New: "!=", Near: "if c.stopCtx.Err() == nil {",
		Why: whyLogOnly + " (the warning for a parent lease that could not be read; it counts as unfinished either way)"},
	{File: "scheduler/shardend.go", Func: "shardConsumer.shardEnded", Op: "call", Old: "retry.Reset()", New: "_ = 0", Near: "} } retry.Reset()",
		Why: "pacing only: the retries of creating the child leases start from the backoff the ListShards retries reached (at most ProcessorRetryMaxBackoff) instead of its base"},
	{File: "scheduler/shardend.go", Func: "shardConsumer.shardEnded", Op: "boundary", Old: ">", New: ">=", Near: "if len(ids) > 0 {",
		Why: "equivalent: a closed Kinesis shard always has children (a split's two, a merge's one); with none, the mutant only writes an empty child list under the same fence"},
	{File: "scheduler/shardend.go", Func: "shardConsumer.waitForParents", Op: "negate", Old: "!", New: "", Near: "if !logged {",
		Why: whyLogOnly},
}
