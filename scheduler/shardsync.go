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

// listShards lists every shard of a stream, following NextToken.
func (s *Scheduler) listShards(ctx context.Context, st *streamInfo) ([]types.Shard, error) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamARN: st.arnOrNil(), StreamName: st.nameOrNil()}
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

func leaseForShard(st *streamInfo, sh types.Shard, cp consumer.ExtendedSequenceNumber) leases.Lease {
	l := leases.Lease{
		Key:            st.leaseKey(aws.ToString(sh.ShardId)),
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
//
// Only leases whose key resolves to a consumed stream take part: a lease
// of another stream, a malformed key or a key of the other form (single-
// or multi-stream) is counted, logged and left exactly as it is.
func (s *Scheduler) syncShards(ctx context.Context) error {
	existing, err := s.store.List(ctx)
	if err != nil {
		return fmt.Errorf("shardwise: reading the lease table: %w", err)
	}
	set := s.streams.Load()
	mine := make(map[*streamInfo][]leases.Lease, len(set.list))
	unknown := map[string][]string{}
	for _, l := range existing {
		st, _, why := set.lookup(l.Key)
		if why != resolved {
			unknown[why] = append(unknown[why], l.Key)
			continue
		}
		mine[st] = append(mine[st], l)
	}
	s.skipped("shard-sync", unknown)
	var firstErr error
	vanished := map[string]bool{}
	for _, st := range set.list {
		err := s.syncStream(ctx, st, mine[st], existing, vanished)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if err != nil && set.multi && ctx.Err() == nil {
			s.warn.Warn(&s.log, "shard-sync:"+st.label()).Err(err).Str("stream", st.label()).Msg("shard sync of a stream failed; the other streams are synced")
		}
	}
	if s.IsLeader() {
		s.vanished = vanished
		s.cleanFormerStreams(ctx, set, existing)
	}
	return firstErr
}

// syncStream is syncShards for one stream, given the stream's leases and
// the whole table (all). It adds the stream's leases missing from the
// listing to vanished.
func (s *Scheduler) syncStream(ctx context.Context, st *streamInfo, existing, all []leases.Lease, vanished map[string]bool) error {
	shards, err := s.listShards(ctx, st)
	if err != nil {
		if set := s.streams.Load(); set.multi {
			return fmt.Errorf("shardwise: stream %q: %w", st.label(), err)
		}
		return err
	}
	// leased is keyed by bare shard id: parents and children are named
	// by shard id.
	leased := make(map[string]bool, len(existing))
	for _, l := range existing {
		_, shard, _ := s.streams.Load().lookup(l.Key)
		if shard == "" {
			shard = l.Key // the set changed since syncShards: harmless, the key is the stream's
		}
		leased[shard] = true
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
		cp := initialCheckpoint(st.pos)
		switch {
		case parentLeased:
			cp = consumer.TrimHorizon
		case st.pos.Kind == consumer.PositionLatest && !shardOpen(sh):
			return
		}
		ok, err := s.store.Create(ctx, leaseForShard(st, sh, cp))
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("shardwise: creating the lease of %s: %w", st.leaseKey(id), err)
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
		s.log.Info().Str("stream", st.label()).Int("created", created).Int("shards", len(shards)).Msg("shard sync created leases")
	}
	if s.IsLeader() {
		s.removeVanishedLeases(ctx, st, all, byID, vanished)
	}
	return firstErr
}

// removeVanishedLeases deletes the leases of a stream's shards that
// ListShards no longer returns (their data expired). A lease must be
// missing from two consecutive syncs, so a listing taken at an unlucky
// moment deletes nothing. Deleting it lets the shard's children start.
//
// all is the whole lease table. Only a lease whose key resolves to st is
// looked up in st's listing: a lease whose key this worker cannot read
// (malformed, the other key form) or of another stream is never taken for
// a vanished shard, so it is never deleted here. This check is the one
// thing that keeps a Java multi-stream table safe from a single-stream
// worker (and another stream's leases safe from this one).
func (s *Scheduler) removeVanishedLeases(ctx context.Context, st *streamInfo, all []leases.Lease, listed map[string]types.Shard, missing map[string]bool) {
	set := s.streams.Load()
	for _, l := range all {
		owner, shard, why := set.lookup(l.Key)
		if why != resolved || owner != st {
			continue // not this stream's: never deleted here
		}
		if _, ok := listed[shard]; ok {
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
}

// auditHashRanges checks that the unfinished leases cover the whole hash
// key space; a hole means a shard has no lease, and a shard sync follows at
// once instead of at the next ShardSyncInterval.
func (s *Scheduler) auditHashRanges(ctx context.Context) {
	all, err := s.store.List(ctx)
	if err != nil {
		return
	}
	// Each stream's leases must cover the key space on their own.
	set := s.streams.Load()
	byStream := map[*streamInfo][]hashkey.Range{}
	for _, l := range all {
		if l.IsFinished() || l.StartingHashKey == "" {
			continue
		}
		st, _, why := set.lookup(l.Key)
		if why != resolved {
			continue
		}
		r, err := hashkey.ParseRange(l.StartingHashKey, l.EndingHashKey)
		if err != nil {
			continue
		}
		byStream[st] = append(byStream[st], r)
	}
	var holes []hashkey.Range
	var where string
	for st, ranges := range byStream {
		if h := hashkey.Holes(ranges); len(h) > 0 {
			holes, where = h, st.label()
			break
		}
	}
	if len(holes) == 0 {
		return
	}
	s.warn.Warn(&s.log, "audit").Str("stream", where).Int("holes", len(holes)).Str("first", holes[0].String()).Msg("the leases do not cover the whole hash key range; syncing shards now")
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
