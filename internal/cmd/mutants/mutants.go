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
	{
		Name:   "late-heartbeat-no-check-after-call",
		Breaks: "a heartbeat call that outlasts the fencing deadline fences before its success is recorded",
		File:   "internal/session/session.go",
		Old:    "\ts.fenceIfLate() // the call may have outlasted the deadline\n",
		New:    "",
		Pkgs:   []string{"./internal/session"},
		Run:    "^TestLateHeartbeatFencesBeforeRejoining$",
	},
	{
		Name:   "late-heartbeat-no-checks",
		Breaks: "a heartbeat that succeeds past the fencing deadline never cancels self-fencing",
		File:   "internal/session/session.go",
		Old: `	s.fenceIfLate()
	sent := time.Now()
	// A heartbeat that lands after the deadline is worthless to the
	// fencing argument's T; bound the call so it cannot hang.
	callCtx, cancel := context.WithTimeout(ctx, s.cfg.FailoverTime)
	defer cancel()
	rec, err := s.cfg.Store.Heartbeat(callCtx, r)
	if err != nil {
		return err
	}
	s.fenceIfLate() // the call may have outlasted the deadline
`,
		New: `	sent := time.Now()
	// A heartbeat that lands after the deadline is worthless to the
	// fencing argument's T; bound the call so it cannot hang.
	callCtx, cancel := context.WithTimeout(ctx, s.cfg.FailoverTime)
	defer cancel()
	rec, err := s.cfg.Store.Heartbeat(callCtx, r)
	if err != nil {
		return err
	}
`,
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

	// --- Reserved for the lead: three mutants whose tests another helper
	// writes (self-fencing removed under realistic latency, liveness
	// judged by wall clock, writing every lease on every heartbeat).
	// BEGIN lead-added mutants
	// END lead-added mutants
}
