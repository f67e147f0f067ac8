package scheduler

import (
	"context"

	"github.com/shardwise/shardwise/internal/hashkey"
)

// recordsPublisher is the retrieval seam below the shard consumer (the
// Java KCL's RecordsPublisher): it reads one shard from the lease's
// checkpoint and pushes batches into the shard's queue, with each batch's
// bytes held in the worker-wide prefetch budget, until the shard ends (the
// queue then ends with the end marker) or ctx ends. It closes the queue
// when run returns.
//
// Two implementations: fetcher (GetRecords polling, the default) and
// subscriber (enhanced fan-out, SubscribeToShard). Everything above the
// queue — the byte budget's release, KPL deaggregation and sub-sequence
// resume (recordConverter, shared), parents before children, checkpoints,
// hand-offs, the batch handler and the ProcessTask metrics — is the same
// for both and does not know which one runs.
type recordsPublisher interface {
	run(ctx context.Context)
}

// newPublisher builds the records publisher Config selects for this
// consumer's shard, pushing into q.
func (c *shardConsumer) newPublisher(q *queue) recordsPublisher {
	var keep *hashkey.Range
	if c.lease.StartingHashKey != "" && c.lease.EndingHashKey != "" {
		if r, err := hashkey.ParseRange(c.lease.StartingHashKey, c.lease.EndingHashKey); err == nil {
			keep = &r
		} else {
			c.log.Warn().Err(err).Msg("lease has an unreadable hash range; not filtering sub-records by hash key")
		}
	}
	if c.s.cfg.FanOut {
		p := &subscriber{s: c.s, stream: c.stream, shardID: c.shardID, q: q, log: c.log, after: c.lease.Checkpoint, scope: c.scope,
			fetched: &c.fetched, behind: &c.behind, lag: &c.lag}
		p.conv.keep = keep
		return p
	}
	f := &fetcher{s: c.s, stream: c.stream, shardID: c.shardID, q: q, log: c.log, after: c.lease.Checkpoint, scope: c.scope,
		fetched: &c.fetched, behind: &c.behind, lag: &c.lag, reserve: -1}
	f.conv.keep = keep
	return f
}
