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
	// Emulators runs the tests under withemulators (the local Kinesis
	// and DynamoDB emulators, from the checkout's npm packages): without
	// them such tests skip and the mutant would survive.
	Emulators bool
}

// table is every mutant, grouped by the property they break (and, added
// by mutants_chaos.go, those the multi-process chaos suite kills). Keep Old
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
		File:   "scheduler/publisher.go",
		Old:    "\t\t\tkeep = &r\n",
		New:    "\t\t\t_ = r\n",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestSubRecordsOutsideTheLeaseHashRangeAreDropped$",
	},
	{
		Name:   "kpl-full-range-shortcut-skips-any-filter",
		Breaks: "only the full hash range skips the sub-record filter (and its partition-key MD5s); any narrower lease range still drops a sibling's sub-records",
		File:   "internal/kpl/deaggregate.go",
		Old:    "\tif keep != nil && *keep == hashkey.Full {\n",
		New:    "\tif keep != nil {\n",
		Pkgs:   []string{"./internal/kpl"},
		Run:    "^TestDeaggregateFilter$",
	},
	{
		Name:   "kpl-short-record-length-unchecked",
		Breaks: "the inlined decoding of the commonest sub-record accepts only a one-byte data length; a two-byte length is left to the general parser instead of being read as a wrong length",
		File:   "internal/kpl/deaggregate.go",
		Old:    "b[3] >= 0x80 || ",
		New:    "",
		Pkgs:   []string{"./internal/kpl"},
		Run:    "^FuzzParseRecord$",
	},
	{
		Name:   "fastdecode-optimistic-parse-not-retried-strictly",
		Breaks: "a body whose optimistic parse (the first quote ends a Data string) fails is parsed again with escapes honoured, so escaped Data decodes as the SDK decodes it",
		File:   "internal/fastdecode/decode.go",
		Old:    "p.b, p.next, p.nextKey, p.strict = b, absent, nextKey, true",
		New:    "p.b, p.next, p.nextKey, p.strict = b, absent, nextKey, false",
		Pkgs:   []string{"./internal/fastdecode"},
		Run:    "^TestDecodeMatchesSDKOnEdgeCases$",
	},
	{
		Name:   "kpl-failed-aggregate-partly-delivered",
		Breaks: "an aggregate that fails to decode after its first sub-records were decoded is delivered whole as one plain record, without those sub-records",
		File:   "scheduler/records.go",
		Old:    "\t\t\tclear(dst[first:])\n\t\t\tdst = dst[:first]\n",
		New:    "\t\t\t_ = first\n",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestRecordConverterMatchesReference$",
	},
	{
		Name:   "at-timestamp",
		Breaks: "AT_TIMESTAMP starts at the first record at or after the timestamp, not at the trim horizon",
		File:   "scheduler/fetcher.go",
		Old: `		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		in.Timestamp = aws.Time(f.stream.pos.Timestamp)
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
		Old: `		if c.stopCtx.Err() != nil {
			return false
		}
		// A worker past its fencing deadline`,
		New:  `		// A worker past its fencing deadline`,
		Pkgs: []string{"./scheduler"},
		Run:  "^TestNoBatchAfterTheLeaseIsLost$",
	},
	{
		Name:   "no-batch-past-fencing-deadline",
		Breaks: "a worker past its fencing deadline hands out no batch even before its session's fence callback stopped the consumers (a paused process resuming past the deadline)",
		File:   "scheduler/shardconsumer.go",
		Old: `		if err := c.s.fence(); err != nil {
			c.cancelLease(err)
			return false
		}`,
		New: `		if err := c.s.fence(); err != nil {
			c.cancelLease(err)
		}`,
		Pkgs: []string{"./scheduler"},
		Run:  "^TestNoBatchPastTheFencingDeadline$",
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

	// --- Enhanced fan-out wire: event-stream framing, the event decoder,
	// the endpoint's subscriptions.
	{
		Name:   "eventstream-no-message-crc",
		Breaks: "a SubscribeToShard message whose bytes were corrupted in transit is never decoded",
		File:   "internal/eventstream/frame.go",
		Old: `	if sum, want := crc32.ChecksumIEEE(b[:end]), binary.BigEndian.Uint32(b[end:]); sum != want {
		return Message{}, hs, &ChecksumError{Part: "message", Want: sum, Have: want}
	}`,
		New:  ``,
		Pkgs: []string{"./internal/eventstream", "./internal/fastdecode"},
		Run:  "^(TestReaderRejects|TestEventDecodeRejectsCorruption)$",
	},
	{
		Name:   "eventstream-no-prelude-crc",
		Breaks: "a corrupted message length is caught before it is trusted",
		File:   "internal/eventstream/frame.go",
		Old: `	if sum, want := crc32.ChecksumIEEE(p[:8]), binary.BigEndian.Uint32(p[8:12]); sum != want {
		return p, &ChecksumError{Part: "prelude", Want: sum, Have: want}
	}`,
		New:  ``,
		Pkgs: []string{"./internal/eventstream", "./internal/fastdecode"},
		Run:  "^(TestReaderRejects|TestEventDecodeRejectsCorruption)$",
	},
	{
		Name:   "eventstream-headers-unbounded",
		Breaks: "a header that runs past the headers block is rejected, not read out of the payload",
		File:   "internal/eventstream/frame.go",
		Old:    `		if i+n > len(b) {`,
		New:    `		if i+n > len(b)+len(b) {`,
		Pkgs:   []string{"./internal/eventstream"},
		Run:    "^TestReaderRejects$",
	},
	{
		Name:   "event-continuation-not-read",
		Breaks: "an event's ContinuationSequenceNumber (where the next subscription resumes) is decoded",
		File:   "internal/fastdecode/event.go",
		Old:    `p.b, p.next, p.nextKey = payload, absent, "ContinuationSequenceNumber"`,
		New:    `p.b, p.next, p.nextKey = payload, absent, "NextShardIterator"`,
		Pkgs:   []string{"./internal/fastdecode"},
		Run:    "^TestEventDecodeMatchesSDKOnGeneratedStreams$",
	},
	{
		Name:   "event-exceptions-not-errors",
		Breaks: "an exception event (ResourceInUseException, KMS*, ...) ends the stream with the SDK's typed error",
		File:   "internal/fastdecode/subscribe.go",
		Old: `	p.dec.sdkMessages.Add(1)
	return sdkEventMessage(schema, reg, m.Raw)`,
		New: `	p.dec.sdkMessages.Add(1)
	return nil, io.EOF`,
		Pkgs: []string{"./internal/fastdecode"},
		Run:  "^(TestEventErrorsAreTheSDKsTypes|TestEventDecodeMatchesSDKOnEdgeCases)$",
	},
	{
		Name:   "endpoint-resume-after-continuation-repeats",
		Breaks: "the test endpoint resumes AFTER_SEQUENCE_NUMBER of a continuation with no duplicate",
		File:   "internal/kinesisserver/subscribe.go",
		Old:    `		if pos.Type == "AFTER_SEQUENCE_NUMBER" && pos.SequenceNumber == sequenceNumber(p, s.cfg.RecordsPerCall-1) {`,
		New:    `		if false {`,
		Pkgs:   []string{"./internal/kinesisserver"},
		Run:    "^TestSubscribeThroughTheSDK$",
	},
	{
		Name:   "endpoint-two-open-subscriptions",
		Breaks: "the test endpoint answers ResourceInUseException while the consumer's subscription to the shard is open",
		File:   "internal/kinesisserver/subscribe.go",
		Old:    `	case s.subs.open[key]:`,
		New:    `	case false:`,
		Pkgs:   []string{"./internal/kinesisserver"},
		Run:    "^TestSubscribeThroughTheSDK$",
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

	// --- The operator's command (cmd/shardwise): its tests need the
	// DynamoDB emulator, so `make mutants` runs under withemulators; run
	// alone without it these tests skip and the mutants survive.
	{
		Name:   "operator-move-not-fenced-by-counter",
		Breaks: "set-checkpoint's write is fenced on the lease counter it read, so a checkpoint (or take) in between makes it fail",
		File:   "internal/ddbstore/operator.go",
		Old:    `e.ownerIs(l.Owner) + " AND " + e.counterIs(l.Counter) + " AND " + e.checkpointOwnerIs(l.CheckpointOwner)`,
		New:    `e.ownerIs(l.Owner) + " AND " + e.checkpointOwnerIs(l.CheckpointOwner)`,
		Pkgs:   []string{"./cmd/shardwise"},
		Run:    "^TestMoveCheckpointIsFenced$",
	},
	{
		Name:   "set-checkpoint-ignores-live-owner",
		Breaks: "set-checkpoint refuses to move a lease whose owner is seen alive (heartbeat or counter moving) unless -force",
		File:   "cmd/shardwise/setcheckpoint_cmd.go",
		Old:    "\t\tif live {\n\t\t\trep.OwnerState = \"live\"",
		New:    "\t\tif live && false {\n\t\t\trep.OwnerState = \"live\"",
		Pkgs:   []string{"./cmd/shardwise"},
		Run:    "^TestSetCheckpointRefusesALiveOwner$",
	},
	{
		Name:   "set-checkpoint-dry-run-writes",
		Breaks: "set-checkpoint writes nothing without -write",
		File:   "cmd/shardwise/setcheckpoint_cmd.go",
		Old:    "\tif !rep.Write {\n\t\treturn nil\n\t}",
		New:    "\tif false {\n\t\treturn nil\n\t}",
		Pkgs:   []string{"./cmd/shardwise"},
		Run:    "^TestSetCheckpointUnowned$",
	},
	{
		Name:   "import-ignores-live-peer",
		Breaks: "import refuses while the peer's workers look live (a current lease, or the table written while watched)",
		File:   "cmd/shardwise/import_cmd.go",
		Old:    "\tcase len(rep.Live) > 0:",
		New:    "\tcase len(rep.Live) > 0 && false:",
		Pkgs:   []string{"./cmd/shardwise"},
		Run:    "^TestImport(VmwareRefusesALiveFleet|Harlow)$",
	},
	{
		Name:   "import-ignores-existing-leases",
		Breaks: "import refuses when a destination lease exists already (unless -skip-existing)",
		File:   "cmd/shardwise/import_cmd.go",
		Old:    "\tcase len(exists) > 0 && !o.skipExisting:",
		New:    "\tcase len(exists) > 0 && false:",
		Pkgs:   []string{"./cmd/shardwise"},
		Run:    "^TestImport(Vmware|Harlow)$",
	},
	{
		Name:   "import-dry-run-writes",
		Breaks: "import writes nothing without -write",
		File:   "cmd/shardwise/import_cmd.go",
		Old:    "\tcase !o.write:\n\t\treturn nil",
		New:    "\tcase false:\n\t\treturn nil",
		Pkgs:   []string{"./cmd/shardwise"},
		Run:    "^TestImport(Vmware|Harlow)$",
	},
	// --- Enhanced fan-out (scheduler/fanout.go, fanout_register.go).
	{
		Name:   "fanout-no-resume-filter",
		Breaks: "a fan-out subscription at the checkpoint (or renewed at a continuation) drops what is at or before the position pushed last, so nothing is delivered twice and a checkpoint inside a KPL aggregate resumes at the next sub-record",
		File:   "scheduler/fanout.go",
		Old:    `b.records, b.bytes = p.conv.appendRecords(nil, ev.Records, p.after)`,
		New:    `b.records, b.bytes = p.conv.appendRecords(nil, ev.Records, consumer.ExtendedSequenceNumber{})`,
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestResumeInsideKPLAggregate$/^fanout$",
	},
	{
		Name:   "fanout-silence-ignored",
		Breaks: "a fan-out subscription that delivers no event for SubscriptionIdleTimeout is dropped and the shard resubscribed, so a stalled connection does not leave the shard stuck",
		File:   "scheduler/fanout.go",
		Old: `				continue
			}
			return progressed, false, errSilent`,
		New: `				continue
			}
			timer.Reset(idle)`,
		Pkgs: []string{"./scheduler"},
		Run:  "^TestFanOutRenewsThroughFaultsWithoutGapOrDuplicate$",
	},
	{
		Name:   "fanout-lost-registration-race-fatal",
		Breaks: "a worker whose RegisterStreamConsumer lost to another worker's (ResourceInUseException) waits for that consumer instead of failing",
		File:   "scheduler/fanout_register.go",
		Old: `	case awsapi.IsResourceInUse(err):
		log.Debug()`,
		New: `	case awsapi.IsResourceInUse(err):
		return "", false, err
	case false:
		log.Debug()`,
		Pkgs: []string{"./scheduler"},
		Run:  "^TestFanOutRegistrationLostToAnotherWorker$",
	},
	{
		Name:   "fanout-registration-herd",
		Breaks: "workers started together register the stream consumer about once between them, not once each",
		File:   "scheduler/fanout_register.go",
		Old:    `if !backoff.Sleep(ctx, rand.N(registerSpread)) {`,
		New:    `if !backoff.Sleep(ctx, 0*rand.N(registerSpread)) {`,
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestFanOutManyWorkersRegisterOnce$",
	},
	{
		Name:   "fanout-shared-codec",
		Breaks: "every SubscribeToShard call gets an event-stream codec of its own: the SDK client's one decode buffer, shared by concurrent subscriptions, corrupts their events (the SDK decoder's case: ours keeps no state)",
		File:   "scheduler/scheduler.go",
		Old:    `s.subOpt = fastdecode.SDKGatedSubscribeToShardOption`,
		New:    `s.subOpt = func(fastdecode.Gate) func(*kinesis.Options) { return func(*kinesis.Options) {} }`,
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestFanOutEverySubscriptionHasItsOwnCodec$/^sdk$",
	},
	{
		Name:   "fanout-read-ahead-outside-budget",
		Breaks: "a fan-out subscription reads an event only once the worker's byte budget has room for reading and decoding its message, so a slow processor holds what the streams read ahead within MaxTotalPendingBytes",
		File:   "scheduler/fanout.go",
		Old:    `out, err := p.s.kinesis.SubscribeToShard(subCtx, in, p.s.subOpt(pre))`,
		New:    `out, err := p.s.kinesis.SubscribeToShard(subCtx, in, p.s.subOpt(nil))`,
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestFanOutWireReadsWithinTheByteBudget$",
	},
	{
		Name:   "fanout-clean-end-stops",
		Breaks: "an event stream that ends without ChildShards and without an error (how the SDK's decoder reports a cut connection) is renewed from the last continuation, not taken for the shard's end",
		File:   "scheduler/fanout.go",
		Old: `			if !ok {
				return progressed, false, es.Err()`,
		New: `			if !ok && es.Err() == nil {
				_, err := p.handle(ctx, &types.SubscribeToShardEvent{}, pre)
				return true, true, err
			}
			if !ok {
				return progressed, false, es.Err()`,
		Pkgs: []string{"./scheduler"},
		Run:  "^TestFanOutCleanEndWithoutChildShardsResubscribes$",
	},
	// --- Balancing a fleet (issue 17): what an operator sees break.
	{
		Name:   "joining-worker-gets-nothing",
		Breaks: "a worker that joins a fleet balanced on CPU gets its share at the next assignment run, not after dampened rebalancing",
		File:   "balancer/planner.go",
		Old:    "\tp.fillNewWorkers()\n",
		New:    "",
		Pkgs:   []string{"./internal/scenario"},
		Run:    "^TestJoiningWorkerGetsItsShareWithinTwoAssignmentIntervals$/own_CPU",
	},
	{
		Name:   "dead-worker-leases-to-one",
		Breaks: "a dead worker's leases are spread over the survivors, not given to one",
		File:   "balancer/planner.go",
		Old: `		p.move(li, nil, to, reason)
		h.settle(to, p.hasRoom(to))`,
		New:  `		p.move(li, nil, to, reason)`,
		Pkgs: []string{"./internal/scenario"},
		Run:  "^TestDeadWorkersLeasesSpreadOverSurvivors$",
	},
	{
		Name:   "identical-cpu-is-a-signal",
		Breaks: "identical CPU readings on every worker (one host) do not make the fleet look balanced",
		File:   "balancer/planner.go",
		Old:    "\tif identicalCPU(ws) {",
		New:    "\tif false && identicalCPU(ws) {",
		Pkgs:   []string{"./internal/scenario"},
		Run:    "^TestFreshFleetSpreadsWithinTwoAssignmentIntervals$/identical_CPU",
	},
	{
		Name:   "no-load-floor",
		Breaks: "below the load floor only lease counts move leases: no churn on an idle stream",
		File:   "balancer/planner.go",
		Old:    "case p.mode == modeCPU && cpuAll/float64(cpuN) < cpuLoadFloor && !overOpr:",
		New:    "case p.mode == modeCPU && cpuAll/float64(cpuN) < 0 && !overOpr:",
		Pkgs:   []string{"./internal/scenario"},
		Run:    "^TestNoChurnOnAnIdleStream$",
	},
	{
		Name:   "no-load-floor-guard",
		Breaks: "balancing does not move leases back and forth across the load floor (counts below it, CPU above it)",
		File:   "balancer/planner.go",
		Old:    "\tif !p.guard {\n\t\treturn true\n\t}",
		New:    "\tif true {\n\t\treturn true\n\t}",
		Pkgs:   []string{"./balancer"},
		Run:    "^FuzzPlan$",
	},
	{
		Name:   "host-cpu-sent-as-load",
		Breaks: "a worker without a CPU limit of its own does not send the host's CPU as its load",
		File:   "scheduler/load.go",
		Old:    "\tcase s.cpu.Own():\n\t\tcpu = s.cpu.Sample()",
		New:    "\tcase true:\n\t\tcpu = s.cpu.Sample()",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestLoadSignal$",
	},
	{
		Name:   "started-lease-moved-directly",
		Breaks: "a lease its owner has started moves only through a graceful hand-off (never two workers processing it)",
		File:   "internal/coordinator/unstarted.go",
		Old:    "\tif l.Counter == a.counter {",
		New:    "\tif l.Counter >= a.counter {",
		Pkgs:   []string{"./internal/coordinator"},
		Run:    "^TestUnstartedLeasesMoveDirectlyStartedOnesGracefully$",
	},
	{
		Name:   "unstarted-leases-pinned",
		Breaks: "leases the leader assigned and nobody started yet move at once to a worker that joins (the start-up spread)",
		File:   "internal/coordinator/coordinator.go",
		Old:    "if st := c.startStateOf(l); st != startUnknown {",
		New:    "if st := c.startStateOf(l); st != startUnknown && false {",
		Pkgs:   []string{"./internal/coordinator"},
		Run:    "^TestUnstartedLeasesMoveDirectlyStartedOnesGracefully$",
	},
	// --- A lease whose key the worker does not consume (malformed, another
	// stream's, the other key form) is never deleted or rewritten.
	{
		Name:   "vanished-cleanup-deletes-unknown-lease",
		Breaks: "shard sync's vanished-lease cleanup never deletes a lease whose key does not resolve to the stream it lists (issue 14's bug: a Java multi-stream table lost its leases)",
		File:   "scheduler/shardsync.go",
		Old: `		owner, shard, why := set.lookup(l.Key)
		if why != resolved || owner != st {
			continue // not this stream's: never deleted here
		}`,
		New: `		_, shard, _ := set.lookup(l.Key)
		if shard == "" {
			shard = l.Key
		}`,
		Pkgs: []string{"./scheduler"},
		Run:  "^TestUnknownLeasesNeverDeletedSingleStream$",
	},
	{
		Name:   "leader-assigns-unknown-lease",
		Breaks: "the leader never assigns (rewrites) a lease the workers do not consume",
		File:   "scheduler/scheduler.go",
		Old:    "\t\tAccept: s.acceptsLease,\n",
		New:    "\n",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestUnknownLeasesNeverDeletedSingleStream$",
	},
	{
		Name:   "former-stream-deleted-while-it-exists",
		Breaks: "delete-when-gone deletes a former stream's leases only once the stream no longer exists (or was created again)",
		File:   "scheduler/formerstreams.go",
		Old:    "return d.StreamCreationTimestamp.Unix() != st.CreationEpoch, true",
		New:    "return true, true",
		Pkgs:   []string{"./scheduler"},
		Run:    "^TestMultiStreamFormerStreamLeaseDeletion$",
	},
}
