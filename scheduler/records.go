package scheduler

import (
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/hashkey"
	"github.com/shardwise/shardwise/internal/kpl"
	"github.com/shardwise/shardwise/internal/seqnum"
)

// recordConverter turns Kinesis records into user records: it deaggregates
// KPL aggregates, drops sub-records whose hash key is outside the lease's
// range (after a reshard an aggregate can hold records of a sibling), and
// drops every position at or before `after` (the checkpoint on resume, or
// the last record fetched when an iterator is renewed).
//
// One converter belongs to one fetcher goroutine; its scratch memory is
// reused between calls. A response is converted in passes: find the
// aggregates and check all their digests at once, check every aggregate's
// framing and count its sub-records, then allocate the user records once
// and decode the sub-records straight into them (no intermediate copy).
type recordConverter struct {
	keep  *hashkey.Range
	deagg kpl.Deaggregator
	plan  []recordPlan // per Kinesis record
	aggs  [][]byte     // the aggregates' data, for Verify
	ok    []bool
}

// recordPlan is what a Kinesis record becomes: nothing (skip), itself
// (plain), or the sub-records of scanned.
type recordPlan struct {
	skip      bool
	aggregate bool        // deliver the sub-records of scanned
	scanned   kpl.Scanned // when aggregate
	minSub    int64       // sub-records at or below are at or before `after`
}

// appendRecords appends the user records of recs that come after `after`
// to dst, and returns dst and the payload bytes appended.
func (c *recordConverter) appendRecords(dst []consumer.Record, recs []types.Record, after consumer.ExtendedSequenceNumber) ([]consumer.Record, int64) {
	filter := !after.IsZero() && !seqnum.IsSentinel(after.SequenceNumber)
	c.plan = c.plan[:0]
	c.aggs = c.aggs[:0]
	for i := range recs {
		r := &recs[i]
		// minSub is the first sub-sequence number of this record still to
		// deliver; -1 delivers all of it.
		p := recordPlan{minSub: -1}
		if filter {
			switch seqnum.Compare(aws.ToString(r.SequenceNumber), after.SequenceNumber) {
			case -1:
				p.skip = true
			case 0:
				p.minSub = after.SubSequenceNumber
			}
		}
		if !p.skip && kpl.IsAggregated(r.Data) {
			p.aggregate = true
			c.aggs = append(c.aggs, r.Data)
		}
		c.plan = append(c.plan, p)
	}
	if len(c.aggs) > 0 {
		c.ok = slices.Grow(c.ok[:0], len(c.aggs))[:len(c.aggs)]
		c.deagg.Verify(c.aggs, c.ok)
	}
	// n bounds the records delivered: all sub-records of every aggregate
	// (the filter and `after` may drop some), one per plain record.
	n, j := 0, 0
	for i := range c.plan {
		p := &c.plan[i]
		if p.skip {
			continue
		}
		if p.aggregate {
			// A corrupt aggregate is delivered whole, as a plain record:
			// dropping it would lose data silently.
			p.aggregate = c.ok[j]
			j++
			if p.aggregate {
				var err error
				p.scanned, err = c.deagg.Scan(recs[i].Data)
				p.aggregate = err == nil
			}
			if p.aggregate {
				n += p.scanned.Records()
				continue
			}
		}
		if p.minSub >= 0 {
			p.skip = true // a plain record is sub-sequence 0, at or before `after`
			continue
		}
		n++
	}
	if dst == nil {
		dst = make([]consumer.Record, 0, n)
	} else {
		dst = slices.Grow(dst, n)
	}
	var bytes int64
	for i := range c.plan {
		p := &c.plan[i]
		if p.skip {
			continue
		}
		r := &recs[i]
		seq := aws.ToString(r.SequenceNumber)
		arrival := aws.ToTime(r.ApproximateArrivalTimestamp)
		if p.aggregate {
			first, minSub, enc := len(dst), p.minSub, string(r.EncryptionType)
			var aggBytes int64
			err := c.deagg.Each(&p.scanned, c.keep, func(s kpl.SubRecord) {
				if s.Index <= minSub {
					return
				}
				if len(dst) == cap(dst) {
					dst = slices.Grow(dst, 1) // not reached: n counted every sub-record
				}
				// Field by field into the slot: a composite literal would
				// be built aside and copied in, with a bulk write barrier
				// while the GC runs.
				dst = dst[:len(dst)+1]
				o := &dst[len(dst)-1]
				o.SequenceNumber = seq
				o.SubSequenceNumber = s.Index
				o.Aggregated = true
				o.PartitionKey = s.PartitionKey
				o.ExplicitHashKey = s.ExplicitHashKey
				o.Data = s.Data
				o.ApproximateArrivalTimestamp = arrival
				o.EncryptionType = enc
				aggBytes += int64(len(s.Data))
			})
			if err == nil {
				bytes += aggBytes
				continue
			}
			// The aggregate did not decode after all: drop what it gave
			// and deliver it whole, as a plain record (unless it is at or
			// before `after`, as a plain record would be).
			clear(dst[first:])
			dst = dst[:first]
			if p.minSub >= 0 {
				continue
			}
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
	// The scratch must not pin this response's buffers.
	clear(c.plan)
	clear(c.aggs)
	return dst, bytes
}
