package scheduler

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/hashkey"
	"github.com/shardwise/shardwise/leases"
)

// listShards lists every shard of the stream, following NextToken.
func (s *Scheduler) listShards(ctx context.Context) ([]types.Shard, error) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamARN: s.streamARNOrNil()}
	if in.StreamARN == nil {
		in.StreamName = aws.String(s.cfg.StreamName)
	}
	seenTokens := map[string]bool{}
	for {
		out, err := s.kinesis.ListShards(ctx, in)
		if err != nil {
			return nil, err
		}
		shards = append(shards, out.Shards...)
		next := aws.ToString(out.NextToken)
		if next == "" || len(out.Shards) == 0 {
			return shards, nil
		}
		if seenTokens[next] {
			return nil, fmt.Errorf("shardwise: ListShards returned the same NextToken twice")
		}
		seenTokens[next] = true
		// With NextToken the stream must not be named again.
		in = &kinesis.ListShardsInput{NextToken: aws.String(next)}
	}
}

// shardParents returns the parent and adjacent parent of a shard.
func shardParents(sh types.Shard) []string {
	var p []string
	if id := aws.ToString(sh.ParentShardId); id != "" {
		p = append(p, id)
	}
	if id := aws.ToString(sh.AdjacentParentShardId); id != "" {
		p = append(p, id)
	}
	return p
}

// shardOpen reports whether a shard still takes records. A closed shard
// has an ending sequence number; its value is never compared (one emulator
// reports 2^63-1 for every closed shard).
func shardOpen(sh types.Shard) bool {
	return sh.SequenceNumberRange == nil || sh.SequenceNumberRange.EndingSequenceNumber == nil
}

func leaseForShard(sh types.Shard, cp consumer.ExtendedSequenceNumber) leases.Lease {
	l := leases.Lease{
		Key:            aws.ToString(sh.ShardId),
		Checkpoint:     cp,
		ParentShardIDs: shardParents(sh),
	}
	if sh.HashKeyRange != nil {
		l.StartingHashKey = aws.ToString(sh.HashKeyRange.StartingHashKey)
		l.EndingHashKey = aws.ToString(sh.HashKeyRange.EndingHashKey)
	}
	return l
}

// syncShards creates a lease for every shard that should have one and has
// none, and (on the leader) deletes the leases of shards that no longer
// exist. Creation is conditional, so concurrent syncs are harmless.
//
// Which shards get leases, and where they start:
//   - a closed shard with a leased descendant gets none: its records were
//     processed before the descendant's lease was created (this is what
//     keeps a finished, deleted parent from being processed again);
//   - a shard descended from a leased shard starts at TRIM_HORIZON, so
//     that nothing written to it after the split or merge is skipped (it
//     waits for its parents before it starts);
//   - any other shard starts at the initial position, except that at
//     LATEST a closed shard with no leased ancestor gets no lease at all
//     (LATEST means "from now on", and a closed shard has no "now").
func (s *Scheduler) syncShards(ctx context.Context) error {
	shards, err := s.listShards(ctx)
	if err != nil {
		return err
	}
	existing, err := s.store.List(ctx)
	if err != nil {
		return fmt.Errorf("shardwise: reading the lease table: %w", err)
	}
	leased := make(map[string]bool, len(existing))
	for _, l := range existing {
		leased[l.Key] = true
	}
	byID := make(map[string]types.Shard, len(shards))
	children := make(map[string][]string, len(shards))
	for _, sh := range shards {
		id := aws.ToString(sh.ShardId)
		byID[id] = sh
		for _, p := range shardParents(sh) {
			children[p] = append(children[p], id)
		}
	}
	// hasLeasedDescendant is memoized over the shard graph.
	memo := map[string]bool{}
	var hasLeasedDescendant func(id string) bool
	hasLeasedDescendant = func(id string) bool {
		if v, ok := memo[id]; ok {
			return v
		}
		memo[id] = false // a cycle cannot happen, but must not recurse forever
		for _, c := range children[id] {
			if leased[c] || hasLeasedDescendant(c) {
				memo[id] = true
				return true
			}
		}
		return false
	}
	// Visit parents before children so a child sees whether its parent
	// has (or is getting) a lease.
	visited := make(map[string]bool, len(shards))
	var visit func(id string)
	created := 0
	var firstErr error
	visit = func(id string) {
		if visited[id] {
			return
		}
		visited[id] = true
		sh, ok := byID[id]
		if !ok {
			return
		}
		parents := shardParents(sh)
		for _, p := range parents {
			visit(p)
		}
		if leased[id] || (!shardOpen(sh) && hasLeasedDescendant(id)) {
			return
		}
		parentLeased := false
		for _, p := range parents {
			parentLeased = parentLeased || leased[p]
		}
		cp := initialCheckpoint(s.cfg.InitialPosition)
		switch {
		case parentLeased:
			cp = consumer.TrimHorizon
		case s.cfg.InitialPosition.Kind == consumer.PositionLatest && !shardOpen(sh):
			return
		}
		ok, err := s.store.Create(ctx, leaseForShard(sh, cp))
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("shardwise: creating the lease of %s: %w", id, err)
			}
			return
		}
		leased[id] = true
		if ok {
			created++
		}
	}
	for _, sh := range shards {
		visit(aws.ToString(sh.ShardId))
	}
	if created > 0 {
		s.log.Info().Int("created", created).Int("shards", len(shards)).Msg("shard sync created leases")
	}
	if s.IsLeader() {
		s.removeVanishedLeases(ctx, existing, byID)
	}
	return firstErr
}

