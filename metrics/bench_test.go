package metrics

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

// discardClient accepts every request without sending it anywhere.
type discardClient struct{}

func (discardClient) PutMetricData(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	return &cloudwatch.PutMetricDataOutput{}, nil
}

type benchSink struct {
	name string
	make func(b *testing.B) Sink
}

func benchSinks() []benchSink {
	return []benchSink{
		{"nop", func(*testing.B) Sink { return Nop{} }},
		{"level-filtered", func(*testing.B) Sink { return NewMemory(LevelNone) }},
		{"memory", func(*testing.B) Sink { return NewMemory(LevelDetailed) }},
		{"cloudwatch", func(b *testing.B) Sink {
			// A long interval: the benchmark measures Record, not publishing.
			cw, err := NewCloudWatch(CloudWatchConfig{Client: discardClient{}, Namespace: "bench", FlushInterval: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { cw.Close(context.Background()) })
			return cw
		}},
	}
}

// BenchmarkScopeRecord is the per-batch cost a shard consumer pays: one
// observation through a scope with Operation, ShardId and WorkerIdentifier
// bound, into an existing series.
func BenchmarkScopeRecord(b *testing.B) {
	for _, bs := range benchSinks() {
		b.Run(bs.name, func(b *testing.B) {
			s := shardScope(bs.make(b), "shardId-000000000001")
			b.ReportAllocs()
			for b.Loop() {
				s.Count(MetricRecordsProcessed, 500, LevelSummary)
			}
		})
	}
}

// BenchmarkScopeRecordParallel records from many goroutines at once, each
// with its own shard scope (as shard consumers do), or all into one shared
// series (the worst case for lock contention).
func BenchmarkScopeRecordParallel(b *testing.B) {
	for _, bs := range benchSinks() {
		for _, shared := range []bool{false, true} {
			name := bs.name + "/per-shard"
			if shared {
				name = bs.name + "/shared"
			}
			b.Run(name, func(b *testing.B) {
				sink := bs.make(b)
				common := shardScope(sink, "shardId-000000000000")
				var next atomic.Int64
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					s := common
					if !shared {
						s = shardScope(sink, fmt.Sprintf("shardId-%012d", next.Add(1)))
					}
					for pb.Next() {
						s.Count(MetricRecordsProcessed, 500, LevelSummary)
					}
				})
			})
		}
	}
}
