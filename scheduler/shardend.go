package scheduler

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/backoff"
	"github.com/shardwise/shardwise/leases"
)

// waitForParents blocks until every parent lease that exists has been
// processed to SHARD_END, which is what keeps the records of one partition
// key in order across a split or merge. It returns false if the consumer
// was stopped or lost its lease first.
//
// A parent that ends on this worker wakes the wait at once (the scheduler
// broadcasts every local shard end); a parent on another worker is re-read
// every ParentPollInterval.
func (c *shardConsumer) waitForParents() bool {
	if len(c.lease.ParentShardIDs) == 0 {
		return true
	}
	logged := false
	for {
		wake := c.s.shardEndSignal()
		pending := c.unfinishedParents()
		if len(pending) == 0 {
			if logged {
				c.log.Debug().Msg("parent shards finished; starting")
			}
			return true
		}
		if !logged {
			c.log.Info().Strs("parents", pending).Msg("waiting for parent shards to finish")
			logged = true
		}
		select {
		case <-c.stopCtx.Done():
			return false
		case <-wake:
		case <-c.s.after(c.s.cfg.ParentPollInterval):
		}
	}
}

// unfinishedParents lists the parents whose lease exists and is not at
// SHARD_END (a parent whose lease cannot be read counts as unfinished).
func (c *shardConsumer) unfinishedParents() []string {
	var pending []string
	for _, p := range c.lease.ParentShardIDs {
		// Parent ids are bare shard ids; the parent's lease is keyed like
		// this one (with this lease's stream prefix in a multi-stream
		// table).
		pl, err := c.s.store.Get(c.stopCtx, c.stream.leaseKey(p))
		switch {
		case errors.Is(err, leases.ErrNotFound):
			// Never leased (started at LATEST) or already cleaned up.
		case err != nil:
			if c.stopCtx.Err() == nil {
				c.s.warn.Warn(&c.log, "parent:"+c.lease.Key).Err(err).Str("parent", p).Msg("reading the parent lease failed")
			}
			pending = append(pending, p)
		case !pl.IsFinished():
			pending = append(pending, p)
		}
	}
	return pending
}

// shardEnded finishes a closed shard: it creates the child leases, records
// them on the parent, and has the processor checkpoint SHARD_END. Without
// that checkpoint the children would stay blocked, so ShardEnded is called
// again (after a backoff, with an error in the log) until the processor
// does it.
func (c *shardConsumer) shardEnded(proc consumer.Processor, end *batch) {
	ctx := c.leaseCtx
	retry := backoff.Backoff{Base: c.s.cfg.ProcessorRetryBackoff, Max: c.s.cfg.ProcessorRetryMaxBackoff}
	children := childLeases(c.stream, end.childShards)
	if len(children) == 0 {
		// kinesalite leaves ChildShards out: ask ListShards instead.
		for {
			kids, err := c.s.childrenFromListShards(ctx, c.stream, c.shardID)
			if err == nil {
				children = kids
				break
			}
			c.s.warn.Warn(&c.log, "list-children").Err(err).Msg("listing the child shards failed; retrying")
			if !backoff.Sleep(c.stopCtx, retry.Next()) {
				c.finishEnded(proc, false)
				return
			}
		}
		retry.Reset()
	}
	ids := make([]string, 0, len(children))
	for _, child := range children {
		// childShardIds holds bare shard ids, as the Java KCL keeps them.
		ids = append(ids, strings.TrimPrefix(child.Key, c.stream.leaseKey("")))
		// The children are created owned by this worker, so they start
		// here the moment the parent is done instead of waiting for the
		// leader's next assignment run; the leader rebalances later. For a
		// merge, whichever parent ends first creates the child.
		child.Owner = c.s.cfg.WorkerID
		for {
			_, err := c.s.store.Create(ctx, child)
			if err == nil {
				break
			}
			c.s.warn.Warn(&c.log, "create-child").Err(err).Str("child", child.Key).Msg("creating the child lease failed; retrying")
			if !backoff.Sleep(c.stopCtx, retry.Next()) {
				c.finishEnded(proc, false)
				return
			}
		}
	}
	c.children = ids
	retry.Reset()
	if len(ids) > 0 {
		if err := c.cp.RecordChildShards(ctx, ids); err != nil && c.cp.Lost() != nil {
			c.finishEnded(proc, false)
			return
		} else if err != nil {
			c.log.Warn().Err(err).Msg("recording the child shards on the lease failed")
		}
	}
	c.cp.ShardEnded()
	for {
		err := safeCall(func() error {
			return proc.ShardEnded(ctx, consumer.ShardEndedInput{ShardID: c.shardID, Checkpointer: c.cp})
		})
		if c.cp.LastCheckpoint().IsShardEnd() {
			break
		}
		if c.cp.Lost() != nil || ctx.Err() != nil {
			c.finishEnded(proc, false)
			return
		}
		delay := retry.Next()
		ev := c.log.Error().Dur("retry_in", delay).Strs("children", ids)
		if err != nil {
			ev = ev.Err(err)
		}
		ev.Msg("the processor did not checkpoint SHARD_END in ShardEnded; the shard's children stay blocked until it does, so ShardEnded will be called again")
		if !backoff.Sleep(c.stopCtx, delay) {
			c.finishEnded(proc, false)
			return
		}
	}
	c.finishEnded(proc, true)
}

// finishEnded ends a consumer after shard end handling: checkpointed
// (the lease stays with this worker, finished, until it is cleaned up),
// lease lost, or stopped before the processor checkpointed SHARD_END (the
// lease is released and the shard's end will be processed again).
func (c *shardConsumer) finishEnded(proc consumer.Processor, checkpointed bool) {
	switch {
	case checkpointed:
		c.log.Info().Str("event", "finished").Str("reason", "SHARD_END checkpointed").Strs("children", c.children).Msg("shard finished")
		c.s.mu.Lock()
		c.s.finished[c.lease.Key] = true
		c.s.mu.Unlock()
		c.s.broadcastShardEnd()
	case errors.Is(context.Cause(c.leaseCtx), consumer.ErrLeaseLost) || c.cp.Lost() != nil:
		c.finish(proc)
	default:
		c.release("worker shutting down before SHARD_END was checkpointed")
	}
}

// childLeases makes the leases of the children named in a GetRecords
// response.
func childLeases(st *streamInfo, kids []types.ChildShard) []leases.Lease {
	out := make([]leases.Lease, 0, len(kids))
	for _, k := range kids {
		l := leases.Lease{
			Key:            st.leaseKey(aws.ToString(k.ShardId)),
			Checkpoint:     consumer.TrimHorizon,
			ParentShardIDs: slices.Clone(k.ParentShards),
		}
		if k.HashKeyRange != nil {
			l.StartingHashKey = aws.ToString(k.HashKeyRange.StartingHashKey)
			l.EndingHashKey = aws.ToString(k.HashKeyRange.EndingHashKey)
		}
		out = append(out, l)
	}
	return out
}

// childrenFromListShards finds the children of shardID in the full shard
// list.
func (s *Scheduler) childrenFromListShards(ctx context.Context, st *streamInfo, shardID string) ([]leases.Lease, error) {
	shards, err := s.listShards(ctx, st)
	if err != nil {
		return nil, err
	}
	var out []leases.Lease
	for _, sh := range shards {
		parents := shardParents(sh)
		if slices.Contains(parents, shardID) {
			l := leaseForShard(st, sh, consumer.TrimHorizon)
			out = append(out, l)
		}
	}
	return out, nil
}
