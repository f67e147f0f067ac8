package scheduler

import (
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/hashkey"
	"github.com/shardwise/shardwise/internal/kpl"
	"github.com/shardwise/shardwise/internal/seqnum"
)

// referenceRecords is the record conversion written the plain way, one
// Kinesis record at a time with kpl.Deaggregate: the converter, which
// checks digests in batches and allocates once, must give the same
// records.
func referenceRecords(recs []types.Record, keep *hashkey.Range, after consumer.ExtendedSequenceNumber) ([]consumer.Record, int64) {
	var out []consumer.Record
	var bytes int64
	filter := !after.IsZero() && !seqnum.IsSentinel(after.SequenceNumber)
	for _, r := range recs {
		seq := aws.ToString(r.SequenceNumber)
		minSub := int64(-1)
		if filter {
			switch seqnum.Compare(seq, after.SequenceNumber) {
			case -1:
				continue
			case 0:
				minSub = after.SubSequenceNumber
			}
		}
		arrival := aws.ToTime(r.ApproximateArrivalTimestamp)
		if subs, err := kpl.Deaggregate(r.Data, keep, nil); err == nil {
			for _, s := range subs {
				if s.Index > minSub {
					out = append(out, consumer.Record{SequenceNumber: seq, SubSequenceNumber: s.Index, Aggregated: true,
						PartitionKey: s.PartitionKey, ExplicitHashKey: s.ExplicitHashKey, Data: s.Data,
						ApproximateArrivalTimestamp: arrival, EncryptionType: string(r.EncryptionType)})
					bytes += int64(len(s.Data))
				}
			}
			continue
		}
		if minSub >= 0 {
			continue
		}
		out = append(out, consumer.Record{SequenceNumber: seq, PartitionKey: aws.ToString(r.PartitionKey), Data: r.Data,
			ApproximateArrivalTimestamp: arrival, EncryptionType: string(r.EncryptionType)})
		bytes += int64(len(r.Data))
	}
	return out, bytes
}

func TestRecordConverterMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ranges := []*hashkey.Range{nil, &hashkey.Split(hashkey.Full, 2)[0], &hashkey.Split(hashkey.Full, 4)[3]}
	var c recordConverter // reused across responses, as a fetcher does
	for round := range 300 {
		n := rng.IntN(40)
		recs := make([]types.Record, n)
		for i := range recs {
			var data []byte
			switch rng.IntN(6) {
			case 0:
				data = []byte(fmt.Sprintf("plain-%d", i))
			case 1, 2, 3:
				urs := make([]kpl.UserRecord, rng.IntN(30))
				for j := range urs {
					urs[j] = kpl.UserRecord{PartitionKey: fmt.Sprintf("pk-%d", rng.IntN(50)), Data: []byte(fmt.Sprintf("%d-%d-%d", round, i, j))}
					if rng.IntN(8) == 0 {
						urs[j].ExplicitHashKey = fmt.Sprint(rng.Uint64())
					}
				}
				data = kpl.Aggregate(urs)
			case 4:
				data = kpl.Aggregate([]kpl.UserRecord{{PartitionKey: "k", Data: []byte("corrupt")}})
				data[len(data)-1] ^= 1 // digest mismatch: delivered whole
			case 5:
				data = badIndexAggregate()
			}
			recs[i] = types.Record{
				SequenceNumber:              aws.String(fmt.Sprintf("4960%020d", i*10)),
				PartitionKey:                aws.String(fmt.Sprintf("outer-%d", i)),
				Data:                        data,
				ApproximateArrivalTimestamp: aws.Time(time.UnixMilli(int64(1e12 + i))),
				EncryptionType:              types.EncryptionTypeNone,
			}
		}
		var after consumer.ExtendedSequenceNumber
		switch rng.IntN(3) {
		case 1:
			after = consumer.ExtendedSequenceNumber{SequenceNumber: consumer.TrimHorizon.SequenceNumber}
		case 2:
			if n > 0 {
				after = consumer.ExtendedSequenceNumber{SequenceNumber: aws.ToString(recs[rng.IntN(n)].SequenceNumber), SubSequenceNumber: int64(rng.IntN(20))}
			}
		}
		c.keep = ranges[rng.IntN(len(ranges))]
		want, wantBytes := referenceRecords(recs, c.keep, after)
		got, gotBytes := c.appendRecords(nil, recs, after)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) || gotBytes != wantBytes {
			t.Fatalf("round %d: converter gave %d records (%d bytes), reference %d (%d bytes)", round, len(got), gotBytes, len(want), wantBytes)
		}
		// Allocated once, for every sub-record of the aggregates
		// delivered (before the hash-range filter and `after` drop any)
		// and every plain record delivered: exactly when neither drops
		// a sub-record and no aggregate fails after its scan.
		bound, exact := 0, c.keep == nil
		for _, r := range recs {
			switch cmp := seqnum.Compare(aws.ToString(r.SequenceNumber), after.SequenceNumber); {
			case !after.IsZero() && !seqnum.IsSentinel(after.SequenceNumber) && cmp < 0:
			case kpl.IsAggregated(r.Data):
				var d kpl.Deaggregator
				ok := []bool{false}
				d.Verify([][]byte{r.Data}, ok)
				if sc, err := d.Scan(r.Data); ok[0] && err == nil {
					// Counted whole, even if it then fails to decode
					// and is delivered as one plain record.
					bound += sc.Records()
					_, err := kpl.Deaggregate(r.Data, nil, nil)
					exact = exact && err == nil && (cmp != 0 || sc.Records() == 0 || after.SubSequenceNumber < 0 || seqnum.IsSentinel(after.SequenceNumber))
					break
				}
				fallthrough
			default:
				if cmp != 0 || after.IsZero() || seqnum.IsSentinel(after.SequenceNumber) {
					bound++
				}
			}
		}
		if cap(got) > bound || (exact && cap(got) != len(got)) {
			t.Fatalf("round %d: records allocated with capacity %d for %d (bound %d, exact %v)", round, cap(got), len(got), bound, exact)
		}
	}
}

// badIndexAggregate is an aggregate with a matching digest and sound
// framing whose second record names a partition key its table lacks: it
// fails only once its first sub-record has been decoded, and is then
// delivered whole, as a plain record.
func badIndexAggregate() []byte {
	body := []byte{
		0x0a, 0x01, 'a', // partition key table: "a"
		0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, 'x', // record: key 0, data "x"
		0x1a, 0x05, 0x08, 0x05, 0x1a, 0x01, 'y', // record: key 5 (out of range), data "y"
	}
	sum := md5.Sum(body)
	return append(append([]byte{0xF3, 0x89, 0x9A, 0xC2}, body...), sum[:]...)
}

// TestEmptyAggregateIsOnePlainRecord: a record that is exactly the KPL
// magic and the MD5 of an empty message (20 bytes) is delivered as one
// plain record, as the Java KCL does, not as nothing.
func TestEmptyAggregateIsOnePlainRecord(t *testing.T) {
	empty := kpl.Aggregate(nil)
	if len(empty) != 20 {
		t.Fatalf("an aggregate of nothing is %d bytes, want 20", len(empty))
	}
	var c recordConverter
	recs := []types.Record{{SequenceNumber: aws.String("49600000000000000000000000001"), PartitionKey: aws.String("pk"), Data: empty,
		ApproximateArrivalTimestamp: aws.Time(time.UnixMilli(1e12))}}
	got, n := c.appendRecords(nil, recs, consumer.ExtendedSequenceNumber{})
	if len(got) != 1 || got[0].Aggregated || !reflect.DeepEqual(got[0].Data, empty) || got[0].PartitionKey != "pk" || n != 20 {
		t.Fatalf("empty aggregate delivered as %+v (%d bytes)", got, n)
	}
}
