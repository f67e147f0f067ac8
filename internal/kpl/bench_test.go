package kpl

import (
	"crypto/md5"
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
