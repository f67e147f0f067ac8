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

	// --- Reserved for the lead: three mutants whose tests another helper
	// writes (self-fencing removed under realistic latency, liveness
	// judged by wall clock, writing every lease on every heartbeat).
	// BEGIN lead-added mutants
	// END lead-added mutants
}
