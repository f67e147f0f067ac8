package coordinator

import (
	"context"
	"errors"

	"github.com/shardwise/shardwise/leases"
)

// legacyLeaderRemover is implemented by a coordinator store that may find
// the leader item of an earlier Shardwise version under the Java KCL's
// key (the DynamoDB store). RemoveLegacyLeader reports whether such an
// item is still there after it ran.
type legacyLeaderRemover interface {
	RemoveLegacyLeader(ctx context.Context, held func(ctx context.Context, leader, session string) (bool, error)) (remaining bool, err error)
}

// removeLegacyLeader runs on the leader, once per assignment run until it
// is settled: it deletes the leader item an earlier Shardwise version left
// under the key the Java KCL's lock uses, once the session it names is
// gone. While a worker of the earlier version still leads there (a rolling
// upgrade), the item stays and is looked at again next run; the two
// leaders meanwhile are harmless, as every move is a compare-and-set on
// the lease as read, and both see the same worker table.
func (c *Coordinator) removeLegacyLeader(ctx context.Context) {
	if c.legacySettled {
		return
	}
	r, ok := c.cfg.Coordinator.(legacyLeaderRemover)
	if !ok {
		c.legacySettled = true
		return
	}
	remaining, err := r.RemoveLegacyLeader(ctx, func(ctx context.Context, leader, session string) (bool, error) {
		w, err := c.cfg.Workers.Get(ctx, leader)
		if errors.Is(err, leases.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return w.SessionID == session, nil
	})
	if err != nil {
		if ctx.Err() == nil {
			c.warn.Warn(&c.log, "legacy-leader").Err(err).Msg("checking the leader item of an earlier Shardwise version failed; will retry")
		}
		return
	}
	c.legacySettled = !remaining
}
