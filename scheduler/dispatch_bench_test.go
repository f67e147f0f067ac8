package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/hashkey"
	"github.com/shardwise/shardwise/internal/kpl"
)

// benchResponse is a decoded GetRecords response: n plain records of size
// bytes, or n aggregates of 100 sub-records of 100 bytes over 100 keys.
func benchResponse(n, size int, aggregated bool) []types.Record {
	recs := make([]types.Record, n)
	for i := range recs {
		data := make([]byte, size)
		if aggregated {
			urs := make([]kpl.UserRecord, 100)
			for j := range urs {
				urs[j] = kpl.UserRecord{PartitionKey: fmt.Sprintf("pk-%d", j), Data: make([]byte, 100)}
			}
			data = kpl.Aggregate(urs)
		}
		recs[i] = types.Record{
			SequenceNumber:              aws.String(fmt.Sprintf("4960%030d", i)),
			PartitionKey:                aws.String("pk"),
			Data:                        data,
			ApproximateArrivalTimestamp: aws.Time(time.Unix(1e9, 0)),
		}
	}
	return recs
}

// BenchmarkDispatch is the worker's per-response path after decoding:
// converting a response into user records (deaggregating KPL aggregates
// with the hash-range filter of a shard holding half the key space), then
// handing the batch through the shard's queue to the processor goroutine.
func BenchmarkDispatch(b *testing.B) {
	half := hashkey.Split(hashkey.Full, 2)[0]
	for _, bc := range []struct {
		name       string
		recs       []types.Record
		userPerRec int
	}{
		{"1000x1KB", benchResponse(1000, 1024, false), 1},
		{"kpl100x100x100B", benchResponse(100, 0, true), 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			conv := recordConverter{keep: &half}
			q := newQueue(1<<30, 1<<40)
			ctx := context.Background()
			done := make(chan int)
			go func() {
				n := 0
				for {
					bt, err := q.pop(ctx)
					if err != nil {
						done <- n
						return
					}
					n += len(bt.records)
				}
			}()
			after := consumer.ExtendedSequenceNumber{SequenceNumber: consumer.TrimHorizon.SequenceNumber}
			b.ReportAllocs()
			for b.Loop() {
				bt := &batch{}
				bt.records, bt.bytes = conv.appendRecords(nil, bc.recs, after)
				if len(bt.records) == 0 {
					b.Fatal("no records")
				}
				if err := q.push(ctx, bt); err != nil {
					b.Fatal(err)
				}
			}
			q.close()
			n := <-done
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bc.recs)*bc.userPerRec), "ns/record")
			b.ReportMetric(float64(n)/float64(b.N*len(bc.recs)*bc.userPerRec), "delivered/record")
		})
	}
}
