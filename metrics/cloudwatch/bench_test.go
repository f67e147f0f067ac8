package cloudwatch

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/internal/racebuild"
	"github.com/shardwise/shardwise/metrics"
)

// discardClient accepts every request without sending it anywhere.
type discardClient struct{}

func (discardClient) PutMetricData(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// newDiscardPublisher returns a publisher whose interval is long enough
// that a benchmark or test measures Record, not publishing.
func newDiscardPublisher(tb testing.TB, level metrics.Level) *publisher {
	p, err := newPublisher(Config{Client: discardClient{}, Namespace: "bench", Level: level, FlushInterval: time.Hour}, time.Now)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// BenchmarkScopeRecord is the per-batch cost a shard consumer pays: one
// observation through a scope with Operation, ShardId and WorkerIdentifier
// bound, into an existing series.
func BenchmarkScopeRecord(b *testing.B) {
	s := shardScope(newDiscardPublisher(b, metrics.LevelDetailed), "shardId-000000000001")
	b.ReportAllocs()
	for b.Loop() {
		s.Count(metricnames.MetricRecordsProcessed, 500, metrics.LevelSummary)
	}
}

// BenchmarkScopeRecordParallel records from many goroutines at once, each
// with its own shard scope (as shard consumers do), or all into one shared
// series (the worst case for lock contention).
func BenchmarkScopeRecordParallel(b *testing.B) {
	for _, shared := range []bool{false, true} {
		name := "per-shard"
		if shared {
			name = "shared"
		}
		b.Run(name, func(b *testing.B) {
			sink := newDiscardPublisher(b, metrics.LevelDetailed)
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

// TestRecordDoesNotAllocate pins the hot path: recording through a scope
// into an existing series, or at a level the publisher drops, allocates
// nothing.
func TestRecordDoesNotAllocate(t *testing.T) {
	if racebuild.Enabled {
		t.Skip("the race detector adds allocations")
	}
	s := shardScope(newDiscardPublisher(t, metrics.LevelSummary), "shardId-000000000001")
	s.Count(metricnames.MetricRecordsProcessed, 1, metrics.LevelSummary) // create the series
	if n := testing.AllocsPerRun(1000, func() {
		s.Count(metricnames.MetricRecordsProcessed, 100, metrics.LevelSummary)
		s.Time(metricnames.MetricProcessRecordsTime, time.Millisecond, metrics.LevelSummary)
		s.Time(metricnames.MetricGetRecordsTime, time.Millisecond, metrics.LevelDetailed) // filtered
	}); n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}
