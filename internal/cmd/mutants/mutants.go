package main

import "time"

// mutant is one named patch that breaks one safety property, and the
// tests that must fail when it is applied.
type mutant struct {
	Name   string // short, unique; selected with -run
	Breaks string // the property the patch breaks
	File   string // path in the repository, slash-separated
	// Old must occur exactly once in File; it is replaced by New.
	Old, New string
	// Pkgs and Run are the go test packages and -run expression that
	// should kill the mutant.
	Pkgs []string
	Run  string
	// Timeout bounds the test run (the -timeout flag's value if zero).
	Timeout time.Duration
}

// table is every mutant, grouped by the property they break. Keep Old
// texts long enough to be unique and short enough to survive unrelated
// edits; a STALE entry means the code moved and the patch needs
// rewriting, not deleting.
var table = []mutant{
	// --- Self-fencing: a late heartbeat never cancels it (internal/session).
	{
		Name:   "late-heartbeat-no-check-before-call",
		Breaks: "a worker that wakes up past its fencing deadline fences before it sends the heartbeat",
		File:   "internal/session/session.go",
		Old: `		s.cfg.Load(&r)
	}
	s.fenceIfLate()
	sent := time.Now()`,
		New: `		s.cfg.Load(&r)
	}
	sent := time.Now()`,
		Pkgs: []string{"./internal/session"},
		Run:  "^TestLateHeartbeatFencesBeforeRejoining$",
	},
	// No mutant removes only the check after the call
	// ("s.fenceIfLate() // the call may have outlasted the deadline"): the
	// fencing timer that runs during the call (fence-waits-for-stalled-
	// heartbeat) fences at the deadline and beat waits for it, so the
	// check only matters when the call returns in the instant between the
	// deadline and that timer's goroutine running. It is kept for that
	// instant; no test can time it, so the mutant would be equivalent.

	{
		Name:   "late-heartbeat-no-checks",
		Breaks: "a heartbeat that succeeds past the fencing deadline never cancels self-fencing",
		File:   "internal/session/session.go",
		Old: `	late := !s.fenced && time.Now().After(s.deadline())
	s.mu.Unlock()
	if late {`,
		New: `	late := false
	s.mu.Unlock()
	if late {`,
		Pkgs: []string{"./internal/session"},
		Run:  "^TestLateHeartbeatFencesBeforeRejoining$",
	},

	{
		Name:   "heartbeat-due-after-return",
		Breaks: "the next heartbeat is due an interval after the last one was sent, not after it returned",
		File:   "internal/session/session.go",
		Old:    "\t\t\tnext.Reset(max(due, 0))\n",
		New:    "\t\t\t_ = due\n\t\t\tnext.Reset(s.cfg.HeartbeatInterval)\n",
		Pkgs:   []string{"./internal/session"},
		Run:    "^TestLateHeartbeatFencesBeforeRejoining$",
	},

	// --- Checkpoints are fenced by lease ownership (leases memory store;
	// the DynamoDB store's condition expression is held to the same
	// contract suite against an emulator).
	{
		Name:   "checkpoint-fenced-by-owner",
		Breaks: "a checkpoint is written only by the lease's owner (or its checkpoint owner during a hand-off)",
		File:   "leases/memory.go",
		Old:    `holds := (s.Owner == owner && s.Counter == counter && s.CheckpointOwner == "") || s.CheckpointOwner == owner`,
		New:    `holds := (s.Counter == counter && s.CheckpointOwner == "") || s.CheckpointOwner == owner`,
		Pkgs:   []string{"./leases"},
		Run:    "^TestMemoryStore$/^CheckpointUnownedLease$",
	},
	{
		Name:   "checkpoint-fenced-by-counter",
		Breaks: "a checkpoint is conditioned on the lease counter the worker holds, so an earlier incarnation cannot move it",
		File:   "leases/memory.go",
		Old:    `holds := (s.Owner == owner && s.Counter == counter && s.CheckpointOwner == "") || s.CheckpointOwner == owner`,
		New:    `holds := (s.Owner == owner && s.CheckpointOwner == "") || s.CheckpointOwner == owner`,
		Pkgs:   []string{"./leases"},
		Run:    "^TestMemoryStore$/^CheckpointStaleCounter$",
	},

	// --- Checkpoint bounds (checkpoint.Check, shared by the scheduler's
	// checkpointer and checkpoint.Fake).
	{
		Name:   "checkpoint-beyond-delivered",
		Breaks: "a processor cannot checkpoint past the largest position delivered to it",
		File:   "checkpoint/rules.go",
		Old:    "\tif consumer.Compare(requested, largestDelivered) > 0 {\n",
		New:    "\tif false {\n",
		Pkgs:   []string{"./checkpoint", "./internal/checkpointer"},
		Run:    "^(TestCheckReasons|TestCheckpointRules|TestRulesTable)$",
	},
	{
		Name:   "checkpoint-below-last",
		Breaks: "a checkpoint never moves backwards",
		File:   "checkpoint/rules.go",
		Old:    "\tif consumer.Compare(requested, last) < 0 {\n",
		New:    "\tif false {\n",
		Pkgs:   []string{"./checkpoint", "./internal/checkpointer"},
		Run:    "^(TestCheckReasons|TestCheckpointRules|TestRulesTable)$",
	},

	// --- Parents before children (scheduler/shardend.go).
	{
		Name:   "parents-before-children",
		Breaks: "a child shard is not initialized before every existing parent lease is at SHARD_END",
		File:   "scheduler/shardend.go",
		Old:    "\t\tcase !pl.IsFinished():\n\t\t\tpending = append(pending, p)\n",
		New:    "\t\tcase !pl.IsFinished():\n",
		Pkgs:   []string{"./scheduler"},
		Run:    "^(TestMergeWaitsForBothParents|TestSplitParentsBeforeChildren)$",
	},

	// --- The leader never moves a lease its live owner has not started
	// (internal/coordinator): a graceful hand-off needs the owner's
	// consumer to finish it.
	{
		Name:   "no-move-of-unstarted-lease",
		Breaks: "the leader does not move a lease its live owner has not started yet",
		File:   "internal/coordinator/coordinator.go",
		Old:    "HandoffPending: l.HandoffPending() || notStarted,",
		New:    "HandoffPending: l.HandoffPending() || notStarted && false,",
		Pkgs:   []string{"./internal/coordinator"},
		Run:    "^TestNoMoveOfALeaseItsOwnerHasNotStarted$",
	},

	// --- Resume after a checkpoint inside a KPL aggregate
	// (scheduler/records.go drops what is at or before the checkpoint).
	{
		Name:   "resume-inside-aggregate",
		Breaks: "a restart at a checkpoint inside an aggregate resumes at the next sub-record, not at the aggregate's start",
		File:   "scheduler/records.go",
		Old:    "\t\t\tcase 0:\n\t\t\t\tp.minSub = after.SubSequenceNumber\n",
		New:    "\t\t\tcase 0:\n",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestResumeInsideKPLAggregate$",
	},

	// --- Resharding: children start on the parent's worker at once.
	{
		Name:   "children-on-same-worker",
		Breaks: "a finished parent's children are created owned by its worker and start there at once (not at the leader's next assignment)",
		File:   "scheduler/shardend.go",
		Old:    "\t\tchild.Owner = c.s.cfg.WorkerID\n",
		New:    "",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestChildOfAFinishedParentStartsOnTheSameWorkerAtOnce$",
	},

	// --- Retrieval: what a lease delivers.
	{
		Name:   "kpl-hash-range-filter",
		Breaks: "sub-records of a KPL aggregate outside the lease's hash range are dropped (after a reshard an aggregate holds a sibling's records)",
		File:   "scheduler/shardconsumer.go",
		Old:    "\t\t\tf.conv.keep = &r\n",
		New:    "\t\t\t_ = r\n",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestSubRecordsOutsideTheLeaseHashRangeAreDropped$",
	},
	{
		Name:   "at-timestamp",
		Breaks: "AT_TIMESTAMP starts at the first record at or after the timestamp, not at the trim horizon",
		File:   "scheduler/fetcher.go",
		Old: `		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		in.Timestamp = aws.Time(f.s.cfg.InitialPosition.Timestamp)
`,
		New: `		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
`,
		Pkgs: []string{"./scheduler"},
		Run:  "^TestAtTimestampSkipsEarlierRecords$",
	},
	{
		Name:   "pending-checkpoint-to-initialize",
		Breaks: "Initialize receives the lease's pending (prepared) checkpoint and its state",
		File:   "scheduler/shardconsumer.go",
		Old: `		PendingCheckpoint:      c.lease.PendingCheckpoint,
		PendingCheckpointState: c.lease.PendingCheckpointState,
`,
		New:  "",
		Pkgs: []string{"./scheduler"},
		Run:  "^TestInitializeGetsThePendingCheckpointAndItsState$",
	},

	// --- Liveness under realistic latency and skewed clocks, and the cost
	// of liveness (internal/session, internal/coordinator, scheduler).
	{
		Name:   "no-self-fencing",
		Breaks: "a worker past its fencing deadline stops its processors and hands out no batch (scheduler side of self-fencing)",
		File:   "scheduler/scheduler.go",
		Old: `func (s *Scheduler) fence() error { return s.session.Load().Fence() }

// fenceAll stops every processor: the worker could not prove it is alive
// in time, so another worker may soon be given its leases.
func (s *Scheduler) fenceAll() {
	s.mu.Lock()`,
		New: `func (s *Scheduler) fence() error { return nil }

// fenceAll stops every processor: the worker could not prove it is alive
// in time, so another worker may soon be given its leases.
func (s *Scheduler) fenceAll() {
	return
	s.mu.Lock()`,
		// The fault matrix's "_on_heartbeat_and_checkpoint" rows kill the
		// same patch (throttled, 5xx or reset heartbeats and checkpoints
		// on one worker); the cut-off scenario is the faster defender.
		Pkgs:    []string{"./internal/scenario"},
		Run:     "^TestCutOffWorkerStopsBeforeItsShardsMove$",
		Timeout: 5 * time.Minute,
	},

	{
		Name:   "no-fence-all",
		Breaks: "at its fencing deadline a worker cancels its processors' contexts, so a processor inside a long batch stops too (the check before each batch cannot reach it)",
		File:   "scheduler/scheduler.go",
		Old: `func (s *Scheduler) fenceAll() {
	s.mu.Lock()`,
		New: `func (s *Scheduler) fenceAll() {
	return
	s.mu.Lock()`,
		Pkgs: []string{"./scheduler"},
		Run:  "^TestFencingStopsAProcessorMidBatch$",
	},

	{
		Name:   "no-batch-after-lease-lost",
		Breaks: "a batch fetched before the lease was lost is not handed to the processor after the loss",
		File:   "scheduler/shardconsumer.go",
		Old: `		if c.leaseCtx.Err() != nil {
			return false
		}
		// A worker past its fencing deadline`,
		New:  `		// A worker past its fencing deadline`,
		Pkgs: []string{"./scheduler"},
		Run:  "^TestNoBatchAfterTheLeaseIsLost$",
	},
	{
		Name:   "shard-ended-is-last-call",
		Breaks: "after ShardEnded a finished shard's processor gets no other call (no ShutdownRequested), and its lease is not released",
		File:   "scheduler/shardconsumer.go",
		Old:    "\t\tc.shardEnded(proc, end)\n\t\treturn\n",
		New:    "\t\tc.shardEnded(proc, end)\n",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestShardEndedIsTheProcessorsLastCall$",
	},

	{
		Name:   "fence-waits-for-stalled-heartbeat",
		Breaks: "a worker fences at its deadline even while a heartbeat call is stalled in flight",
		File:   "internal/session/session.go",
		Old:    `fenceDuring := time.AfterFunc(max(untilFence, 0), func() {`,
		New:    `fenceDuring := time.AfterFunc(max(untilFence, 0)+time.Hour, func() {`,
		Pkgs:   []string{"./internal/session"},
		Run:    "^TestStalledHeartbeatFencesAtTheDeadline$",
	},
	{
		Name:   "liveness-by-wall-clock",
		Breaks: "the leader judges liveness by its own monotonic observation of the heartbeat counter, never by the worker's wall-clock LastUpdate",
		File:   "internal/coordinator/observer.go",
		Old: `	return ok && now.Sub(s.since) < o.failover
}

// dead lists the records of workers whose heartbeat has not changed for
// the failover time.
func (o *observer) dead(now time.Time) []leases.WorkerRecord {
	var out []leases.WorkerRecord
	for _, s := range o.seen {
		if now.Sub(s.since) >= o.failover {`,
		New: `	return ok && time.Since(s.rec.LastUpdate) <= o.failover
}

// dead lists the records of workers whose heartbeat has not changed for
// the failover time.
func (o *observer) dead(now time.Time) []leases.WorkerRecord {
	var out []leases.WorkerRecord
	for _, s := range o.seen {
		if time.Since(s.rec.LastUpdate) > o.failover {`,
		Pkgs: []string{"./internal/coordinator"},
		Run:  "^TestLivenessIgnoresWorkersWallClocks$",
	},

	// --- A dead worker's leases move at the first scan that sees it dead
	// (internal/coordinator lead()).
	{
		Name:   "death-forces-assignment",
		Breaks: "a worker's death forces an assignment run at the next scan, so its leases move about one failover time after its last heartbeat, not at the next periodic run",
		File:   "internal/coordinator/coordinator.go",
		Old:    "\tbefore := c.lastAlive\n",
		New:    "\tbefore := c.aliveSet(now)\n",
		Pkgs:   []string{"./internal/coordinator"},
		Run:    "^TestDeadWorkersLeasesMoveAtTheNextScan$",
	},
	{
		Name:   "failed-run-forgets-death",
		Breaks: "a death whose assignment run failed (a lease table read failed) still forces the next scan's run",
		File:   "internal/coordinator/coordinator.go",
		Old:    "\tafter := c.aliveSet(now)\n\tchanged := len(before) != len(after)\n",
		New:    "\tafter := c.aliveSet(now)\n\tc.lastAlive = after\n\tchanged := len(before) != len(after)\n",
		Pkgs:   []string{"./internal/coordinator"},
		Run:    "^TestDeadWorkersLeasesMoveAtTheNextScan$",
	},

	// --- Faults at the AWS boundary: a call whose response is lost after
	// its conditional write succeeded (internal/scenario fault matrix).
	{
		Name:   "lost-checkpoint-response-stale-counter",
		Breaks: "after a checkpoint whose response was lost, the worker's next write at its stale counter is refused (lease lost), not applied",
		File:   "leases/memory.go",
		Old:    `holds := (s.Owner == owner && s.Counter == counter && s.CheckpointOwner == "") || s.CheckpointOwner == owner`,
		New:    `holds := (s.Owner == owner && s.Counter >= counter-1 && s.CheckpointOwner == "") || s.CheckpointOwner == owner`,
		Pkgs:   []string{"./internal/scenario"},
		Run:    "^TestLostCheckpointResponseNextStepIsSafe$",
	},
	{
		Name:   "lost-claim-forgets-dead-leader",
		Breaks: "a leader claim whose response was lost still takes over with the evidence about the dead leader, so its leases move one failover time after the crash, not two",
		File:   "internal/coordinator/coordinator.go",
		Old:    `		c.lostClaim = &prev`,
		New:    `		c.lostClaim = nil`,
		Pkgs:   []string{"./internal/scenario"},
		Run:    "^TestFaultMatrix$/^lost_response_on_leader_claim$",
	},

	{
		Name:   "lease-write-per-heartbeat",
		Breaks: "one DynamoDB write per worker per heartbeat and none per lease at steady state",
		File:   "scheduler/load.go",
		Old: `	for key, c := range s.consumers {
		live[key] = true`,
		New: `	for key, c := range s.consumers {
		if c.state() == "processing" {
			_, _ = s.store.Create(s.runCtx, c.lease)
		}
		live[key] = true`,
		Pkgs: []string{"./scheduler"},
		Run:  "^TestSteadyStateWritesOneHeartbeatPerWorker$",
	},
}
