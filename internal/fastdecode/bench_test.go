package fastdecode

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardwise/shardwise/internal/kpl"
)

// realisticBody is a GetRecords response as Kinesis sends it: n records of
// size bytes each (or KPL aggregates of sub x subSize bytes when sub > 0),
// 56-digit sequence numbers, millisecond timestamps.
func realisticBody(n, size, sub, subSize int) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(size)))
	type rec struct {
		SequenceNumber              string
		ApproximateArrivalTimestamp json.Number
		Data                        []byte
		PartitionKey                string
		EncryptionType              string
	}
	var resp struct {
		Records            []rec
		NextShardIterator  string
		MillisBehindLatest int64
	}
	for i := range n {
		var data []byte
		pk := fmt.Sprintf("user-%08d", rng.IntN(1e8))
		if sub > 0 {
			urs := make([]kpl.UserRecord, sub)
			for j := range urs {
				d := make([]byte, subSize)
				for k := range d {
					d[k] = byte('a' + rng.IntN(26))
				}
				urs[j] = kpl.UserRecord{PartitionKey: fmt.Sprintf("user-%08d", rng.IntN(1e8)), Data: d}
			}
			data = kpl.Aggregate(urs)
		} else {
			data = make([]byte, size)
			for k := range data {
				data[k] = byte('a' + rng.IntN(26))
			}
		}
		resp.Records = append(resp.Records, rec{
			SequenceNumber:              fmt.Sprintf("49%054d", 1e12+i),
			ApproximateArrivalTimestamp: json.Number(fmt.Sprintf("%d.%03d", 1_700_000_000+i/1000, i%1000)),
			Data:                        data,
			PartitionKey:                pk,
			EncryptionType:              "NONE",
		})
	}
	resp.NextShardIterator = randomIterator(rng)
	resp.MillisBehindLatest = 12345
	b, err := json.Marshal(resp)
	if err != nil {
		panic(err)
	}
	return b
}

var benchBodies = []struct {
	name string
	recs int // records per response (user records for KPL)
	body []byte
}{
	{"1KBx1000", 1000, realisticBody(1000, 1024, 0, 0)},
	{"100Bx1000", 1000, realisticBody(1000, 100, 0, 0)},
	{"kpl100x100Bx100", 100 * 100, realisticBody(100, 0, 100, 100)},
	{"1MBx10", 10, realisticBody(10, 1<<20, 0, 0)},
}

// BenchmarkDecode compares the SDK's deserializer with the fast path, both
// through a real client over an in-memory transport (so the SDK's request
// pipeline is in both figures), and the fast decoder alone.
func BenchmarkDecode(b *testing.B) {
	d := New()
	for _, bb := range benchBodies {
		ctx := context.WithValue(context.Background(), bodyKey{}, bb.body)
		for _, c := range []struct {
			name string
			opts []func(*kinesis.Options)
		}{
			{"sdk", nil},
			{"fast", []func(*kinesis.Options){d.Option}},
		} {
			b.Run(bb.name+"/"+c.name, func(b *testing.B) {
				b.SetBytes(int64(len(bb.body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := memClient.GetRecords(ctx, getRecordsInput, c.opts...); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(bb.recs), "ns/record")
			})
		}
		b.Run(bb.name+"/decode-only", func(b *testing.B) {
			b.SetBytes(int64(len(bb.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(bb.body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(bb.recs), "ns/record")
		})
	}
}

// BenchmarkDecodeAndDeaggregate is the whole per-response CPU cost of a
// consumer of KPL aggregates: decode, then split every aggregate into its
// sub-records (slices of the decoded buffer, not copies), digests checked
// for the whole response at once as the worker does.
func BenchmarkDecodeAndDeaggregate(b *testing.B) {
	bb := benchBodies[2]
	subs := make([]kpl.SubRecord, 0, 100)
	var d kpl.Deaggregator
	var aggs [][]byte
	var ok []bool
	b.SetBytes(int64(len(bb.body)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := Decode(bb.body)
		if err != nil {
			b.Fatal(err)
		}
		aggs = aggs[:0]
		for i := range out.Records {
			aggs = append(aggs, out.Records[i].Data)
		}
		ok = append(ok[:0], make([]bool, len(aggs))...)
		d.Verify(aggs, ok)
		for i, agg := range aggs {
			if !ok[i] {
				b.Fatal("not a valid aggregate")
			}
			if subs, err = d.DeaggregateVerified(agg, nil, subs[:0]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(bb.recs), "ns/record")
}

// BenchmarkBase64 compares the two ways to decode a 1 KB record's base64
// text: DecodeString (what the SDK does, after copying the text into a
// string) against Decode into a buffer that is reused.
func BenchmarkBase64(b *testing.B) {
	data := make([]byte, 1024)
	for i := range data {
		data[i] = byte(i * 7)
	}
	text := []byte(base64.StdEncoding.EncodeToString(data))
	b.Run("DecodeString", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := base64.StdEncoding.DecodeString(string(text)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode-reused", func(b *testing.B) {
		dst := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := base64.StdEncoding.Decode(dst, text); err != nil {
				b.Fatal(err)
			}
		}
	})
}
