package scheduler

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/hashkey"
	"github.com/shardwise/shardwise/internal/kpl"
)

// recordConverter turns Kinesis records into user records: it deaggregates
// KPL aggregates, drops sub-records whose hash key is outside the lease's
// range (after a reshard an aggregate can hold records of a sibling), and
// drops every position at or before `after` (the checkpoint on resume, or
// the last record fetched when an iterator is renewed).
//
// One converter belongs to one fetcher goroutine; its scratch buffer is
// reused between calls.
type recordConverter struct {
	keep    *hashkey.Range
	scratch []kpl.SubRecord
}

// appendRecords appends the user records of recs that come after `after`
// to dst, and returns dst and the payload bytes appended.
func (c *recordConverter) appendRecords(dst []consumer.Record, recs []types.Record, after consumer.ExtendedSequenceNumber) ([]consumer.Record, int64) {
	var bytes int64
	filter := !after.IsZero() && !after.IsSentinel()
	for i := range recs {
		r := &recs[i]
		seq := aws.ToString(r.SequenceNumber)
		// minSub is the first sub-sequence number of this record still to
		// deliver; -1 delivers all of it.
		minSub := int64(-1)
		if filter {
			switch consumer.CompareSequenceNumbers(seq, after.SequenceNumber) {
			case -1:
				continue
			case 0:
				minSub = after.SubSequenceNumber
			}
		}
		arrival := aws.ToTime(r.ApproximateArrivalTimestamp)
		if kpl.IsAggregated(r.Data) {
			subs, err := kpl.Deaggregate(r.Data, c.keep, c.scratch[:0])
			if err == nil {
				c.scratch = subs
				for j := range subs {
					s := &subs[j]
					if s.Index <= minSub {
						continue
					}
					dst = append(dst, consumer.Record{
						SequenceNumber:              seq,
						SubSequenceNumber:           s.Index,
						Aggregated:                  true,
						PartitionKey:                s.PartitionKey,
						ExplicitHashKey:             s.ExplicitHashKey,
						Data:                        s.Data,
						ApproximateArrivalTimestamp: arrival,
						EncryptionType:              string(r.EncryptionType),
					})
					bytes += int64(len(s.Data))
				}
				continue
			}
			// A corrupt aggregate is delivered whole, as a plain record:
			// dropping it would lose data silently.
		}
		if minSub >= 0 {
			continue // a plain record is sub-sequence 0, at or before `after`
		}
		dst = append(dst, consumer.Record{
			SequenceNumber:              seq,
			PartitionKey:                aws.ToString(r.PartitionKey),
			Data:                        r.Data,
			ApproximateArrivalTimestamp: arrival,
			EncryptionType:              string(r.EncryptionType),
		})
		bytes += int64(len(r.Data))
	}
	return dst, bytes
}
