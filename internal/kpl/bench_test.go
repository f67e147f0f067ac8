package kpl

import (
	"crypto/md5"
	"fmt"
	"testing"

	"github.com/shardwise/shardwise/internal/hashkey"
)

// BenchmarkDeaggregate100x100 measures the common aggregate: 100 sub-records
// of 100 bytes. The caller reuses out, as a consumer's fetch loop does.
func BenchmarkDeaggregate100x100(b *testing.B) {
	half := hashkey.Split(hashkey.Full, 2)[0]
	for _, bc := range []struct {
		name string
		keys int
		keep *hashkey.Range
	}{
		{"nofilter/100keys", 100, nil},
		{"nofilter/1key", 1, nil},
		{"filter/100keys", 100, &half},
		{"filter/1key", 1, &half},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := Aggregate(makeRecords(100, 100, bc.keys))
			out := make([]SubRecord, 0, 100)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				out, err = Deaggregate(in, bc.keep, out[:0])
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/subrecord")
		})
	}
}

// BenchmarkMD5Only is the floor under Deaggregate: the digest check alone
// over the same 100x100 aggregate body.
func BenchmarkMD5Only(b *testing.B) {
	in := Aggregate(makeRecords(100, 100, 100))
	body := in[len(magic) : len(in)-md5.Size]
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		_ = md5.Sum(body)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/subrecord")
}

func BenchmarkAggregate100x100(b *testing.B) {
	recs := makeRecords(100, 100, 100)
	b.ReportAllocs()
	for b.Loop() {
		_ = Aggregate(recs)
	}
}

// BenchmarkDeaggregatorResponse is deaggregation as a consumer does it per
// GetRecords response: the digests of all 100 aggregates checked in one
// Verify (many at a time), then each split with a reused Deaggregator,
// filtering by a shard's hash range (every partition key hashed) or not.
// With unique keys no key repeats across aggregates; with repeating keys
// every aggregate lists the same 100 short keys in a different order (IDs
// that recur). A cache of partition keys and their hashes across
// aggregates was tried and dropped: with md5x hashing a table's keys many
// at a time, a map lookup per key cost as much as it saved.
func BenchmarkDeaggregatorResponse(b *testing.B) {
	half := hashkey.Split(hashkey.Full, 2)[0]
	for _, bc := range []struct {
		name   string
		keep   *hashkey.Range
		unique bool
	}{
		{"nofilter/uniquekeys", nil, true},
		{"filter/uniquekeys", &half, true},
		{"nofilter/repeatingkeys", nil, false},
		{"filter/repeatingkeys", &half, false},
	} {
		b.Run(bc.name+"/100x100x100B", func(b *testing.B) {
			aggs := make([][]byte, 100)
			size := 0
			for i := range aggs {
				recs := makeRecords(100, 100, 100)
				for j := range recs {
					if bc.unique {
						recs[j].PartitionKey = fmt.Sprintf("pk-%d-%d", i, j)
					} else {
						recs[j].PartitionKey = fmt.Sprintf("user-%d", (i+j)%100)
					}
				}
				aggs[i] = Aggregate(recs)
				size += len(aggs[i])
			}
			var d Deaggregator
			ok := make([]bool, len(aggs))
			out := make([]SubRecord, 0, 100*len(aggs))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				d.Verify(aggs, ok)
				out = out[:0]
				for i, agg := range aggs {
					if !ok[i] {
						b.Fatal("Verify rejected a valid aggregate")
					}
					var err error
					if out, err = d.DeaggregateVerified(agg, bc.keep, out); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(100*len(aggs)), "ns/subrecord")
		})
	}
}
