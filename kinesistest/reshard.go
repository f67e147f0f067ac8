package kinesistest

// Resharding is immediate: there is no UPDATING phase, and the new shards
// take writes as soon as the call returns. Each split or merge is one event
// on the event counter: the parents' EndingSequenceNumber and the
// children's StartingSequenceNumber both come from it, so every record of a
// child sorts after every record of its parents.

// SplitShard closes shardID and opens two children: one with the hash keys
// [start, newStartingHashKey-1], then one with [newStartingHashKey, end].
func (f *Fake) SplitShard(streamName, shardID, newStartingHashKey string) error {
	key, ok := parseHashKey(newStartingHashKey)
	if !ok {
		return errInvalid("NewStartingHashKey %q is not a decimal integer in [0, 2^128-1]", newStartingHashKey)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, s, err := f.openShardLocked(streamName, shardID)
	if err != nil {
		return err
	}
	if key.cmp(s.start) <= 0 || key.cmp(s.end) > 0 {
		return errInvalid("NewStartingHashKey %s must be above %s and at most %s, the hash range of shard %s",
			newStartingHashKey, s.start, s.end, shardID)
	}
	f.splitLocked(st, s, key)
	return nil
}

func (f *Fake) splitLocked(st *stream, s *shard, key u128) {
	c := f.nextCounterLocked()
	now := f.now()
	lo := st.addShard(s.start, key.dec(), c, now, s.id, "")
	hi := st.addShard(key, s.end, c, now, s.id, "")
	st.closeShard(s, c, now, lo.id, hi.id)
}

// MergeShards closes shardID and adjacentShardID, whose hash ranges must
// touch, and opens one child over both ranges whose ParentShardId is
// shardID and AdjacentParentShardId is adjacentShardID.
func (f *Fake) MergeShards(streamName, shardID, adjacentShardID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, a, err := f.openShardLocked(streamName, shardID)
	if err != nil {
		return err
	}
	_, b, err := f.openShardLocked(streamName, adjacentShardID)
	if err != nil {
		return err
	}
	if a == b || !adjacent(a, b) {
		return errInvalid("Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible for merging",
			shardID, adjacentShardID, streamName, f.cfg.account)
	}
	f.mergeLocked(st, a, b)
	return nil
}

func adjacent(a, b *shard) bool {
	return (a.end != maxHashKey && a.end.inc() == b.start) || (b.end != maxHashKey && b.end.inc() == a.start)
}

func (f *Fake) mergeLocked(st *stream, a, b *shard) *shard {
	c := f.nextCounterLocked()
	now := f.now()
	lo, hi := a.start, b.end
	if b.start.cmp(a.start) < 0 {
		lo, hi = b.start, a.end
	}
	child := st.addShard(lo, hi, c, now, a.id, b.id)
	st.closeShard(a, c, now, child.id)
	st.closeShard(b, c, now, child.id)
	return child
}

// openShardLocked finds an open shard, with the service's errors for a
// missing stream, a missing shard and a closed shard.
func (f *Fake) openShardLocked(streamName, id string) (*stream, *shard, error) {
	st, ok := f.streams[streamName]
	if !ok {
		return nil, nil, f.streamNotFound(streamName)
	}
	s, ok := st.byID[id]
	if !ok {
		return nil, nil, f.shardNotFound(st, id)
	}
	if !s.isOpen() {
		return nil, nil, errInvalid("Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging or splitting",
			id, streamName, f.cfg.account)
	}
	return st, s, nil
}

// UpdateShardCount rescales the stream to target open shards of equal
// hash ranges (UNIFORM_SCALING) by splits and merges, leaving short-lived
// intermediate shards behind where the old and new layouts do not line up,
// as the service does. Like the service it refuses to more than double or
// to go below half the open shard count in one call
// (LimitExceededException); scale 4 -> 16 as 4 -> 8 -> 16.
func (f *Fake) UpdateShardCount(streamName string, target int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.streams[streamName]
	if !ok {
		return f.streamNotFound(streamName)
	}
	current := len(st.open)
	if target < 1 {
		return errInvalid("TargetShardCount %d must be at least 1", target)
	}
	if target > 2*current || 2*target < current {
		return errLimit("UpdateShardCount of stream %s under account %s: target %d is outside [%d, %d], half to double the %d open shards",
			streamName, f.cfg.account, target, (current+1)/2, 2*current, current)
	}

	// First split wherever a new range starts inside an open shard; then
	// every new range is a run of whole open shards, merged left to right.
	bounds := evenBoundaries(target)
	for _, b := range bounds[1:] {
		s := st.route(b)
		if s.start != b {
			f.splitLocked(st, s, b)
		}
	}
	for i, lo := range bounds {
		hi := maxHashKey
		if i+1 < len(bounds) {
			hi = bounds[i+1].dec()
		}
		var acc *shard
		for _, s := range append([]*shard(nil), st.open...) {
			if s.start.cmp(lo) < 0 || s.end.cmp(hi) > 0 {
				continue
			}
			if acc == nil {
				acc = s
				continue
			}
			acc = f.mergeLocked(st, acc, s)
		}
	}
	return nil
}
