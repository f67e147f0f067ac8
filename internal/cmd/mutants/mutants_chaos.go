package main

import "time"

// Mutants of what the multi-process chaos suite (internal/chaos) found:
// worker processes against the emulators, paused with SIGSTOP for longer
// than the failover time.
func init() {
	table = append(table, mutant{
		Name: "late-heartbeat-cancels-fencing",
		Breaks: "a worker paused past its fencing deadline (SIGSTOP, a long GC) fences before its next heartbeat can succeed; " +
			"here no deadline check before or after the call and no fencing timer during it, the bug issue 16 found with real processes",
		File: "internal/session/session.go",
		Old: `	s.fenceIfLate()
	sent := time.Now()
	// A heartbeat that lands after the deadline is worthless to the
	// fencing argument's T; bound the call so it cannot hang.
	callCtx, cancel := context.WithTimeout(ctx, s.cfg.FailoverTime)
	defer cancel()
	// The loop's fencing timer does not run while this call is in flight,
	// and a stalled call (a DynamoDB partition, a hung connection) may
	// return only at its timeout, long after the leader gave the leases
	// away: fence at the deadline itself, from a timer of the call's own.
	s.mu.Lock()
	untilFence := time.Until(s.deadline())
	s.mu.Unlock()
	fenced := make(chan struct{})
	fenceDuring := time.AfterFunc(max(untilFence, 0), func() {
		defer close(fenced)
		s.setFenced()
	})
	rec, err := s.cfg.Store.Heartbeat(callCtx, r)
	if !fenceDuring.Stop() {
		<-fenced // fencing completes (processors stopped) before anything below
	}
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
	// The loop's fencing timer does not run while this call is in flight,
	// and a stalled call (a DynamoDB partition, a hung connection) may
	// return only at its timeout, long after the leader gave the leases
	// away: fence at the deadline itself, from a timer of the call's own.
	s.mu.Lock()
	untilFence := time.Until(s.deadline())
	s.mu.Unlock()
	fenced := make(chan struct{})
	fenceDuring := time.AfterFunc(max(untilFence, 0)+time.Hour, func() {
		defer close(fenced)
		s.setFenced()
	})
	rec, err := s.cfg.Store.Heartbeat(callCtx, r)
	if !fenceDuring.Stop() {
		<-fenced // fencing completes (processors stopped) before anything below
	}
	if err != nil {
		return err
	}
`,
		Pkgs:      []string{"./internal/chaos"},
		Run:       "^TestChaos(ShortSchedule|Pauses)$",
		Timeout:   5 * time.Minute,
		Emulators: true,
	}, mutant{
		// Found by the chaos suite (a paused candidate took over and
		// moved a live worker's leases); the in-memory test kills it
		// deterministically.
		Name:   "observation-stamped-before-read",
		Breaks: "the leader stamps a reading of the worker table with the time it arrived, so a slow read (or a pause) never ages a heartbeat and a live, unfenced worker keeps its leases",
		File:   "internal/coordinator/coordinator.go",
		Old: `func (c *Coordinator) lead(ctx context.Context, force bool) error {
	ws, err := c.cfg.Workers.List(ctx)
	if err != nil {
		return err
	}
	// The readings are stamped when they arrived, never earlier: a
	// heartbeat in them may have been sent at any moment before that, so
	// a stamp taken before a slow read (or before a pause of this
	// process) would age it by the read's duration, and a live worker
	// that has not fenced would be declared dead.
	now := time.Now()
`,
		New: `func (c *Coordinator) lead(ctx context.Context, force bool) error {
	now := time.Now()
	ws, err := c.cfg.Workers.List(ctx)
	if err != nil {
		return err
	}
`,
		Pkgs: []string{"./internal/coordinator"},
		Run:  "^TestSlowWorkerReadDoesNotAgeHeartbeats$",
	}, mutant{
		Name:   "election-stamped-before-read",
		Breaks: "a candidate stamps its reading of the leader's heartbeat with the time it arrived, so a slow election read (or a pause) never makes a live leader look dead and its leases move before it fenced",
		File:   "internal/coordinator/coordinator.go",
		Old: `	rec, err := c.cfg.Coordinator.GetLeader(ctx)
	if err != nil {
		return err
	}
	c.rec = rec
	lostClaim := c.lostClaim
	c.lostClaim = nil
	mySession := c.cfg.Session.ID()
	switch {
	case rec.Leader == c.cfg.WorkerID && rec.SessionID == mySession:
		if lostClaim != nil && !c.leader.Load() {
			// Our last claim failed, yet the item names this session:
			// the write happened and only its response was lost. Take
			// over as a successful claim does, keeping the evidence
			// about the previous leader (without it, the dead leader's
			// leases wait another failover time).
			c.becomeLeader(rec, *lostClaim, "claimed (response lost)")
			return nil
		}
		c.setLeader(true)
		return nil
	case rec.Leader == "" || rec.Leader == c.cfg.WorkerID:
		// Free, or held by an earlier incarnation of this worker id.
		return c.claim(ctx, rec, "leadership free")
	}
	c.setLeader(false)
	// Watch the leader's worker record: its heartbeat is the leader's
	// liveness, so leadership costs no writes of its own.
	w, err := c.cfg.Workers.Get(ctx, rec.Leader)
	now := time.Now() // when the reading arrived (see lead)
`,
		New: `	stamp := time.Now()
	rec, err := c.cfg.Coordinator.GetLeader(ctx)
	if err != nil {
		return err
	}
	c.rec = rec
	lostClaim := c.lostClaim
	c.lostClaim = nil
	mySession := c.cfg.Session.ID()
	switch {
	case rec.Leader == c.cfg.WorkerID && rec.SessionID == mySession:
		if lostClaim != nil && !c.leader.Load() {
			// Our last claim failed, yet the item names this session:
			// the write happened and only its response was lost. Take
			// over as a successful claim does, keeping the evidence
			// about the previous leader (without it, the dead leader's
			// leases wait another failover time).
			c.becomeLeader(rec, *lostClaim, "claimed (response lost)")
			return nil
		}
		c.setLeader(true)
		return nil
	case rec.Leader == "" || rec.Leader == c.cfg.WorkerID:
		// Free, or held by an earlier incarnation of this worker id.
		return c.claim(ctx, rec, "leadership free")
	}
	c.setLeader(false)
	// Watch the leader's worker record: its heartbeat is the leader's
	// liveness, so leadership costs no writes of its own.
	w, err := c.cfg.Workers.Get(ctx, rec.Leader)
	now := stamp
`,
		Pkgs: []string{"./internal/coordinator"},
		Run:  "^TestSlowElectionReadDoesNotAgeTheLeader$",
	})
}