// removeVanishedLeases deletes the leases of shards that ListShards no
// longer returns (their data expired). A lease must be missing from two
// consecutive syncs, so a listing taken at an unlucky moment deletes
// nothing. Deleting it lets the shard's children start.
func (s *Scheduler) removeVanishedLeases(ctx context.Context, existing []leases.Lease, listed map[string]types.Shard) {
	missing := map[string]bool{}
	for _, l := range existing {
		if _, ok := listed[l.Key]; ok {
			continue
		}
		missing[l.Key] = true
		if !s.vanished[l.Key] {
			continue
		}
		if err := s.store.Delete(ctx, l.Key, l.Counter); err != nil {
			if ctx.Err() == nil {
				s.warn.Warn(&s.log, "delete-vanished").Err(err).Str("lease", l.Key).Msg("deleting the lease of a vanished shard failed")
			}
			continue
		}
		s.log.Info().Str("lease", l.Key).Str("event", "deleted").Str("reason", "its shard no longer exists").Str("checkpoint", l.Checkpoint.String()).Msg("deleted the lease of a shard that no longer exists")
	}
	s.vanished = missing
}

// auditHashRanges checks that the unfinished leases cover the whole hash
// key space; a hole means a shard has no lease, and a shard sync follows at
// once instead of at the next ShardSyncInterval.
func (s *Scheduler) auditHashRanges(ctx context.Context) {
	all, err := s.store.List(ctx)
	if err != nil {
		return
	}
	var ranges []hashkey.Range
	for _, l := range all {
		if l.IsFinished() || l.StartingHashKey == "" {
			continue
		}
		r, err := hashkey.ParseRange(l.StartingHashKey, l.EndingHashKey)
		if err != nil {
			continue
		}
		ranges = append(ranges, r)
	}
	if len(ranges) == 0 {
		return
	}
	holes := hashkey.Holes(ranges)
	if len(holes) == 0 {
		return
	}
	s.warn.Warn(&s.log, "audit").Int("holes", len(holes)).Str("first", holes[0].String()).Msg("the leases do not cover the whole hash key range; syncing shards now")
	if err := s.syncShards(ctx); err != nil && ctx.Err() == nil {
		s.warn.Warn(&s.log, "shard-sync").Err(err).Msg("shard sync after the hash range audit failed")
	}
}

// initialCheckpoint is the sentinel checkpoint a new lease gets for the
// configured initial position.
func initialCheckpoint(p consumer.InitialPosition) consumer.ExtendedSequenceNumber {
	switch p.Kind {
	case consumer.PositionTrimHorizon:
		return consumer.TrimHorizon
	case consumer.PositionAtTimestamp:
		return consumer.AtTimestamp
	}
	return consumer.Latest
}
