package kinesistest

import (
	"bytes"
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// GetRecords reads from the position a shard iterator holds. It returns a
// new iterator each call and leaves the old one valid until it expires, so
// a caller may retry with the same iterator. At the end of a closed shard
// (the call that returns its last records, or any later call) the response
// has no NextShardIterator and lists the children in ChildShards.
// optFns are ignored.
func (f *Fake) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	const op = opGetRecords
	if in == nil {
		in = &kinesis.GetRecordsInput{}
	}
	if err := f.begin(ctx, op); err != nil {
		return nil, err
	}
	if in.ShardIterator == nil {
		return nil, opError(op, paramRequired("GetRecordsInput", "ShardIterator"))
	}
	it, ok := f.decodeIterator(*in.ShardIterator)
	faultShard := ""
	if ok {
		faultShard = shardID(it.shardIndex)
	}
	if err := f.injected(op, faultShard); err != nil {
		return nil, err
	}
	if !ok {
		return nil, opError(op, errInvalid("Invalid ShardIterator."))
	}
	out, err := f.getRecords(in, it)
	if err != nil {
		return nil, opError(op, err)
	}
	return out, nil
}

func (f *Fake) getRecords(in *kinesis.GetRecordsInput, it iterator) (*kinesis.GetRecordsOutput, error) {
	limit := f.cfg.maxRecordsPerCall
	if in.Limit != nil {
		l := int(*in.Limit)
		if l < 1 || l > maxLimit {
			return nil, errInvalid("Limit %d is outside [1, %d]", l, maxLimit)
		}
		limit = min(limit, l)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.streams[it.stream]
	if !ok || st.incarnation != it.incarnation {
		// The stream the iterator was issued for is gone, even if another
		// of the same name exists now.
		return nil, f.streamNotFound(it.stream)
	}
	if a := aws.ToString(in.StreamARN); a != "" && a != st.arn {
		return nil, errInvalid("StreamARN %s does not match the stream of the shard iterator (%s)", a, st.arn)
	}
	if it.shardIndex < 0 || it.shardIndex >= len(st.shards) {
		return nil, errInvalid("Invalid ShardIterator.")
	}
	s := st.shards[it.shardIndex]
	now := f.now()
	if age := now.Sub(it.issued); age > f.cfg.iteratorLifetime {
		return nil, errExpiredIterator("Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			it.issued.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), f.cfg.iteratorLifetime.Milliseconds())
	}
	// readAllowed first: a call refused for bytes must not use up a slot of
	// the calls-per-second window.
	if !s.readAllowed(now, f.cfg.readBytesPerSecond) || !s.getRecordsCalls.allow(now, f.cfg.getRecordsPerSecond) {
		return nil, errThroughput("Rate exceeded for shard %s in stream %s under account %s.", s.id, st.name, f.cfg.account)
	}

	// Find the first record at the iterator's position. Records below the
	// trim horizon are gone, so an old position reads from the oldest kept.
	first := len(s.records)
	if it.atTime.IsZero() {
		first = s.firstAtOrAfter(it.pos)
	} else {
		for i := range s.records {
			if !s.records[i].arrival.Before(it.atTime) {
				first = i
				break
			}
		}
	}

	out := &kinesis.GetRecordsOutput{Records: []types.Record{}}
	n, size := 0, 0
	for i := first; i < len(s.records) && n < limit; i++ {
		r := &s.records[i]
		// The byte cap never leaves a call empty: one record larger than
		// the cap is returned alone.
		if n > 0 && size+s.size(r) > f.cfg.maxBytesPerCall {
			break
		}
		size += s.size(r)
		n++
		out.Records = append(out.Records, types.Record{
			SequenceNumber:              aws.String(r.seq),
			PartitionKey:                aws.String(r.pk),
			Data:                        bytes.Clone(r.data), // callers must not reach the store
			ApproximateArrivalTimestamp: aws.Time(r.arrival),
		})
	}
	s.chargeRead(now, size, f.cfg.readBytesPerSecond)

	next := it
	next.issued = now
	if n > 0 {
		next.pos = s.records[first+n-1].counter + 1
		next.atTime = time.Time{}
	}
	rest := len(s.records) - (first + n)

	// MillisBehindLatest: how old the oldest record still unread is; 0 once
	// the reader has caught up with the tip.
	behind := int64(0)
	if rest > 0 {
		behind = max(now.Sub(s.records[first+n].arrival).Milliseconds(), 0)
	}
	out.MillisBehindLatest = aws.Int64(behind)

	if !s.isOpen() && rest == 0 {
		if !f.cfg.omitChildShards {
			out.ChildShards = st.childShards(s)
		}
		return out, nil
	}
	out.NextShardIterator = aws.String(f.encodeIterator(next))
	return out, nil
}

// childShards describes the children of the closed shard s, each with all
// of its parents (two for a merge).
func (st *stream) childShards(s *shard) []types.ChildShard {
	out := make([]types.ChildShard, 0, len(s.children))
	for _, id := range s.children {
		c := st.byID[id]
		parents := []string{c.parent}
		if c.adjacentParent != "" {
			parents = append(parents, c.adjacentParent)
		}
		out = append(out, types.ChildShard{
			ShardId:      aws.String(c.id),
			ParentShards: parents,
			HashKeyRange: &types.HashKeyRange{
				StartingHashKey: aws.String(c.start.String()),
				EndingHashKey:   aws.String(c.end.String()),
			},
		})
	}
	return out
}

// readAllowed reports whether the shard has paid off the bytes of earlier
// reads at `rate` bytes per second (see WithReadThroughputLimit).
func (s *shard) readAllowed(now time.Time, rate int) bool {
	return rate <= 0 || !now.Before(s.readFreeAt)
}

// chargeRead books n bytes read at now. Kept as the time the debt is paid
// off, in integer nanoseconds, so that exact boundaries stay exact.
func (s *shard) chargeRead(now time.Time, n, rate int) {
	if rate <= 0 || n == 0 {
		return
	}
	from := s.readFreeAt
	if from.Before(now) {
		from = now
	}
	s.readFreeAt = from.Add(time.Duration(int64(n) * int64(time.Second) / int64(rate)))
}
