package coordinator

import (
	"context"
	"errors"

	"github.com/shardwise/shardwise/leases"
)

// assignment is a lease this leader gave a worker directly (an orphan
// taken over, or an unstarted lease reassigned), as its write left it.
type assignment struct {
	owner   string
	counter int64
}

// startState says what the leader knows of whether the owner of l runs
// it. A worker starts a lease it was given with a compare-and-set that
// bumps the lease's counter (scheduler discovery), so while the counter
// is still the one this leader's own assignment wrote, the owner has not
// started it: nothing runs that a hand-off would have to stop.
type startState int

const (
	// startUnknown: the leader did not assign the lease itself; the
	// owner's heartbeat decides.
	startUnknown startState = iota
	// startNot: the leader assigned it and the counter is unchanged: the
	// owner has not started it.
	startNot
	// startDone: the leader assigned it and the owner has since written
	// it (started it, or checkpointed): a consumer runs it.
	startDone
)

func (c *Coordinator) startStateOf(l leases.Lease) startState {
	a, ok := c.assigned[l.Key]
	if !ok || a.owner != l.Owner || l.CheckpointOwner != "" {
		return startUnknown
	}
	if l.Counter == a.counter {
		return startNot
	}
	return startDone
}

// noteAssigned records a direct assignment the leader wrote (taken is the
// lease as the write left it).
func (c *Coordinator) noteAssigned(taken leases.Lease) {
	c.assigned[taken.Key] = assignment{owner: taken.Owner, counter: taken.Counter}
}

// forgetAssigned drops what no longer tells anything: leases gone or
// moved to another owner, and leases the owner's heartbeat lists as
// running. The map holds at most one entry per lease.
func (c *Coordinator) forgetAssigned(snap snapshot) {
	for k, a := range c.assigned {
		l, ok := snap.byKey[k]
		_, running := snap.running[a.owner][k]
		if !ok || l.Owner != a.owner || running {
			delete(c.assigned, k)
		}
	}
}

// handoffAttempts bounds startHandoff's re-reads. Three lost often enough
// under traffic (one join in 15 to 30 in the scenario suite's joining
// test, with store calls of 3-12 ms and a checkpoint every batch) that a
// joining worker's fill was cut short: once it holds some leases it is
// no longer filled, and load balancing, dampened and run every few
// assignment runs, gave it the rest only later.
const handoffAttempts = 6

// startHandoff writes a graceful move of l to to. A lease under traffic
// is checkpointed several times a second, and each checkpoint bumps the
// counter the move is conditioned on, so the write often loses to one;
// the plan still holds as long as the owner is the same, so the lease is
// read again and the move retried (a few times: a busy shard would
// otherwise wait for the next assignment run, an interval later). Any
// other change (a new owner, a hand-off under way, the shard ended)
// leaves the move to the next run's plan.
func (c *Coordinator) startHandoff(ctx context.Context, l leases.Lease, to string) error {
	for attempt := 1; ; attempt++ {
		_, err := c.cfg.Leases.StartHandoff(ctx, l, to)
		if !errors.Is(err, leases.ErrConditionFailed) || attempt == handoffAttempts {
			return err
		}
		cur, gerr := c.cfg.Leases.Get(ctx, l.Key)
		if gerr != nil || cur.Owner != l.Owner || cur.HandoffPending() || cur.IsFinished() {
			return err
		}
		l = cur
	}
}
