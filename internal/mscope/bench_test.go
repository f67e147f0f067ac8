package mscope

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/metrics"
)

// shardScope is the scope a shard consumer records through.
func shardScope(s metrics.Sink, shard string) *Scope {
	return New(s,
		metrics.Dimension{Name: metricnames.DimensionOperation, Value: metricnames.OperationProcessTask},
		metrics.Dimension{Name: metricnames.DimensionShardID, Value: shard},
		metrics.Dimension{Name: metricnames.DimensionWorkerIdentifier, Value: "worker-a"})
}

type benchSink struct {
	name string
	make func(b *testing.B) metrics.Sink
}

func benchSinks() []benchSink {
	return []benchSink{
		{"nop", func(*testing.B) metrics.Sink { return metrics.Nop }},
		{"level-filtered", func(*testing.B) metrics.Sink { return metrics.NewMemory(metrics.LevelNone) }},
		{"memory", func(*testing.B) metrics.Sink { return metrics.NewMemory(metrics.LevelDetailed) }},
	}
}

// BenchmarkScopeRecord is the per-batch cost a shard consumer pays: one
// observation through a scope with Operation, ShardId and WorkerIdentifier
// bound, into an existing series. (The CloudWatch publisher has the same
// benchmarks in its package.)
func BenchmarkScopeRecord(b *testing.B) {
	for _, bs := range benchSinks() {
		b.Run(bs.name, func(b *testing.B) {
			s := shardScope(bs.make(b), "shardId-000000000001")
			b.ReportAllocs()
			for b.Loop() {
				s.Count(metricnames.MetricRecordsProcessed, 500, metrics.LevelSummary)
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
						s.Count(metricnames.MetricRecordsProcessed, 500, metrics.LevelSummary)
					}
				})
			})
		}
	}
}
